//! Compile-fail checks of the public APIs' lifetimes and auto traits,
//! without trybuild: each file of `tests/review_compile_fail/` is compiled
//! by `rustc` against the goheap rlib this test was built with, and must
//! fail with the error its `// expect:` line names (`pass` files must
//! compile: they prove the setup is right).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/deps`, where this test binary and goheap's rlib live.
fn deps_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The newest `libgoheap-*.rlib` (the one cargo just built for this test).
fn goheap_rlib(deps: &Path) -> PathBuf {
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("libgoheap-") && n.ends_with(".rlib")
        })
        .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
        .expect("goheap's rlib next to the test binary")
}

fn expectation(src: &str) -> String {
    src.lines()
        .find_map(|l| l.strip_prefix("// expect: "))
        .expect("an `// expect:` line")
        .trim()
        .to_string()
}

#[test]
fn review_compile_fail_cases() {
    let deps = deps_dir();
    let rlib = goheap_rlib(&deps);
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("review_compile_fail");
    std::fs::create_dir_all(&out_dir).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/review_compile_fail");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let expect = expectation(&std::fs::read_to_string(file).unwrap());
        let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "lib",
                "--emit",
                "metadata",
            ])
            .arg("-L")
            .arg(format!("dependency={}", deps.display()))
            .arg("--extern")
            .arg(format!("goheap={}", rlib.display()))
            .arg("--out-dir")
            .arg(&out_dir)
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok = match expect.as_str() {
            "pass" => out.status.success(),
            "error" => !out.status.success() && stderr.contains("error"),
            code => !out.status.success() && stderr.contains(&format!("error[{code}]")),
        };
        if !ok {
            wrong.push(format!(
                "{}: expected {expect}, got {:?}\n{stderr}",
                file.display(),
                out.status
            ));
        }
    }
    assert!(files.len() > 1, "cases found in {}", dir.display());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

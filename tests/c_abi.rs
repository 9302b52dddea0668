//! C ABI tests of goheap: builds libgoheap.so / libgoheap.a (crate
//! goheap-ffi, release), compiles the C and C++ programs in `tests/c/` with
//! the system compilers and runs them
//! * statically linked against libgoheap.a (through include/goheap.h),
//! * as plain glibc programs under `LD_PRELOAD=libgoheap.so`,
//! * and as plain glibc programs without goheap, which checks the programs'
//!   own expectations against glibc.
//!
//! Also: misuse in child processes (invalid pointers, double frees → message
//! and SIGABRT; impossible sizes → NULL + ENOMEM), the GOHEAP_VERBOSE banner,
//! a Rust program linking libgoheap.a, and install + pkg-config.
//!
//! Needs `cc` (or `$CC`) and `g++` (or `$CXX`); see tests/ffi_support.

mod ffi_support;

use ffi_support::{compile, describe, libs, preload, root, run_timeout, Link};
use std::process::{Command, Output};

const TIMEOUT: u64 = 300;

fn run(mut cmd: Command) -> (Command, Output) {
    let out = run_timeout(&mut cmd, TIMEOUT);
    (cmd, out)
}

/// Runs `tests/c/<src>` in the three configurations and checks that each
/// exits 0 and reports the expected allocator.
fn run_three_ways(src: &str, args: &[&str], allocator_line: &str) {
    let plain = compile(src, Link::Plain);
    let stat = compile(src, Link::Static);
    let configurations: [(&str, &std::path::Path, bool, &str); 3] = [
        ("without goheap (glibc)", &plain, false, "system"),
        ("under LD_PRELOAD", &plain, true, "goheap"),
        ("linked with libgoheap.a", &stat, false, "goheap"),
    ];
    for (how, exe, preloaded, allocator) in configurations {
        let (cmd, out) = run({
            let mut c = Command::new(exe);
            c.args(args).env_remove("LD_PRELOAD");
            if preloaded {
                preload(&mut c);
            }
            c
        });
        assert!(
            out.status.success(),
            "{src} {how} failed:\n{}",
            describe(&cmd, &out)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("{allocator_line} {allocator}")),
            "{}",
            describe(&cmd, &out)
        );
    }
}

#[test]
fn api_semantics() {
    run_three_ways("api.c", &[], "api: allocator:");
}

#[test]
fn threads_cross_thread_free() {
    run_three_ways("threads.c", &[], "threads: allocator");
}

#[test]
fn fork_and_exec_in_threaded_program() {
    run_three_ways("fork.c", &[], "fork: allocator");
}

#[test]
fn cxx_threads_static_and_preload() {
    let plain = compile("threads.cpp", Link::Plain);
    let stat = compile("threads.cpp", Link::Static);
    let (cmd, reference) = run({
        let mut c = Command::new(&plain);
        c.env_remove("LD_PRELOAD");
        c
    });
    assert!(reference.status.success(), "{}", describe(&cmd, &reference));
    let (cmd, pre) = run({
        let mut c = Command::new(&plain);
        preload(&mut c);
        c
    });
    assert!(pre.status.success(), "{}", describe(&cmd, &pre));
    assert_eq!(
        String::from_utf8_lossy(&pre.stdout),
        String::from_utf8_lossy(&reference.stdout),
        "output differs under LD_PRELOAD"
    );
    let (cmd, st) = run(Command::new(&stat));
    assert!(st.status.success(), "{}", describe(&cmd, &st));
    assert_eq!(
        String::from_utf8_lossy(&st.stdout),
        String::from_utf8_lossy(&reference.stdout),
        "output differs when linked with libgoheap.a"
    );
}

#[test]
fn header_from_cxx() {
    let exe = compile("header.cpp", Link::Static);
    assert_runs_and_prints(&exe, "header.cpp: GOHEAP_VERSION 0.1.0, ok");
}

/// Runs `exe` (without LD_PRELOAD) and checks that it exits 0 and prints
/// `text`.
fn assert_runs_and_prints(exe: &std::path::Path, text: &str) {
    let (cmd, out) = run({
        let mut c = Command::new(exe);
        c.env_remove("LD_PRELOAD");
        c
    });
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(text),
        "{}",
        describe(&cmd, &out)
    );
}

#[test]
fn header_is_strict_c_and_cxx() {
    let header = root().join("include/goheap.h");
    for (compiler, lang, std) in [
        (ffi_support::cc(), "c", "-std=c99"),
        (ffi_support::cc(), "c", "-std=c11"),
        (ffi_support::cxx(), "c++", "-std=c++11"),
        (ffi_support::cxx(), "c++", "-std=c++20"),
    ] {
        let (cmd, out) = run({
            let mut c = Command::new(&compiler);
            c.args([
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                std,
                "-x",
                lang,
            ])
            .arg(&header);
            c
        });
        assert!(
            out.status.success(),
            "goheap.h does not compile cleanly as {lang} {std}:\n{}",
            describe(&cmd, &out)
        );
    }
}

/// Misuse that goheap must diagnose: (case, expected stderr fragment).
const ABORTS: &[(&str, &str)] = &[
    ("free-stack", "goheap: free(): invalid pointer 0x"),
    ("free-static", "goheap: free(): invalid pointer 0x"),
    ("free-mmap", "goheap: free(): invalid pointer 0x"),
    ("free-interior", "goheap: free(): invalid pointer 0x"),
    ("double-free", "goheap: free(): double free 0x"),
    ("double-free-zero", "goheap: free(): double free 0x"),
    ("double-free-medium", "goheap: free(): double free 0x"),
    ("double-free-large", "goheap: free(): "),
    ("realloc-invalid", "goheap: realloc(): invalid pointer 0x"),
    ("realloc-double-free", "goheap: realloc(): double free 0x"),
    (
        "usable-invalid",
        "goheap: malloc_usable_size(): invalid pointer 0x",
    ),
    (
        "goheap-free-invalid",
        "goheap: goheap_free(): invalid pointer 0x",
    ),
];

/// Impossible requests: must return NULL with ENOMEM and carry on.
const CLEAN_FAILURES: &[&str] = &["malloc-huge", "calloc-overflow"];

fn bad_input(link: Link) {
    use std::os::unix::process::ExitStatusExt;
    let exe = compile("bad.c", link);
    let mut problems = Vec::new();
    for &(case, want) in ABORTS {
        let mut c = Command::new(&exe);
        c.arg(case).env_remove("LD_PRELOAD");
        if link == Link::Plain {
            preload(&mut c);
        }
        let (cmd, out) = run(c);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ok = out.status.signal() == Some(libc::SIGABRT)
            && stderr.contains(want)
            && stdout.contains(&format!("reached {case}"))
            && !stdout.contains("survived");
        if !ok {
            problems.push(format!(
                "case {case}: expected SIGABRT and stderr containing {want:?}\n{}",
                describe(&cmd, &out)
            ));
        }
    }
    for &case in CLEAN_FAILURES {
        let mut c = Command::new(&exe);
        c.arg(case).env_remove("LD_PRELOAD");
        if link == Link::Plain {
            preload(&mut c);
        }
        let (cmd, out) = run(c);
        if !(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok")) {
            problems.push(format!(
                "case {case}: expected NULL + ENOMEM and exit 0\n{}",
                describe(&cmd, &out)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} bad-input cases failed ({link:?}):\n\n{}",
        problems.len(),
        ABORTS.len() + CLEAN_FAILURES.len(),
        problems.join("\n\n")
    );
}

#[test]
fn bad_input_preload() {
    bad_input(Link::Plain);
}

#[test]
fn bad_input_static() {
    bad_input(Link::Static);
}

#[test]
fn verbose_banner() {
    let want = format!(
        "goheap: libgoheap {} loaded (pid ",
        env!("CARGO_PKG_VERSION")
    );
    let plain = compile("hello.c", Link::Plain);
    let stat = compile("hello.c", Link::Static);
    let command = |mode: &str, verbose: &str| {
        let mut c = Command::new(if mode == "preload" { &plain } else { &stat });
        c.env_remove("LD_PRELOAD").env("GOHEAP_VERBOSE", verbose);
        if mode == "preload" {
            preload(&mut c);
        }
        c
    };
    for mode in ["preload", "static"] {
        for on in ["1", "yes"] {
            let (cmd, out) = run(command(mode, on));
            assert!(out.status.success(), "{}", describe(&cmd, &out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                stderr.matches(&want).count(),
                1,
                "{mode}: expected one banner line {want:?}\n{}",
                describe(&cmd, &out)
            );
            if mode == "preload" {
                assert!(stderr.contains("libgoheap.so)"), "{}", describe(&cmd, &out));
            }
        }
        for off in ["0", "", "off", "FALSE"] {
            let (cmd, out) = run(command(mode, off));
            assert!(out.status.success(), "{}", describe(&cmd, &out));
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("goheap:"),
                "GOHEAP_VERBOSE={off:?} still printed:\n{}",
                describe(&cmd, &out)
            );
        }
    }
}

#[test]
fn rust_program_links_static_lib() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let dir = ffi_support::temp_dir("rust-static");
    let exe = dir.join("rust_static");
    let a = &libs().a;
    let (cmd, out) = run({
        let mut c = Command::new(&rustc);
        c.args(["--edition", "2021", "-O", "-o"])
            .arg(&exe)
            .arg(root().join("tests/c/rust_static.rs"))
            .arg("-L")
            .arg(a.parent().unwrap())
            .args(["-l", "static=goheap"]);
        c
    });
    assert!(
        out.status.success(),
        "a Rust program cannot link libgoheap.a:\n{}",
        describe(&cmd, &out)
    );
    assert_runs_and_prints(&exe, "rust_static: ok");
}

#[test]
fn install_and_pkg_config() {
    let Some(pkg_config) = ffi_support::which("pkg-config") else {
        eprintln!("NOTE: pkg-config not installed; skipping install_and_pkg_config");
        return;
    };
    let prefix = ffi_support::temp_dir("install");
    let lib_dir = libs().so.parent().unwrap().to_path_buf();
    // The script finds the artifacts in $CARGO_TARGET_DIR/release.
    let target = lib_dir.parent().unwrap();
    let (cmd, out) = run({
        let mut c = Command::new("sh");
        c.arg(root().join("scripts/install.sh"))
            .args(["--no-build", "--prefix"])
            .arg(&prefix)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("DESTDIR");
        c
    });
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    for f in [
        "lib/libgoheap.so",
        "lib/libgoheap.a",
        "include/goheap.h",
        "lib/pkgconfig/goheap.pc",
        "lib/pkgconfig/goheap-static.pc",
    ] {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }
    let pc_path = prefix.join("lib/pkgconfig");
    let pkg = |args: &[&str]| -> Vec<String> {
        let (cmd, out) = run({
            let mut c = Command::new(&pkg_config);
            c.args(args).env("PKG_CONFIG_PATH", &pc_path);
            c
        });
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let dynamic = pkg(&["--cflags", "--libs", "goheap"]);
    assert!(dynamic.contains(&"-lgoheap".to_owned()), "{dynamic:?}");
    let private = pkg(&["--static", "--libs", "goheap"]);
    for l in ["-lgoheap", "-lpthread", "-ldl", "-lm"] {
        assert!(
            private.contains(&l.to_owned()),
            "pkg-config --static --libs goheap lacks {l}: {private:?}"
        );
    }
    let stat = pkg(&["--cflags", "--libs", "goheap-static"]);

    // Dynamically linked against the installed libgoheap.so (no LD_PRELOAD):
    // malloc resolves to goheap's.
    let src = root().join("tests/c/hello.c");
    let include = format!("-I{}", root().join("tests/c").display());
    let exe_dyn = prefix.join("hello-dynamic");
    let (cmd, out) = run({
        let mut c = Command::new(ffi_support::cc());
        c.args(["-std=gnu11", "-O1", "-fno-builtin", "-pthread", &include])
            .arg(&src)
            .arg("-o")
            .arg(&exe_dyn)
            .args(&dynamic)
            .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()));
        c
    });
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert_runs_and_prints(&exe_dyn, "hello: allocator goheap");

    // Statically linked through goheap-static.pc.
    let exe_static = prefix.join("hello-static");
    let (cmd, out) = run({
        let mut c = Command::new(ffi_support::cc());
        c.args([
            "-std=gnu11",
            "-O1",
            "-fno-builtin",
            "-pthread",
            "-DGOHEAP_STATIC",
            &include,
        ])
        .arg(&src)
        .arg("-o")
        .arg(&exe_static)
        .args(&stat);
        c
    });
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert_runs_and_prints(&exe_static, "hello: allocator goheap");
}

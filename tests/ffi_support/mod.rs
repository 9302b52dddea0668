//! Shared helpers for the C ABI tests (`tests/c_abi.rs`, `tests/preload.rs`):
//! building libgoheap.so / libgoheap.a (the `goheap-ffi` crate) in release
//! mode, compiling the C/C++ programs in `tests/c/` with the system compilers,
//! and running programs with a timeout, with or without `LD_PRELOAD`.
//!
//! Where the libraries come from:
//! * `GOHEAP_FFI_LIB_DIR=<dir>`: use the prebuilt `libgoheap.so` and
//!   `libgoheap.a` in `<dir>` (e.g. a CI step that already built them).
//! * otherwise `cargo build --release -p goheap-ffi` runs once per test
//!   binary, in the target directory of this test build (found through
//!   `CARGO_TARGET_TMPDIR`, so `CARGO_TARGET_DIR` and `--target-dir` are
//!   honoured, and an up-to-date build costs nothing). Cargo releases its
//!   build lock before it runs the tests, so this also works under
//!   `cargo test --release`.
//!
//! Every program runs with a timeout (default 300 s for C tests, 600 s for
//! real programs; `GOHEAP_TEST_TIMEOUT=<seconds>` overrides it) after which
//! its process group is killed and the test fails.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workspace root (the `goheap` package).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scratch directory for compiled test programs and temporary files.
pub fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("goheap-ffi-tests");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A fresh, empty directory under [`scratch`] for one test (emptied again by
/// the next run, so the files of a failed run can be inspected meanwhile).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The built libraries.
pub struct Libs {
    /// `libgoheap.so`, absolute.
    pub so: PathBuf,
    /// `libgoheap.a`, absolute.
    pub a: PathBuf,
}

/// Builds (once) and returns libgoheap.so and libgoheap.a.
pub fn libs() -> &'static Libs {
    static LIBS: OnceLock<Libs> = OnceLock::new();
    LIBS.get_or_init(build_libs)
}

fn build_libs() -> Libs {
    if let Some(dir) = std::env::var_os("GOHEAP_FFI_LIB_DIR") {
        let dir = PathBuf::from(dir);
        let libs = Libs {
            so: dir.join("libgoheap.so"),
            a: dir.join("libgoheap.a"),
        };
        assert!(
            libs.so.is_file() && libs.a.is_file(),
            "GOHEAP_FFI_LIB_DIR={} lacks libgoheap.so/.a",
            dir.display()
        );
        return libs;
    }
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "--release", "-p", "goheap-ffi", "--target-dir"])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    eprintln!("building libgoheap: {cmd:?}");
    let status = cmd.status().expect("run cargo build for goheap-ffi");
    assert!(
        status.success(),
        "cargo build --release -p goheap-ffi failed: {status}"
    );
    let release = target.join("release");
    let libs = Libs {
        so: release.join("libgoheap.so"),
        a: release.join("libgoheap.a"),
    };
    assert!(
        libs.so.is_file(),
        "{} missing after build",
        libs.so.display()
    );
    assert!(libs.a.is_file(), "{} missing after build", libs.a.display());
    libs
}

/// The target directory of this test build (`CARGO_TARGET_TMPDIR` is
/// `<target>/tmp`).
fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .to_path_buf()
}

/// Libraries a program linking libgoheap.a needs, read from the pkg-config
/// template (`Libs.private`), the single place where they are listed.
pub fn native_static_libs() -> Vec<String> {
    static LIBS: OnceLock<Vec<String>> = OnceLock::new();
    LIBS.get_or_init(|| {
        let pc = std::fs::read_to_string(root().join("ffi/goheap.pc.in"))
            .expect("read ffi/goheap.pc.in");
        let line = pc
            .lines()
            .find_map(|l| l.strip_prefix("Libs.private:"))
            .expect("Libs.private in goheap.pc.in");
        line.split_whitespace().map(str::to_owned).collect()
    })
    .clone()
}

/// How a test program is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link {
    /// A plain glibc program (run as is, or with LD_PRELOAD=libgoheap.so).
    Plain,
    /// Statically linked against libgoheap.a, with `-DGOHEAP_STATIC`.
    Static,
    /// A plain glibc program linked with Debian's libgc (`-lgc`): Boehm GC
    /// as is, goheap's collector under LD_PRELOAD=libgoheap.so.
    Libgc,
}

fn compiler(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The C compiler (`$CC`, default `cc`).
pub fn cc() -> String {
    compiler("CC", "cc")
}

/// The C++ compiler (`$CXX`, default `g++`).
pub fn cxx() -> String {
    compiler("CXX", "g++")
}

/// Compiles `tests/c/<src>` (C or C++ by extension) and returns the
/// executable. Each (source, link) pair is compiled once per test binary.
pub fn compile(src: &str, link: Link) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<(String, Link), PathBuf>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = cache.get(&(src.to_owned(), link)) {
        return p.clone();
    }
    let path = root().join("tests/c").join(src);
    let cpp = src.ends_with(".cpp");
    // "gc/api.c" → "gc-api": sources in subdirectories keep distinct outputs.
    let stem = Path::new(src)
        .with_extension("")
        .to_string_lossy()
        .replace('/', "-");
    let suffix = if cpp { "cpp" } else { "c" };
    let out = scratch().join(format!(
        "{stem}-{suffix}-{}",
        match link {
            Link::Static => "static",
            Link::Plain => "plain",
            Link::Libgc => "libgc",
        }
    ));
    let mut cmd = Command::new(if cpp { cxx() } else { cc() });
    if cpp {
        cmd.args(["-std=c++17", "-O2"]);
    } else {
        // -fno-builtin: keep the compiler from folding or eliding the
        // allocation calls under test.
        cmd.args(["-std=gnu11", "-O1", "-fno-builtin"]);
    }
    cmd.args(["-g", "-Wall", "-Wextra", "-pthread"])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("tests/c"))
        .arg(&path)
        .arg("-o")
        .arg(&out);
    match link {
        Link::Static => {
            cmd.arg("-DGOHEAP_STATIC")
                .arg(&libs().a)
                .args(native_static_libs());
        }
        Link::Plain => {
            cmd.arg("-ldl");
        }
        Link::Libgc => {
            cmd.args(["-lgc", "-ldl"]);
        }
    }
    let output = run_timeout(&mut cmd, 300);
    assert!(
        output.status.success(),
        "compiling {src} failed:\n{}",
        describe(&cmd, &output)
    );
    cache.insert((src.to_owned(), link), out.clone());
    out
}

/// Sets up `cmd` to run under LD_PRELOAD=libgoheap.so.
pub fn preload(cmd: &mut Command) -> &mut Command {
    cmd.env("LD_PRELOAD", &libs().so)
}

/// Runs `cmd` to completion with stdin closed, capturing stdout and stderr,
/// and kills its whole process group after `secs` seconds (then panics).
/// `GOHEAP_TEST_TIMEOUT=<seconds>` overrides `secs`.
pub fn run_timeout(cmd: &mut Command, secs: u64) -> Output {
    let secs = std::env::var("GOHEAP_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(secs);
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let pid = child.id() as libc::pid_t;
            // SAFETY: kill(2) on the process group we created for this child
            // (process_group(0) above); it only sends a signal.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            let stdout = t_out.join().unwrap_or_default();
            let stderr = t_err.join().unwrap_or_default();
            panic!(
                "timed out after {secs}s: {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                tail(&stdout),
                tail(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Grandchildren that outlive the child (still in its process group) may
    // keep the pipes open; give them a moment, then end the group. While any
    // member is alive, the group id cannot have been reused by the kernel.
    let grace = Instant::now() + Duration::from_secs(10);
    while !(t_out.is_finished() && t_err.is_finished()) {
        if Instant::now() > grace {
            // SAFETY: as above; the group still has members (they hold our
            // pipes), so it is the one we created.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Last ~4000 bytes of `b` as text.
pub fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 4000 {
        let mut start = s.len() - 4000;
        while !s.is_char_boundary(start) {
            start += 1;
        }
        format!("[...]{}", &s[start..])
    } else {
        s.into_owned()
    }
}

/// A readable account of a finished command, for assertion messages (the
/// command's Debug form includes the environment variables it sets).
pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {:?}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        cmd,
        status_text(out.status),
        tail(&out.stdout),
        tail(&out.stderr)
    )
}

/// "exit code N" / "killed by signal N (core dumped)".
pub fn status_text(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!(
            "killed by signal {sig}{}",
            if s.core_dumped() {
                " (core dumped)"
            } else {
                ""
            }
        ),
        _ => format!("{s:?}"),
    }
}

/// Finds `prog` on PATH.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

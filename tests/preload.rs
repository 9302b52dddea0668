//! Real programs under `LD_PRELOAD=libgoheap.so`: each runs once as is and
//! once with goheap preloaded (and `GOHEAP_VERBOSE=1`, so every process that
//! loaded goheap says so on stderr), and must succeed with identical output.
//!
//! Programs: python3 (threaded script, tests/programs/threaded.py), perl
//! (tests/programs/workload.pl), sqlite3 (tests/programs/workload.sql), psql
//! (client only: no server is assumed), the C and C++ compilers compiling
//! real sources, git (tests/programs/git.sh: init, add, commit, merge, log,
//! gc), sort (external merge sort, threaded), tar + gzip, and the
//! multi-threaded C++ program tests/c/threads.cpp. A program that is not
//! installed is skipped with a printed note.

mod ffi_support;

use ffi_support::{compile, describe, libs, preload, root, run_timeout, temp_dir, which, Link};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TIMEOUT: u64 = 600;

/// What a comparison produced, for extra checks by the caller.
struct Runs {
    plain_dir: PathBuf,
    goheap_dir: PathBuf,
}

/// Runs the command built by `make(workdir)` in two fresh work directories,
/// without and with goheap, and checks: both succeed, stdout is identical,
/// and goheap announced itself on stderr (so the preload really happened).
fn compare(name: &str, make: impl Fn(&Path) -> Command) -> Runs {
    let base = temp_dir(&format!("preload-{name}"));
    let plain_dir = base.join("plain");
    let goheap_dir = base.join("goheap");
    std::fs::create_dir_all(&plain_dir).unwrap();
    std::fs::create_dir_all(&goheap_dir).unwrap();

    let mut cmd = make(&plain_dir);
    cmd.current_dir(&plain_dir)
        .env_remove("LD_PRELOAD")
        .env_remove("GOHEAP_VERBOSE");
    let plain = run_timeout(&mut cmd, TIMEOUT);
    assert!(
        plain.status.success(),
        "{name} fails even without goheap:\n{}",
        describe(&cmd, &plain)
    );

    let mut gcmd = make(&goheap_dir);
    gcmd.current_dir(&goheap_dir).env("GOHEAP_VERBOSE", "1");
    preload(&mut gcmd);
    let with = run_timeout(&mut gcmd, TIMEOUT);
    assert!(
        with.status.success(),
        "{name} fails under LD_PRELOAD=libgoheap.so:\n{}",
        describe(&gcmd, &with)
    );
    assert!(
        String::from_utf8_lossy(&with.stderr).contains("goheap: libgoheap"),
        "{name}: goheap was not loaded (no GOHEAP_VERBOSE banner):\n{}",
        describe(&gcmd, &with)
    );
    assert_same(name, &plain, &with, &gcmd);
    eprintln!(
        "{name}: identical output ({} bytes) with and without goheap",
        plain.stdout.len()
    );
    Runs {
        plain_dir,
        goheap_dir,
    }
}

fn assert_same(name: &str, plain: &Output, with: &Output, gcmd: &Command) {
    if plain.stdout != with.stdout {
        let a = String::from_utf8_lossy(&plain.stdout);
        let b = String::from_utf8_lossy(&with.stdout);
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(a.lines().count().min(b.lines().count()));
        panic!(
            "{name}: stdout differs under goheap (first difference at line {}):\n  without: {:?}\n  with:    {:?}\n{}",
            first + 1,
            a.lines().nth(first),
            b.lines().nth(first),
            describe(gcmd, with)
        );
    }
}

/// `Some(path)` if `prog` is installed, else prints a note and `None`.
fn need(prog: &str) -> Option<PathBuf> {
    let found = which(prog);
    if found.is_none() {
        eprintln!("NOTE: {prog} is not installed; skipping its LD_PRELOAD test");
    }
    found
}

fn programs() -> PathBuf {
    root().join("tests/programs")
}

#[test]
fn python3_threaded_script() {
    let Some(python) = need("python3") else {
        return;
    };
    compare("python3", |_| {
        let mut c = Command::new(&python);
        c.arg(programs().join("threaded.py"))
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        c
    });
}

#[test]
fn perl_workload() {
    let Some(perl) = need("perl") else { return };
    compare("perl", |_| {
        let mut c = Command::new(&perl);
        c.arg(programs().join("workload.pl"));
        c
    });
}

#[test]
fn sqlite3_workload() {
    let Some(sqlite3) = need("sqlite3") else {
        return;
    };
    let sql = programs().join("workload.sql");
    compare("sqlite3", |dir| {
        // An on-disk database, then a second process reading it back.
        let script = format!(
            "set -e\n'{s}' -batch db.sqlite '.read {sql}'\n'{s}' -batch db.sqlite 'pragma integrity_check; select count(*) from nums; vacuum;'\n",
            s = sqlite3.display(),
            sql = sql.display()
        );
        std::fs::write(dir.join("run.sh"), script).unwrap();
        let mut c = Command::new("sh");
        c.arg("run.sh");
        c
    });
}

#[test]
fn psql_client() {
    let Some(psql) = need("psql") else { return };
    // No database server is assumed: exercise the client's start-up, option
    // parsing and libpq/readline initialisation only.
    compare("psql", |_| {
        let mut c = Command::new(&psql);
        c.arg("--help");
        c
    });
    compare("psql-version", |_| {
        let mut c = Command::new(&psql);
        c.arg("--version");
        c
    });
}

#[test]
fn cc_compiles_c() {
    let cc = ffi_support::cc();
    if which(&cc).is_none() && !Path::new(&cc).is_file() {
        eprintln!("NOTE: {cc} is not installed; skipping");
        return;
    }
    let include = root().join("include");
    let runs = compare("cc", |_| {
        // Compile to assembly (deterministic, compared below) and also build
        // and link a program (driver → cc1 → as → collect2 → ld, all
        // preloaded), then print its symbols.
        let script = format!(
            "set -e\n{cc} -O2 -S -I{inc} -I{src} {src}/api.c -o api.s\n{cc} -O2 -g -I{inc} -I{src} -pthread {src}/threads.c -o threads\nnm threads | grep -c ' T '\n",
            inc = include.display(),
            src = root().join("tests/c").display()
        );
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    });
    let a = std::fs::read(runs.plain_dir.join("api.s")).unwrap();
    let b = std::fs::read(runs.goheap_dir.join("api.s")).unwrap();
    assert!(a == b, "cc -S produced different assembly under goheap");
}

#[test]
fn cxx_compiles_cpp() {
    let cxx = ffi_support::cxx();
    if which(&cxx).is_none() {
        eprintln!("NOTE: {cxx} is not installed; skipping");
        return;
    }
    let src = root().join("tests/c/threads.cpp");
    let runs = compare("c++", |_| {
        let mut c = Command::new(&cxx);
        c.args(["-std=c++17", "-O2", "-S", "-o", "threads.s"])
            .arg(&src);
        c
    });
    let a = std::fs::read(runs.plain_dir.join("threads.s")).unwrap();
    let b = std::fs::read(runs.goheap_dir.join("threads.s")).unwrap();
    assert!(a == b, "g++ -S produced different assembly under goheap");
}

#[test]
fn git_session() {
    let Some(_git) = need("git") else { return };
    compare("git", |_| {
        let mut c = Command::new("sh");
        c.arg(programs().join("git.sh")).arg(root().join("tests/c"));
        c
    });
}

/// Deterministic pseudo-random text: `lines` lines of "<word> <number>".
fn generate_lines(path: &Path, lines: usize) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut s = String::with_capacity(lines * 24);
    for _ in 0..lines {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("w{:x} {}\n", x % 100_003, (x >> 20) % 1_000_000));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn sort_large_file() {
    let Some(sort) = need("sort") else { return };
    let input = temp_dir("sort-input").join("input.txt");
    generate_lines(&input, 400_000);
    compare("sort", |_| {
        // Small buffer → temporary files and a multi-way merge; two threads.
        let script = format!(
            "set -e\n'{s}' -S 2M --parallel=2 -T . '{i}' | md5sum\n'{s}' -n -k2,2 -k1,1 --parallel=2 '{i}' | head -n 5\n'{s}' -u '{i}' | wc -l\n",
            s = sort.display(),
            i = input.display()
        );
        let mut c = Command::new("sh");
        c.args(["-c", &script]).env("LC_ALL", "C");
        c
    });
}

#[test]
fn tar_gzip_roundtrip() {
    let (Some(tar), Some(_gzip)) = (need("tar"), need("gzip")) else {
        return;
    };
    compare("tar", |_| {
        let script = format!(
            "set -e\n'{t}' -C '{r}' -czf a.tgz tests/c tests/programs include\n'{t}' -tzf a.tgz | LC_ALL=C sort\nmkdir out\n'{t}' -C out -xzf a.tgz\ncat out/tests/c/*.c | md5sum\n",
            t = tar.display(),
            r = root().display()
        );
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    });
}

#[test]
fn cxx_threads_program() {
    let exe = compile("threads.cpp", Link::Plain);
    let _ = libs();
    compare("threads.cpp", |_| Command::new(&exe));
}

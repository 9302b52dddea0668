//! End-to-end tests of the `goheap` executable: `goheap run` (preload,
//! options, exit codes) and `goheap bench` at a tiny scale (report, chart,
//! a missing allocator, and an allocator that corrupts memory).
//!
//! libgoheap.so: `GOHEAP_FFI_LIB_DIR=<dir>` names a prebuilt one (as for the
//! workspace's C ABI tests); otherwise the first `goheap run` builds it with
//! cargo into this test build's target dir, as the tool does whenever it
//! runs from a target dir without the library. `goheap bench` needs a C
//! compiler (`$CC` or `cc`); without one those tests are skipped with a note.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn goheap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goheap"));
    cmd.env_remove("LD_PRELOAD")
        .env_remove("GOHEAP_STATS")
        .env_remove("GOHEAP_VERBOSE");
    if let Some(dir) = std::env::var_os("GOHEAP_FFI_LIB_DIR") {
        cmd.env("GOHEAP_LIB", Path::new(&dir).join("libgoheap.so"));
    }
    cmd
}

/// Runs `goheap ARGS` (after making sure libgoheap.so exists).
fn goheap_output(args: &[&str]) -> Output {
    library();
    output(goheap().args(args))
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// libgoheap.so as `goheap run` finds it (building it on the first call).
fn library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let out = output(goheap().args(["run", "--", "sh", "-c", "echo $LD_PRELOAD"]));
        assert!(
            out.status.success(),
            "goheap run failed:\n{}",
            describe(&out)
        );
        let preload = text(&out.stdout).trim().to_owned();
        PathBuf::from(preload.split(':').next().unwrap())
    })
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("goheap-cli-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn c_compiler() -> Option<String> {
    let cc = std::env::var("CC")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cc".into());
    let works = Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        eprintln!("note: no C compiler ({cc}); skipping the bench test");
    }
    works.then_some(cc)
}

#[test]
fn run_preloads_libgoheap() {
    let lib = library();
    assert_eq!(lib.file_name().unwrap(), "libgoheap.so");
    assert!(lib.is_absolute() && lib.is_file(), "{}", lib.display());
}

#[test]
fn run_keeps_existing_preload_entries_after_ours() {
    library();
    let out = output(
        goheap()
            .args(["run", "--", "sh", "-c", "echo $LD_PRELOAD"])
            .env(
                "LD_PRELOAD",
                "/nonexistent/libfirst.so /nonexistent/libsecond.so",
            ),
    );
    assert!(out.status.success(), "{}", describe(&out));
    let expected = format!(
        "{}:/nonexistent/libfirst.so:/nonexistent/libsecond.so",
        library().display()
    );
    assert_eq!(text(&out.stdout).trim(), expected);
}

#[test]
fn run_true_exits_zero() {
    let out = goheap_output(&["run", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn run_exits_with_the_commands_exit_code() {
    let out = goheap_output(&["run", "--", "sh", "-c", "exit 42"]);
    assert_eq!(out.status.code(), Some(42), "{}", describe(&out));
    let out = goheap_output(&["run", "--", "false"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn run_exits_with_128_plus_signal() {
    let out = goheap_output(&["run", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", describe(&out));
}

#[test]
fn run_passes_options_through_the_environment() {
    let show = "echo stats=$GOHEAP_STATS verbose=$GOHEAP_VERBOSE";
    let out = goheap_output(&["run", "--stats", "--verbose", "--", "sh", "-c", show]);
    assert_eq!(
        text(&out.stdout).trim(),
        "stats=1 verbose=1",
        "{}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains("goheap: libgoheap"),
        "{}",
        describe(&out)
    );
    let out = goheap_output(&["run", "--", "sh", "-c", show]);
    assert_eq!(
        text(&out.stdout).trim(),
        "stats= verbose=",
        "{}",
        describe(&out)
    );
}

#[test]
fn run_of_a_missing_command_exits_127() {
    let out = goheap_output(&["run", "--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(127), "{}", describe(&out));
    assert!(text(&out.stderr).contains("cannot run /nonexistent/program"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["run"][..], &["bench", "--runs", "0"], &["frob"]] {
        let out = output(goheap().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
    }
    let out = output(goheap().arg("--help"));
    assert!(out.status.success() && text(&out.stdout).contains("goheap bench"));
}

#[test]
fn bench_prints_the_table_and_writes_the_chart() {
    if c_compiler().is_none() {
        return;
    }
    let svg = scratch("bench").join("chart.svg");
    let svg_arg = svg.to_str().unwrap();
    let out = goheap_output(&[
        "bench",
        "--alloc",
        "goheap,glibc",
        "--workload",
        "churn",
        "realloc",
        "--runs",
        "3",
        "--scale",
        "0.01",
        "--svg",
        svg_arg,
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    for row in [
        "| churn ",
        "| realloc ",
        "| geometric mean ",
        "| glibc ",
        "| goheap ",
    ] {
        assert!(stdout.contains(row), "no {row:?} in\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
    let chart = std::fs::read_to_string(&svg).expect("chart written");
    assert!(chart.starts_with("<svg") && chart.contains(">realloc</text>"));
}

#[test]
fn bench_skips_an_allocator_that_is_not_installed() {
    if c_compiler().is_none() {
        return;
    }
    let out = output(
        goheap()
            .args(["bench", "--alloc", "glibc,tcmalloc", "--workload", "churn"])
            .args(["--runs", "1", "--scale", "0.01"])
            .env("GOHEAP_BENCH_TCMALLOC", "/nonexistent/libtcmalloc.so"),
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("note: skipping tcmalloc"),
        "{}",
        describe(&out)
    );
    assert!(
        !text(&out.stdout).contains("tcmalloc"),
        "{}",
        describe(&out)
    );
}

/// A "jemalloc" whose realloc returns a new block without copying the old
/// contents: the realloc workload must notice and the bench report FAILED.
#[test]
fn bench_reports_an_allocator_that_corrupts_data_as_failed() {
    let Some(cc) = c_compiler() else {
        return;
    };
    let dir = scratch("corrupt");
    let source = dir.join("forgetful_realloc.c");
    std::fs::write(
        &source,
        "#include <stddef.h>\n\
         void *__libc_malloc(size_t);\n\
         void __libc_free(void *);\n\
         void *realloc(void *p, size_t n) { void *q = __libc_malloc(n); __libc_free(p); return q; }\n",
    )
    .unwrap();
    let lib = dir.join("libforgetful.so");
    let built = output(
        Command::new(&cc)
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&lib)
            .arg(&source),
    );
    assert!(built.status.success(), "{}", describe(&built));

    let out = output(
        goheap()
            .args([
                "bench",
                "--alloc",
                "glibc,jemalloc",
                "--workload",
                "realloc",
            ])
            .args(["--runs", "2", "--scale", "0.01"])
            .env("GOHEAP_BENCH_JEMALLOC", &lib),
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("FAILED: realloc under jemalloc: exit code 1: workload failed"),
        "{stdout}"
    );
    let glibc_row = stdout.lines().find(|l| l.contains("| glibc ")).unwrap();
    assert!(!glibc_row.contains("FAILED"), "{stdout}");
}

fn fixture_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/workloads/suites.toml")
}

/// The gc suite of the fixture manifest: each variant's time, RSS and
/// metrics, the variant whose need is missing skipped with a note.
#[test]
fn bench_gc_suite_from_a_manifest() {
    let json = scratch("suite-gc").join("gc.json");
    let out = output(
        goheap()
            .args(["bench", "--suite", "gc", "--runs", "2", "--manifest"])
            .arg(fixture_manifest())
            .arg("--json")
            .arg(&json),
    );
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("trees (gc suite)"), "{stdout}");
    // Cells: variant, time, vs first, peak RSS, vs first, depth, gc_count.
    let row = |name: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default();
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let first = row("| goheap (sh)");
    assert_eq!(
        (first[2].as_str(), first[5].as_str(), first[6].as_str()),
        ("1.00", "7", "4"),
        "{stdout}"
    );
    let peer = row("| peer (sh)");
    assert_eq!((peer[5].as_str(), peer[6].as_str()), ("7", "8"), "{stdout}");
    assert_eq!(row("| not installed")[1], "skipped", "{stdout}");
    assert!(
        text(&out.stderr)
            .contains("note: skipping trees / not installed: needs goheap-fixture-missing-program"),
        "{}",
        describe(&out)
    );
    assert!(!stdout.contains("pingpong"), "{stdout}");
    let records = std::fs::read_to_string(&json).unwrap();
    assert!(
        records.contains("\"gc_count\": 4.0") && records.contains("\"suite\": \"gc\""),
        "{records}"
    );
}

/// A failing variant is reported and the exit code is 1; --compare prints
/// the change against an earlier --json file.
#[test]
fn bench_goroutines_suite_failure_and_compare() {
    let dir = scratch("suite-goroutines");
    let old = dir.join("old.json");
    let run = |extra: &[&std::ffi::OsStr]| {
        output(
            goheap()
                .args([
                    "bench",
                    "--suite",
                    "goroutines",
                    "--runs",
                    "1",
                    "--manifest",
                ])
                .arg(fixture_manifest())
                .args(extra),
        )
    };
    let out = run(&["--json".as_ref(), old.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stdout).contains("FAILED: pingpong / peer that fails: exit code 3: broken"),
        "{}",
        describe(&out)
    );
    let out = run(&["--compare".as_ref(), old.as_os_str()]);
    let stdout = text(&out.stdout);
    let ns = stdout
        .lines()
        .find(|l| l.contains("goroutines/pingpong") && l.contains("ns_per_op"))
        .unwrap_or_default();
    assert!(ns.contains("100") && ns.contains("±0.0 %"), "{stdout}");
}

#[test]
fn bench_with_a_missing_manifest_fails_and_names_it() {
    let out = output(goheap().args([
        "bench",
        "--suite",
        "gc",
        "--manifest",
        "/nonexistent/suites.toml",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("/nonexistent/suites.toml"),
        "{}",
        describe(&out)
    );
}

#[test]
fn completions_scripts_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = output(goheap().args(["completions", shell]));
        assert!(out.status.success(), "{}", describe(&out));
        let script = text(&out.stdout);
        assert!(
            script.contains("bench") && script.contains("profile"),
            "{shell}: {script}"
        );
    }
}

/// Output into a pipe nobody reads (`goheap completions bash | head -1`)
/// ends goheap by SIGPIPE, as it ends Unix tools, without a panic message.
#[test]
fn a_closed_pipe_ends_goheap_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fds[0] is ours and closed once; fds[1] is handed to Stdio,
    // which owns it from here.
    let stdout = unsafe {
        libc::close(fds[0]);
        <std::process::Stdio as std::os::fd::FromRawFd>::from_raw_fd(fds[1])
    };
    let out = output(goheap().args(["completions", "bash"]).stdout(stdout));
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{}",
        describe(&out)
    );
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

/// `goheap run --profile` turns the heap profile on: `sort` of a large
/// file allocates megabytes, and its profile (gzip) has samples that
/// `go tool pprof` reads, where Go is installed.
#[test]
fn run_profile_writes_a_heap_profile() {
    let dir = scratch("run-profile");
    let input = dir.join("numbers.txt");
    let numbers: String = (0..200_000u32)
        .map(|i| format!("{}\n", i.wrapping_mul(2_654_435_761)))
        .collect();
    std::fs::write(&input, numbers).unwrap();
    let profile = dir.join("heap.pb.gz");
    let out = goheap_output(&[
        "run",
        "--profile",
        profile.to_str().unwrap(),
        "--",
        "sort",
        "-n",
        input.to_str().unwrap(),
        "-o",
        "/dev/null",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let gz = std::fs::read(&profile).expect("profile written at exit");
    assert_eq!(&gz[..3], [0x1f, 0x8b, 8], "gzip");
    let go = Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        eprintln!("note: no Go toolchain; the profile's contents are checked in tests/profile.rs");
        return;
    }
    let out = output(
        Command::new("go")
            .args(["tool", "pprof", "-top", "-sample_index=alloc_space"])
            .arg(&profile)
            .env("HOME", &dir),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout.contains("Type: alloc_space"), "{stdout}");
    assert!(!stdout.contains("of 0 total"), "{stdout}");
}

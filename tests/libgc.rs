//! libgc's C API on goheap: the C programs in `tests/c/gc/`, compiled
//! against libgc's own `<gc.h>` (Debian's libgc-dev;
//! `scripts/install-test-deps.sh` installs it), each run three ways:
//! * linked with `-lgc`: Boehm GC itself, which validates the programs' own
//!   expectations;
//! * the same binary under `LD_PRELOAD=libgoheap.so`: goheap's collector
//!   must take over every call (the program reports which collector served
//!   `GC_malloc`);
//! * linked with `libgoheap.a` instead of libgc.
//!
//! Plus misuse (a function goheap does not implement, `GC_free` of an
//! interior pointer: goheap's message and SIGABRT) and a real program linked
//! to libgc, Debian's w3m, rendering a local page identically on both
//! collectors.

mod ffi_support;

use ffi_support::{compile, describe, preload, root, run_timeout, temp_dir, which, Link};
use std::path::Path;
use std::process::{Command, Output};

const TIMEOUT: u64 = 300;

/// The three ways a test program runs: (label, binary link, preload
/// goheap?, collector the program must report).
const WAYS: [(&str, Link, bool, &str); 3] = [
    ("linked with -lgc (Boehm GC)", Link::Libgc, false, "libgc"),
    (
        "-lgc binary under LD_PRELOAD=libgoheap.so",
        Link::Libgc,
        true,
        "goheap",
    ),
    ("linked with libgoheap.a", Link::Static, false, "goheap"),
];

fn run(exe: &Path, args: &[&str], preloaded: bool) -> (Command, Output) {
    run_with(exe, args, preloaded, &[])
}

fn run_with(exe: &Path, args: &[&str], preloaded: bool, env: &[(&str, &str)]) -> (Command, Output) {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env_remove("LD_PRELOAD")
        .envs(env.iter().copied());
    if preloaded {
        preload(&mut cmd);
    }
    let out = run_timeout(&mut cmd, TIMEOUT);
    (cmd, out)
}

/// Runs `tests/c/gc/<src>` the three ways; each must exit 0, report its
/// collector and pass its checks.
fn run_three_ways(src: &str) {
    run_three_ways_with(src, &[]);
}

/// `run_three_ways` with more environment variables.
fn run_three_ways_with(src: &str, env: &[(&str, &str)]) {
    let name = src.trim_end_matches(".c");
    for (how, link, preloaded, collector) in WAYS {
        let exe = compile(&format!("gc/{src}"), link);
        let (cmd, out) = run_with(&exe, &[], preloaded, env);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && text.contains(&format!("collector: {collector}\n"))
                && text.contains(&format!("{name}: ")),
            "{src} {how}:\n{}",
            describe(&cmd, &out)
        );
    }
}

#[test]
fn reachability_roots_cycles_interior_atomic() {
    run_three_ways("reach.c");
}

/// Three threads rewrite a live forest with plain C stores (subtrees moved
/// into nodes that may be scanned already, held only by locals, dropped)
/// while the pacer's cycles mark beside them; after every cycle each thread
/// checks every node of its forest. Without the rescans of written pages
/// (`gc/dirtybits.rs`) goheap frees nodes that are still linked and the
/// program crashes or fails its checks.
#[test]
fn plain_c_stores_race_the_concurrent_mark() {
    run_three_ways("mutate.c");
}

/// The other programs again in libgc's incremental mode (its
/// `GC_ENABLE_INCREMENTAL` variable, which goheap reads too): finalizers,
/// links, registered and blocked threads and roots under cycles that mark
/// beside the C threads.
#[test]
fn the_programs_pass_in_incremental_mode_too() {
    for src in ["reach.c", "final.c", "threads.c", "blocking.c"] {
        run_three_ways_with(src, &[("GC_ENABLE_INCREMENTAL", "1")]);
    }
}

#[test]
fn finalizers_order_once_on_demand_and_links() {
    run_three_ways("final.c");
}

#[test]
fn registered_threads_survive_collections() {
    run_three_ways("threads.c");
}

/// Registered threads blocked in `read` and in a 30 s `nanosleep` do not
/// stall `GC_gcollect` from another thread, and go on correctly after.
#[test]
fn threads_blocked_in_system_calls_do_not_stall_collections() {
    run_three_ways("blocking.c");
}

#[test]
fn realloc_strings_base_size_figures_oom() {
    run_three_ways("api.c");
}

/// On goheap, `api <mode>` must abort with `message` on stderr.
fn misuse_aborts(mode: &str, message: &str) {
    for (how, link, preloaded, collector) in WAYS {
        if collector != "goheap" {
            continue;
        }
        let exe = compile("gc/api.c", link);
        let (cmd, out) = run(&exe, &[mode], preloaded);
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.signal() == Some(libc::SIGABRT)
                && String::from_utf8_lossy(&out.stderr).contains(message),
            "api {mode} {how}: expected SIGABRT and {message:?}:\n{}",
            describe(&cmd, &out)
        );
    }
}

#[test]
fn unsupported_function_aborts_with_its_name() {
    misuse_aborts("unsupported", "goheap: GC_memalign is not supported");
}

#[test]
fn gc_free_of_interior_pointer_aborts() {
    misuse_aborts(
        "bad-free",
        "goheap: GC_free(): pointer is not the start of a GC object 0x",
    );
}

/// Every symbol Debian's libgc exports is exported by libgoheap.so too, with
/// the same size for variables: a program preloaded with goheap never calls
/// into libgc (the generated table in ffi/src/gc_unsupported.rs is complete).
#[test]
fn every_libgc_symbol_is_exported() {
    let libgc = Path::new("/usr/lib/x86_64-linux-gnu/libgc.so.1");
    if !libgc.exists() || which("nm").is_none() {
        eprintln!("libgc.so.1 or nm missing (scripts/install-test-deps.sh): skipped");
        return;
    }
    let symbols = |lib: &Path| -> std::collections::HashMap<String, String> {
        let mut cmd = Command::new("nm");
        cmd.args(["-D", "--defined-only", "-S"]).arg(lib);
        let out = run_timeout(&mut cmd, TIMEOUT);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // value [size] type name
                let (size, kind, name) = match f.as_slice() {
                    [_, size, kind, name] => (*size, *kind, *name),
                    [_, kind, name] => ("", *kind, *name),
                    _ => return None,
                };
                let size = if kind == "T" { "" } else { size };
                name.starts_with("GC_")
                    .then(|| (name.to_owned(), format!("{kind} {size}")))
            })
            .collect()
    };
    let ours = symbols(&ffi_support::libs().so);
    let theirs = symbols(libgc);
    assert!(
        theirs.len() > 250,
        "libgc exports {} GC_ symbols?",
        theirs.len()
    );
    let mut wrong: Vec<String> = theirs
        .iter()
        .filter(|(name, what)| {
            let mine = ours.get(*name);
            match mine {
                None => true,
                // functions: any text symbol; variables: same size
                Some(m) => {
                    what.starts_with('T') != m.starts_with('T')
                        || (!what.starts_with('T') && what[2..] != m[2..])
                }
            }
        })
        .map(|(name, what)| format!("{name} ({what} in libgc, {:?} in goheap)", ours.get(name)))
        .collect();
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "libgc symbols goheap lacks or sizes differently:\n{}",
        wrong.join("\n")
    );
}

/// Debian's w3m (linked to libgc) renders a local page with `-dump`; the
/// output on goheap (preloaded) must equal the output on libgc.
#[test]
fn w3m_renders_the_same_on_goheap() {
    let Some(w3m) = which("w3m") else {
        eprintln!("w3m not installed (scripts/install-test-deps.sh): skipped");
        return;
    };
    let page = root().join("tests/c/gc/page.html");
    let home = temp_dir("libgc-w3m");
    let dump = |preloaded: bool| {
        let mut cmd = Command::new(&w3m);
        cmd.args(["-dump", "-cols", "100", "-T", "text/html"])
            .arg(&page)
            .env("HOME", &home)
            .env("TERM", "dumb")
            .env_remove("LD_PRELOAD");
        if preloaded {
            preload(&mut cmd).env("GOHEAP_VERBOSE", "1");
        }
        let out = run_timeout(&mut cmd, TIMEOUT);
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        (cmd, out)
    };
    let (_, libgc) = dump(false);
    let (cmd, goheap) = dump(true);
    assert!(
        String::from_utf8_lossy(&goheap.stderr).contains("goheap"),
        "goheap was not loaded:\n{}",
        describe(&cmd, &goheap)
    );
    assert!(
        libgc.stdout.len() > 1000,
        "w3m printed too little:\n{}",
        String::from_utf8_lossy(&libgc.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&goheap.stdout),
        String::from_utf8_lossy(&libgc.stdout),
        "w3m -dump differs on goheap"
    );
}

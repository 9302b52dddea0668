//! Pacing, gctrace and the GC statistics: allocation triggers collections
//! against the heap goal (`GOHEAP_GOGC`, default 100, `off`), gctrace
//! prints Go's line, and `stats()` carries Go's GC fields. Environment
//! settings are read once per process, so each case runs in a child
//! process (this binary re-executed to run the ignored helper).

mod common;

const CASE_ENV: &str = "GOHEAP_GC_PACER_CASE";

#[derive(goheap::Trace)]
struct Blob {
    words: [u64; 6],
}

/// Allocates about `mb` MiB of garbage in short scopes.
fn churn(mb: usize) {
    for _ in 0..mb * 16 {
        goheap::gc::mutate(|mu| {
            for i in 0..1024u64 {
                goheap::gc::Gc::new(mu, Blob { words: [i; 6] });
            }
        });
    }
}

#[test]
#[ignore = "helper run in a child process by the other tests"]
fn child_helper() {
    if std::env::var(CASE_ENV).is_err() {
        return;
    }
    churn(64);
    let s = goheap::stats();
    println!("num_gc {}", s.num_gc);
    println!("pause_total_ns {}", s.pause_total_ns);
    println!("next_gc {}", s.next_gc);
    println!("last_gc {}", s.last_gc);
    println!("heap_objects {}", s.heap_objects);
    println!("gc_no {}", goheap::gc::raw::gc_no());
}

struct Child {
    stdout: String,
    stderr: String,
}

impl Child {
    fn figure(&self, name: &str) -> u64 {
        common::figure(&self.stdout, name)
    }
}

fn run(env: &[(&str, &str)]) -> Child {
    let out = common::run_child_helper(&[&[(CASE_ENV, "1")], env].concat());
    Child {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn allocation_triggers_collections_and_stats_record_them() {
    let c = run(&[]);
    let n = c.figure("num_gc");
    assert!(n >= 5, "64 MiB of garbage against a 4 MiB goal: {n} cycles");
    assert_eq!(c.figure("gc_no"), n);
    assert!(c.figure("pause_total_ns") > 0);
    let next = c.figure("next_gc");
    assert!((4 << 20..64 << 20).contains(&next), "next_gc {next}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let last = c.figure("last_gc");
    assert!(last <= now && now - last < 60_000_000_000, "last_gc {last}");
    assert!(c.figure("heap_objects") > 0);
}

#[test]
fn gogc_sets_the_pace_and_off_disables_it() {
    let default = run(&[]).figure("num_gc");
    let eager = run(&[("GOHEAP_GOGC", "25")]).figure("num_gc");
    let off = run(&[("GOHEAP_GOGC", "off")]).figure("num_gc");
    assert!(
        eager > default,
        "GOGC=25: {eager} cycles, default {default}"
    );
    assert_eq!(off, 0);
}

#[test]
fn gctrace_prints_gos_line_per_cycle() {
    let c = run(&[("GOHEAP_DEBUG", "gctrace=1")]);
    let lines: Vec<&str> = c.stderr.lines().filter(|l| l.starts_with("gc ")).collect();
    assert_eq!(lines.len() as u64, c.figure("num_gc"));
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("gc {} @", i + 1)), "{l}");
        for part in [
            "s ",
            "%: ",
            " ms clock, ",
            " ms cpu, ",
            " MB, ",
            " MB goal, ",
            " MB stacks, ",
            " MB globals, ",
        ] {
            assert!(l.contains(part), "{part:?} missing in {l}");
        }
        assert!(l.ends_with(" P"), "{l}");
        let clock = l
            .split(": ")
            .nth(1)
            .unwrap()
            .split(" ms clock")
            .next()
            .unwrap();
        assert_eq!(clock.split('+').count(), 3, "{l}");
        let cpu = l
            .split("clock, ")
            .nth(1)
            .unwrap()
            .split(" ms cpu")
            .next()
            .unwrap();
        assert_eq!(cpu.split(['+', '/']).count(), 5, "{l}");
    }
}

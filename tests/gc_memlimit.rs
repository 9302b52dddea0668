//! The memory limit (`GOHEAP_MEMLIMIT`, Go's `GOMEMLIMIT`) over malloc's
//! heap and the GC heap together. Each case runs in a child process (this
//! binary re-executed to run the ignored helper) that reports its figures,
//! with and without the limit, so that each test also shows that the limit
//! is what made the difference.

mod common;

use goheap::gc::{mutate, Gc, Mutation, Root};
use goheap::{Rootable, Trace};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const CASE_ENV: &str = "GOHEAP_MEMLIMIT_CASE";
const MIB: u64 = 1 << 20;

#[derive(Trace)]
struct Tree<'gc> {
    left: Option<Gc<'gc, Tree<'gc>>>,
    right: Option<Gc<'gc, Tree<'gc>>>,
}

fn build<'gc>(mu: &Mutation<'gc>, depth: u32) -> Gc<'gc, Tree<'gc>> {
    let (left, right) = if depth == 0 {
        (None, None)
    } else {
        (Some(build(mu, depth - 1)), Some(build(mu, depth - 1)))
    };
    Gc::new(mu, Tree { left, right })
}

fn count(t: &Tree<'_>) -> u64 {
    1 + t.left.map_or(0, |l| count(&l)) + t.right.map_or(0, |r| count(&r))
}

/// A `/proc/self/status` figure in KiB.
fn status_kib(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
}

/// 16 MiB live in GC objects (a tree of 2^20 nodes of 16 bytes) and about
/// 20 MiB live in malloc blocks, while 1 GiB of GC garbage is made and the
/// malloc blocks are replaced by blocks of other sizes.
fn mixed() {
    let base = status_kib("VmRSS");
    let mut rng = common::Rng::new(9);
    let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 4096]).collect();
    let live = mutate(|mu| Root::<Rootable!['gc => Tree<'gc>]>::new(mu, build(mu, 19)));
    for _ in 0..512 {
        mutate(|mu| {
            for _ in 0..32 {
                build(mu, 11);
            }
        });
        for _ in 0..64 {
            let i = rng.below(blocks.len() as u64) as usize;
            blocks[i] = vec![1; rng.range(1024, 9216)];
        }
    }
    let nodes = mutate(|mu| count(&live.get(mu)));
    assert_eq!(nodes, (1 << 20) - 1);
    assert!(blocks.iter().all(|b| b.iter().all(|&x| x == b[0])));
    let s = goheap::stats();
    println!("base_kib {base}");
    println!("peak_kib {}", status_kib("VmHWM"));
    println!("num_gc {}", s.num_gc);
    println!("memory_limit {}", s.memory_limit);
}

/// 64 MiB of 1 MiB malloc blocks, written, then freed; no GC object.
fn malloc_only() {
    let base = status_kib("VmRSS");
    let blocks: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; MIB as usize]).collect();
    assert!(blocks.iter().all(|b| b[MIB as usize - 1] == b[0]));
    drop(blocks);
    let s = goheap::stats();
    println!("base_kib {base}");
    println!("rss_kib {}", status_kib("VmRSS"));
    println!("mapped_ready {}", s.mapped_ready);
    println!("limit_released {}", s.limit_released);
    println!("num_gc {}", s.num_gc);
}

#[test]
#[ignore = "helper run in a child process by the other tests"]
fn child_helper() {
    match std::env::var(CASE_ENV).as_deref() {
        Ok("mixed") => mixed(),
        Ok("malloc") => malloc_only(),
        _ => {}
    }
}

struct Child {
    stdout: String,
}

impl Child {
    fn figure(&self, name: &str) -> u64 {
        common::figure(&self.stdout, name)
    }
}

fn run(case: &str, env: &[(&str, &str)]) -> Child {
    let out = common::run_child_helper(&[&[(CASE_ENV, case)], env].concat());
    Child {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// Bytes the child's RSS grew by, at its peak, from where it started
/// (its binary, libraries and the test harness are not goheap's to limit).
fn peak_growth(c: &Child) -> u64 {
    (c.figure("peak_kib") - c.figure("base_kib")) * 1024
}

#[test]
fn peak_rss_stays_within_5_percent_of_the_limit_over_malloc_and_gc() {
    const LIMIT: u64 = 64 * MIB;
    // GOGC=400 lets the GC heap grow to 5 × 16 MiB: with ~20 MiB of malloc
    // blocks the natural peak is well above the limit; the live data
    // (16 + 20 MiB) fits under it.
    let free = run("mixed", &[("GOHEAP_GOGC", "400")]);
    let limited = run(
        "mixed",
        &[("GOHEAP_GOGC", "400"), ("GOHEAP_MEMLIMIT", "64MiB")],
    );
    assert_eq!(limited.figure("memory_limit"), LIMIT);
    assert!(
        peak_growth(&free) > LIMIT + LIMIT / 20,
        "without a limit the peak should pass 64 MiB: {} MiB",
        peak_growth(&free) / MIB
    );
    assert!(
        peak_growth(&limited) <= LIMIT + LIMIT / 20,
        "under a 64 MiB limit the peak grew by {} MiB ({} cycles; {} without the limit)",
        peak_growth(&limited) / MIB,
        limited.figure("num_gc"),
        free.figure("num_gc")
    );
    assert!(limited.figure("num_gc") > free.figure("num_gc"));
}

#[test]
fn a_malloc_only_program_under_a_limit_returns_freed_pages() {
    const LIMIT: u64 = 32 * MIB;
    let free = run("malloc", &[]);
    let limited = run("malloc", &[("GOHEAP_MEMLIMIT", "32MiB")]);
    for c in [&free, &limited] {
        assert_eq!(c.figure("num_gc"), 0, "no GC object was made");
    }
    assert!(
        free.figure("mapped_ready") >= 60 * MIB,
        "without a limit the freed blocks stay mapped for a while: {} MiB",
        free.figure("mapped_ready") / MIB
    );
    assert!(
        limited.figure("mapped_ready") <= LIMIT + MIB,
        "under a 32 MiB limit goheap keeps {} MiB after the free",
        limited.figure("mapped_ready") / MIB
    );
    assert!(limited.figure("limit_released") >= 28 * MIB);
    let rss_growth = |c: &Child| (c.figure("rss_kib") - c.figure("base_kib")) * 1024;
    assert!(
        rss_growth(&limited) <= LIMIT + LIMIT / 20,
        "RSS grew by {} MiB",
        rss_growth(&limited) / MIB
    );
}

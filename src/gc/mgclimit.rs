//! The GC CPU limiter (Go's mgclimit.go): under a memory limit set too low
//! for the live heap, the collector would run back to back and the program
//! would make no progress. The limiter caps the collector at about half of
//! the CPU, so that such a program degrades (its heap passes the limit)
//! instead of thrashing.
//!
//! # The bucket
//!
//! A leaky bucket of CPU time, `capacity` = 1 CPU-second per processor (Go's
//! `capacityPerProc`). The collector's CPU time fills it (`note_gc_cpu`: a
//! stop-the-world pause counts once per processor, as Go counts a pause for
//! every P; a concurrent mark counts its workers' and assists' time), the
//! mutators' time drains it (wall time × processors, less the GC's, since
//! the last update). While the bucket is full the limiter is *on*: GC time
//! is coming in faster than mutator time, i.e. the GC takes more than about
//! 50% of the CPU. A cycle's time is added at its end, so the bucket may
//! overflow by one cycle; what overflows is dropped, as in Go.
//!
//! # What it holds back
//!
//! Go's limiter turns off mark assists, which lets the heap grow past its
//! goal while the mark finishes. The stop-the-world collector has no
//! assists; its equivalent is to stop requesting cycles for the memory
//! limit's goal (the pacer then uses the GOGC goal alone) until the bucket
//! has drained. `limiting()` is asked only when allocation reaches the
//! trigger; each cycle that ends with the limiter on is recorded in
//! `stats().gc_limiter_last_enabled`.
//!
//! All state is under one mutex, taken on those slow paths only.

use crate::alloc::mstats::GC;
use core::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Go's `capacityPerProc`: the bucket holds a second of CPU per processor.
const CAPACITY_PER_PROC: Duration = Duration::from_secs(1);

struct Bucket {
    fill: Duration,
    last: Option<Instant>,
}

static BUCKET: Mutex<Bucket> = Mutex::new(Bucket {
    fill: Duration::ZERO,
    last: None,
});

impl Bucket {
    /// Drains the mutator time since the last update (that time less
    /// `gc`, the GC's part of it), adds `gc`, and says whether the bucket
    /// is full.
    fn update(&mut self, now: Instant, gc: Duration, procs: u32) -> bool {
        let capacity = CAPACITY_PER_PROC * procs;
        let wall = self
            .last
            .map_or(Duration::ZERO, |l| now.saturating_duration_since(l));
        let mutator = (wall * procs).saturating_sub(gc);
        self.fill = (self.fill.saturating_sub(mutator) + gc).min(capacity);
        self.last = Some(now);
        self.fill >= capacity
    }
}

fn bucket() -> std::sync::MutexGuard<'static, Bucket> {
    BUCKET.lock().unwrap_or_else(|e| e.into_inner())
}

fn procs() -> u32 {
    super::mgcpacer::procs() as u32
}

/// Cycle `cycle` ended having used `cpu` of CPU time.
pub fn note_gc_cpu(cpu: Duration, cycle: u32) {
    if bucket().update(Instant::now(), cpu, procs()) {
        GC.limiter_last_enabled
            .store(cycle as u64, Ordering::Relaxed);
    }
}

/// Whether the collector has been taking more than about half of the CPU
/// for a while (the bucket is full).
pub fn limiting() -> bool {
    bucket().update(Instant::now(), Duration::ZERO, procs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Bucket {
        Bucket {
            fill: Duration::ZERO,
            last: None,
        }
    }

    /// A program whose GC takes `gc_ms` of every `period_ms` of wall time
    /// on 2 processors: the limiter's state after `periods` periods.
    fn run(gc_ms: u64, period_ms: u64, periods: u32) -> bool {
        let mut b = empty();
        let t0 = Instant::now();
        let mut on = b.update(t0, Duration::ZERO, 2);
        for i in 1..=periods {
            let now = t0 + Duration::from_millis(period_ms) * i;
            on = b.update(now, Duration::from_millis(gc_ms) * 2, 2);
        }
        on
    }

    #[test]
    fn a_collector_under_half_the_cpu_is_never_limited() {
        assert!(!run(4, 10, 10_000), "40% GC");
        assert!(!run(45, 100, 1_000), "45% GC");
    }

    #[test]
    fn a_collector_over_half_the_cpu_is_limited_after_a_while() {
        assert!(
            !run(8, 10, 10),
            "80% GC for 100 ms: the bucket is not full yet"
        );
        assert!(run(8, 10, 1_000), "80% GC for 10 s");
        assert!(run(6, 10, 1_000), "60% GC for 10 s");
    }

    #[test]
    fn the_limiter_lets_go_once_mutators_ran() {
        let mut b = empty();
        let t0 = Instant::now();
        b.update(t0, Duration::ZERO, 1);
        assert!(b.update(t0 + Duration::from_secs(1), Duration::from_secs(2), 1));
        assert!(!b.update(t0 + Duration::from_secs(2), Duration::ZERO, 1));
    }
}

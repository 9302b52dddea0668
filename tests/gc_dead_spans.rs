//! Spans that hold only dead objects go back to the heap as soon as the
//! concurrent mark is done, even while a scope stays open and the cycle
//! cannot terminate (it ends only at a scope boundary). Alone in its test
//! binary: another test's scopes would change when cycles start and end.

use goheap::gc::{mutate, raw, Gc, Root};
use goheap::{Rootable, Trace};
use std::time::{Duration, Instant};

#[derive(Trace)]
struct Junk {
    _words: [u64; 6],
}

#[derive(Trace)]
struct Live<'gc> {
    items: Vec<Gc<'gc, Junk>>,
}

/// One try: garbage in a scope, then a second scope that stays open while
/// the cycle started between the two marks. `None` if the mark was done
/// before the second scope began (then that scope's entry ends the cycle).
fn try_once() -> Option<(usize, usize)> {
    // No cycle under way (one would take the request of the next).
    raw::collect();
    // 64 MiB of garbage: far past the goal, so a cycle is pending when this
    // scope closes, and starts then.
    mutate(|mu| {
        for _ in 0..(64 << 20) / 48 {
            Gc::new(mu, Junk { _words: [1; 6] });
        }
    });
    let cycles = raw::gc_no();
    let full = raw::heap_size();
    mutate(|_| {
        if raw::gc_no() != cycles {
            return None;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while full - raw::heap_size() < 48 << 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let shrunk = raw::heap_size();
        // Still inside the scope, so still the same cycle.
        assert_eq!(raw::gc_no(), cycles, "a cycle ended inside a scope");
        Some((full, shrunk))
    })
}

#[test]
fn dead_spans_are_freed_while_a_scope_keeps_the_cycle_from_ending() {
    // A live set that takes the mark a while (a million objects), so that
    // the second scope opens before the mark is done.
    let _live: Root<Rootable!['gc => Live<'gc>]> = mutate(|mu| {
        let items = (0..1_000_000)
            .map(|_| Gc::new(mu, Junk { _words: [2; 6] }))
            .collect();
        Root::new(mu, Gc::new(mu, Live { items }))
    });
    let (full, shrunk) = (0..5)
        .find_map(|_| try_once())
        .expect("the mark always finished before the next scope opened");
    assert!(
        full - shrunk >= 48 << 20,
        "{} of {} MiB still in spans while the scope was open",
        shrunk >> 20,
        full >> 20
    );
}

//! Reachability at every API level: what a root reaches survives every
//! collection with its contents intact; what nothing reaches (cycles
//! included) is collected.

use goheap::gc::{mutate, raw, Gc, GcCell, Root};
use goheap::{Rootable, Trace};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Tests share one heap; those that count collections run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Trace)]
struct Node<'gc> {
    value: u64,
    next: GcCell<Option<Gc<'gc, Node<'gc>>>>,
}

fn node<'gc>(mu: &goheap::gc::Mutation<'gc>, value: u64) -> Gc<'gc, Node<'gc>> {
    Gc::new(
        mu,
        Node {
            value,
            next: GcCell::new(None),
        },
    )
}

type NodeRoot = Root<Rootable!['gc => Node<'gc>]>;

#[test]
fn rooted_chain_survives_collections() {
    let _s = SERIAL.lock().unwrap();
    let root: NodeRoot = mutate(|mu| {
        let head = node(mu, 0);
        let mut cur = head;
        for i in 1..10_000 {
            let n = node(mu, i);
            *cur.next.borrow_mut(mu) = Some(n);
            cur = n;
        }
        Root::new(mu, head)
    });
    for _ in 0..3 {
        raw::collect();
        // Garbage in between, so that freed slots are reused.
        mutate(|mu| {
            for i in 0..20_000 {
                node(mu, u64::MAX - i);
            }
        });
    }
    mutate(|mu| {
        let mut cur = Some(root.get(mu));
        let mut i = 0;
        while let Some(n) = cur {
            assert_eq!(n.value, i);
            i += 1;
            cur = *n.next.borrow();
        }
        assert_eq!(i, 10_000);
    });
}

static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts its drops; holds a `Vec` so that it needs `Drop` glue.
#[derive(Trace)]
struct Counted<'gc> {
    other: GcCell<Option<Gc<'gc, Counted<'gc>>>>,
    payload: Vec<u8>,
    tally: Tally,
}

struct Tally;

impl Drop for Tally {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: holds no GC pointer.
unsafe impl Trace for Tally {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _: &mut goheap::gc::Marker) {}
}

#[test]
fn unreachable_cycles_are_collected_and_dropped_once() {
    let _s = SERIAL.lock().unwrap();
    let before = DROPS.load(Ordering::SeqCst);
    let gcs = raw::gc_no();
    mutate(|mu| {
        for _ in 0..100 {
            let a = Gc::new(
                mu,
                Counted {
                    other: GcCell::new(None),
                    payload: vec![1; 100],
                    tally: Tally,
                },
            );
            let b = Gc::new(
                mu,
                Counted {
                    other: GcCell::new(Some(a)),
                    payload: vec![2; 100],
                    tally: Tally,
                },
            );
            *a.other.borrow_mut(mu) = Some(b);
        }
    });
    raw::collect();
    raw::wait_for_finalizers();
    assert!(raw::gc_no() > gcs);
    assert_eq!(DROPS.load(Ordering::SeqCst) - before, 200);
    // Later cycles free the memory and never drop again.
    raw::collect();
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(DROPS.load(Ordering::SeqCst) - before, 200);
}

#[test]
fn raw_objects_follow_conservative_reachability() {
    let _s = SERIAL.lock().unwrap();
    // An uncollectable object is a root; a conservative object it points
    // to survives; an unreferenced one is collected.
    // SAFETY: the objects are only used as the test describes.
    unsafe {
        let holder = raw::alloc(64, raw::Kind::Uncollectable).cast::<usize>();
        let kept = raw::alloc(48, raw::Kind::Conservative);
        let inner = raw::alloc(32, raw::Kind::Atomic);
        kept.cast::<usize>().write(inner as usize + 5); // interior pointer
        holder.write(kept as usize);
        let lost = raw::alloc(48, raw::Kind::Conservative) as usize;
        assert_eq!(raw::base(kept.add(17)), kept);
        assert_eq!(raw::size(kept), 48);
        assert_eq!(raw::base(lost as *const u8) as usize, lost);
        let lost_hidden = lost ^ 0xffff; // no longer looks like a pointer
        raw::collect();
        assert_eq!(raw::base(kept), kept, "reachable from the uncollectable");
        assert_eq!(raw::base(inner), inner, "interior pointers count");
        assert!(raw::base((lost_hidden ^ 0xffff) as *const u8).is_null());
        assert!(!raw::free(kept.add(8)), "not an object start");
        assert!(raw::free(holder.cast()));
        raw::collect();
        assert!(raw::base(kept).is_null(), "its holder was freed");
    }
}

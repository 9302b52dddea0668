//! Finalization: `Drop` of collected objects and cleanups (Go's
//! `AddCleanup`) run exactly once, on the finalizer thread, only after the
//! object became unreachable, never while it is rooted.

use goheap::gc::{mutate, raw, Gc, Root};
use goheap::{Rootable, Trace};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

static RAN: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());

fn ran() -> Vec<(u64, String)> {
    RAN.lock().unwrap().clone()
}

#[derive(Trace)]
struct Res {
    id: u64,
}

fn register<'gc>(mu: &goheap::gc::Mutation<'gc>, id: u64) -> Gc<'gc, Res> {
    let g = Gc::new(mu, Res { id });
    g.add_cleanup(mu, id, |id| {
        let who = std::thread::current().name().unwrap_or("?").to_string();
        RAN.lock().unwrap().push((id, who));
    });
    g
}

#[test]
fn cleanups_run_once_after_collection_on_the_finalizer_thread() {
    let _s = serial();
    RAN.lock().unwrap().clear();
    mutate(|mu| {
        for id in 0..50 {
            register(mu, id);
        }
    });
    raw::collect();
    raw::wait_for_finalizers();
    let mut got = ran();
    got.sort();
    assert_eq!(got.len(), 50, "each cleanup once");
    for (i, (id, who)) in got.iter().enumerate() {
        assert_eq!(*id, i as u64);
        assert_eq!(who, "goheap-finalizer");
    }
    raw::collect();
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(ran().len(), 50, "never twice");
}

#[test]
fn rooted_objects_are_not_cleaned_up_until_unrooted() {
    let _s = serial();
    RAN.lock().unwrap().clear();
    let r: Root<Rootable!['gc => Res]> = mutate(|mu| Root::new(mu, register(mu, 7)));
    raw::collect();
    raw::wait_for_finalizers();
    assert!(ran().is_empty(), "still rooted");
    mutate(|mu| assert_eq!(r.get(mu).id, 7));
    drop(r);
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(ran().len(), 1);
}

static DROPPED: AtomicUsize = AtomicUsize::new(0);
static DROP_THREAD: Mutex<Option<String>> = Mutex::new(None);

struct Noisy(u64);

impl Drop for Noisy {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
        *DROP_THREAD.lock().unwrap() = std::thread::current().name().map(String::from);
    }
}

// SAFETY: holds no GC pointer.
unsafe impl Trace for Noisy {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _: &mut goheap::gc::Marker) {}
}

#[test]
fn drop_runs_once_off_the_allocating_thread_and_memory_is_reused_after() {
    let _s = serial();
    let before = DROPPED.load(Ordering::SeqCst);
    mutate(|mu| {
        for i in 0..1000 {
            Gc::new(mu, Noisy(i));
        }
    });
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        before,
        "not while allocating"
    );
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(DROPPED.load(Ordering::SeqCst) - before, 1000);
    assert_eq!(
        DROP_THREAD.lock().unwrap().as_deref(),
        Some("goheap-finalizer")
    );
    for _ in 0..3 {
        raw::collect();
        mutate(|mu| {
            for i in 0..1000 {
                Gc::new(mu, Noisy(i));
            }
        });
    }
    raw::collect();
    raw::wait_for_finalizers();
    raw::collect();
    raw::wait_for_finalizers();
    assert_eq!(
        DROPPED.load(Ordering::SeqCst) - before,
        4000,
        "exactly once each"
    );
}

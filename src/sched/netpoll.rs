//! The network poller (Go's netpoll.go): goroutines blocked on sockets
//! wait on epoll instead of holding a thread.
//!
//! Each non-blocking descriptor has a `PollDesc`, registered once with the
//! poller (edge-triggered, read and write). Its two semaphores `rg`, `wg`
//! hold one of: `NIL` (nothing), `READY` (an edge arrived that no one has
//! consumed), `WAIT` (a goroutine is about to park), or the address of the
//! parked G. The protocol, Go's:
//!
//! - a reader tries the syscall; on `EAGAIN` it calls `wait_read`, which
//!   consumes `READY` (and retries the syscall) or CASes `NIL→WAIT` and parks;
//!   the park's commit CASes `WAIT→G`, and if that fails an edge came in
//!   between (`READY`), so it does not park. Edges are never lost: the
//!   reader retries the syscall after every wakeup, and an edge that comes
//!   while no one waits is kept as `READY`.
//! - the poller (an idle M in `findrunnable`, or sysmon) swaps `READY` in on
//!   each edge and takes the G out if one was parked, to make it runnable.
//! - a deadline is a timer that swaps `NIL` in and takes the G out; the
//!   woken reader finds `NIL`, not `READY`, and reports `TimedOut`.
//!
//! `PollDesc`s are pooled and never freed, so an event still in flight for a
//! closed descriptor touches valid memory (at worst a spurious wakeup, after
//! which the reader retries its syscall).

use super::netpoll_epoll::Epoll;
use super::proc;
use super::runtime2::G;
use super::time::after;
use crate::lock::Mutex;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::io;
use std::time::{Duration, Instant};

const NIL: usize = 0;
const READY: usize = 1;
const WAIT: usize = 2;

pub(crate) struct PollDesc {
    rg: AtomicUsize,
    wg: AtomicUsize,
}

static FREE: Mutex<Vec<&'static PollDesc>> = Mutex::new(Vec::new());

/// Takes the pool lock before a fork (see `proc::fork_prepare`).
pub(crate) fn lock_for_fork() {
    FREE.lock_for_fork();
}

/// # Safety
/// After `lock_for_fork` in this thread.
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: the caller's contract.
    unsafe { FREE.unlock_after_fork() };
}

/// The poller of the running scheduler.
fn epoll() -> &'static Epoll {
    proc::poller()
}

impl PollDesc {
    /// Registers `fd` with the poller.
    pub(crate) fn open(fd: i32) -> io::Result<&'static PollDesc> {
        let pd = FREE.lock().pop().unwrap_or_else(|| {
            Box::leak(Box::new(PollDesc {
                rg: AtomicUsize::new(NIL),
                wg: AtomicUsize::new(NIL),
            }))
        });
        pd.rg.store(NIL, Ordering::Relaxed);
        pd.wg.store(NIL, Ordering::Relaxed);
        match epoll().open(fd, pd as *const PollDesc as usize) {
            Ok(()) => Ok(pd),
            Err(e) => {
                FREE.lock().push(pd);
                Err(io::Error::from_raw_os_error(e))
            }
        }
    }

    /// Unregisters `fd` and pools the descriptor (no goroutine waits on it).
    pub(crate) fn close(&'static self, fd: i32) {
        epoll().close(fd);
        FREE.lock().push(self);
    }

    /// Parks the current goroutine until `fd` may be readable again (or the
    /// deadline passes: `TimedOut`). Off the scheduler, polls the thread.
    pub(crate) fn wait_read(&'static self, fd: i32, deadline: Option<Instant>) -> io::Result<()> {
        self.wait(&self.rg, fd, libc::POLLIN, deadline)
    }

    pub(crate) fn wait_write(&'static self, fd: i32, deadline: Option<Instant>) -> io::Result<()> {
        self.wait(&self.wg, fd, libc::POLLOUT, deadline)
    }

    fn wait(
        &'static self,
        gpp: &'static AtomicUsize,
        fd: i32,
        events: i16,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let timed_out = || io::Error::from(io::ErrorKind::TimedOut);
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(timed_out());
        }
        let Some(g) = proc::current_g() else {
            return poll_thread(fd, events, left);
        };
        match gpp.compare_exchange(NIL, WAIT, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {}
            Err(READY) => {
                gpp.store(NIL, Ordering::Relaxed);
                return Ok(());
            }
            Err(_) => {
                return Err(io::Error::other(
                    "goheap: netpoll: two goroutines wait on one socket direction",
                ))
            }
        }
        let mut timer = None;
        proc::gopark(&mut || {
            // The timer is stored before the CAS publishes the G: once
            // published, the G may resume and read `timer`.
            timer = left.map(|d| after(d, Box::new(move || wake(gpp, NIL))));
            if gpp
                .compare_exchange(WAIT, g.0 as usize, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return true;
            }
            if let Some(t) = timer.take() {
                t.cancel();
            }
            gpp.store(NIL, Ordering::Relaxed);
            false
        });
        if let Some(t) = timer {
            t.cancel();
        }
        match gpp.swap(NIL, Ordering::AcqRel) {
            READY => Ok(()),
            _ if deadline.is_some_and(|d| Instant::now() >= d) => Err(timed_out()),
            _ => Ok(()),
        }
    }
}

/// Swaps `to` (READY for an edge, NIL for a deadline) into a semaphore and
/// returns the goroutine that was parked there, if any.
fn unblock(gpp: &AtomicUsize, to: usize) -> Option<*mut G> {
    let mut old = gpp.load(Ordering::Acquire);
    loop {
        if old == READY || (old == NIL && to == NIL) {
            return None;
        }
        match gpp.compare_exchange(old, to, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) if old > WAIT => return Some(old as *mut G),
            Ok(_) => return None,
            Err(o) => old = o,
        }
    }
}

fn wake(gpp: &AtomicUsize, to: usize) {
    if let Some(g) = unblock(gpp, to) {
        proc::goready(proc::GRef(g), false);
    }
}

/// Polls for readiness, waiting up to `delay_ns` (-1 forever), and returns
/// the goroutines made ready, still WAITING (the caller readies them).
pub(crate) fn netpoll(ep: &Epoll, delay_ns: i64) -> Vec<*mut G> {
    let ms = match delay_ns {
        d if d < 0 => -1,
        0 => 0,
        d => (d as u64).div_ceil(1_000_000).min(i32::MAX as u64) as i32,
    };
    let mut list = Vec::new();
    ep.wait(ms, |ev| {
        // SAFETY: keys are &'static PollDesc addresses (never freed).
        let pd = unsafe { &*(ev.key as *const PollDesc) };
        if ev.read {
            list.extend(unblock(&pd.rg, READY));
        }
        if ev.write {
            list.extend(unblock(&pd.wg, READY));
        }
    });
    list
}

/// Waits on a descriptor with poll(2): the plain-thread path.
fn poll_thread(fd: i32, events: i16, left: Option<Duration>) -> io::Result<()> {
    let ms = left.map_or(-1, |d| d.as_millis().clamp(1, i32::MAX as u128) as i32);
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one pollfd we pass.
    match unsafe { libc::poll(&mut p, 1, ms) } {
        0 => Err(io::Error::from(io::ErrorKind::TimedOut)),
        n if n < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            }
        }
        _ => Ok(()),
    }
}

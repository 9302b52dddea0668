//! sysmon (Go's sysmon in proc.go): a thread without a P that watches the
//! scheduler.
//!
//! Every 20 µs (backing off to 10 ms while it finds nothing to do) it:
//! - preempts: a P whose goroutine has run user code for 10 ms without a
//!   scheduling point gets its `preempt` flag set; the goroutine's next safe
//!   point (`go`) puts it on the global queue (Go's preemption request);
//! - retakes Ps: if 10 ms later the goroutine still runs (a hog, or a
//!   goroutine blocked in a system call that did not use `blocking`), while
//!   other work waits (its local queue, the global queue or a due timer),
//!   the P is taken with a CAS `USER→IDLE` of its status word and handed to
//!   another M (`handoffp`);
//! - polls the network if no M has for 10 ms;
//! - wakes an M for overdue timers;
//! - once a second, releases the pages of stacks in the global stack pool
//!   that sat there unused the whole second;
//! - when every P has been idle for two of those seconds, sleeps on a futex
//!   until a P is taken again (an idle process does not wake up for it),
//!   unless it traces;
//! - with `GOHEAP_DEBUG=schedtrace=X`, prints Go's schedtrace line every X
//!   ms: time since the scheduler started, `gomaxprocs`, `idleprocs`,
//!   `threads` (the Ms and sysmon; Go also counts its main thread, which is
//!   not an M here), `spinningthreads`, `needspinning` (always 0: no such
//!   state here), `idlethreads`, the global `runqueue` and each P's local
//!   run queue length in brackets.

use super::proc;
use super::runtime2::{Sched, P_USER};
use super::time::nanotime;
use core::sync::atomic::Ordering::*;
use std::time::Duration;

const FORCE_PREEMPT_NS: u64 = 10_000_000;
const SCAVENGE_NS: u64 = 1_000_000_000;

pub(crate) fn start(s: &'static Sched) {
    let r = std::thread::Builder::new()
        .name("goheap-sysmon".into())
        .stack_size(256 << 10)
        .spawn(move || run(s));
    if r.is_err() {
        crate::os::fatal("sysmon", "cannot create a thread", 0);
    }
}

fn run(s: &'static Sched) {
    let mut delay_us = 20u64;
    let mut idle = 0u32;
    let mut last_scavenge = nanotime();
    let mut idle_scavenges = 0;
    let start = nanotime();
    let trace_ns = crate::options::schedtrace_ms().saturating_mul(1_000_000);
    let mut last_trace = start;
    // The child of a fork has a new scheduler, and no sysmon thread for the
    // old one, so this loop runs for the life of its scheduler.
    loop {
        if trace_ns == 0 && idle_scavenges >= 2 && sleep_while_all_idle(s) {
            (delay_us, idle, idle_scavenges) = (20, 0, 0);
        }
        std::thread::sleep(Duration::from_micros(delay_us));
        let now = nanotime();
        if trace_ns != 0 && now - last_trace >= trace_ns {
            last_trace = now;
            crate::os::write_stderr(&[schedtrace(s, now - start).as_bytes()]);
        }
        proc::sysmon_netpoll(s);
        let overdue = s
            .allp
            .iter()
            .any(|p| p.timers.earliest() != 0 && p.timers.earliest() < now);
        if overdue {
            proc::wakep(s);
        }
        if retake(s, now) > 0 || overdue {
            idle = 0;
        } else {
            idle += 1;
        }
        delay_us = if idle <= 50 {
            20
        } else {
            (delay_us * 2).min(10_000)
        };
        if now - last_scavenge > SCAVENGE_NS {
            super::stack::scavenge();
            last_scavenge = now;
            idle_scavenges = if all_idle(s) { idle_scavenges + 1 } else { 0 };
        }
    }
}

/// Go's schedtrace line (without scheddetail).
fn schedtrace(s: &Sched, since_start_ns: u64) -> String {
    let (threads, idlethreads) = {
        let l = s.lock.lock();
        (l.mcount + 1, l.nmidle)
    };
    let local: Vec<String> = s
        .allp
        .iter()
        .map(|p| proc::runq_len(p).to_string())
        .collect();
    format!(
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} \
         needspinning=0 idlethreads={} runqueue={} [{}]\n",
        since_start_ns / 1_000_000,
        s.allp.len(),
        s.npidle.load(SeqCst),
        threads,
        s.nmspinning.load(SeqCst),
        idlethreads,
        s.runqsize.load(SeqCst),
        local.join(" ")
    )
}

fn all_idle(s: &Sched) -> bool {
    s.npidle.load(SeqCst) as usize == s.allp.len()
}

/// With every P idle (an M then waits in netpoll for sockets and timers),
/// sysmon has nothing to watch: it sleeps until a P is taken (`pidleget`
/// wakes it; Go's sysmonwait). Returns whether it slept.
fn sleep_while_all_idle(s: &Sched) -> bool {
    s.sysmon_wait.store(1, SeqCst);
    if !all_idle(s) {
        s.sysmon_wait.store(0, SeqCst);
        return false;
    }
    while s.sysmon_wait.load(SeqCst) == 1 {
        crate::lock::futex_wait(&s.sysmon_wait, 1);
    }
    true
}

/// Takes the Ps of goroutines that ran 10 ms while work waits; returns how
/// many it handed off.
fn retake(s: &'static Sched, now: u64) -> usize {
    let mut n = 0;
    for p in s.allp.iter() {
        let st = p.status.load(Acquire);
        if st & 0xff != P_USER {
            continue;
        }
        let tick = p.schedtick.load(Relaxed);
        if p.sysmon_tick.load(Relaxed) != tick || p.sysmon_when.load(Relaxed) == 0 {
            p.sysmon_tick.store(tick, Relaxed);
            p.sysmon_when.store(now, Relaxed);
            continue;
        }
        let ran = now - p.sysmon_when.load(Relaxed);
        if ran < FORCE_PREEMPT_NS {
            continue;
        }
        if ran < 2 * FORCE_PREEMPT_NS {
            p.preempt.store(true, Relaxed);
            continue;
        }
        let timers_due = p.timers.earliest() != 0 && p.timers.earliest() <= now;
        if proc::runq_empty(p) && s.runqsize.load(SeqCst) == 0 && !timers_due {
            continue;
        }
        if p.status
            .compare_exchange(st, super::runtime2::P_IDLE, AcqRel, Relaxed)
            .is_ok()
        {
            p.sysmon_when.store(0, Relaxed);
            proc::handoffp(s, p);
            n += 1;
        }
    }
    n
}

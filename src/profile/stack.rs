//! The call stack of a sampled allocation, walked by the system unwinder
//! (`_Unwind_Backtrace` of libgcc_s, which every Rust program on
//! linux-gnu links) into a fixed array: no allocation, no frame pointers
//! needed (the unwinder reads `.eh_frame`).
//!
//! Frames are return addresses minus one, so that they point into the
//! call instruction (and a symboliser finds the calling line). The
//! profiler's own frames (`capture`, `record_alloc` and the allocator's
//! `profile_sample_small`/`_large`) are left out.

use core::ffi::{c_int, c_void};

/// The deepest stack recorded (Go records 32 frames, plus a few).
pub const MAX_FRAMES: usize = 64;

/// Frames of the profiler itself at the top of every walk: `capture`,
/// `profile::record_alloc`, `malloc::profile_sample_small` or `_large`
/// (all `inline(never)`).
const OWN_FRAMES: usize = 3;

#[repr(C)]
struct UnwindContext {
    _opaque: [u8; 0],
}

const URC_NO_REASON: c_int = 0;
const URC_NORMAL_STOP: c_int = 4;

type TraceFn = extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int;

extern "C" {
    fn _Unwind_Backtrace(trace: TraceFn, arg: *mut c_void) -> c_int;
    fn _Unwind_GetIP(ctx: *mut UnwindContext) -> usize;
}

struct Walk<'a> {
    frames: &'a mut [usize],
    seen: usize,
    len: usize,
}

extern "C" fn visit(ctx: *mut UnwindContext, arg: *mut c_void) -> c_int {
    // SAFETY: arg is the `Walk` that `capture` passed, alive for the walk.
    let walk = unsafe { &mut *arg.cast::<Walk>() };
    // SAFETY: ctx is the unwinder's context for the frame being visited.
    let ip = unsafe { _Unwind_GetIP(ctx) };
    if ip == 0 {
        return URC_NORMAL_STOP;
    }
    walk.seen += 1;
    if walk.seen <= OWN_FRAMES {
        return URC_NO_REASON;
    }
    walk.frames[walk.len] = ip - 1;
    walk.len += 1;
    if walk.len == walk.frames.len() {
        URC_NORMAL_STOP
    } else {
        URC_NO_REASON
    }
}

/// Fills `frames` with the caller's stack, innermost first; the count.
#[inline(never)]
pub fn capture(frames: &mut [usize; MAX_FRAMES]) -> usize {
    let mut walk = Walk {
        frames,
        seen: 0,
        len: 0,
    };
    // SAFETY: `visit` only writes inside `walk.frames`, which outlives the
    // call.
    unsafe { _Unwind_Backtrace(visit, (&mut walk as *mut Walk).cast()) };
    walk.len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn outer() -> ([usize; MAX_FRAMES], usize) {
        let mut frames = [0; MAX_FRAMES];
        let n = middle(&mut frames);
        (frames, n)
    }

    #[inline(never)]
    fn middle(frames: &mut [usize; MAX_FRAMES]) -> usize {
        core::hint::black_box(inner(frames))
    }

    #[inline(never)]
    fn inner(frames: &mut [usize; MAX_FRAMES]) -> usize {
        core::hint::black_box(capture(frames))
    }

    #[test]
    fn the_walk_reaches_the_callers_and_stops_at_the_array_end() {
        let (frames, n) = outer();
        assert!((3..=MAX_FRAMES).contains(&n), "{n}");
        // The first frame kept is in `outer` (capture, inner and middle
        // are the three left out): its address lies after its start.
        let start = outer as fn() -> ([usize; MAX_FRAMES], usize) as usize;
        assert!(frames[0] > start && frames[0] < start + 4096, "{frames:x?}");
        assert!(frames[..n].iter().all(|&f| f != 0));
    }
}

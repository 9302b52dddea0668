//! When to sample: the mean distance in bytes (`GOHEAP_PROFILE_RATE`, 512 KiB
//! by default, 0 when `GOHEAP_PROFILE` is unset), and exponentially
//! distributed distances between sampling points (Go's `nextSample`).

use super::fmath;
use core::ffi::CStr;
use core::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Mean bytes between samples (Go's default `MemProfileRate`).
pub const DEFAULT_RATE: usize = 512 * 1024;

const UNREAD: u8 = 0;
const READ: u8 = 1;

static STATE: AtomicU8 = AtomicU8::new(UNREAD);
static RATE: AtomicUsize = AtomicUsize::new(0);
/// splitmix64's state, shared: it is advanced once per sample.
static SEED: AtomicU64 = AtomicU64::new(0);

/// Mean bytes between samples; 0 when profiling is off.
pub fn rate() -> usize {
    if STATE.load(Ordering::Acquire) == UNREAD {
        read_environment();
    }
    RATE.load(Ordering::Relaxed)
}

/// Whether heap profiling is on (`GOHEAP_PROFILE` is set).
pub fn enabled() -> bool {
    rate() != 0
}

/// Reads `GOHEAP_PROFILE` and `GOHEAP_PROFILE_RATE` without allocating.
fn read_environment() {
    let rate = match crate::options::env(c"GOHEAP_PROFILE") {
        Some(path) if !path.is_empty() => {
            crate::options::env(c"GOHEAP_PROFILE_RATE").map_or(DEFAULT_RATE, parse_rate)
        }
        _ => 0,
    };
    RATE.store(rate, Ordering::Relaxed);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    SEED.store(pid.wrapping_mul(0x9E37_79B9_7F4A_7C15), Ordering::Relaxed);
    STATE.store(READ, Ordering::Release);
}

/// A decimal byte count; anything else (or 0) is the default rate.
fn parse_rate(text: &[u8]) -> usize {
    let mut n: usize = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return DEFAULT_RATE;
        }
        n = n.saturating_mul(10).saturating_add(usize::from(b - b'0'));
    }
    if n == 0 {
        DEFAULT_RATE
    } else {
        n
    }
}

/// The bytes from one sampling point to the next for a mean of `rate`
/// (not 0): a fresh exponentially distributed draw (Go's `nextSample`).
/// The allocator's caches count them down (`alloc::mcache`).
pub fn draw(rate: usize) -> isize {
    distance(rate, random())
}

/// A uniformly distributed 64-bit number (splitmix64).
fn random() -> u64 {
    let mut z = SEED
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An exponentially distributed distance of mean `rate` from 64 random
/// bits: `-ln(u)·rate` with `u` uniform in (0, 1].
fn distance(rate: usize, bits: u64) -> isize {
    if rate <= 1 {
        return 0;
    }
    let u = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
    let d = -fmath::ln(u) * rate as f64;
    if d >= isize::MAX as f64 {
        isize::MAX
    } else {
        d as isize
    }
}

/// Environment variable holding the profile's path.
pub const PATH_VAR: &CStr = c"GOHEAP_PROFILE";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_decimal_bytes() {
        assert_eq!(parse_rate(b"4096"), 4096);
        assert_eq!(parse_rate(b"1"), 1);
        assert_eq!(parse_rate(b""), DEFAULT_RATE);
        assert_eq!(parse_rate(b"0"), DEFAULT_RATE);
        assert_eq!(parse_rate(b"12k"), DEFAULT_RATE);
    }

    #[test]
    fn distances_are_exponential_with_the_rate_as_mean() {
        let n = 200_000u64;
        let rate = 512 * 1024;
        let (mut sum, mut below_mean) = (0f64, 0u64);
        for i in 0..n {
            let bits = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 17);
            let d = distance(rate, bits.wrapping_mul(0xBF58_476D_1CE4_E5B9)) as f64;
            assert!(d >= 0.0);
            sum += d;
            below_mean += u64::from(d < rate as f64);
        }
        let mean = sum / n as f64;
        assert!((mean / rate as f64 - 1.0).abs() < 0.02, "mean {mean}");
        // P(X < mean) = 1 - 1/e for an exponential distribution.
        let p = below_mean as f64 / n as f64;
        assert!((p - (1.0 - (-1f64).exp())).abs() < 0.01, "p {p}");
    }

    #[test]
    fn rate_one_samples_every_allocation() {
        assert_eq!(distance(1, 12345), 0);
    }

    #[test]
    fn draws_are_never_negative() {
        for rate in [2, 16, DEFAULT_RATE, usize::MAX] {
            assert!((0..100).all(|_| draw(rate) >= 0), "rate {rate}");
        }
    }
}

//! Shared helpers for goheap's integration tests (not a test binary itself):
//! a small deterministic PRNG (xorshift64*), per-object byte patterns that are
//! written and checked with memcpy/memcmp (so whole-block checks stay fast even
//! in debug builds), a zero check, and the process's resident set size read from
//! /proc/self/statm.
#![allow(dead_code)]

use std::sync::OnceLock;

/// xorshift64* seeded through splitmix64, so nearby seeds give unrelated streams.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let z = splitmix64(seed);
        Rng(if z == 0 { 0x1234_5678_9ABC_DEF1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as usize
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// Log-uniform in `lo..=hi`: the bit length is uniform, then the value is
    /// uniform among the numbers of that bit length inside the range.
    pub fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        assert!(1 <= lo && lo <= hi);
        let lo_bits = usize::BITS - lo.leading_zeros();
        let hi_bits = usize::BITS - hi.leading_zeros();
        let bits = lo_bits + self.below(u64::from(hi_bits - lo_bits + 1)) as u32;
        let first = (1usize << (bits - 1)).max(lo);
        let last = if bits == usize::BITS {
            hi
        } else {
            ((1usize << bits) - 1).min(hi)
        };
        self.range(first, last)
    }
}

pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Length of the random table that patterns are cut from. Byte `i` of object
/// `id` is `TABLE[(start(id) + i) % TABLE_LEN]`, so two different objects hold
/// different bytes (with overwhelming probability) and any overlap between two
/// live objects shows up as a mismatch when the first one is checked again.
pub const TABLE_LEN: usize = 1 << 20;

fn table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = Rng::new(0x5EED_7AB1E);
        let mut t = Vec::with_capacity(TABLE_LEN);
        while t.len() < TABLE_LEN {
            t.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        t.into_boxed_slice()
    })
}

/// Build the pattern table now (call before fork(), so children never race for it).
pub fn init_patterns() {
    let _ = table();
}

fn start(id: u64) -> usize {
    (splitmix64(id ^ 0xA5A5_5A5A_0F0F_F0F0) % TABLE_LEN as u64) as usize
}

/// Calls `f(offset_in_object, table_segment)` for consecutive segments covering
/// `len` bytes of object `id`'s pattern.
fn for_segments(id: u64, len: usize, mut f: impl FnMut(usize, &[u8]) -> bool) -> bool {
    let t = table();
    let mut pos = start(id);
    let mut done = 0;
    while done < len {
        let n = (TABLE_LEN - pos).min(len - done);
        if !f(done, &t[pos..pos + n]) {
            return false;
        }
        done += n;
        pos = 0;
    }
    true
}

/// Fill `dst` with object `id`'s pattern.
pub fn fill(dst: &mut [u8], id: u64) {
    let len = dst.len();
    for_segments(id, len, |off, seg| {
        dst[off..off + seg.len()].copy_from_slice(seg);
        true
    });
}

/// Does `src` hold object `id`'s pattern?
pub fn check(src: &[u8], id: u64) -> bool {
    for_segments(id, src.len(), |off, seg| &src[off..off + seg.len()] == seg)
}

/// Offset of the first byte of `src` that differs from object `id`'s pattern.
pub fn first_mismatch(src: &[u8], id: u64) -> Option<usize> {
    if check(src, id) {
        return None;
    }
    let mut expected = vec![0u8; src.len()];
    fill(&mut expected, id);
    src.iter().zip(&expected).position(|(a, b)| a != b)
}

/// A freshly allocated boxed slice of `len` bytes holding object `id`'s pattern.
pub fn pattern_box(id: u64, len: usize) -> Box<[u8]> {
    let mut v: Vec<u8> = Vec::with_capacity(len);
    for_segments(id, len, |_, seg| {
        v.extend_from_slice(seg);
        true
    });
    v.into_boxed_slice()
}

/// Is every byte of `s` zero? (compares 4 KiB chunks with memcmp)
pub fn is_zero(s: &[u8]) -> bool {
    static ZEROS: [u8; 4096] = [0; 4096];
    s.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// Resident set size of this process in bytes, from /proc/self/statm.
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("statm has a resident field")
        .parse()
        .expect("statm resident field is a number");
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is a valid name.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    assert!(page > 0, "sysconf(_SC_PAGESIZE) failed");
    pages * page as usize
}

pub const MIB: usize = 1 << 20;

/// The Go runtime's small-object size classes (runtime/sizeclasses.go), class 0 excluded.
pub const GO_SIZE_CLASSES: [usize; 67] = [
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352,
    384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
    2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// Sizes on both sides of every Go size class boundary (c-1, c, c+1), 1..=64 B
/// byte by byte, the 32 KiB small/large boundary, page multiples and multi-MiB sizes.
pub fn boundary_sizes() -> Vec<usize> {
    let mut v: Vec<usize> = (1..=64).collect();
    for &c in GO_SIZE_CLASSES.iter() {
        v.extend([c - 1, c, c + 1]);
    }
    v.extend([
        32767,
        32768,
        32769,
        32768 + 8192,
        65535,
        65536,
        65537,
        128 << 10,
        (256 << 10) + 1,
    ]);
    v.extend([
        MIB - 1,
        MIB,
        MIB + 1,
        2 * MIB,
        3 * MIB + 12345,
        4 * MIB,
        8 * MIB + 1,
        17 * MIB,
    ]);
    v.sort_unstable();
    v.dedup();
    v
}

/// This test binary run again for its ignored `child_helper` test alone,
/// with `env` set: how a test runs a case that must abort (or change the
/// process for good) in a child process.
pub fn child_helper_command(env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([
        "child_helper",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .envs(env.iter().copied());
    cmd
}

/// Runs the child helper with `env` and returns its output, which must be
/// a success.
pub fn run_child_helper(env: &[(&str, &str)]) -> std::process::Output {
    let out = child_helper_command(env).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    out
}

/// The number after `name ` in the output of a child helper (the first
/// line carries libtest's `test child_helper ... ` prefix).
pub fn figure(stdout: &str, name: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.split(&format!("{name} ")).nth(1))
        .unwrap_or_else(|| panic!("no {name} in {stdout:?}"))
        .trim()
        .parse()
        .unwrap()
}

/// Spawns a goroutine for a test.
pub fn go(f: impl FnOnce() + Send + 'static) {
    // SAFETY: goheap::go's contract: the tests' goroutines hold no
    // thread-local reference or thread-bound guard across a switch point
    // (the one test that does so on purpose, in review_sched.rs, calls
    // goheap::go itself).
    unsafe { goheap::go(f) }
}

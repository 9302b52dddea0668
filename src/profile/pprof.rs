//! Writes the heap profile in pprof's format (profile.proto, gzipped), as
//! Go's runtime/pprof writes a heap profile: sample types alloc_objects,
//! alloc_space, inuse_objects, inuse_space; period type space/bytes with
//! the sampling rate as period; one sample per bucket with its size as the
//! numeric label `bytes`; values scaled back from the samples to estimates
//! of the whole (Go's `scaleHeapSample`).
//!
//! Locations are the distinct stack addresses. Each is named, where the
//! dynamic symbol table knows it, by `dladdr`; the mappings carry file,
//! offsets and build ID with `has_functions` false, so pprof symbolises
//! from the binaries (with line numbers) when it finds them and keeps
//! these names otherwise. `drop_frames` names the allocators' entry points
//! and Rust's alloc crate, so a sample's leaf is the code that allocated.
//!
//! Nothing here calls malloc: every buffer is a `Buf` (see `buf.rs`).

use super::buf::Buf;
use super::fmath;
use super::gzip::gzip;
use super::maps::Maps;
use super::mprof;
use super::proto::{self, Bytes};
use super::sampler;
use super::stack::MAX_FRAMES;
use core::ffi::{c_char, CStr};
use core::sync::atomic::{AtomicBool, Ordering};
use std::io;
use std::path::Path;

/// Frames pprof drops with everything they call: C's and Rust's allocator
/// entry points, goheap itself, and the allocating functions of Rust's
/// alloc crate (not its trait impls, such as `Box<dyn FnOnce>::call_once`,
/// which call user code).
const DROP_FRAMES: &str = "malloc|calloc|realloc|reallocarray|free|cfree|posix_memalign|\
aligned_alloc|memalign|valloc|pvalloc|__libc_(malloc|calloc|realloc|free|memalign)|\
goheap_(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc)|\
(__rustc::)?__(rust|rg|rdl)_(alloc|alloc_zeroed|realloc|dealloc)|goheap::.*|<goheap::.*|\
alloc::alloc::.*|alloc::raw_vec::.*|<.* as alloc::vec::spec_from_elem::.*|alloc::vec::from_elem.*";

// Fields of pprof's profile.proto.
mod field {
    pub const SAMPLE_TYPE: u32 = 1;
    pub const SAMPLE: u32 = 2;
    pub const MAPPING: u32 = 3;
    pub const LOCATION: u32 = 4;
    pub const FUNCTION: u32 = 5;
    pub const STRING_TABLE: u32 = 6;
    pub const DROP_FRAMES: u32 = 7;
    pub const TIME_NANOS: u32 = 9;
    pub const PERIOD_TYPE: u32 = 11;
    pub const PERIOD: u32 = 12;
}

/// The fixed strings, at these indexes of the string table.
const FIXED_STRINGS: [&str; 9] = [
    "",
    "alloc_objects",
    "count",
    "alloc_space",
    "bytes",
    "inuse_objects",
    "inuse_space",
    "space",
    DROP_FRAMES,
];
const S_ALLOC_OBJECTS: u64 = 1;
const S_COUNT: u64 = 2;
const S_ALLOC_SPACE: u64 = 3;
const S_BYTES: u64 = 4;
const S_INUSE_OBJECTS: u64 = 5;
const S_INUSE_SPACE: u64 = 6;
const S_SPACE: u64 = 7;
const S_DROP_FRAMES: u64 = 8;

/// A bucket as copied out under the lock.
#[derive(Clone, Copy)]
struct Record {
    size: usize,
    allocs: u64,
    frees: u64,
    depth: usize,
    stack: [usize; MAX_FRAMES],
}

/// The strings of the profile, in table order.
struct Strings {
    text: Buf<u8>,
    spans: Buf<(usize, usize)>,
}

impl Strings {
    fn new() -> Strings {
        let mut s = Strings {
            text: Buf::new(),
            spans: Buf::new(),
        };
        for fixed in FIXED_STRINGS {
            s.add(fixed.as_bytes());
        }
        s
    }

    /// Adds a string; its index.
    fn add(&mut self, bytes: &[u8]) -> u64 {
        let at = self.text.len();
        self.text.extend_from_slice(bytes);
        self.spans.push((at, bytes.len()));
        (self.spans.len() - 1) as u64
    }

    fn add_hex(&mut self, bytes: &[u8]) -> u64 {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let at = self.text.len();
        for &b in bytes {
            self.text.push(DIGITS[usize::from(b >> 4)]);
            self.text.push(DIGITS[usize::from(b & 15)]);
        }
        self.spans.push((at, bytes.len() * 2));
        (self.spans.len() - 1) as u64
    }

    fn encode(&self, out: &mut Bytes) {
        for &(at, len) in self.spans.as_slice() {
            proto::bytes(
                out,
                field::STRING_TABLE,
                &self.text.as_slice()[at..at + len],
            );
        }
    }
}

/// Go's `scaleHeapSample`: `count` sampled objects of `bytes` total, as an
/// estimate of all objects allocated, given the sampling rate.
pub fn scale(count: u64, bytes: u64, rate: usize) -> (u64, u64) {
    if count == 0 || bytes == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, bytes);
    }
    let average = bytes as f64 / count as f64;
    let factor = 1.0 / (1.0 - fmath::exp(-average / rate as f64));
    (
        (count as f64 * factor) as u64,
        (bytes as f64 * factor) as u64,
    )
}

/// The base of the loaded object holding goheap's code, when that is a
/// shared library (libgoheap.so) rather than the program itself.
fn goheap_library_base() -> Option<usize> {
    let ours = object_base(goheap_library_base as fn() -> Option<usize> as usize)?;
    // SAFETY: getauxval has no preconditions.
    let program_headers = unsafe { libc::getauxval(libc::AT_PHDR) } as usize;
    (object_base(program_headers) != Some(ours)).then_some(ours)
}

/// The base address of the loaded object containing `addr`.
fn object_base(addr: usize) -> Option<usize> {
    // SAFETY: Dl_info is plain data; dladdr fills it or returns 0.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: any address may be asked about.
    let found = unsafe { libc::dladdr(addr as *const libc::c_void, &mut info) } != 0;
    found.then_some(info.dli_fbase as usize)
}

/// A stack without its leading frames inside libgoheap.so (the C entry
/// points and what they call): the leaf is then the caller of malloc.
fn without_library_frames(stack: &[usize], library: Option<usize>) -> &[usize] {
    let Some(library) = library else {
        return stack;
    };
    let own = stack
        .iter()
        .take_while(|&&pc| object_base(pc) == Some(library))
        .count();
    &stack[own..]
}

/// Encodes the current profile (uncompressed) into `out`.
fn encode(out: &mut Bytes) -> bool {
    let mut records: Buf<Record> = Buf::new();
    mprof::for_each_bucket(|b| {
        records.push(Record {
            size: b.size,
            allocs: b.allocs,
            frees: b.frees,
            depth: b.depth,
            stack: b.stack,
        })
    });
    let library = goheap_library_base();
    for r in records.as_mut_slice() {
        let kept = without_library_frames(&r.stack[..r.depth], library).len();
        r.stack.copy_within(r.depth - kept..r.depth, 0);
        r.depth = kept;
    }
    let rate = sampler::rate();
    let maps = Maps::read();
    let mut strings = Strings::new();
    let mut scratch = Bytes::new();
    let mut inner = Bytes::new();

    for (kind, unit) in [
        (S_ALLOC_OBJECTS, S_COUNT),
        (S_ALLOC_SPACE, S_BYTES),
        (S_INUSE_OBJECTS, S_COUNT),
        (S_INUSE_SPACE, S_BYTES),
    ] {
        value_type(out, field::SAMPLE_TYPE, kind, unit, &mut scratch);
    }
    value_type(out, field::PERIOD_TYPE, S_SPACE, S_BYTES, &mut scratch);
    proto::int(out, field::PERIOD, rate as i64);
    proto::int(out, field::DROP_FRAMES, S_DROP_FRAMES as i64);
    proto::int(out, field::TIME_NANOS, now_nanos());

    // Locations: the distinct addresses of all stacks, sorted.
    let mut addrs: Buf<usize> = Buf::new();
    for r in records.as_slice() {
        addrs.extend_from_slice(&r.stack[..r.depth]);
    }
    sort_dedup(&mut addrs);
    let location_id = |addr: usize| {
        addrs
            .as_slice()
            .binary_search(&addr)
            .map_or(0, |i| i as u64 + 1)
    };

    for r in records.as_slice() {
        encode_sample(out, r, rate, &location_id, &mut scratch, &mut inner);
    }
    encode_mappings(out, &maps, &mut strings, &mut scratch);
    encode_locations(out, addrs.as_slice(), &maps, &mut strings, &mut scratch);
    strings.encode(out);
    !(out.failed || records.failed || addrs.failed || strings.text.failed || strings.spans.failed)
}

fn value_type(out: &mut Bytes, field: u32, kind: u64, unit: u64, scratch: &mut Bytes) {
    scratch.clear();
    proto::uint(scratch, 1, kind);
    proto::uint(scratch, 2, unit);
    proto::bytes(out, field, scratch.as_slice());
}

fn encode_sample(
    out: &mut Bytes,
    r: &Record,
    rate: usize,
    location_id: &impl Fn(usize) -> u64,
    scratch: &mut Bytes,
    inner: &mut Bytes,
) {
    let size = r.size as u64;
    let live = r.allocs.saturating_sub(r.frees);
    let (alloc_objects, alloc_space) = scale(r.allocs, r.allocs * size, rate);
    let (inuse_objects, inuse_space) = scale(live, live * size, rate);
    scratch.clear();
    let ids = r.stack[..r.depth].iter().map(|&a| location_id(a));
    proto::packed(scratch, 1, ids, inner);
    let values = [alloc_objects, alloc_space, inuse_objects, inuse_space];
    proto::packed(scratch, 2, values.into_iter(), inner);
    // Label { key: "bytes", num: size }
    let mut label = Bytes::new();
    proto::uint(&mut label, 1, S_BYTES);
    proto::uint(&mut label, 3, size);
    proto::bytes(scratch, 3, label.as_slice());
    proto::bytes(out, field::SAMPLE, scratch.as_slice());
}

fn encode_mappings(out: &mut Bytes, maps: &Maps, strings: &mut Strings, scratch: &mut Bytes) {
    for (i, m) in maps.list.as_slice().iter().enumerate() {
        scratch.clear();
        proto::uint(scratch, 1, i as u64 + 1);
        proto::uint(scratch, 2, m.start as u64);
        proto::uint(scratch, 3, m.limit as u64);
        proto::uint(scratch, 4, m.offset as u64);
        proto::uint(scratch, 5, strings.add(maps.path(m)));
        if m.build_id_len > 0 {
            proto::uint(scratch, 6, strings.add_hex(&m.build_id[..m.build_id_len]));
        }
        proto::bytes(out, field::MAPPING, scratch.as_slice());
    }
}

/// Locations (address, mapping, and a line naming the function where
/// `dladdr` knows it) and the functions they name.
fn encode_locations(
    out: &mut Bytes,
    addrs: &[usize],
    maps: &Maps,
    strings: &mut Strings,
    scratch: &mut Bytes,
) {
    let mut names: Buf<usize> = Buf::new();
    for &a in addrs {
        if let Some(name) = symbol_name(a) {
            names.push(name as usize);
        }
    }
    sort_dedup(&mut names);
    for (i, &name) in names.as_slice().iter().enumerate() {
        // SAFETY: dladdr's names are NUL-terminated strings of loaded
        // objects, which stay loaded while the profile is written.
        let text = unsafe { CStr::from_ptr(name as *const c_char) }.to_bytes();
        let s = strings.add(text);
        scratch.clear();
        proto::uint(scratch, 1, i as u64 + 1);
        proto::uint(scratch, 2, s);
        proto::uint(scratch, 3, s);
        proto::bytes(out, field::FUNCTION, scratch.as_slice());
    }
    for (i, &a) in addrs.iter().enumerate() {
        scratch.clear();
        proto::uint(scratch, 1, i as u64 + 1);
        if let Some(m) = maps.find(a) {
            proto::uint(scratch, 2, m as u64 + 1);
        }
        proto::uint(scratch, 3, a as u64);
        if let Some(name) = symbol_name(a) {
            let id = names
                .as_slice()
                .binary_search(&(name as usize))
                .map_or(0, |i| i + 1);
            let mut line = Bytes::new();
            proto::uint(&mut line, 1, id as u64);
            proto::bytes(scratch, 4, line.as_slice());
        }
        proto::bytes(out, field::LOCATION, scratch.as_slice());
    }
}

/// The dynamic symbol containing `addr`, if any.
fn symbol_name(addr: usize) -> Option<*const c_char> {
    // SAFETY: Dl_info is plain data; dladdr fills it or returns 0.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: any address may be asked about.
    let found = unsafe { libc::dladdr(addr as *const libc::c_void, &mut info) } != 0;
    (found && !info.dli_sname.is_null()).then_some(info.dli_sname)
}

fn sort_dedup(v: &mut Buf<usize>) {
    let s = v.as_mut_slice();
    s.sort_unstable();
    let mut kept = 0;
    for i in 0..s.len() {
        if i == 0 || s[i] != s[kept - 1] {
            s[kept] = s[i];
            kept += 1;
        }
    }
    let kept_values: Buf<usize> = {
        let mut b = Buf::new();
        b.extend_from_slice(&s[..kept]);
        b
    };
    *v = kept_values;
}

fn now_nanos() -> i64 {
    // SAFETY: timespec is plain data; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    // SAFETY: a valid clock and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// Writes the gzipped profile to the file at `path`; the errno on failure.
fn write_path(path: &CStr) -> Result<(), i32> {
    let mut raw = Bytes::new();
    if !encode(&mut raw) {
        return Err(libc::ENOMEM);
    }
    let mut gz = Bytes::new();
    gzip(raw.as_slice(), &mut gz);
    if gz.failed {
        return Err(libc::ENOMEM);
    }
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC;
    // SAFETY: a NUL-terminated path; mode given with O_CREAT.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o644) };
    if fd < 0 {
        return Err(errno());
    }
    let mut rest = gz.as_slice();
    let mut result = Ok(());
    while !rest.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            result = Err(errno());
            break;
        }
        rest = &rest[n as usize..];
    }
    // SAFETY: fd is ours.
    if unsafe { libc::close(fd) } != 0 && result.is_ok() {
        result = Err(errno());
    }
    result
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `GOHEAP_PROFILE`'s path with `%p` replaced by the process id, into
/// `buf` (NUL-terminated); `None` when unset or too long.
fn profile_path(buf: &mut [u8; 4096]) -> Option<&CStr> {
    let template = crate::options::env(sampler::PATH_VAR).filter(|p| !p.is_empty())?;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as usize;
    let mut digits = [0u8; 20];
    let pid = crate::os::decimal(pid, &mut digits);
    let mut len = 0;
    let mut i = 0;
    while i < template.len() {
        let piece: &[u8] = if template[i..].starts_with(b"%p") {
            i += 2;
            pid
        } else {
            i += 1;
            &template[i - 1..i]
        };
        buf.get_mut(len..len + piece.len())?.copy_from_slice(piece);
        len += piece.len();
    }
    *buf.get_mut(len)? = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).ok()
}

/// Writes the heap profile to `GOHEAP_PROFILE`'s path (`%p`: the process
/// id). An error of kind `NotFound` when the variable is unset.
pub fn write() -> io::Result<()> {
    let mut buf = [0u8; 4096];
    let path = profile_path(&mut buf).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    write_path(path).map_err(io::Error::from_raw_os_error)
}

/// Writes the heap profile (pprof's format, gzipped) to `path`.
pub fn write_to(path: impl AsRef<Path>) -> io::Result<()> {
    let c = std::ffi::CString::new(path.as_ref().as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    write_path(&c).map_err(io::Error::from_raw_os_error)
}

static AT_EXIT: AtomicBool = AtomicBool::new(false);

/// Makes sure the profile is written when the process exits.
pub fn write_at_exit() {
    if !AT_EXIT.swap(true, Ordering::AcqRel) {
        // SAFETY: registering a handler that writes the profile.
        unsafe { libc::atexit(write_at_exit_handler) };
    }
}

extern "C" fn write_at_exit_handler() {
    if let Err(e) = write() {
        let mut buf = [0u8; 4096];
        let path = profile_path(&mut buf).map_or(&b"(GOHEAP_PROFILE unset)"[..], CStr::to_bytes);
        let mut digits = [0u8; 20];
        let code = crate::os::decimal(e.raw_os_error().unwrap_or(0) as usize, &mut digits);
        crate::os::write_stderr(&[
            b"goheap: profile::write(): cannot write the heap profile to ",
            path,
            b" (errno ",
            code,
            b")\n",
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_inverts_the_sampling_probability() {
        // An object as large as the rate is sampled with p = 1 - 1/e.
        let (n, b) = scale(1, 1 << 19, 1 << 19);
        let expected = 1.0 / (1.0 - (-1f64).exp());
        assert_eq!(n, expected as u64);
        assert!((b as f64 / (1u64 << 19) as f64 - expected).abs() < 1e-6);
        // Small objects: each sample stands for about rate bytes.
        let (_, b) = scale(10, 10 * 64, 1 << 19);
        assert!((b as f64 / (10.0 * (1 << 19) as f64) - 1.0).abs() < 0.001);
        assert_eq!(scale(0, 0, 1 << 19), (0, 0));
        assert_eq!(scale(3, 300, 1), (3, 300));
    }

    #[test]
    fn library_frames_are_trimmed_only_inside_a_library() {
        // In a test binary goheap is part of the program: nothing to trim.
        assert_eq!(goheap_library_base(), None);
        let stack = [1usize, 2, 3];
        assert_eq!(without_library_frames(&stack, None), stack);
        // Frames of libc (some library) are trimmed when it is "ours".
        let malloc = libc::malloc as *const () as usize;
        let free = libc::free as *const () as usize;
        let libc_base = object_base(malloc).unwrap();
        let in_libc = [malloc, free, 7];
        assert_eq!(without_library_frames(&in_libc, Some(libc_base)), [7]);
    }

    #[test]
    fn sort_dedup_keeps_one_of_each() {
        let mut b = Buf::new();
        b.extend_from_slice(&[5, 1, 5, 3, 1, 9]);
        sort_dedup(&mut b);
        assert_eq!(b.as_slice(), [1, 3, 5, 9]);
    }
}

//! Heap profiles end to end: a child process (this test binary, run again
//! with `GOHEAP_PROFILE` set) allocates a known pattern from three sites,
//! writes its profile, and the parent reads the file back with a decoder of
//! its own (gzip's stored blocks, protobuf, pprof's messages): the site
//! that allocated most is on top, the estimates are within a tolerance of
//! what was really allocated, the frees are seen, and the mappings name
//! this binary. With Go installed, `go tool pprof -top` must agree.
//!
//! The sites are `#[no_mangle]` functions exported to the dynamic symbol
//! table (build.rs), so the profile names them itself (dladdr).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const CHILD_VAR: &str = "GOHEAP_PROFILE_TEST_CHILD";
/// Sampling rate of the child: small, for many samples and tight bounds.
const RATE: u64 = 64 * 1024;
const BIG_OBJECTS: usize = 20_000;
const BIG_SIZE: usize = 4096;
const SMALL_OBJECTS: usize = 40_000;
const SMALL_SIZE: usize = 512;
const CHURN_OBJECTS: usize = 50_000;
const CHURN_SIZE: usize = 1024;
/// Tiny requests (under 16 bytes, alignment 1): packed into shared 16-byte
/// blocks by the allocator, yet counted by the profile request by request.
const TINY_OBJECTS: usize = 2_000_000;
const TINY_SIZE: usize = 8;
const TINY_CHURN_OBJECTS: usize = 4_000_000;

#[no_mangle]
#[inline(never)]
pub extern "C" fn goheap_test_big_site(keep: &mut Vec<Box<[u8]>>) {
    for i in 0..BIG_OBJECTS {
        keep.push(vec![i as u8; BIG_SIZE].into_boxed_slice());
    }
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn goheap_test_small_site(keep: &mut Vec<Box<[u8]>>) {
    for i in 0..SMALL_OBJECTS {
        keep.push(vec![i as u8; SMALL_SIZE].into_boxed_slice());
    }
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn goheap_test_churn_site() -> u64 {
    let mut sum = 0u64;
    for i in 0..CHURN_OBJECTS {
        let b = std::hint::black_box(vec![i as u8; CHURN_SIZE]);
        sum += u64::from(b[CHURN_SIZE - 1]);
    }
    sum
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn goheap_test_tiny_site(keep: &mut Vec<Box<[u8; TINY_SIZE]>>) {
    for i in 0..TINY_OBJECTS {
        keep.push(Box::new([i as u8; TINY_SIZE]));
    }
}

/// Allocates and frees one tiny object at a time: the allocator's current
/// block starts over at offset 0 each time and never needs a new one.
#[no_mangle]
#[inline(never)]
pub extern "C" fn goheap_test_tiny_churn_site() -> u64 {
    let mut sum = 0u64;
    for i in 0..TINY_CHURN_OBJECTS {
        let b = std::hint::black_box(Box::new([i as u8; TINY_SIZE]));
        sum += u64::from(b[TINY_SIZE - 1]);
    }
    sum
}

/// The child's part: allocate the pattern, write the profile to the file
/// `CHILD_VAR` names while the objects live; `GOHEAP_PROFILE` gets the
/// profile at exit, after they were freed.
fn child(live_profile: &str) {
    let mut keep = Vec::with_capacity(BIG_OBJECTS + SMALL_OBJECTS);
    goheap_test_big_site(&mut keep);
    goheap_test_small_site(&mut keep);
    std::hint::black_box(goheap_test_churn_site());
    let mut keep_tiny = Vec::with_capacity(TINY_OBJECTS);
    goheap_test_tiny_site(&mut keep_tiny);
    std::hint::black_box(goheap_test_tiny_churn_site());
    goheap::profile::write_to(live_profile).expect("profile written");
    drop(std::hint::black_box(keep));
    drop(std::hint::black_box(keep_tiny));
}

/// Runs this test in a child with profiling on; the paths of the profile
/// written while the objects lived and of the one written at exit.
fn profiles_of_child(test: &str, name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("goheap-profile-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let live = dir.join(format!("{name}-live.pb.gz"));
    let _ = std::fs::remove_file(&live);
    let child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, &live)
        .env("GOHEAP_PROFILE", dir.join(format!("{name}-exit-%p.pb.gz")))
        .env("GOHEAP_PROFILE_RATE", RATE.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let at_exit = dir.join(format!("{name}-exit-{}.pb.gz", child.id()));
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(live.is_file(), "no profile at {}", live.display());
    assert!(at_exit.is_file(), "no profile at {}", at_exit.display());
    (live, at_exit)
}

// ---------------------------------------------------------------------------
// A reader of gzip (stored blocks only, as goheap writes) and of pprof's
// protobuf messages.

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn gunzip_stored(gz: &[u8]) -> Vec<u8> {
    assert_eq!(
        &gz[..4],
        [0x1f, 0x8b, 8, 0],
        "gzip header, deflate, no flags"
    );
    let mut at = 10;
    let mut out = Vec::new();
    loop {
        let header = gz[at];
        assert_eq!(header >> 1, 0, "a stored block");
        let len = u16::from_le_bytes([gz[at + 1], gz[at + 2]]) as usize;
        let nlen = u16::from_le_bytes([gz[at + 3], gz[at + 4]]) as usize;
        assert_eq!(len, !nlen & 0xffff);
        out.extend_from_slice(&gz[at + 5..at + 5 + len]);
        at += 5 + len;
        if header & 1 == 1 {
            break;
        }
    }
    let crc = u32::from_le_bytes(gz[at..at + 4].try_into().unwrap());
    let size = u32::from_le_bytes(gz[at + 4..at + 8].try_into().unwrap());
    assert_eq!(crc, crc32(&out), "CRC-32");
    assert_eq!(size as usize, out.len());
    assert_eq!(at + 8, gz.len(), "nothing after the trailer");
    out
}

#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn read_varint(data: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = data[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long");
}

/// The fields of one message, in order.
fn fields(data: &[u8]) -> Vec<(u32, Value<'_>)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < data.len() {
        let key = read_varint(data, &mut at);
        let value = match key & 7 {
            0 => Value::Varint(read_varint(data, &mut at)),
            2 => {
                let len = read_varint(data, &mut at) as usize;
                at += len;
                Value::Bytes(&data[at - len..at])
            }
            wire => panic!("unexpected wire type {wire}"),
        };
        out.push(((key >> 3) as u32, value));
    }
    out
}

fn varint_of(fs: &[(u32, Value)], field: u32) -> u64 {
    fs.iter()
        .find_map(|&(f, v)| match (f == field, v) {
            (true, Value::Varint(n)) => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}

fn packed(fs: &[(u32, Value)], field: u32) -> Vec<u64> {
    let mut out = Vec::new();
    for &(f, v) in fs {
        if f == field {
            let Value::Bytes(b) = v else {
                panic!("packed field {field}")
            };
            let mut at = 0;
            while at < b.len() {
                out.push(read_varint(b, &mut at));
            }
        }
    }
    out
}

fn messages<'a>(fs: &[(u32, Value<'a>)], field: u32) -> Vec<Vec<(u32, Value<'a>)>> {
    fs.iter()
        .filter(|(f, _)| *f == field)
        .map(|&(_, v)| match v {
            Value::Bytes(b) => fields(b),
            _ => panic!("field {field} is not a message"),
        })
        .collect()
}

struct Sample {
    stack: Vec<u64>,
    values: Vec<u64>,
}

struct Mapping {
    start: u64,
    limit: u64,
    file: String,
    build_id: String,
}

struct Profile {
    sample_types: Vec<(String, String)>,
    period: u64,
    samples: Vec<Sample>,
    mappings: HashMap<u64, Mapping>,
    /// location id → (address, mapping id, function name or "")
    locations: HashMap<u64, (u64, u64, String)>,
    drop_frames: String,
}

fn parse_profile(raw: &[u8]) -> Profile {
    let top = fields(raw);
    let strings: Vec<String> = top
        .iter()
        .filter(|(f, _)| *f == 6)
        .map(|&(_, v)| match v {
            Value::Bytes(b) => String::from_utf8(b.to_vec()).unwrap(),
            _ => panic!("string"),
        })
        .collect();
    assert_eq!(strings[0], "", "string_table[0] is empty");
    let s = |i: u64| strings[i as usize].clone();
    let functions: HashMap<u64, String> = messages(&top, 5)
        .iter()
        .map(|f| (varint_of(f, 1), s(varint_of(f, 2))))
        .collect();
    let locations = messages(&top, 4)
        .iter()
        .map(|l| {
            let name = messages(l, 4)
                .first()
                .map(|line| functions[&varint_of(line, 1)].clone())
                .unwrap_or_default();
            (varint_of(l, 1), (varint_of(l, 3), varint_of(l, 2), name))
        })
        .collect();
    let mappings = messages(&top, 3)
        .iter()
        .map(|m| {
            let mapping = Mapping {
                start: varint_of(m, 2),
                limit: varint_of(m, 3),
                file: s(varint_of(m, 5)),
                build_id: s(varint_of(m, 6)),
            };
            (varint_of(m, 1), mapping)
        })
        .collect();
    Profile {
        sample_types: messages(&top, 1)
            .iter()
            .map(|t| (s(varint_of(t, 1)), s(varint_of(t, 2))))
            .collect(),
        period: varint_of(&top, 12),
        samples: messages(&top, 2)
            .iter()
            .map(|m| Sample {
                stack: packed(m, 1),
                values: packed(m, 2),
            })
            .collect(),
        mappings,
        locations,
        drop_frames: s(varint_of(&top, 7)),
    }
}

impl Profile {
    /// The site (one of the `goheap_test_*` functions) a sample belongs to.
    fn site(&self, sample: &Sample) -> Option<&str> {
        sample.stack.iter().find_map(|id| {
            let name = &self.locations[id].2;
            name.starts_with("goheap_test_").then_some(name.as_str())
        })
    }

    /// Per site, the sum of each value.
    fn by_site(&self) -> HashMap<&str, [u64; 4]> {
        let mut sums: HashMap<&str, [u64; 4]> = HashMap::new();
        for sample in &self.samples {
            if let Some(site) = self.site(sample) {
                let sum = sums.entry(site).or_default();
                for (s, v) in sum.iter_mut().zip(&sample.values) {
                    *s += v;
                }
            }
        }
        sums
    }
}

fn within(estimate: u64, truth: usize, tolerance: f64) -> bool {
    (estimate as f64 / truth as f64 - 1.0).abs() <= tolerance
}

#[test]
fn the_profile_names_the_top_site_and_estimates_the_volumes() {
    if let Ok(live) = std::env::var(CHILD_VAR) {
        return child(&live);
    }
    let (live, at_exit) = profiles_of_child(
        "the_profile_names_the_top_site_and_estimates_the_volumes",
        "sites",
    );
    let profile = read_profile(&live);

    let types: Vec<(&str, &str)> = profile
        .sample_types
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("alloc_objects", "count"),
            ("alloc_space", "bytes"),
            ("inuse_objects", "count"),
            ("inuse_space", "bytes")
        ]
    );
    assert_eq!(profile.period, RATE);
    assert!(
        profile.drop_frames.contains("__(rust|rg|rdl)_"),
        "{}",
        profile.drop_frames
    );

    // Every sample's locations exist and lie in the mapping they name.
    for sample in &profile.samples {
        assert_eq!(sample.values.len(), 4);
        for id in &sample.stack {
            let (addr, mapping, _) = &profile.locations[id];
            let m = &profile.mappings[mapping];
            assert!(m.start <= *addr && *addr < m.limit);
        }
    }
    let exe = std::env::current_exe().unwrap();
    let exe_mapping = profile
        .mappings
        .values()
        .find(|m| Path::new(&m.file) == exe)
        .expect("a mapping of this test binary");
    assert!(!exe_mapping.build_id.is_empty(), "build ID of the binary");

    let sites = profile.by_site();
    let big = sites["goheap_test_big_site"];
    let small = sites["goheap_test_small_site"];
    let churn = sites["goheap_test_churn_site"];
    let top = sites
        .iter()
        .max_by_key(|(_, v)| v[3])
        .map(|(name, _)| *name)
        .unwrap();
    assert_eq!(top, "goheap_test_big_site", "top by inuse_space: {sites:?}");

    // The estimates (scaled back from ~1 sample per 64 KiB) are within 15 %
    // of what the sites allocated: 80 MiB, 20 MiB, 50 MiB, that is 1280,
    // 320 and 800 samples on average, so the bounds are 4 to 5 standard
    // deviations (sd = 1/sqrt(samples)) away: a sampler that is right
    // passes, one that is off by a fifth does not.
    assert!(within(big[1], BIG_OBJECTS * BIG_SIZE, 0.15), "{big:?}");
    assert!(within(big[3], BIG_OBJECTS * BIG_SIZE, 0.15), "{big:?}");
    assert!(within(big[0], BIG_OBJECTS, 0.15), "{big:?}");
    assert!(
        within(small[3], SMALL_OBJECTS * SMALL_SIZE, 0.25),
        "{small:?}"
    );
    assert!(
        within(churn[1], CHURN_OBJECTS * CHURN_SIZE, 0.15),
        "{churn:?}"
    );
    // Churned objects were all freed: at most the last one is in use.
    assert!(churn[3] <= 2 * RATE, "{churn:?}");

    // Tiny requests: 16 MB kept (256 samples on average) and 32 MB churned
    // (512): bounds of 4 to 5 standard deviations again. The churn is
    // charged although it never takes a new tiny block.
    let tiny = sites["goheap_test_tiny_site"];
    let tiny_churn = sites["goheap_test_tiny_churn_site"];
    assert!(within(tiny[1], TINY_OBJECTS * TINY_SIZE, 0.3), "{tiny:?}");
    assert!(within(tiny[3], TINY_OBJECTS * TINY_SIZE, 0.3), "{tiny:?}");
    assert!(within(tiny[0], TINY_OBJECTS, 0.3), "{tiny:?}");
    assert!(
        within(tiny_churn[1], TINY_CHURN_OBJECTS * TINY_SIZE, 0.25),
        "{tiny_churn:?}"
    );
    assert!(tiny_churn[3] <= 2 * RATE, "{tiny_churn:?}");

    // At exit the kept objects were freed too: still allocated, no longer
    // in use.
    let sites = read_profile(&at_exit)
        .by_site()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect::<HashMap<_, _>>();
    let big = sites["goheap_test_big_site"];
    assert!(within(big[1], BIG_OBJECTS * BIG_SIZE, 0.15), "{big:?}");
    assert_eq!(big[3], 0, "{big:?}");
    let tiny = sites["goheap_test_tiny_site"];
    assert!(within(tiny[1], TINY_OBJECTS * TINY_SIZE, 0.3), "{tiny:?}");
    assert_eq!(tiny[3], 0, "{tiny:?}");
}

fn read_profile(path: &Path) -> Profile {
    parse_profile(&gunzip_stored(&std::fs::read(path).unwrap()))
}

/// `go tool pprof -top -cum`, where Go is installed, reads the file,
/// symbolises it from this binary, and finds the big site above the others
/// with most of the in-use bytes. (Go's pprof names Rust frames from DWARF
/// only; the allocator's shim has none, so the leaf of a sample can stay an
/// unnamed frame of the binary, and plain `-top` does not show the site.)
#[test]
fn go_tool_pprof_puts_the_big_site_on_top() {
    if let Ok(live) = std::env::var(CHILD_VAR) {
        return child(&live);
    }
    let go_works = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !go_works {
        eprintln!("note: no Go toolchain; skipping the go tool pprof check");
        return;
    }
    let (path, _) = profiles_of_child("go_tool_pprof_puts_the_big_site_on_top", "pprof");
    let out = Command::new("go")
        .args(["tool", "pprof", "-top", "-cum", "-sample_index=inuse_space"])
        .arg(&path)
        .env("HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Rows: flat flat% sum% cum cum% name.
    let site_rows: Vec<(&str, f64)> = stdout
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let name = *cols.get(5)?;
            let cum_percent = cols.get(4)?.trim_end_matches('%').parse().ok()?;
            name.starts_with("goheap_test_")
                .then_some((name, cum_percent))
        })
        .collect();
    assert_eq!(
        site_rows.first().map(|r| r.0),
        Some("goheap_test_big_site"),
        "{stdout}"
    );
    // 80 MiB of the 134 MiB in use (16 MiB tiny pieces, 16 MiB of pointers
    // to them, 20 MiB small objects).
    assert!(site_rows[0].1 > 50.0, "{stdout}");
}

//! A server-shaped program on goroutines and the GC (issue 12): a cache
//! server on loopback, one goroutine per connection on the netpoller,
//! serving GET and PUT requests from a shared GC'd cache, each request
//! building request-scoped GC objects. Peer of workloads/gc/gc_server.go
//! (same protocol, sizes and generator; read either).
//!
//! - The cache: `SLOTS` slots, one per key, each a `GcAtomic` to an entry
//!   (key, version, 64-byte value); about 30 MiB live. A PUT allocates a
//!   new entry and stores it with the write barrier; the old one becomes
//!   garbage.
//! - A request (80 bytes: op, key, value) is read outside any GC scope;
//!   then one `mutate` scope parses it into a chain of `TOKENS` GC objects
//!   (the request-scoped garbage, about 1 KiB), checksums the chain, and
//!   serves it from the cache; the 72-byte response is written after the
//!   scope.
//! - Clients are goroutines too (as in the echo row): CONNECTIONS of them,
//!   each sending REQUESTS requests, 90% GET and 10% PUT of random keys,
//!   and checking every response (the entry's key matches).
//!
//! Usage: gc_server [CONNECTIONS [REQUESTS]]   (defaults 200, 2000)
//! stdout: `gc_server: N requests on C connections, all answered right`;
//! stderr: `metric requests_per_s`, `metric p50_us`, `metric p99_us`,
//! `metric p999_us`, and the collector's `gc_count`, `max_pause_ms` and
//! `total_pause_ms`.

#[path = "sched_common/mod.rs"]
mod common;
#[path = "gc_common/mod.rs"]
mod gc_common;

use goheap::gc::{mutate, Gc, GcAtomic, Mutation, Root};
use goheap::net::{TcpListener, TcpStream};
use goheap::{Rootable, Trace};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const SLOTS: u64 = 1 << 18;
const VALUE: usize = 64;
const REQUEST: usize = 16 + VALUE;
const RESPONSE: usize = 8 + VALUE;
const TOKENS: usize = 16;
const GET: u8 = 0;
const PUT: u8 = 1;
const DEADLINE: Duration = Duration::from_secs(120);

#[derive(Trace)]
struct Entry {
    key: u64,
    version: u64,
    value: [u8; VALUE],
}

#[derive(Trace)]
struct Cache<'gc> {
    slots: Vec<GcAtomic<'gc, Entry>>,
}

type CacheRoot = Root<Rootable!['gc => Cache<'gc>]>;

/// One parsed piece of a request (64 bytes with its link).
#[derive(Trace)]
struct Token<'gc> {
    next: Option<Gc<'gc, Token<'gc>>>,
    word: u64,
    bytes: [u8; 40],
}

/// The value a PUT of `key` at `version` stores (clients check its key).
fn value_of(key: u64, version: u64) -> [u8; VALUE] {
    let mut v = [0u8; VALUE];
    v[..8].copy_from_slice(&key.to_le_bytes());
    v[8..16].copy_from_slice(&version.to_le_bytes());
    v
}

fn new_entry<'gc>(mu: &Mutation<'gc>, key: u64, version: u64) -> Gc<'gc, Entry> {
    let value = value_of(key, version);
    Gc::new(
        mu,
        Entry {
            key,
            version,
            value,
        },
    )
}

/// The request as a chain of `TOKENS` GC objects, and its checksum.
fn parse<'gc>(mu: &Mutation<'gc>, req: &[u8; REQUEST]) -> u64 {
    let mut head = None;
    for t in 0..TOKENS {
        let start = (t * 5) % (REQUEST - 8);
        let word = u64::from_le_bytes(req[start..start + 8].try_into().unwrap());
        let mut bytes = [0u8; 40];
        bytes[..REQUEST - 40].copy_from_slice(&req[40..]);
        head = Some(Gc::new(
            mu,
            Token {
                next: head,
                word,
                bytes,
            },
        ));
    }
    let mut sum = 0u64;
    while let Some(t) = head {
        sum = sum.rotate_left(5) ^ t.word ^ u64::from(t.bytes[t.word as usize % 40]);
        head = t.next;
    }
    sum
}

/// Serves one request inside a scope; returns the response.
fn serve_one(cache: &CacheRoot, req: &[u8; REQUEST]) -> [u8; RESPONSE] {
    let key = u64::from_le_bytes(req[8..16].try_into().unwrap()) % SLOTS;
    mutate(|mu| {
        let checksum = parse(mu, req);
        let slot = &cache.get(mu).slots[key as usize];
        let entry = if req[0] == PUT {
            let version = slot.load().map_or(0, |e| e.version) + 1;
            let e = new_entry(mu, key, version);
            slot.store(mu, Some(e));
            e
        } else {
            slot.load().expect("every key has an entry")
        };
        let mut resp = [0u8; RESPONSE];
        resp[..8].copy_from_slice(&checksum.to_le_bytes());
        resp[8..].copy_from_slice(&entry.value);
        resp
    })
}

fn connection(cache: Arc<CacheRoot>, mut conn: TcpStream) {
    conn.set_read_deadline(Some(Instant::now() + DEADLINE));
    conn.set_write_deadline(Some(Instant::now() + DEADLINE));
    let mut req = [0u8; REQUEST];
    while conn.read_exact(&mut req).is_ok() {
        let resp = serve_one(&cache, &req);
        if conn.write_all(&resp).is_err() {
            return;
        }
    }
}

fn serve(l: TcpListener, cache: Arc<CacheRoot>) {
    for conn in l.incoming() {
        let Ok(conn) = conn else { return };
        let cache = cache.clone();
        let body = move || connection(cache, conn);
        // SAFETY: the goroutine keeps no thread-local reference or
        // thread-bound guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
    }
}

fn client(addr: std::net::SocketAddr, id: u64, requests: usize) -> std::io::Result<Vec<Duration>> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_deadline(Some(Instant::now() + DEADLINE));
    conn.set_write_deadline(Some(Instant::now() + DEADLINE));
    let mut g = gc_common::SplitMix64(id);
    let (mut req, mut resp) = ([0u8; REQUEST], [0u8; RESPONSE]);
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let r = g.next();
        let key = g.next() % SLOTS;
        req[0] = if r % 10 == 0 { PUT } else { GET };
        req[8..16].copy_from_slice(&key.to_le_bytes());
        req[16..].copy_from_slice(&value_of(key, r));
        let start = Instant::now();
        conn.write_all(&req)?;
        conn.read_exact(&mut resp)?;
        latencies.push(start.elapsed());
        if resp[8..16] != key.to_le_bytes() {
            return Err(std::io::Error::other(format!(
                "connection {id}: the entry for key {key} has another key"
            )));
        }
    }
    Ok(latencies)
}

fn fill_cache() -> CacheRoot {
    mutate(|mu| {
        let slots = (0..SLOTS)
            .map(|k| GcAtomic::new(Some(new_entry(mu, k, 0))))
            .collect();
        Root::new(mu, Gc::new(mu, Cache { slots }))
    })
}

fn main() {
    let (connections, requests) = (common::count_arg(1, 200), common::count_arg(2, 2000));
    let cache = Arc::new(fill_cache());
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = l.local_addr().unwrap();
    let body = move || serve(l, cache);
    // SAFETY: as above.
    unsafe { goheap::go(body) };
    let (all, elapsed) =
        common::run_clients(connections, move |c| client(addr, c as u64 + 1, requests))
            .unwrap_or_else(|e| {
                eprintln!("gc_server: {e}");
                std::process::exit(1)
            });
    println!(
        "gc_server: {} requests on {connections} connections, all answered right",
        all.len()
    );
    eprintln!(
        "metric requests_per_s {:.0}",
        all.len() as f64 / elapsed.as_secs_f64()
    );
    common::print_percentile_us("p50_us", &all, 0.50);
    common::print_percentile_us("p99_us", &all, 0.99);
    common::print_percentile_us("p999_us", &all, 0.999);
    gc_common::print_gc_metrics();
}

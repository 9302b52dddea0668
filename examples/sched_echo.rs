//! A TCP echo server on loopback, one goroutine per connection, and as many
//! client goroutines, each making ROUNDS round trips of a 64-byte message
//! and checking every echo. Peer of workloads/goroutines/echo.go. Bounded:
//! every connection has a 60 s deadline; traffic stays on 127.0.0.1.
//!
//! Usage: sched_echo [CONNECTIONS [ROUNDS]]  (defaults 1000, 100)
//! stdout: `echo: C connections x R round trips of 64 bytes, all intact`;
//! stderr: `metric round_trips_per_s ...`, `metric p50_us ...`, `metric p99_us ...`.

#[path = "sched_common/mod.rs"]
mod common;

use goheap::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

const MESSAGE: usize = 64;
const DEADLINE: Duration = Duration::from_secs(60);

fn serve(l: TcpListener) {
    for conn in l.incoming() {
        let Ok(mut conn) = conn else { return };
        let body = move || {
            conn.set_read_deadline(Some(Instant::now() + DEADLINE));
            conn.set_write_deadline(Some(Instant::now() + DEADLINE));
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        };
        // SAFETY: the goroutine keeps no thread-local reference or thread-bound
        // guard across a switch point (goheap::go's contract).
        unsafe { goheap::go(body) };
    }
}

fn client(addr: std::net::SocketAddr, id: usize, rounds: usize) -> std::io::Result<Vec<Duration>> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_deadline(Some(Instant::now() + DEADLINE));
    conn.set_write_deadline(Some(Instant::now() + DEADLINE));
    let (mut out, mut back) = ([0u8; MESSAGE], [0u8; MESSAGE]);
    let mut latencies = Vec::with_capacity(rounds);
    for r in 0..rounds {
        for (i, b) in out.iter_mut().enumerate() {
            *b = (id * 31 + r * 7 + i) as u8;
        }
        let start = Instant::now();
        conn.write_all(&out)?;
        conn.read_exact(&mut back)?;
        latencies.push(start.elapsed());
        if back != out {
            return Err(std::io::Error::other(format!(
                "connection {id} round {r}: echo differs"
            )));
        }
    }
    Ok(latencies)
}

fn main() {
    let (connections, rounds) = (common::count_arg(1, 1000), common::count_arg(2, 100));
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let addr = l.local_addr().unwrap();
    let body = move || serve(l);
    // SAFETY: the goroutine keeps no thread-local reference or thread-bound
    // guard across a switch point (goheap::go's contract).
    unsafe { goheap::go(body) };
    let (all, elapsed) = common::run_clients(connections, move |c| client(addr, c, rounds))
        .unwrap_or_else(|e| {
            eprintln!("echo: {e}");
            std::process::exit(1)
        });
    println!(
        "echo: {connections} connections x {rounds} round trips of {MESSAGE} bytes, all intact"
    );
    eprintln!(
        "metric round_trips_per_s {:.0}",
        all.len() as f64 / elapsed.as_secs_f64()
    );
    common::print_percentile_us("p50_us", &all, 0.50);
    common::print_percentile_us("p99_us", &all, 0.99);
}

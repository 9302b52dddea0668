//! Peer of the goroutines suite row echo (workloads/suites.toml): a TCP
//! echo server on 127.0.0.1, one tokio task per connection, and as many
//! client tasks, each making ROUNDS round trips of a 64-byte message and
//! checking every echo; the same program as workloads/goroutines/echo.go.
//! Bounded: the run fails after 60 s; traffic stays on loopback.
//! Usage: echo_tokio [CONNECTIONS [ROUNDS]] (defaults 1000, 100).
//! stdout: `echo: C connections x R round trips of 64 bytes, all intact`.
//! stderr: `metric round_trips_per_s`, `metric p50_us`, `metric p99_us`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MESSAGE_SIZE: usize = 64;
const DEADLINE: Duration = Duration::from_secs(60);

async fn serve(listener: TcpListener) {
    while let Ok((mut conn, _)) = listener.accept().await {
        // Go sets TCP_NODELAY on every connection; so does this peer.
        let _ = conn.set_nodelay(true);
        tokio::spawn(async move {
            let (mut reader, mut writer) = conn.split();
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        });
    }
}

/// Round trips on one connection; message bytes depend on the client and
/// the round, as in echo.go.
async fn client(addr: SocketAddr, id: usize, rounds: usize) -> std::io::Result<Vec<Duration>> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    let mut out = [0u8; MESSAGE_SIZE];
    let mut input = [0u8; MESSAGE_SIZE];
    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = (id * 31 + round * 7 + i) as u8;
        }
        let start = Instant::now();
        conn.write_all(&out).await?;
        conn.read_exact(&mut input).await?;
        latencies.push(start.elapsed());
        if input != out {
            return Err(std::io::Error::other(format!(
                "connection {id} round {round}: echo differs"
            )));
        }
    }
    Ok(latencies)
}

async fn run(connections: usize, rounds: usize) -> std::io::Result<(Vec<Duration>, Duration)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(serve(listener));
    let start = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|id| tokio::spawn(client(addr, id, rounds)))
        .collect();
    let mut all = Vec::with_capacity(connections * rounds);
    for c in clients {
        all.extend(c.await.expect("client task")?);
    }
    let elapsed = start.elapsed();
    server.abort();
    Ok((all, elapsed))
}

#[tokio::main]
async fn main() {
    let connections: usize = goheap_peers::arg(1, Some(1000));
    let rounds: usize = goheap_peers::arg(2, Some(100));
    if connections == 0 || rounds == 0 {
        goheap_peers::usage_error("echo_tokio: CONNECTIONS and ROUNDS must be positive");
    }
    let (mut latencies, elapsed) =
        match tokio::time::timeout(DEADLINE, run(connections, rounds)).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => {
                eprintln!("echo_tokio: {e}");
                std::process::exit(1)
            }
            Err(_) => {
                eprintln!("echo_tokio: not done after {DEADLINE:?}");
                std::process::exit(1)
            }
        };
    latencies.sort_unstable();
    let micros = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    println!("echo: {connections} connections x {rounds} round trips of {MESSAGE_SIZE} bytes, all intact");
    goheap_peers::metric(
        "round_trips_per_s",
        format!("{:.0}", latencies.len() as f64 / elapsed.as_secs_f64()),
    );
    goheap_peers::metric("p50_us", micros(latencies[latencies.len() / 2]));
    goheap_peers::metric("p99_us", micros(latencies[latencies.len() * 99 / 100]));
}

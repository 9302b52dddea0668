//! The netpoller: sockets whose blocking calls park goroutines on epoll.
//! Loopback only; every wait is bounded by a deadline.

mod common;

use goheap::net::{TcpListener, TcpStream, UdpSocket};
use goheap::sched::WaitGroup;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    common::go(move || {
        for s in l.incoming() {
            let mut s = s.unwrap();
            s.set_read_timeout(Some(LIMIT)).unwrap();
            common::go(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => s.write_all(&buf[..n]).unwrap(),
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn many_goroutine_clients_echo_through_goroutine_servers() {
    const CONNS: usize = 300;
    const ROUNDS: usize = 20;
    let addr = echo_server();
    let wg = Arc::new(WaitGroup::new());
    let ok = Arc::new(AtomicUsize::new(0));
    wg.add(CONNS as i64);
    for c in 0..CONNS {
        let (wg, ok) = (wg.clone(), ok.clone());
        common::go(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(LIMIT)).unwrap();
            for r in 0..ROUNDS {
                let msg = format!("{c}:{r}:{}", "x".repeat(40));
                s.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                s.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
            }
            ok.fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(ok.load(Ordering::Relaxed), CONNS);
}

#[test]
fn a_plain_thread_uses_the_same_sockets() {
    let addr = echo_server();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
}

#[test]
fn read_timeouts_and_deadlines_fire() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    common::go(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let t = Instant::now();
        let e = (&s).read(&mut [0u8; 8]).unwrap_err();
        let timeout_took = t.elapsed();
        s.set_read_timeout(None).unwrap();
        s.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
        let e2 = (&s).read(&mut [0u8; 8]).unwrap_err();
        tx.send((e.kind(), timeout_took, e2.kind())).unwrap();
    });
    let _client = std::net::TcpStream::connect(addr).unwrap();
    let (kind, took, kind2) = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(kind, ErrorKind::TimedOut);
    assert!(
        took >= Duration::from_millis(50),
        "timed out after {took:?}"
    );
    assert_eq!(kind2, ErrorKind::TimedOut);
}

/// The soft limit on descriptors raised to the hard one; returns it.
fn raise_fd_limit() -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
    r.rlim_cur as usize
}

/// Up to 100k goroutines each parked in `recv` on its own UDP socket (as
/// many as the descriptor limit allows), all woken by one datagram each.
#[test]
fn a_hundred_thousand_goroutines_wait_on_the_poller() {
    let n = 100_000.min(raise_fd_limit().saturating_sub(500));
    if n < 100_000 {
        eprintln!("note: descriptor limit allows {n} sockets, not 100000");
    }
    let sockets: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<_> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
    let parked = Arc::new(WaitGroup::new());
    let woken = Arc::new(WaitGroup::new());
    let sum = Arc::new(AtomicUsize::new(0));
    parked.add(n as i64);
    woken.add(n as i64);
    for (i, s) in sockets.into_iter().enumerate() {
        let (parked, woken, sum) = (parked.clone(), woken.clone(), sum.clone());
        common::go(move || {
            s.set_read_timeout(Some(LIMIT)).unwrap();
            parked.done();
            let mut buf = [0u8; 8];
            let (len, _) = s.recv_from(&mut buf).unwrap();
            assert_eq!(len, 8);
            assert_eq!(u64::from_le_bytes(buf), i as u64);
            sum.fetch_add(1, Ordering::Relaxed);
            woken.done();
        });
    }
    parked.wait();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, a) in addrs.iter().enumerate() {
        while sender.send_to(&(i as u64).to_le_bytes(), a).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    woken.wait();
    assert_eq!(sum.load(Ordering::Relaxed), n);
}

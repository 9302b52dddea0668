//! `TcpListener`, `TcpStream` and `UdpSocket` with std's API shape, whose
//! blocking calls park the calling goroutine on the netpoller instead of
//! blocking its thread (Go's net package over netpoll).
//!
//! Each socket is a std socket in non-blocking mode plus a `PollDesc`
//! registered with epoll. An operation tries the system call; on
//! `WouldBlock` it waits for the next readiness edge (`wait_read` /
//! `wait_write`) and tries again. Off the scheduler (a plain thread) the
//! wait is a `poll(2)` of the thread, so the types work everywhere.
//!
//! Time limits: `set_read_timeout`/`set_write_timeout` (std's: per
//! operation) and `set_read_deadline`/`set_write_deadline` (Go's: an
//! instant after which operations fail with `TimedOut`); the earlier of the
//! two applies. `connect` runs in `blocking` (the P goes to another M while
//! the thread connects); reads, writes and accepts use the poller.

use super::netpoll::PollDesc;
use core::sync::atomic::{AtomicU64, Ordering};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A registered descriptor with its time limits (nanoseconds; 0: none).
struct Polled {
    pd: &'static PollDesc,
    fd: RawFd,
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    read_deadline: AtomicU64,
    write_deadline: AtomicU64,
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn encode_instant(t: Option<Instant>) -> u64 {
    t.map_or(0, |t| {
        t.saturating_duration_since(base()).as_nanos() as u64 + 1
    })
}

fn encode_duration(d: Option<Duration>) -> io::Result<u64> {
    match d {
        Some(d) if d.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "goheap::net: zero timeout",
        )),
        d => Ok(d.map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)),
    }
}

impl Polled {
    fn new(fd: RawFd) -> io::Result<Polled> {
        Ok(Polled {
            pd: PollDesc::open(fd)?,
            fd,
            read_timeout: AtomicU64::new(0),
            write_timeout: AtomicU64::new(0),
            read_deadline: AtomicU64::new(0),
            write_deadline: AtomicU64::new(0),
        })
    }

    /// The deadline of an operation starting now.
    fn limit(timeout: &AtomicU64, deadline: &AtomicU64) -> Option<Instant> {
        let t = timeout.load(Ordering::Relaxed);
        let d = deadline.load(Ordering::Relaxed);
        let from_timeout = (t != 0).then(|| Instant::now() + Duration::from_nanos(t));
        let from_deadline = (d != 0).then(|| base() + Duration::from_nanos(d - 1));
        match (from_timeout, from_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs `op` until it does not report `WouldBlock`, parking in between.
    fn read_op<R>(&self, mut op: impl FnMut() -> io::Result<R>) -> io::Result<R> {
        let limit = Self::limit(&self.read_timeout, &self.read_deadline);
        loop {
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.pd.wait_read(self.fd, limit)?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    fn write_op<R>(&self, mut op: impl FnMut() -> io::Result<R>) -> io::Result<R> {
        let limit = Self::limit(&self.write_timeout, &self.write_deadline);
        loop {
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.pd.wait_write(self.fd, limit)?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl Drop for Polled {
    fn drop(&mut self) {
        self.pd.close(self.fd);
    }
}

/// Methods shared by the three socket types: time limits.
macro_rules! time_limits {
    ($t:ty) => {
        impl $t {
            /// Each later read fails with `TimedOut` after `d` (std's shape).
            pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
                self.polled
                    .read_timeout
                    .store(encode_duration(d)?, Ordering::Relaxed);
                Ok(())
            }

            pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
                self.polled
                    .write_timeout
                    .store(encode_duration(d)?, Ordering::Relaxed);
                Ok(())
            }

            /// Reads fail with `TimedOut` from `t` on (Go's SetReadDeadline).
            pub fn set_read_deadline(&self, t: Option<Instant>) {
                self.polled
                    .read_deadline
                    .store(encode_instant(t), Ordering::Relaxed);
            }

            pub fn set_write_deadline(&self, t: Option<Instant>) {
                self.polled
                    .write_deadline
                    .store(encode_instant(t), Ordering::Relaxed);
            }

            pub fn local_addr(&self) -> io::Result<SocketAddr> {
                self.inner.local_addr()
            }
        }

        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }
    };
}

/// A TCP server socket whose `accept` parks the goroutine.
pub struct TcpListener {
    polled: Polled,
    inner: std::net::TcpListener,
}

time_limits!(TcpListener);

impl TcpListener {
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::from_std(std::net::TcpListener::bind(addr)?)
    }

    /// Takes over a std listener (made non-blocking).
    pub fn from_std(inner: std::net::TcpListener) -> io::Result<TcpListener> {
        inner.set_nonblocking(true)?;
        Ok(TcpListener {
            polled: Polled::new(inner.as_raw_fd())?,
            inner,
        })
    }

    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.polled.read_op(|| self.inner.accept())?;
        Ok((TcpStream::from_std(s)?, a))
    }

    /// Accepted connections, forever.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(|| self.accept().map(|(s, _)| s))
    }
}

/// A TCP connection whose reads and writes park the goroutine.
pub struct TcpStream {
    polled: Polled,
    inner: std::net::TcpStream,
}

time_limits!(TcpStream);

impl TcpStream {
    /// Connects (in `blocking`: the thread connects, the P runs others).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::from_std(super::proc::blocking(|| {
            std::net::TcpStream::connect(addr)
        })?)
    }

    pub fn connect_timeout(addr: &SocketAddr, d: Duration) -> io::Result<TcpStream> {
        Self::from_std(super::proc::blocking(|| {
            std::net::TcpStream::connect_timeout(addr, d)
        })?)
    }

    /// Takes over a std stream (made non-blocking).
    pub fn from_std(inner: std::net::TcpStream) -> io::Result<TcpStream> {
        inner.set_nonblocking(true)?;
        Ok(TcpStream {
            polled: Polled::new(inner.as_raw_fd())?,
            inner,
        })
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.set_nodelay(on)
    }

    /// A second handle (its own descriptor and registration), e.g. to read
    /// in one goroutine and write in another.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Self::from_std(self.inner.try_clone()?)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.polled.read_op(|| (&self.inner).read(buf))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.polled.write_op(|| (&self.inner).write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A UDP socket whose receives and sends park the goroutine.
pub struct UdpSocket {
    polled: Polled,
    inner: std::net::UdpSocket,
}

time_limits!(UdpSocket);

impl UdpSocket {
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let inner = std::net::UdpSocket::bind(addr)?;
        inner.set_nonblocking(true)?;
        Ok(UdpSocket {
            polled: Polled::new(inner.as_raw_fd())?,
            inner,
        })
    }

    /// Sets the default peer (UDP connect does not block).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.inner.connect(addr)
    }

    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "goheap::net: no address")
        })?;
        self.polled.write_op(|| self.inner.send_to(buf, addr))
    }

    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.polled.read_op(|| self.inner.recv_from(buf))
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.polled.write_op(|| self.inner.send(buf))
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.polled.read_op(|| self.inner.recv(buf))
    }
}

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
//! two applies. `connect` is non-blocking too (Go's way: `EINPROGRESS`, wait
//! until writable, read `SO_ERROR`); only name resolution runs in
//! `blocking`.

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

    /// Runs a read-side `op` until it does not report `WouldBlock`,
    /// parking until readable in between.
    fn read_op<R>(&self, op: impl FnMut() -> io::Result<R>) -> io::Result<R> {
        let limit = Self::limit(&self.read_timeout, &self.read_deadline);
        Self::retry(op, || self.pd.wait_read(self.fd, limit))
    }

    fn write_op<R>(&self, op: impl FnMut() -> io::Result<R>) -> io::Result<R> {
        let limit = Self::limit(&self.write_timeout, &self.write_deadline);
        Self::retry(op, || self.pd.wait_write(self.fd, limit))
    }

    fn retry<R>(
        mut op: impl FnMut() -> io::Result<R>,
        wait: impl Fn() -> io::Result<()>,
    ) -> io::Result<R> {
        loop {
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait()?,
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
    /// Connects to the first address that accepts (name resolution runs in
    /// `blocking`; the connection itself waits on the poller).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let addrs: Vec<SocketAddr> = super::proc::blocking(|| addr.to_socket_addrs())?.collect();
        let mut last = io::Error::new(
            io::ErrorKind::InvalidInput,
            "goheap::net: no address to connect to",
        );
        for a in addrs {
            match Self::connect_one(&a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn connect_timeout(addr: &SocketAddr, d: Duration) -> io::Result<TcpStream> {
        Self::connect_one(addr, Some(Instant::now() + d))
    }

    /// A non-blocking connect: `EINPROGRESS`, then wait until writable and
    /// read the outcome from `SO_ERROR` (as Go's netFD.connect).
    fn connect_one(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let (storage, len) = sockaddr(addr);
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: a plain socket(2) call; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh socket we own from here on.
        let inner = unsafe { <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let stream = TcpStream {
            polled: Polled::new(fd)?,
            inner,
        };
        // SAFETY: storage holds a valid sockaddr of `len` bytes.
        let r =
            unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
        if r == 0 {
            return Ok(stream);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        loop {
            stream.polled.pd.wait_write(fd, deadline)?;
            match stream.inner.take_error()? {
                Some(e) => return Err(e),
                None if stream.inner.peer_addr().is_ok() => return Ok(stream),
                None => {} // a spurious edge: still connecting
            }
        }
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

/// `addr` as a C socket address.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { core::ptr::write((&mut st as *mut libc::sockaddr_storage).cast(), sin) };
            core::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { core::ptr::write((&mut st as *mut libc::sockaddr_storage).cast(), sin6) };
            core::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
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

//! The Linux poller under `netpoll` (Go's netpoll_epoll.go): one epoll
//! instance per scheduler, descriptors registered once, edge-triggered, for
//! reading and writing at the same time; an eventfd registered with a null
//! key interrupts a blocked `epoll_wait` (`netpoll_break`).

use core::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Epoll {
    epfd: i32,
    breakfd: i32,
    /// Set while a break is pending, so that many breaks write once.
    breaking: AtomicBool,
}

/// One readiness event: the key given at registration and what is ready.
pub(crate) struct Event {
    pub key: usize,
    pub read: bool,
    pub write: bool,
}

impl Epoll {
    pub(crate) fn new() -> Option<Epoll> {
        // SAFETY: plain syscalls creating fresh descriptors.
        unsafe {
            let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            let breakfd = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
            if epfd < 0 || breakfd < 0 {
                return None;
            }
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: 0,
            };
            libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, breakfd, &mut ev);
            Some(Epoll {
                epfd,
                breakfd,
                breaking: AtomicBool::new(false),
            })
        }
    }

    /// Registers `fd` for edge-triggered read and write readiness under `key`
    /// (nonzero); returns the errno on failure.
    pub(crate) fn open(&self, fd: i32, key: usize) -> Result<(), i32> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: key as u64,
        };
        // SAFETY: epoll_ctl reads the event we pass.
        let r = unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL))
        }
    }

    pub(crate) fn close(&self, fd: i32) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: removing a descriptor; failure (already closed) is harmless.
        unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }

    /// Interrupts a blocked `wait`.
    pub(crate) fn wake(&self) {
        if self.breaking.swap(true, Ordering::AcqRel) {
            return;
        }
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to our eventfd.
        unsafe { libc::write(self.breakfd, (&one as *const u64).cast(), 8) };
    }

    /// Waits up to `timeout_ms` (-1: forever, 0: poll) and calls `f` for each
    /// readiness event.
    pub(crate) fn wait(&self, timeout_ms: i32, mut f: impl FnMut(Event)) {
        const N: usize = 128;
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; N];
        // SAFETY: epoll_wait writes at most N events into our array.
        let n = unsafe { libc::epoll_wait(self.epfd, evs.as_mut_ptr(), N as i32, timeout_ms) };
        for ev in evs.iter().take(n.max(0) as usize) {
            let (key, bits) = (ev.u64 as usize, ev.events as i32);
            if key == 0 {
                let mut buf = 0u64;
                // SAFETY: draining our eventfd into a local.
                unsafe { libc::read(self.breakfd, (&mut buf as *mut u64).cast(), 8) };
                self.breaking.store(false, Ordering::Release);
                continue;
            }
            let err = bits & (libc::EPOLLERR | libc::EPOLLHUP) != 0;
            f(Event {
                key,
                read: err || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) != 0,
                write: err || bits & libc::EPOLLOUT != 0,
            });
        }
    }

    /// Closes the descriptors (the child of a fork does this to the
    /// parent's poller before making its own).
    pub(crate) fn close_all(&self) {
        // SAFETY: closing our own descriptors once.
        unsafe {
            libc::close(self.epfd);
            libc::close(self.breakfd);
        }
    }
}

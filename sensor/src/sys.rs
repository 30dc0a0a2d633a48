//! The sensor's only `unsafe` code: thin, safe wrappers over the few socket
//! options and syscalls that `std` does not expose (netlink sockets,
//! `SO_RCVBUFFORCE`, `SO_RCVTIMEO`, `NETLINK_NO_ENOBUFS`, `setns`).
//!
//! Every function takes a descriptor through `AsRawFd`/`AsFd` (so it is
//! open for the duration of the call) and returns `std::io::Error` built
//! from `errno`. Callers add the context (which queue, which group).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `val` is a live c_int and we pass its exact size; the kernel
    // only reads `optlen` bytes from it. A bad `fd` gives EBADF, not UB.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn getsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut val: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `val` and `len` are live locals; the kernel writes at most
    // `len` bytes into `val` and updates `len`.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut val as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(val)
}

/// Sets the socket receive buffer to `bytes` with `SO_RCVBUFFORCE` (needs
/// CAP_NET_ADMIN, ignores `net.core.rmem_max`), falling back to `SO_RCVBUF`
/// (capped by rmem_max) when that is refused. Returns the size the kernel
/// reports afterwards (it doubles the request for bookkeeping overhead).
pub fn set_rcvbuf_force(sock: &impl AsRawFd, bytes: usize) -> io::Result<usize> {
    let fd = sock.as_raw_fd();
    let val = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX / 2);
    match setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, val) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, val)?;
        }
        Err(e) => return Err(e),
    }
    rcvbuf(sock)
}

/// The socket's current receive buffer size (`SO_RCVBUF`).
pub fn rcvbuf(sock: &impl AsRawFd) -> io::Result<usize> {
    let v = getsockopt_int(sock.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)?;
    Ok(usize::try_from(v).unwrap_or(0))
}

/// Makes blocking `recv` calls on the socket return `EAGAIN` after
/// `timeout` (`SO_RCVTIMEO`). A zero duration means "block forever", so it
/// is raised to 1 µs.
pub fn set_recv_timeout(sock: &impl AsRawFd, timeout: Duration) -> io::Result<()> {
    let timeout = timeout.max(Duration::from_micros(1));
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    };
    // SAFETY: `tv` is a live timeval and we pass its exact size.
    cvt(unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `NETLINK_NO_ENOBUFS`: when on, a netlink socket whose buffer overflowed
/// does not report `ENOBUFS` (messages are still lost).
pub fn set_netlink_no_enobufs(sock: &impl AsRawFd, on: bool) -> io::Result<()> {
    setsockopt_int(
        sock.as_raw_fd(),
        libc::SOL_NETLINK,
        libc::NETLINK_NO_ENOBUFS,
        on as libc::c_int,
    )
}

/// Result of one [`NetlinkSocket::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// The datagram was larger than the buffer; its tail is lost.
    pub truncated: bool,
}

/// A `NETLINK_NETFILTER` socket bound to an automatic port id.
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
}

impl NetlinkSocket {
    /// Opens and binds a `NETLINK_NETFILTER` raw socket (close-on-exec).
    pub fn open_netfilter() -> io::Result<NetlinkSocket> {
        // SAFETY: plain syscall with constant arguments.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        })?;
        // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero sockaddr_nl is valid (pid 0 = let the kernel pick).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `addr` is a live sockaddr_nl and we pass its exact size.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        Ok(NetlinkSocket { fd })
    }

    /// Sends one datagram to the kernel.
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_nl addresses the kernel (pid 0).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `msg` is a live slice; the kernel reads `msg.len()` bytes.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short netlink send",
            ));
        }
        Ok(())
    }

    /// Receives one datagram into `buf`. With `nonblocking` it returns
    /// `WouldBlock` when nothing is queued; otherwise it blocks up to the
    /// socket's receive timeout.
    pub fn recv(&self, buf: &mut [u8], nonblocking: bool) -> io::Result<Received> {
        let flags = libc::MSG_TRUNC | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`;
        // with MSG_TRUNC it returns the full datagram length, which we only
        // compare, never use to index.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        Ok(Received {
            len: n.min(buf.len()),
            truncated: n > buf.len(),
        })
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for NetlinkSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Moves the *calling thread* into the network namespace at `path` (e.g.
/// `/run/netns/NAME`). Sockets it opens afterwards live in that namespace.
/// Used by tests and tools that run a capture thread inside a namespace.
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    // SAFETY: `f` is an open namespace file for the duration of the call.
    cvt(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn rcvbuf_and_timeout_apply_to_a_socket() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = rcvbuf(&s).unwrap();
        let after = set_rcvbuf_force(&s, 1 << 20).unwrap();
        assert!(after >= before.min(1 << 20), "{before} -> {after}");
        set_recv_timeout(&s, Duration::from_millis(20)).unwrap();
        let mut b = [0u8; 4];
        let t = std::time::Instant::now();
        let err = s.recv(&mut b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn netlink_recv_nonblocking_reports_would_block() {
        let Ok(s) = NetlinkSocket::open_netfilter() else {
            eprintln!("note: no NETLINK_NETFILTER here; skipped");
            return;
        };
        let mut buf = [0u8; 64];
        let err = s.recv(&mut buf, true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        set_netlink_no_enobufs(&s, true).unwrap();
    }

    #[test]
    fn enter_netns_reports_missing_namespace() {
        let err = enter_netns(Path::new("/run/netns/meerkat-does-not-exist")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}

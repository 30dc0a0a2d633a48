//! systemd notifications (`sd_notify`): readiness, reload and watchdog.
//!
//! Sends datagrams to the socket named by `NOTIFY_SOCKET`; does nothing when
//! the variable is unset, so the daemons run the same outside systemd.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn send(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name) {
            let _ = sock.send_to_addr(msg.as_bytes(), &addr);
        }
    } else {
        let _ = sock.send_to(msg.as_bytes(), &path);
    }
}

/// Tells systemd that start-up is complete.
pub fn ready() {
    send("READY=1");
}

/// Tells systemd a reload started (`RELOADING=1`) and then finished.
pub fn reloading() {
    send("RELOADING=1");
}

/// Reload finished; the daemon is ready again.
pub fn reloaded() {
    send("READY=1");
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    send("STOPPING=1");
}

/// Pets the watchdog.
pub fn watchdog() {
    send("WATCHDOG=1");
}

/// Free-form status line shown by `systemctl status`.
pub fn status(text: &str) {
    send(&format!("STATUS={text}"));
}

/// Half of the watchdog interval systemd asked for, if any: pet it this
/// often.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

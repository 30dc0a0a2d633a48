//! App layer: recognises SSH by its banner on any port and parses both
//! banners from the reassembled, in-order bytes of each direction.
//!
//! The pipeline calls [`on_stream_data`] with the new bytes of each
//! [`crate::stream::Chunk`] (`chunk.new_bytes()`), in stream order. The
//! flow becomes [`AppProto::Ssh`] when a direction's first bytes are
//! `SSH-`; it becomes [`AppProto::Failed`] (and is never looked at again)
//! when a direction's first bytes cannot be SSH and the other side has not
//! shown an SSH banner. Once both banners are parsed nothing more is done
//! per packet (the rest is encrypted).
//!
//! Counters bumped here (in [`PipelineCounters`]): `app_flow_ssh`,
//! `app_tx_ssh` (one transaction per SSH flow), `app_flow_failed_tcp`,
//! `app_ssh_invalid_banner`, `app_ssh_long_banner`.

pub mod ssh;

use crate::counters::{inc, PipelineCounters};
use crate::flow::Flow;
use crate::packet::Direction;

pub use ssh::{Banner, SideState};

/// The flow's application protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppProto {
    /// Not decided yet.
    #[default]
    Unknown,
    Ssh,
    /// Not SSH; no more app-layer work for this flow.
    Failed,
}

impl AppProto {
    /// EVE `app_proto` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Unknown => "unknown",
            AppProto::Ssh => "ssh",
            AppProto::Failed => "failed",
        }
    }
}

/// SSH state of a flow: one banner parser per side.
#[derive(Debug, Clone, Default)]
pub struct SshState {
    /// The client (to_server) side.
    pub client: SideState,
    /// The server (to_client) side.
    pub server: SideState,
    /// The worker emitted the `ssh` EVE event for this flow.
    pub logged: bool,
    /// A side sent something that is not a banner on this SSH flow (EVE
    /// anomaly `ssh.invalid_banner`).
    pub invalid_banner: bool,
    /// A banner was cut at [`ssh::MAX_BANNER_LEN`] (`ssh.long_banner`).
    pub long_banner: bool,
}

impl SshState {
    /// The client's banner, once parsed.
    pub fn client_banner(&self) -> Option<&Banner> {
        self.client.banner.as_ref()
    }

    /// The server's banner, once parsed.
    pub fn server_banner(&self) -> Option<&Banner> {
        self.server.banner.as_ref()
    }

    /// Both sides finished banner parsing (parsed or invalid).
    pub fn both_done(&self) -> bool {
        self.client.finished() && self.server.finished()
    }

    /// The side sending in direction `dir`.
    pub fn side_mut(&mut self, dir: Direction) -> &mut SideState {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }
}

/// What one [`on_stream_data`] call changed, so the worker can log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppUpdate {
    /// The flow became SSH in this call.
    pub became_ssh: bool,
    /// The flow became `Failed` in this call.
    pub failed: bool,
    /// The banner of this direction was completed in this call.
    pub banner_done: bool,
    /// Both sides are now finished (first time or not: check
    /// `SshState::logged` before emitting the `ssh` event).
    pub both_done: bool,
    /// An invalid banner was seen in this call (anomaly).
    pub invalid_banner: bool,
    /// A long banner was seen in this call (anomaly).
    pub long_banner: bool,
}

/// Feeds the new in-order bytes of direction `dir` to the app layer.
/// Cheap when the flow is `Failed` or both banners are done.
pub fn on_stream_data(
    flow: &mut Flow,
    dir: Direction,
    new_bytes: &[u8],
    counters: &PipelineCounters,
) -> AppUpdate {
    let mut up = AppUpdate::default();
    if new_bytes.is_empty() || flow.app_proto == AppProto::Failed {
        return up;
    }
    let server = dir == Direction::ToClient;
    if flow.app_proto == AppProto::Unknown {
        let side_started = flow.ssh.as_ref().is_some_and(|s| match dir {
            Direction::ToServer => s.client.progress != ssh::Progress::Start,
            Direction::ToClient => s.server.progress != ssh::Progress::Start,
        });
        if !side_started {
            // First bytes of this direction: decide what we can now; the
            // parser below handles the undecided cases line by line.
            match ssh::probe(new_bytes, server) {
                Some(false) => {
                    flow.app_proto = AppProto::Failed;
                    flow.ssh = None;
                    inc(&counters.app_flow_failed_tcp);
                    up.failed = true;
                    return up;
                }
                Some(true) => {
                    flow.app_proto = AppProto::Ssh;
                    inc(&counters.app_flow_ssh);
                    inc(&counters.app_tx_ssh);
                    up.became_ssh = true;
                }
                None => {}
            }
        }
    }
    let st = flow.ssh.get_or_insert_with(SshState::default);
    let side = st.side_mut(dir);
    if side.finished() {
        up.both_done = st.both_done();
        return up;
    }
    let r = side.feed(new_bytes, server);
    if r.banner_done && flow.app_proto == AppProto::Unknown {
        flow.app_proto = AppProto::Ssh;
        inc(&counters.app_flow_ssh);
        inc(&counters.app_tx_ssh);
        up.became_ssh = true;
    }
    if r.invalid {
        if flow.app_proto == AppProto::Ssh {
            st.invalid_banner = true;
            inc(&counters.app_ssh_invalid_banner);
            up.invalid_banner = true;
        } else {
            // Neither side showed SSH: not SSH at all.
            flow.app_proto = AppProto::Failed;
            flow.ssh = None;
            inc(&counters.app_flow_failed_tcp);
            up.failed = true;
            return up;
        }
    }
    if r.long_banner {
        st.long_banner = true;
        inc(&counters.app_ssh_long_banner);
        up.long_banner = true;
    }
    up.banner_done = r.banner_done;
    up.both_done = st.both_done();
    up
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::testpkt::tcp;
    use crate::decode::{decode, tcp_flags::*};
    use crate::packet::Timestamp;
    use std::sync::atomic::Ordering::Relaxed;

    fn flow() -> Flow {
        let p = tcp("192.0.2.1", "192.0.2.2", 40000, 2222, 1, 0, SYN, b"");
        Flow::new(&decode(&p).unwrap(), Timestamp::default(), 1)
    }

    #[test]
    fn ssh_on_any_port_split_banners() {
        let c = PipelineCounters::default();
        let mut f = flow();
        let cli = b"SSH-2.0-paramiko_3.4.0\r\n";
        let mut ups = Vec::new();
        for b in cli.chunks(1) {
            ups.push(on_stream_data(&mut f, Direction::ToServer, b, &c));
        }
        assert_eq!(f.app_proto, AppProto::Ssh);
        assert_eq!(ups.iter().filter(|u| u.became_ssh).count(), 1);
        assert_eq!(ups.iter().filter(|u| u.banner_done).count(), 1);
        assert!(!ups.iter().any(|u| u.both_done));
        let u = on_stream_data(
            &mut f,
            Direction::ToClient,
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
            &c,
        );
        assert!(u.banner_done && u.both_done && !u.became_ssh);
        let st = f.ssh.as_ref().unwrap();
        assert_eq!(
            st.client_banner().unwrap().software_version,
            "paramiko_3.4.0"
        );
        assert_eq!(
            st.server_banner().unwrap().comment.as_deref(),
            Some("Debian-2")
        );
        assert!(st.both_done());
        assert_eq!(c.app_flow_ssh.load(Relaxed), 1);
        assert_eq!(c.app_tx_ssh.load(Relaxed), 1);
        // Encrypted traffic afterwards: nothing happens.
        let u = on_stream_data(&mut f, Direction::ToServer, b"\x00\x00\x01\x0c\x0a\x14", &c);
        assert!(!u.banner_done && u.both_done);
    }

    #[test]
    fn non_ssh_fails_and_stops() {
        let c = PipelineCounters::default();
        let mut f = flow();
        let u = on_stream_data(&mut f, Direction::ToServer, b"GET / HTTP/1.1\r\n", &c);
        assert!(u.failed);
        assert_eq!(f.app_proto, AppProto::Failed);
        assert!(f.ssh.is_none());
        let u = on_stream_data(&mut f, Direction::ToClient, b"SSH-2.0-x\r\n", &c);
        assert_eq!(u, AppUpdate::default());
        assert_eq!(c.app_flow_failed_tcp.load(Relaxed), 1);
    }

    #[test]
    fn garbage_on_ssh_flow_is_an_anomaly() {
        let c = PipelineCounters::default();
        let mut f = flow();
        on_stream_data(&mut f, Direction::ToClient, b"SSH-2.0-srv\r\n", &c);
        let u = on_stream_data(&mut f, Direction::ToServer, b"\x16\x03\x01\x00", &c);
        assert!(u.invalid_banner && u.both_done);
        assert_eq!(f.app_proto, AppProto::Ssh);
        assert!(f.ssh.as_ref().unwrap().invalid_banner);
        assert_eq!(c.app_ssh_invalid_banner.load(Relaxed), 1);
        assert!(f.ssh.as_ref().unwrap().client_banner().is_none());
    }

    #[test]
    fn server_pre_banner_lines_then_banner() {
        let c = PipelineCounters::default();
        let mut f = flow();
        let u = on_stream_data(&mut f, Direction::ToClient, b"Authorized use only\r\n", &c);
        assert_eq!(f.app_proto, AppProto::Unknown);
        assert!(!u.failed);
        let u = on_stream_data(&mut f, Direction::ToClient, b"SSH-2.0-srv\r\n", &c);
        assert!(u.became_ssh && u.banner_done);
        assert_eq!(f.ssh.as_ref().unwrap().server.pre_banner_lines, 1);
    }

    #[test]
    fn long_banner_counted() {
        let c = PipelineCounters::default();
        let mut f = flow();
        let mut b = b"SSH-2.0-".to_vec();
        b.extend_from_slice(&[b'x'; 300]);
        let u = on_stream_data(&mut f, Direction::ToServer, &b, &c);
        assert!(u.long_banner && u.banner_done);
        assert_eq!(c.app_ssh_long_banner.load(Relaxed), 1);
        assert!(f.ssh.as_ref().unwrap().long_banner);
    }
}

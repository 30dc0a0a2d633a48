//! App layer: recognises the application protocol of a TCP flow from the
//! first bytes of each direction and parses it from the reassembled,
//! in-order bytes, one state per direction.
//!
//! The flow owns one [`AppState`] and knows nothing of what is inside: the
//! pipeline calls [`AppState::on_stream_data`] with the new bytes of each
//! [`crate::stream::Chunk`] (`chunk.new_bytes()`), in stream order, and
//! reads back what changed ([`AppUpdate`]). Protocols today, each found by
//! probing the first bytes of a direction on any port: HTTP/1.x (a request
//! method and a space, or `HTTP/`; up to [`HTTP_PROBE_MAX`] bytes are held
//! back while undecided, see [`http`]) and SSH (its banner). A flow becomes
//! [`AppProto::Failed`] (and is never looked at again) when a direction's
//! first bytes fit no protocol.
//!
//! Transactions: what detection and EVE refer to by `tx_id`. An SSH flow has
//! one, `tx_id` 0, complete when both banners are parsed ([`AppUpdate::
//! tx_complete`] is set exactly once per transaction; the rest of an SSH
//! session is encrypted and costs nothing). An HTTP flow has one per
//! request/response pair ([`http::HttpTx`]); call [`AppState::begin_packet`]
//! before a packet's chunks so its inspection points start empty.
//!
//! Counters bumped here (in [`PipelineCounters`]): `app_flow_ssh`,
//! `app_tx_ssh` (one transaction per SSH flow), `app_flow_http`,
//! `app_tx_http`, `app_flow_failed_tcp`, `app_ssh_invalid_banner`,
//! `app_ssh_long_banner`.

pub mod dns;
pub mod http;
pub mod kexinit;
pub mod ssh;
pub mod tls;

use crate::counters::{inc, PipelineCounters};
use crate::packet::Direction;

pub use http::HttpState;
pub use kexinit::{Hassh, KexSide};
pub use ssh::{Banner, SideState};
pub use tls::TlsState;

/// App-layer settings (Suricata's `app-layer.protocols.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppConfig {
    /// Compute HASSH from each side's `KEXINIT` (Suricata's
    /// `app-layer.protocols.ssh.hassh`; on by default here, off in
    /// Suricata 7). With HASSH on, the SSH transaction completes when both
    /// sides' `KEXINIT` are parsed, so the `ssh` event carries them.
    pub ssh_hassh: bool,
    /// What happens once both sides of an SSH session sent `NEWKEYS`
    /// (Suricata's `app-layer.protocols.ssh.encryption-handling`).
    pub ssh_encryption: EncryptionHandling,
    /// What happens once a TLS session sends application data
    /// (Suricata's `app-layer.protocols.tls.encryption-handling`).
    pub tls_encryption: EncryptionHandling,
    /// Ports on which DNS is detected over TCP and over UDP.
    pub dns_tcp_ports: dns::DnsPorts,
    pub dns_udp_ports: dns::DnsPorts,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            ssh_hassh: true,
            ssh_encryption: EncryptionHandling::TrackOnly,
            dns_tcp_ports: dns::DnsPorts::default(),
            dns_udp_ports: dns::DnsPorts::default(),
            tls_encryption: EncryptionHandling::TrackOnly,
        }
    }
}

impl AppConfig {
    /// The `encryption-handling` of a protocol (track-only for protocols
    /// without encryption).
    pub fn encryption(&self, proto: AppProto) -> EncryptionHandling {
        match proto {
            AppProto::Ssh => self.ssh_encryption,
            AppProto::Tls => self.tls_encryption,
            _ => EncryptionHandling::TrackOnly,
        }
    }
}

/// Handling of an encrypted session (Suricata's `encryption-handling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptionHandling {
    /// Keep tracking the flow; its encrypted payload is not inspected
    /// (Suricata's default).
    #[default]
    TrackOnly,
    /// Bypass the flow: no more inspection at all (`flow.state: bypassed`).
    Bypass,
    /// Keep inspecting the encrypted payload with content rules.
    Full,
}

/// The flow's application protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppProto {
    /// Not decided yet.
    #[default]
    Unknown,
    Ssh,
    /// HTTP/1.x, found by a request method or `HTTP/` at the start of a
    /// direction.
    Http,
    /// TLS or SSL, found by a record header (or an SSLv2 ClientHello).
    Tls,
    /// DNS over UDP or TCP (see [`dns`]).
    Dns,
    /// No known protocol; no more app-layer work for this flow.
    Failed,
}

impl AppProto {
    /// EVE `app_proto` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Unknown => "unknown",
            AppProto::Ssh => "ssh",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Failed => "failed",
        }
    }

    /// EVE `app_proto`, absent while undecided (as Suricata writes it).
    pub fn eve_name(self) -> Option<&'static str> {
        match self {
            AppProto::Unknown => None,
            other => Some(other.as_str()),
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
    /// The client's binary packets after its banner (KEXINIT, HASSH).
    pub client_kex: KexSide,
    /// The server's binary packets after its banner.
    pub server_kex: KexSide,
    /// The transaction was handed to the output (complete, or flushed at
    /// flow end).
    logged: bool,
    /// A side sent something that is not a banner on this SSH flow (EVE
    /// anomaly `ssh.invalid_banner`).
    pub invalid_banner: bool,
    /// A banner was cut at [`ssh::MAX_BANNER_LEN`] (`ssh.long_banner`).
    pub long_banner: bool,
}

impl SshState {
    /// The SSH transaction's id (one per flow).
    pub const TX_ID: u64 = 0;

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

    /// The binary-packet walk of direction `dir`.
    pub fn kex(&self, dir: Direction) -> &KexSide {
        match dir {
            Direction::ToServer => &self.client_kex,
            Direction::ToClient => &self.server_kex,
        }
    }

    /// Both sides have sent `NEWKEYS`: the rest of the session is encrypted.
    pub fn encrypted(&self) -> bool {
        self.client_kex.newkeys && self.server_kex.newkeys
    }

    /// The transaction has all it will get: both banners are done and,
    /// with HASSH on, both `KEXINIT`s parsed (or their walk ended).
    fn complete(&self, hassh: bool) -> bool {
        let side_done = |banner: &SideState, kex: &KexSide| match banner.progress {
            ssh::Progress::Invalid => true,
            ssh::Progress::Done => !hassh || kex.kexinit.is_some() || kex.finished(),
            _ => false,
        };
        side_done(&self.client, &self.client_kex) && side_done(&self.server, &self.server_kex)
    }

    /// The side sending in direction `dir`.
    pub fn side(&self, dir: Direction) -> &SideState {
        match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        }
    }

    /// The side sending in direction `dir`.
    pub fn side_mut(&mut self, dir: Direction) -> &mut SideState {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }
}

/// The app-layer state of one flow. Only this module changes it.
#[derive(Debug, Default)]
pub enum AppState {
    /// Protocol not decided yet. The SSH parser may already hold lines a
    /// server sends before its banner.
    #[default]
    Unknown,
    /// Undecided, with SSH parsing under way (pre-banner lines seen).
    Probing(Box<SshState>),
    Ssh(Box<SshState>),
    /// Undecided, with the first bytes of a direction that may still
    /// become an HTTP request or status line (at most
    /// [`HTTP_PROBE_MAX`] bytes each; index 0: to_server).
    HttpProbe(Box<[Vec<u8>; 2]>),
    Http(Box<HttpState>),
    Tls(Box<TlsState>),
    /// DNS (UDP or TCP).
    Dns(Box<dns::DnsState>),
    /// A UDP flow on a DNS port whose directions failed DNS detection so
    /// far (true: tried); see [`dns::flow`].
    UdpProbe([bool; 2]),
    /// No known protocol.
    Failed,
}

/// Bytes buffered per direction while HTTP detection is undecided (longer
/// than any method plus its space).
pub const HTTP_PROBE_MAX: usize = 16;

/// What one [`AppState::on_stream_data`] call changed, so the pipeline can
/// log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppUpdate {
    /// The flow became SSH in this call.
    pub became_ssh: bool,
    /// The flow became HTTP in this call.
    pub became_http: bool,
    /// The flow became `Failed` in this call.
    pub failed: bool,
    /// The banner of this direction was completed in this call.
    pub banner_done: bool,
    /// The transaction completed in this call (set once per transaction:
    /// write its event now).
    pub tx_complete: bool,
    /// Both sides are now encrypted (set once, in the call that saw the
    /// second `NEWKEYS`).
    pub encrypted: bool,
    /// An invalid banner was seen in this call (anomaly).
    pub invalid_banner: bool,
    /// A long banner was seen in this call (anomaly).
    pub long_banner: bool,
    /// The flow became TLS in this call.
    pub became_tls: bool,
    /// TLS anomalies wait in [`TlsState::take_events`].
    pub tls_events: bool,
}

impl AppState {
    /// The decided protocol.
    pub fn proto(&self) -> AppProto {
        match self {
            AppState::Unknown | AppState::Probing(_) | AppState::HttpProbe(_) => AppProto::Unknown,
            AppState::Ssh(_) => AppProto::Ssh,
            AppState::Http(_) => AppProto::Http,
            AppState::Tls(_) => AppProto::Tls,
            AppState::Dns(_) => AppProto::Dns,
            AppState::UdpProbe(_) | AppState::Failed => AppProto::Failed,
        }
    }

    /// The SSH state, once the flow is SSH.
    pub fn ssh(&self) -> Option<&SshState> {
        match self {
            AppState::Ssh(s) => Some(s),
            _ => None,
        }
    }

    /// The HTTP state, once the flow is HTTP.
    pub fn http(&self) -> Option<&HttpState> {
        match self {
            AppState::Http(h) => Some(h),
            _ => None,
        }
    }

    /// The HTTP state, once the flow is HTTP.
    pub fn http_mut(&mut self) -> Option<&mut HttpState> {
        match self {
            AppState::Http(h) => Some(h),
            _ => None,
        }
    }

    /// The TLS state, once the flow is TLS.
    pub fn tls(&self) -> Option<&TlsState> {
        match self {
            AppState::Tls(t) => Some(t),
            _ => None,
        }
    }

    /// The TLS state, once the flow is TLS.
    pub fn tls_mut(&mut self) -> Option<&mut TlsState> {
        match self {
            AppState::Tls(t) => Some(t),
            _ => None,
        }
    }

    /// Call before the chunks of a new packet: forgets the previous
    /// packet's HTTP and TLS inspection points.
    pub fn begin_packet(&mut self) {
        match self {
            AppState::Http(h) => h.begin_packet(),
            AppState::Tls(t) => t.begin_packet(),
            _ => {}
        }
    }

    /// The connection closed in direction `dir` (FIN or RST seen, or the
    /// flow ends): ends a body delimited by the close.
    pub fn on_close(&mut self, dir: Direction) -> AppUpdate {
        let mut up = AppUpdate::default();
        if let AppState::Http(h) = self {
            up.tx_complete = h.on_close(dir).tx_complete;
        }
        up
    }

    /// The session is encrypted from here on (SSH: both sides sent
    /// `NEWKEYS`; TLS: application data was seen).
    pub fn encrypted(&self) -> bool {
        match self {
            AppState::Tls(t) => t.encrypted,
            _ => self.ssh().is_some_and(SshState::encrypted),
        }
    }

    /// Content rules inspect this flow's payload: not once the session is
    /// encrypted, unless its protocol's `encryption-handling` is `full`.
    pub fn payload_inspected(&self, cfg: &AppConfig) -> bool {
        !(self.encrypted() && cfg.encryption(self.proto()) != EncryptionHandling::Full)
    }

    /// At flow end: true when the TLS transaction has something to log
    /// and was not logged yet (marks it logged).
    pub fn take_unlogged_tls(&mut self) -> bool {
        self.tls_mut().is_some_and(TlsState::take_unlogged)
    }

    /// At flow end: the SSH transaction if it has something to log and was
    /// not logged yet (marks it logged).
    pub fn take_unlogged_ssh(&mut self) -> Option<&SshState> {
        match self {
            AppState::Ssh(s)
                if !s.logged && (s.client_banner().is_some() || s.server_banner().is_some()) =>
            {
                s.logged = true;
                Some(s)
            }
            _ => None,
        }
    }

    /// Feeds the new in-order bytes of direction `dir`. Cheap when the flow
    /// is `Failed` or its transaction is complete.
    pub fn on_stream_data(
        &mut self,
        dir: Direction,
        new_bytes: &[u8],
        cfg: &AppConfig,
        counters: &PipelineCounters,
    ) -> AppUpdate {
        let mut up = AppUpdate::default();
        if new_bytes.is_empty() {
            return up;
        }
        let server = dir == Direction::ToClient;
        let di = usize::from(server);
        match self {
            AppState::Tls(t) => return tls_update(t.feed(dir, new_bytes), counters),
            AppState::Http(h) => {
                let hu = h.feed(dir, new_bytes);
                up.tx_complete = hu.tx_complete;
                if hu.new_tx {
                    inc(&counters.app_tx_http);
                }
                return up;
            }
            AppState::Dns(_) => {
                self.on_stream_data_dns(dir, new_bytes, counters);
                return up;
            }
            AppState::Failed | AppState::Ssh(_) | AppState::UdpProbe(_) => {
                return self.on_stream_data_ssh(dir, new_bytes, cfg, counters);
            }
            AppState::HttpProbe(bufs) => {
                let held_mine = bufs.get(di).cloned().unwrap_or_default();
                let mut cand = held_mine.clone();
                let room = HTTP_PROBE_MAX.saturating_sub(cand.len());
                cand.extend_from_slice(new_bytes.get(..room.min(new_bytes.len())).unwrap_or(&[]));
                let tls_undecided = tls::probe(&cand, server).is_none();
                match http::probe(&cand, server) {
                    Some(true) => return self.become_http(dir, new_bytes, counters),
                    _ if tls_undecided && new_bytes.len() <= room => {
                        if let Some(b) = bufs.get_mut(di) {
                            *b = cand;
                        }
                        return up;
                    }
                    None if new_bytes.len() <= room => {
                        if let Some(b) = bufs.get_mut(di) {
                            *b = cand;
                        }
                        return up;
                    }
                    _ => {}
                }
                // Not HTTP after all: replay what was held back through the
                // other probes.
                let held = std::mem::take(&mut **bufs);
                *self = AppState::Unknown;
                for (i, b) in held.iter().enumerate() {
                    if i != di && !b.is_empty() {
                        let d = if i == 0 {
                            Direction::ToServer
                        } else {
                            Direction::ToClient
                        };
                        let u = self.on_stream_data_ssh(d, b, cfg, counters);
                        merge(&mut up, u);
                    }
                }
                // This direction's held bytes and the new ones together, so
                // a probe sees the whole start.
                let mut mine = held_mine;
                mine.extend_from_slice(new_bytes);
                let u = self.on_stream_data_ssh(dir, &mine, cfg, counters);
                merge(&mut up, u);
                return up;
            }
            AppState::Unknown => match http::probe(new_bytes, server) {
                Some(true) => return self.become_http(dir, new_bytes, counters),
                _ if tls::probe(new_bytes, server).is_none() => {
                    let mut bufs: Box<[Vec<u8>; 2]> = Box::default();
                    if let Some(b) = bufs.get_mut(di) {
                        b.extend_from_slice(new_bytes);
                    }
                    *self = AppState::HttpProbe(bufs);
                    return up;
                }
                None if new_bytes.len() <= HTTP_PROBE_MAX => {
                    let mut bufs: Box<[Vec<u8>; 2]> = Box::default();
                    if let Some(b) = bufs.get_mut(di) {
                        b.extend_from_slice(new_bytes);
                    }
                    *self = AppState::HttpProbe(bufs);
                    return up;
                }
                _ => {}
            },
            AppState::Probing(_) => {
                if let Some(true) = http::probe(new_bytes, server) {
                    return self.become_http(dir, new_bytes, counters);
                }
            }
        }
        self.on_stream_data_ssh(dir, new_bytes, cfg, counters)
    }

    /// Decides HTTP: `new_bytes` is fed after the held-back bytes.
    fn become_http(
        &mut self,
        dir: Direction,
        new_bytes: &[u8],
        counters: &PipelineCounters,
    ) -> AppUpdate {
        let mut up = AppUpdate {
            became_http: true,
            ..AppUpdate::default()
        };
        let held = match std::mem::take(self) {
            AppState::HttpProbe(b) => *b,
            _ => Default::default(),
        };
        let mut h = Box::<HttpState>::default();
        inc(&counters.app_flow_http);
        let di = usize::from(dir == Direction::ToClient);
        let mut feed = |h: &mut HttpState, d: Direction, b: &[u8]| {
            let hu = h.feed(d, b);
            up.tx_complete |= hu.tx_complete;
            if hu.new_tx {
                inc(&counters.app_tx_http);
            }
        };
        // The other direction's held bytes first (requests before
        // responses when the client spoke first).
        for (i, b) in held.iter().enumerate() {
            if i != di && !b.is_empty() {
                let d = if i == 0 {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                feed(&mut h, d, b);
            }
        }
        if let Some(mine) = held.get(di) {
            feed(&mut h, dir, mine);
        }
        feed(&mut h, dir, new_bytes);
        *self = AppState::Http(h);
        up
    }

    fn on_stream_data_ssh(
        &mut self,
        dir: Direction,
        new_bytes: &[u8],
        cfg: &AppConfig,
        counters: &PipelineCounters,
    ) -> AppUpdate {
        let mut up = AppUpdate::default();
        if new_bytes.is_empty() {
            return up;
        }
        let server = dir == Direction::ToClient;
        match self {
            AppState::Failed
            | AppState::Http(_)
            | AppState::HttpProbe(_)
            | AppState::Dns(_)
            | AppState::UdpProbe(_) => return up,
            AppState::Tls(t) => return tls_update(t.feed(dir, new_bytes), counters),
            AppState::Ssh(_) => {}
            AppState::Unknown | AppState::Probing(_) => {
                let side_started = match self {
                    AppState::Probing(s) => s.side(dir).progress != ssh::Progress::Start,
                    _ => false,
                };
                if !side_started && matches!(self, AppState::Unknown) {
                    if let Some(true) = tls::probe(new_bytes, server) {
                        return self.become_tls(dir, new_bytes, counters);
                    }
                }
                if !side_started {
                    // First bytes of this direction: decide what we can now;
                    // the parser below handles the undecided cases line by
                    // line.
                    match ssh::probe(new_bytes, server) {
                        Some(false) => {
                            self.fail(counters, &mut up);
                            return up;
                        }
                        Some(true) => self.become_ssh(counters, &mut up),
                        None => {}
                    }
                }
            }
        }
        if let AppState::Unknown = self {
            *self = AppState::Probing(Box::default());
        }
        let (AppState::Ssh(st) | AppState::Probing(st)) = self else {
            return up;
        };
        let side = st.side_mut(dir);
        let mut rest = new_bytes;
        let mut r = ssh::FeedResult::default();
        if !side.finished() {
            r = side.feed(new_bytes, server);
            rest = new_bytes.get(r.consumed..).unwrap_or(&[]);
        }
        if r.invalid {
            if let AppState::Ssh(st) = self {
                st.invalid_banner = true;
                inc(&counters.app_ssh_invalid_banner);
                up.invalid_banner = true;
            } else {
                // Neither side showed SSH: not SSH at all.
                self.fail(counters, &mut up);
                return up;
            }
        }
        if r.banner_done {
            self.become_ssh(counters, &mut up);
        }
        let AppState::Ssh(st) = self else {
            return up;
        };
        if r.long_banner {
            st.long_banner = true;
            inc(&counters.app_ssh_long_banner);
            up.long_banner = true;
        }
        up.banner_done = r.banner_done;
        let banner_done = st.side(dir).progress == ssh::Progress::Done;
        if banner_done && !rest.is_empty() {
            let rest = st.side_mut(dir).strip_pending_lf(rest);
            let was_encrypted = st.encrypted();
            let kex = match dir {
                Direction::ToServer => &mut st.client_kex,
                Direction::ToClient => &mut st.server_kex,
            };
            kex.feed(rest, server, cfg.ssh_hassh);
            up.encrypted = !was_encrypted && st.encrypted();
        }
        if !st.logged && st.complete(cfg.ssh_hassh) {
            st.logged = true;
            up.tx_complete = true;
        }
        up
    }

    /// Both directions' streams ended (flow end): banners still waiting
    /// for their line end are parsed with what arrived.
    pub fn on_eof(&mut self, counters: &PipelineCounters) -> AppUpdate {
        let mut up = AppUpdate::default();
        if let AppState::Tls(t) = self {
            t.on_eof();
            return up;
        }
        let (AppState::Ssh(st) | AppState::Probing(st)) = self else {
            return up;
        };
        let c = st.client.finish(false);
        let s = st.server.finish(true);
        if c.banner_done || s.banner_done {
            up.banner_done = true;
            self.become_ssh(counters, &mut up);
        }
        up
    }

    /// Decides TLS and feeds the first bytes.
    fn become_tls(
        &mut self,
        dir: Direction,
        new_bytes: &[u8],
        counters: &PipelineCounters,
    ) -> AppUpdate {
        let mut t = Box::<TlsState>::default();
        inc(&counters.app_flow_tls);
        let mut up = tls_update(t.feed(dir, new_bytes), counters);
        up.became_tls = true;
        *self = AppState::Tls(t);
        up
    }

    fn fail(&mut self, counters: &PipelineCounters, up: &mut AppUpdate) {
        *self = AppState::Failed;
        inc(&counters.app_flow_failed_tcp);
        up.failed = true;
    }

    /// Decides SSH (no-op when already SSH), keeping parser state.
    fn become_ssh(&mut self, counters: &PipelineCounters, up: &mut AppUpdate) {
        let st = match std::mem::take(self) {
            AppState::Ssh(st) => {
                *self = AppState::Ssh(st);
                return;
            }
            AppState::Probing(st) => st,
            _ => Box::default(),
        };
        *self = AppState::Ssh(st);
        inc(&counters.app_flow_ssh);
        inc(&counters.app_tx_ssh);
        up.became_ssh = true;
    }
}

/// The app-layer view of a TLS update (counts parser errors).
fn tls_update(t: tls::TlsUpdate, counters: &PipelineCounters) -> AppUpdate {
    if t.parser_error {
        inc(&counters.app_tls_parser_errors);
    }
    AppUpdate {
        tx_complete: t.tx_complete,
        encrypted: t.encrypted,
        tls_events: t.events,
        ..AppUpdate::default()
    }
}

/// Ors the flags of `b` into `a`.
fn merge(a: &mut AppUpdate, b: AppUpdate) {
    a.became_ssh |= b.became_ssh;
    a.became_tls |= b.became_tls;
    a.tls_events |= b.tls_events;
    a.became_http |= b.became_http;
    a.failed |= b.failed;
    a.banner_done |= b.banner_done;
    a.tx_complete |= b.tx_complete;
    a.encrypted |= b.encrypted;
    a.invalid_banner |= b.invalid_banner;
    a.long_banner |= b.long_banner;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn flow() -> AppState {
        AppState::default()
    }

    fn on_stream_data(
        f: &mut AppState,
        dir: Direction,
        b: &[u8],
        c: &PipelineCounters,
    ) -> AppUpdate {
        f.on_stream_data(
            dir,
            b,
            &AppConfig {
                ssh_hassh: false,
                ..AppConfig::default()
            },
            c,
        )
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
        assert_eq!(f.proto(), AppProto::Ssh);
        assert_eq!(ups.iter().filter(|u| u.became_ssh).count(), 1);
        assert_eq!(ups.iter().filter(|u| u.banner_done).count(), 1);
        assert!(!ups.iter().any(|u| u.tx_complete));
        let u = on_stream_data(
            &mut f,
            Direction::ToClient,
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
            &c,
        );
        assert!(u.banner_done && u.tx_complete && !u.became_ssh);
        let st = f.ssh().unwrap();
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
        assert!(!u.banner_done && !u.tx_complete);
    }

    #[test]
    fn non_ssh_fails_and_stops() {
        let c = PipelineCounters::default();
        // A TLS record header makes a TLS flow, even one byte at a time.
        let mut f = flow();
        for b in b"\x16\x03\x01\x02\x00".chunks(1) {
            on_stream_data(&mut f, Direction::ToServer, b, &c);
        }
        assert_eq!(f.proto(), AppProto::Tls);
        assert_eq!(c.app_flow_tls.load(Relaxed), 1);
        let mut f = flow();
        let u = on_stream_data(&mut f, Direction::ToServer, b"\x05\x03\x01\x02\x00", &c);
        assert!(u.failed);
        assert_eq!(f.proto(), AppProto::Failed);
        assert!(f.ssh().is_none());
        let u = on_stream_data(&mut f, Direction::ToClient, b"SSH-2.0-x\r\n", &c);
        assert_eq!(u, AppUpdate::default());
        assert_eq!(c.app_flow_failed_tcp.load(Relaxed), 1);
    }

    #[test]
    fn http_detected_byte_by_byte_on_any_port() {
        let c = PipelineCounters::default();
        let mut f = flow();
        let req = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut became = 0;
        for b in req.chunks(1) {
            became += usize::from(on_stream_data(&mut f, Direction::ToServer, b, &c).became_http);
        }
        assert_eq!((became, f.proto()), (1, AppProto::Http));
        let u = on_stream_data(&mut f, Direction::ToClient, b"HTTP/1.1 204 No\r\n\r\n", &c);
        assert!(u.tx_complete);
        let tx = f.http().unwrap().tx(0).unwrap();
        assert_eq!((tx.uri.as_slice(), tx.status), (&b"/x"[..], Some(204)));
        assert_eq!(c.app_flow_http.load(Relaxed), 1);
        assert_eq!(c.app_tx_http.load(Relaxed), 1);
        // Server first, then the request.
        let mut f = flow();
        on_stream_data(&mut f, Direction::ToClient, b"HT", &c);
        assert_eq!(f.proto(), AppProto::Unknown);
        on_stream_data(&mut f, Direction::ToClient, b"TP/1.0 200 OK\r\n\r\nhi", &c);
        assert_eq!(f.proto(), AppProto::Http);
        // A held-back prefix that turns out not to be HTTP goes on to SSH.
        let mut f = flow();
        on_stream_data(&mut f, Direction::ToServer, b"GE", &c);
        let u = on_stream_data(&mut f, Direction::ToServer, b"X\r\n", &c);
        assert!(u.failed);
        let mut f = flow();
        on_stream_data(&mut f, Direction::ToServer, b"S", &c);
        assert_eq!(f.proto(), AppProto::Unknown);
        on_stream_data(&mut f, Direction::ToServer, b"SH-2.0-x\r\n", &c);
        assert_eq!(f.proto(), AppProto::Ssh);
    }

    #[test]
    fn garbage_on_ssh_flow_is_an_anomaly() {
        let c = PipelineCounters::default();
        let mut f = flow();
        on_stream_data(&mut f, Direction::ToClient, b"SSH-2.0-srv\r\n", &c);
        let u = on_stream_data(&mut f, Direction::ToServer, b"\x16\x03\x01\x00", &c);
        assert!(u.invalid_banner && u.tx_complete);
        assert_eq!(f.proto(), AppProto::Ssh);
        assert!(f.ssh().unwrap().invalid_banner);
        assert_eq!(c.app_ssh_invalid_banner.load(Relaxed), 1);
        assert!(f.ssh().unwrap().client_banner().is_none());
    }

    #[test]
    fn server_pre_banner_lines_then_banner() {
        let c = PipelineCounters::default();
        let mut f = flow();
        let u = on_stream_data(&mut f, Direction::ToClient, b"Authorized use only\r\n", &c);
        assert_eq!(f.proto(), AppProto::Unknown);
        assert!(!u.failed);
        let u = on_stream_data(&mut f, Direction::ToClient, b"SSH-2.0-srv\r\n", &c);
        assert!(u.became_ssh && u.banner_done);
        assert_eq!(f.ssh().unwrap().server.pre_banner_lines, 1);
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
        assert!(f.ssh().unwrap().long_banner);
    }
}

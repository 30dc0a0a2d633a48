//! The loaded rule set and per-packet matching.
//!
//! Rules are sorted once by Suricata's action order (pass, drop, reject,
//! alert), then flowbits role (setters before readers), then priority,
//! then sid, so a rule's index is its evaluation rank. They are grouped by
//! how they are inspected (packet, payload/stream, SSH transaction) and by
//! protocol. Within a group, candidates for a packet come from
//! (see [`super::prefilter`]):
//! - one scan of the buffer by the group's multi-pattern matcher (`super::mpm`) over its fast patterns;
//! - an address index for content-less rules with long address lists
//!   (IP reputation lists);
//! - destination-port buckets plus a catch-all list for the other
//!   content-less rules.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::address;
use super::decode_event;
use super::flowbits;
use super::parse::{self, ParseError, Parsed};
use super::port;
use super::prefilter::{addr_ranges, AddrIndex, PatternSet, ScanScratch};
use super::rule::*;
use super::threshold::{Decision, Subject, ThresholdState};
use super::{DetectInput, FileReport, RuleError, RuleLoadReport, SshBannerRef, Vars};
use crate::action::ActionOrder;
use crate::decode::L4;
use crate::packet::Direction;

/// DNS transaction inspection (`inspect_dns`).
mod dns;
mod http;

/// A rule whose destination ports list at most this many ports goes into
/// per-port buckets; others are checked for every packet of the protocol.
const PORT_BUCKET_LIMIT: usize = 32;
/// Views per packet: the packet, two stream chunks, two SSH banners.
const MAX_VIEWS: usize = 5;
const MAX_CHUNKS: usize = 2;
/// A content-less rule whose source or destination is a plain address
/// list goes into an address index (keyed on the narrower side) instead of
/// the catch-all.
const ADDR_INDEX_MIN: usize = 1;

/// Identifies an engine instance (per-thread threshold counters restart
/// when the engine they count for changes).
static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

/// One matched rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index for [`Engine::rule`].
    pub rule: u32,
    pub action: Action,
    /// Matched on an SSH transaction (`ssh.*`).
    pub tx: bool,
    /// The transaction's id when `tx` (0 for SSH).
    pub tx_id: u64,
    /// Orientation of the match: the flow direction of the inspected data
    /// (to_server when the packet has no flow).
    pub dir: Direction,
    /// The rule's action applies to the whole flow (transaction, stream
    /// or IP-only match), not just this packet.
    pub flow_scope: bool,
    /// `action` is a threshold.config rate_filter's, not the rule's.
    pub rate_filter: bool,
}

/// The verdict-relevant outcome: the first `pass`, or the first
/// `drop`/`reject` in action order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalAction {
    /// `Pass`, `Drop` or `Reject(_)`.
    pub action: Action,
    pub rule: u32,
    pub flow_scope: bool,
    /// A rate_filter set this action (Suricata's drop reason
    /// "threshold detection_filter").
    pub rate_filter: bool,
}

/// Results for one packet, and the calling thread's detection state
/// (`threshold`/`detection_filter` counters). Keep one per thread and reuse
/// it for every packet: buffers keep their capacity, so steady state does
/// not allocate, and the counters must persist across packets.
#[derive(Debug, Default)]
pub struct Matches {
    /// Alert-producing matches (alert, drop, reject) in action order.
    pub hits: Vec<Hit>,
    pub action: Option<FinalAction>,
    cand: Vec<(u32, u8)>,
    lower: [Vec<u8>; MAX_VIEWS],
    lower_ok: [bool; MAX_VIEWS],
    tx_lower: Vec<u8>,
    /// HTTP buffer scratch (detect/http.rs).
    http: super::http::Scratch,
    /// HTTP prefilter scratch (engine/http.rs).
    http_pf: http::Scratch,
    /// TLS buffer scratch (detect/tls.rs).
    tls: super::tls::Scratch,
    /// DNS buffer scratch (detect/dns.rs).
    dns: super::dns::Scratch,
    scan: ScanScratch,
    thresholds: ThresholdState,
    /// This thread's `hostbits` (see [`super::hostbits`]).
    hostbits: super::hostbits::HostBits,
}

impl Matches {
    pub fn new() -> Matches {
        Matches::default()
    }

    pub fn clear(&mut self) {
        self.hits.clear();
        self.action = None;
        self.cand.clear();
        self.lower_ok = [false; MAX_VIEWS];
    }

    /// This thread's threshold counters.
    pub fn thresholds(&self) -> &ThresholdState {
        &self.thresholds
    }
}

/// Candidate sources of one rule group (see the module docs).
#[derive(Debug, Default)]
struct RuleSet {
    /// Content-less rules by destination port (short port lists only).
    by_dport: HashMap<u16, Vec<u32>>,
    /// Content-less rules for any port.
    any: Vec<u32>,
    /// Rules with a fast pattern.
    patterns: PatternSet,
    /// Address-indexed rules, looked up with the source address.
    by_src: AddrIndex,
    /// ... and with the destination address.
    by_dst: AddrIndex,
    /// Every rule of the group (for checking the prefilter in tests).
    all: Vec<u32>,
}

/// A [`RuleSet`] while rules are added.
#[derive(Debug, Default)]
struct RuleSetBuilder {
    by_dport: HashMap<u16, Vec<u32>>,
    any: Vec<u32>,
    patterns: Vec<(u32, Vec<u8>, bool)>,
    by_src: Vec<(u128, u128, u32)>,
    by_dst: Vec<(u128, u128, u32)>,
    all: Vec<u32>,
}

impl RuleSetBuilder {
    /// `ports`: bucket content-less rules by destination port.
    fn add(&mut self, idx: u32, rule: &Rule, ports: bool) {
        self.all.push(idx);
        if rule.kind != Kind::Tx {
            if let Some((pat, nocase)) = rule.payload.fast_pattern() {
                self.patterns.push((idx, pat.to_vec(), nocase));
                return;
            }
            let mut src = addr_ranges(&rule.src, ADDR_INDEX_MIN);
            let mut dst = addr_ranges(&rule.dst, ADDR_INDEX_MIN);
            // Key on the side that covers fewer addresses.
            let cover = |v: &Vec<(u128, u128)>| {
                v.iter().fold(0u128, |acc, (lo, hi)| {
                    acc.saturating_add(hi.saturating_sub(*lo))
                })
            };
            match (&src, &dst) {
                (Some(s), Some(d)) if cover(d) < cover(s) => src = None,
                (Some(_), Some(_)) => dst = None,
                _ => {}
            }
            let tag = |v: Vec<(u128, u128)>| v.into_iter().map(move |(a, b)| (a, b, idx));
            match (rule.dir, src, dst) {
                (RuleDir::Forward, Some(s), _) => return self.by_src.extend(tag(s)),
                (RuleDir::Forward, None, Some(d)) => return self.by_dst.extend(tag(d)),
                // Either address of the packet may be the keyed side.
                (RuleDir::Both, Some(k), _) | (RuleDir::Both, None, Some(k)) => {
                    self.by_src.extend(tag(k.clone()));
                    return self.by_dst.extend(tag(k));
                }
                _ => {}
            }
        }
        let bucket = match (ports, rule.dir) {
            (true, RuleDir::Forward) => port::small_port_set(&rule.dst_ports, PORT_BUCKET_LIMIT),
            _ => None,
        };
        match bucket {
            Some(ps) => {
                for p in ps {
                    self.by_dport.entry(p).or_default().push(idx);
                }
            }
            None => self.any.push(idx),
        }
    }

    fn finish(self) -> RuleSet {
        let pats: Vec<(u32, &[u8], bool)> = self
            .patterns
            .iter()
            .map(|(r, p, n)| (*r, p.as_slice(), *n))
            .collect();
        RuleSet {
            by_dport: self.by_dport,
            any: self.any,
            patterns: PatternSet::build(&pats),
            by_src: AddrIndex::build(self.by_src),
            by_dst: AddrIndex::build(self.by_dst),
            all: self.all,
        }
    }
}

impl RuleSet {
    /// Adds the candidates for one view: `buf` is the data its content
    /// is matched on (None: no content inspection in this view).
    fn collect(
        &self,
        t: &Tuple,
        buf: Option<&[u8]>,
        view: u8,
        brute: bool,
        out: &mut Vec<(u32, u8)>,
        scan: &mut ScanScratch,
    ) {
        if brute {
            out.extend(self.all.iter().map(|&r| (r, view)));
            return;
        }
        if t.has_ports {
            if let Some(v) = self.by_dport.get(&t.dp) {
                out.extend(v.iter().map(|&r| (r, view)));
            }
        }
        out.extend(self.any.iter().map(|&r| (r, view)));
        if let Some(buf) = buf {
            if !self.patterns.is_empty() {
                self.patterns.scan(buf, scan, |r| out.push((r, view)));
            }
        }
        if !self.by_src.is_empty() {
            out.extend(self.by_src.lookup(t.src).iter().map(|&r| (r, view)));
        }
        if !self.by_dst.is_empty() {
            out.extend(self.by_dst.lookup(t.dst).iter().map(|&r| (r, view)));
        }
    }
}

/// Rules of one inspection kind, by protocol.
#[derive(Debug, Default)]
struct Groups {
    tcp: RuleSet,
    udp: RuleSet,
    icmp: RuleSet,
    other: RuleSet,
}

#[derive(Debug, Default)]
struct GroupsBuilder {
    tcp: RuleSetBuilder,
    udp: RuleSetBuilder,
    icmp: RuleSetBuilder,
    other: RuleSetBuilder,
}

impl GroupsBuilder {
    fn add(&mut self, idx: u32, rule: &Rule) {
        if rule.proto.accepts(6) {
            self.tcp.add(idx, rule, true);
        }
        if rule.proto.accepts(17) {
            self.udp.add(idx, rule, true);
        }
        if rule.proto.accepts(1) || rule.proto.accepts(58) {
            self.icmp.add(idx, rule, false);
        }
        if matches!(
            rule.proto,
            RuleProto::Ip | RuleProto::Pkthdr | RuleProto::Ipv4 | RuleProto::Ipv6 | RuleProto::Sctp
        ) {
            self.other.add(idx, rule, false);
        }
    }

    fn finish(self) -> Groups {
        Groups {
            tcp: self.tcp.finish(),
            udp: self.udp.finish(),
            icmp: self.icmp.finish(),
            other: self.other.finish(),
        }
    }
}

impl Groups {
    fn set(&self, l4: &L4) -> &RuleSet {
        match l4 {
            L4::Tcp(_) => &self.tcp,
            L4::Udp(_) => &self.udp,
            L4::Icmp(_) => &self.icmp,
            L4::Other => &self.other,
        }
    }
}

/// The loaded rules. Immutable after loading; `Send + Sync`.
#[derive(Debug, Default)]
pub struct Engine {
    id: u64,
    /// Rules with `decode-event`: candidates only for packets with
    /// decoder anomalies.
    decode_rules: Vec<u32>,
    rules: Vec<Rule>,
    metas: Vec<RuleMeta>,
    packet: Groups,
    payload: Groups,
    tx: Groups,
    /// Flowbit names by id.
    flowbit_names: Vec<String>,
    /// Tests: skip the prefilter and evaluate every rule of a group.
    brute: bool,
    /// Rules with an HTTP transaction part, matched by `inspect_http`.
    http_rules: Vec<u32>,
    /// Their prefilter.
    http_prefilter: http::HttpPrefilter,
    /// Rules with a TLS transaction part, matched by `inspect_tls`.
    tls_rules: Vec<u32>,
    /// Fast-pattern index of `tls_rules`.
    tls_index: super::tls::TlsIndex,
    /// Rules with a DNS transaction part, matched by `inspect_dns`.
    dns_rules: Vec<u32>,
    /// Their prefilter.
    dns_prefilter: dns::DnsPrefilter,
}

/// Addresses and ports oriented for one view.
#[derive(Debug, Clone, Copy)]
struct Tuple {
    src: IpAddr,
    dst: IpAddr,
    sp: u16,
    dp: u16,
    has_ports: bool,
}

impl Tuple {
    /// The packet's own tuple, for a packet with ports (transaction
    /// inspection: TCP and UDP only).
    fn of_ported(pkt: &crate::decode::Packet) -> Option<Tuple> {
        let (sp, dp) = pkt.ports()?;
        Some(Tuple {
            src: pkt.ip.src,
            dst: pkt.ip.dst,
            sp,
            dp,
            has_ports: true,
        })
    }

    fn swapped(self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
            sp: self.dp,
            dp: self.sp,
            has_ports: self.has_ports,
        }
    }
}

#[derive(Clone, Copy)]
enum ViewKind<'a> {
    Packet,
    Stream { buf: &'a [u8], new_from: usize },
    Tx(SshBannerRef<'a>),
}

#[derive(Clone, Copy)]
struct View<'a> {
    tuple: Tuple,
    dir: Option<Direction>,
    kind: ViewKind<'a>,
}

impl Engine {
    /// Loads rule files in order. Never fails as a whole: problems are in
    /// the report.
    pub fn load_files(paths: &[PathBuf], vars: &Vars) -> (Engine, RuleLoadReport) {
        Engine::load_files_ordered(paths, vars, ActionOrder::default())
    }

    /// [`Engine::load_files`] with Suricata's `action-order`.
    pub fn load_files_ordered(
        paths: &[PathBuf],
        vars: &Vars,
        order: ActionOrder,
    ) -> (Engine, RuleLoadReport) {
        let mut loader = Loader::new(vars);
        loader.order = order;
        for p in paths {
            let name = p.display().to_string();
            match std::fs::read(p) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    loader.load_text(&text, &name);
                }
                Err(e) => {
                    loader.report.failed += 1;
                    loader.report.errors.push(RuleError {
                        origin: format!("{name}:0"),
                        sid: None,
                        error: ParseError::Io(e.to_string()),
                    });
                    loader.report.files.push(FileReport {
                        path: name,
                        failed: 1,
                        ..Default::default()
                    });
                }
            }
        }
        loader.finish()
    }

    /// Loads rules from text; `origin` stands for the file name in
    /// `file:line` origins.
    pub fn load_str(text: &str, origin: &str, vars: &Vars) -> (Engine, RuleLoadReport) {
        let mut loader = Loader::new(vars);
        loader.load_text(text, origin);
        loader.finish()
    }

    fn build(mut loaded: Vec<(Rule, RuleMeta)>, order: ActionOrder) -> Engine {
        // Stable: equal keys keep load order. Within an action, rules that
        // set flowbits run before rules that read them (as Suricata).
        loaded.sort_by_key(|(r, m)| (order.rank(m.action), flowbit_role(r), m.severity, m.sid));
        let mut e = Engine {
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            ..Engine::default()
        };
        let mut bit_ids: HashMap<String, u32> = HashMap::new();
        let mut host_ids: HashMap<String, u32> = HashMap::new();
        let mut packet = GroupsBuilder::default();
        let mut payload = GroupsBuilder::default();
        let mut tx = GroupsBuilder::default();
        for (i, (mut rule, meta)) in loaded.into_iter().enumerate() {
            let idx = i as u32;
            for hb in &mut rule.hostbits {
                let next = host_ids.len() as u32;
                hb.id = *host_ids.entry(hb.name.clone()).or_insert(next);
            }
            for fb in &mut rule.flowbits {
                fb.ids = fb
                    .names
                    .iter()
                    .map(|n| {
                        let next = bit_ids.len() as u32;
                        *bit_ids.entry(n.clone()).or_insert_with(|| {
                            e.flowbit_names.push(n.clone());
                            next
                        })
                    })
                    .collect();
            }
            let g: &mut GroupsBuilder = match rule.kind {
                Kind::Packet => &mut packet,
                Kind::Payload => &mut payload,
                Kind::Tx => &mut tx,
            };
            // decode-event rules run only on packets with anomalies.
            if rule.http.is_some() {
                e.http_rules.push(idx);
            } else if rule.tls.is_some() {
                e.tls_rules.push(idx);
            } else if rule.dns.is_some() {
                e.dns_rules.push(idx);
            } else if rule.decode_events.is_empty() {
                g.add(idx, &rule);
            } else {
                e.decode_rules.push(idx);
            }
            e.rules.push(rule);
            e.metas.push(meta);
        }
        e.tls_index = super::tls::TlsIndex::build(e.tls_rules.iter().filter_map(|&i| {
            let r = e.rules.get(i as usize)?.tls.as_deref()?;
            Some((i, r))
        }));
        e.dns_prefilter = dns::DnsPrefilter::build(&e.rules, &e.dns_rules);
        e.http_prefilter = http::HttpPrefilter::build(&e.rules, &e.http_rules);
        e.packet = packet.finish();
        e.payload = payload.finish();
        e.tx = tx.finish();
        e
    }

    /// Attaches threshold.config entries to the loaded rules (see
    /// [`super::threshold::config`]).
    pub fn apply_thresholds(
        &mut self,
        entries: &[super::threshold::config::Entry],
    ) -> super::threshold::config::Applied {
        use super::threshold::config;
        let mut targets: Vec<config::Target<'_>> = self
            .rules
            .iter_mut()
            .zip(&self.metas)
            .map(|(r, m)| config::Target {
                gid: m.gid,
                sid: m.sid,
                limits: &mut r.limits,
                noalert: &mut r.noalert,
            })
            .collect();
        config::apply(entries, &mut targets)
    }

    /// Tests: evaluate every rule of the packet's groups (no prefilter).
    #[cfg(test)]
    pub(crate) fn set_brute_force(&mut self, on: bool) {
        self.brute = on;
    }

    /// Tests: every content pattern of the loaded rules.
    #[cfg(test)]
    pub(crate) fn content_patterns(&self) -> Vec<Vec<u8>> {
        self.rules
            .iter()
            .flat_map(|r| r.payload.items().map(|c| c.pattern.clone()))
            .collect()
    }

    /// The name of flowbit `id` (the low bits of a `fired` entry tagged
    /// with [`super::FLOWBIT_TAG`]).
    pub fn flowbit_name(&self, id: u32) -> Option<&str> {
        self.flowbit_names.get(id as usize).map(String::as_str)
    }

    /// Some rule reads a JA3 or JA3S buffer: with Suricata's
    /// `ja3-fingerprints: auto`, JA3 is then logged.
    pub fn uses_ja3(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.tls.as_deref().is_some_and(super::tls::TlsRule::uses_ja3))
    }

    /// Some rule reads a HASSH buffer (`ssh.hassh*`): as in Suricata, such
    /// a rule turns HASSH computation on whatever the configuration says.
    pub fn uses_hassh(&self) -> bool {
        self.rules.iter().any(|r| {
            SshBuf::ALL
                .iter()
                .filter(|b| !matches!(b, SshBuf::Proto | SshBuf::Software))
                .any(|b| r.ssh.get(b.index()).is_some_and(|l| !l.is_empty()))
        })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// A rule's metadata. `idx` comes from a [`Hit`] or [`FinalAction`];
    /// an index not from this engine panics.
    pub fn rule(&self, idx: u32) -> &RuleMeta {
        &self.metas[idx as usize]
    }

    /// A rule's protocol, or None for an unknown index.
    pub fn rule_proto(&self, idx: u32) -> Option<RuleProto> {
        self.rules.get(idx as usize).map(|r| r.proto)
    }

    /// A rule's metadata, or None for an unknown index.
    pub fn get(&self, idx: u32) -> Option<&RuleMeta> {
        self.metas.get(idx as usize)
    }

    /// Matches the rules against one packet. Results go to `out`, which is
    /// cleared first; `out` also carries this thread's threshold counters,
    /// so use one `Matches` per thread for all its packets.
    ///
    /// `fired` is the flow's detection state, updated here; keep it with
    /// the flow, start it empty, and pass a fresh empty Vec for packets
    /// without a flow. It holds two kinds of entries:
    /// - a rule index: a transaction rule that already fired on the flow's
    ///   to_server side (`TX_TOCLIENT_TAG | index`: on its to_client side);
    /// - `FLOWBIT_TAG | id` (top bit set): flowbit `id` is set on the flow
    ///   (see [`super::flowbits`], [`Engine::flowbit_name`]).
    pub fn inspect<'a>(&self, input: &DetectInput<'a>, fired: &mut Vec<u32>, out: &mut Matches) {
        out.clear();
        if self.rules.is_empty() {
            return;
        }
        out.thresholds.bind(self.id);
        self.inspect_http(input, fired, out);
        self.inspect_tls(input, fired, out);
        self.inspect_dns(input, fired, out);
        let pkt = input.pkt;
        let (sp, dp, has_ports) = match pkt.ports() {
            Some((s, d)) => (s, d, true),
            None => (0, 0, false),
        };
        let ptuple = Tuple {
            src: pkt.ip.src,
            dst: pkt.ip.dst,
            sp,
            dp,
            has_ports,
        };
        let is_tcp = matches!(pkt.l4, L4::Tcp(_));
        let orient = |d: Direction| match input.dir {
            Some(pd) if pd != d => ptuple.swapped(),
            _ => ptuple,
        };

        let mut views: [Option<View>; MAX_VIEWS] = [None; MAX_VIEWS];
        let mut n = 0usize;
        let mut push = |v: View<'a>| {
            if let Some(slot) = views.get_mut(n) {
                *slot = Some(v);
                n += 1;
            }
        };
        push(View {
            tuple: ptuple,
            dir: input.dir,
            kind: ViewKind::Packet,
        });
        if is_tcp && input.dir.is_some() {
            for c in input.stream.iter().take(MAX_CHUNKS) {
                push(View {
                    tuple: orient(c.dir),
                    dir: Some(c.dir),
                    kind: ViewKind::Stream {
                        buf: c.window,
                        new_from: c.new_from,
                    },
                });
            }
        }
        if input.app_is_ssh && input.dir.is_some() {
            // As Suricata, a transaction's side is inspected with packets
            // of its own direction (or the flow-end pseudo packet of it).
            for (d, b) in [
                (Direction::ToServer, input.ssh_client),
                (Direction::ToClient, input.ssh_server),
            ] {
                if input.dir != Some(d) {
                    continue;
                }
                if let Some(b) = b {
                    push(View {
                        tuple: orient(d),
                        dir: Some(d),
                        kind: ViewKind::Tx(b),
                    });
                }
            }
        }

        // Content on the packet itself unless the flow's stream carries it:
        // as Suricata, a TCP packet outside an established session (a lone
        // packet, data on a SYN, no 3-way handshake with midstream off) is
        // inspected as a packet.
        let payload_on_packet = !(is_tcp && input.dir.is_some() && input.established);
        let brute = self.brute;
        for (vi, v) in views.iter().enumerate() {
            let Some(v) = v else { continue };
            let vi = vi as u8;
            let (cand, scan) = (&mut out.cand, &mut out.scan);
            match v.kind {
                ViewKind::Packet => {
                    let buf = Some(pkt.payload);
                    self.packet
                        .set(&pkt.l4)
                        .collect(&v.tuple, buf, vi, brute, cand, scan);
                    if payload_on_packet {
                        self.payload
                            .set(&pkt.l4)
                            .collect(&v.tuple, buf, vi, brute, cand, scan);
                    }
                }
                ViewKind::Stream { buf, .. } => {
                    self.payload
                        .set(&pkt.l4)
                        .collect(&v.tuple, Some(buf), vi, brute, cand, scan)
                }
                ViewKind::Tx(_) => self
                    .tx
                    .set(&pkt.l4)
                    .collect(&v.tuple, None, vi, brute, cand, scan),
            }
        }
        if !pkt.ext.events.is_empty() {
            // decode-event rules, on the packet view (0).
            out.cand.extend(self.decode_rules.iter().map(|&ri| (ri, 0)));
        }
        if out.cand.is_empty() {
            return;
        }
        out.cand.sort_unstable();
        out.cand.dedup();

        let mut last_hit = u32::MAX;
        let mut now: Option<Instant> = None;
        let mut i = 0;
        while let Some(&(ri, vi)) = out.cand.get(i) {
            i += 1;
            if ri == last_hit {
                continue;
            }
            let (Some(rule), Some(meta), Some(Some(view))) = (
                self.rules.get(ri as usize),
                self.metas.get(ri as usize),
                views.get(vi as usize),
            ) else {
                continue;
            };
            // A transaction rule fires once per direction of the
            // transaction, as Suricata's per-direction inspection progress.
            let tx_key = tx_key(ri, view.dir);
            // IP-only rules (flow-scoped packet rules) too are decided once
            // per flow direction.
            let once_per_dir = rule.kind == Kind::Tx
                || (rule.kind == Kind::Packet && rule.ip_only && view.dir.is_some());
            if once_per_dir && fired.contains(&tx_key) {
                continue;
            }
            let (psrc, pdst) = (input.pkt.ip.src, input.pkt.ip.dst);
            if !rule.hostbits.is_empty() {
                let at = *now.get_or_insert_with(Instant::now);
                if !out.hostbits.check(&rule.hostbits, psrc, pdst, at) {
                    continue;
                }
            }
            let ok = self.eval(
                rule,
                view,
                vi as usize,
                input,
                fired,
                &mut out.lower,
                &mut out.lower_ok,
                &mut out.tx_lower,
            );
            if !ok {
                continue;
            }
            if !rule.hostbits.is_empty() {
                let at = *now.get_or_insert_with(Instant::now);
                out.hostbits.apply(&rule.hostbits, psrc, pdst, at);
            }
            let tx = rule.kind == Kind::Tx;
            if once_per_dir {
                fired.push(tx_key);
            }
            if !tx {
                last_hit = ri;
            }
            if input.dir.is_some() && !rule.flowbits.is_empty() {
                flowbits::apply(&rule.flowbits, fired);
            }
            let Some(limited) = limit(rule, meta, ri, input, &mut out.thresholds) else {
                continue;
            };
            let flow_scope = match (rule.kind, view.kind) {
                (Kind::Tx, _) => true,
                (Kind::Payload, ViewKind::Stream { .. }) => true,
                (Kind::Payload, _) => false,
                (Kind::Packet, _) => meta.flow_scope,
            };
            let Limited {
                action,
                alert,
                rate_filter,
            } = limited;
            let hit = Hit {
                rule: ri,
                action,
                tx,
                tx_id: 0,
                dir: view.dir.unwrap_or(Direction::ToServer),
                flow_scope,
                rate_filter,
            };
            let fa = FinalAction {
                action,
                rule: ri,
                flow_scope,
                rate_filter,
            };
            if action == Action::Pass {
                // A pass rule writes an alert only with `alert`; a
                // rate_filter's pass writes none.
                if rule.pass_alert && alert && !rate_filter {
                    out.hits.push(hit);
                }
                // With `drop` ordered before `pass` (action-order), a drop
                // that matched first stands; the pass only ends the rules.
                if !out.action.is_some_and(|a| a.action.blocks()) {
                    out.action = Some(fa);
                }
                break;
            }
            if alert {
                out.hits.push(hit);
            }
            if action.blocks() && out.action.is_none() {
                out.action = Some(fa);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval(
        &self,
        rule: &Rule,
        view: &View,
        vi: usize,
        input: &DetectInput,
        fired: &[u32],
        lower: &mut [Vec<u8>; MAX_VIEWS],
        lower_ok: &mut [bool; MAX_VIEWS],
        tx_lower: &mut Vec<u8>,
    ) -> bool {
        let pkt = input.pkt;
        if !rule.proto.accepts(pkt.ip.proto) {
            return false;
        }
        // A packet whose IP header did not decode meets `pkthdr` rules only.
        if !pkt.ip_decoded() && rule.proto != RuleProto::Pkthdr {
            return false;
        }
        if !decode_event::matches(&rule.decode_events, pkt) {
            return false;
        }
        if (rule.proto == RuleProto::Ssh || rule.kind == Kind::Tx) && !input.app_is_ssh {
            return false;
        }
        if rule.proto == RuleProto::Http && input.http.is_none() {
            return false;
        }
        if rule.proto == RuleProto::Tls && input.tls.is_none() {
            return false;
        }
        if rule.proto == RuleProto::Dns && input.dns.is_none() {
            return false;
        }
        // flow
        let f = &rule.flow;
        if f.needs_flow {
            let Some(d) = view.dir else { return false };
            if f.dir.is_some_and(|want| want != d) {
                return false;
            }
            if f.established.is_some_and(|want| want != input.established) {
                return false;
            }
        }
        if !rule.flowbits.is_empty() {
            // Flowbits need a flow (as in Suricata, also for isnotset).
            if view.dir.is_none() || !flowbits::check(&rule.flowbits, fired) {
                return false;
            }
        }
        // Content is checked last: candidates with content were picked by
        // their fast pattern already.
        if !tuple_matches(rule, &view.tuple) {
            return false;
        }
        let mut vars = [0u64; super::byte::MAX_VARS];
        if !self.eval_headers(rule, view, input, &mut vars) {
            return false;
        }
        match (rule.kind, view.kind) {
            (Kind::Packet, _) if input.pseudo => false,
            (Kind::Packet, ViewKind::Packet) => {
                if let Some(t) = rule.dsize {
                    if !t.matches(pkt.payload.len() as u64) {
                        return false;
                    }
                }
                if rule.itype.is_some() || rule.icode.is_some() {
                    let L4::Icmp(ic) = pkt.l4 else { return false };
                    if rule.itype.is_some_and(|t| !t.matches(ic.itype as u64))
                        || rule.icode.is_some_and(|t| !t.matches(ic.icode as u64))
                    {
                        return false;
                    }
                }
                if let Some(fl) = rule.flags {
                    let L4::Tcp(t) = pkt.l4 else { return false };
                    if !fl.matches(t.flags) {
                        return false;
                    }
                }
                rule.payload.is_empty()
                    || content_on(
                        &rule.payload,
                        pkt.payload,
                        0,
                        vi,
                        lower,
                        lower_ok,
                        &mut vars,
                    )
            }
            (Kind::Payload, ViewKind::Packet) => {
                if rule.proto == RuleProto::TcpStream || rule.flow.only_stream {
                    return false;
                }
                content_on(
                    &rule.payload,
                    pkt.payload,
                    0,
                    vi,
                    lower,
                    lower_ok,
                    &mut vars,
                )
            }
            (Kind::Payload, ViewKind::Stream { buf, new_from }) => {
                content_on(&rule.payload, buf, new_from, vi, lower, lower_ok, &mut vars)
            }
            (Kind::Tx, ViewKind::Tx(b)) => {
                tx_matches(rule, &b, view.dir.unwrap_or(Direction::ToServer), tx_lower)
            }
            _ => false,
        }
    }
}

/// A match that its limits let through.
struct Limited {
    /// The rule's action, or a rate_filter's.
    action: Action,
    /// Write an alert record.
    alert: bool,
    rate_filter: bool,
}

/// Runs a match of rule `ri` through its suppressions and thresholds
/// (counted per packet addresses and in packet time, as Suricata). None:
/// neither alert nor action.
/// A transaction rule (HTTP, TLS, DNS) matched: its flowbits are set, its
/// threshold decides, and the alert and the flow-scoped action are
/// recorded. A pass decides only when nothing decided before it.
#[allow(clippy::too_many_arguments)]
pub(super) fn record_tx_match(
    rule: &Rule,
    meta: &RuleMeta,
    ri: u32,
    input: &DetectInput,
    fired: &mut Vec<u32>,
    out: &mut Matches,
    tx_id: u64,
    dir: Direction,
) {
    if !rule.flowbits.is_empty() {
        flowbits::apply(&rule.flowbits, fired);
    }
    let Some(Limited {
        action,
        alert,
        rate_filter,
    }) = limit(rule, meta, ri, input, &mut out.thresholds)
    else {
        return;
    };
    let fa = FinalAction {
        action,
        rule: ri,
        flow_scope: true,
        rate_filter,
    };
    if action == Action::Pass {
        if out.action.is_none() {
            out.action = Some(fa);
        }
        return;
    }
    if alert {
        out.hits.push(Hit {
            rule: ri,
            action,
            tx: true,
            tx_id,
            dir,
            flow_scope: true,
            rate_filter,
        });
    }
    if action.blocks() && out.action.is_none() {
        out.action = Some(fa);
    }
}

fn limit(
    rule: &Rule,
    meta: &RuleMeta,
    ri: u32,
    input: &DetectInput,
    state: &mut ThresholdState,
) -> Option<Limited> {
    let mut out = Limited {
        action: meta.action,
        alert: !rule.noalert,
        rate_filter: false,
    };
    if rule.limits.is_empty() {
        return Some(out);
    }
    let who = Subject {
        rule: ri,
        sid: meta.sid,
        gid: meta.gid,
        src: input.pkt.ip.src,
        dst: input.pkt.ip.dst,
        ts: input.ts,
    };
    let d = state.decide(&rule.limits, &who);
    if let Some(a) = d.new_action() {
        out.action = a;
        out.rate_filter = true;
    }
    match d {
        Decision::Alert(_) => {}
        Decision::Silent(_) => out.alert = false,
        Decision::Discard => return None,
    }
    Some(out)
}

/// Marks a `fired` entry as a transaction rule that fired on the
/// to_client side (to_server entries are the bare rule index).
const TX_TOCLIENT_TAG: u32 = 0x4000_0000;

/// The `fired` entry of transaction rule `ri` on direction `dir`.
fn tx_key(ri: u32, dir: Option<Direction>) -> u32 {
    match dir {
        Some(Direction::ToClient) => ri | TX_TOCLIENT_TAG,
        _ => ri,
    }
}

/// Sort rank by flowbits use: setters first, then setters that also read,
/// then rules without flowbits, then readers.
fn flowbit_role(rule: &Rule) -> u8 {
    let reads =
        rule.flowbits.iter().any(|f| f.cmd.reads()) || rule.hostbits.iter().any(|h| h.cmd.reads());
    let writes = rule.flowbits.iter().any(|f| !f.cmd.reads())
        || rule.hostbits.iter().any(|h| !h.cmd.reads());
    match (writes, reads) {
        (true, false) => 0,
        (true, true) => 1,
        (false, false) => 2,
        (false, true) => 3,
    }
}

fn tuple_matches(rule: &Rule, t: &Tuple) -> bool {
    let one = |t: &Tuple| {
        address::matches(&rule.src, t.src)
            && address::matches(&rule.dst, t.dst)
            && ports_match(&rule.src_ports, t.sp, t.has_ports)
            && ports_match(&rule.dst_ports, t.dp, t.has_ports)
    };
    one(t) || (rule.dir == RuleDir::Both && one(&t.swapped()))
}

fn ports_match(e: &port::PortExpr, p: u16, has_ports: bool) -> bool {
    if has_ports {
        port::matches(e, p)
    } else {
        e.is_any()
    }
}

fn content_on(
    list: &super::content::ContentList,
    buf: &[u8],
    min_end: usize,
    vi: usize,
    lower: &mut [Vec<u8>; MAX_VIEWS],
    lower_ok: &mut [bool; MAX_VIEWS],
    vars: &mut super::byte::Vars,
) -> bool {
    let low = lowered(list, buf, vi, lower, lower_ok);
    list.matches_vars(buf, low, min_end, vars)
}

impl Engine {
    /// The packet-level tests of the keyword modules: Suricata's payload
    /// mask (`require_payload`), header keywords (`ttl`, `ipopts`, ...)
    /// and the header sticky buffers, whose byte variables later lists
    /// read through `vars`.
    fn eval_headers(
        &self,
        rule: &Rule,
        view: &View,
        input: &DetectInput,
        vars: &mut super::byte::Vars,
    ) -> bool {
        let pkt = input.pkt;
        if let Some(need) = rule.require_payload {
            // (Stream data counts for stream views only: an ACK that
            // makes data inspectable has no payload of its own, and
            // Suricata's dsize rules do not match it.)
            let has = !pkt.payload.is_empty() || matches!(view.kind, ViewKind::Stream { .. });
            if has != need {
                return false;
            }
        }
        if rule.headers.is_empty() && rule.hdr.is_empty() {
            return true;
        }
        let h = super::header::Headers::locate(pkt);
        if !rule
            .headers
            .iter()
            .all(|t| t.matches(pkt, &h, input.stream_size))
        {
            return false;
        }
        rule.hdr.iter().all(|(b, list)| match h.buffer(*b, pkt) {
            // Header buffers are matched case-sensitively as given
            // (nocase content lowers a copy only for the payload).
            Some(buf) => {
                if list.needs_lower() {
                    let mut low = [0u8; 512];
                    match low.get_mut(..buf.len()) {
                        Some(l) => {
                            l.copy_from_slice(buf);
                            l.make_ascii_lowercase();
                            list.matches_vars(buf, l, 0, vars)
                        }
                        None => false,
                    }
                } else {
                    list.matches_vars(buf, buf, 0, vars)
                }
            }
            None => false,
        })
    }
}

/// The lowercase copy of view `vi`'s buffer (made once per packet), or the
/// buffer itself when the list has no `nocase` content.
fn lowered<'b>(
    list: &super::content::ContentList,
    buf: &'b [u8],
    vi: usize,
    lower: &'b mut [Vec<u8>; MAX_VIEWS],
    lower_ok: &mut [bool; MAX_VIEWS],
) -> &'b [u8] {
    if !list.needs_lower() {
        return buf;
    }
    let (Some(l), Some(ok)) = (lower.get_mut(vi), lower_ok.get_mut(vi)) else {
        return buf;
    };
    if !*ok {
        l.clear();
        l.extend(buf.iter().map(|b| b.to_ascii_lowercase()));
        *ok = true;
    }
    l
}

fn tx_matches(rule: &Rule, b: &SshBannerRef, dir: Direction, scratch: &mut Vec<u8>) -> bool {
    for t in &rule.ssh_legacy {
        let ok = match t {
            SshLegacy::ProtoEq(v) => b.proto_version == v,
            SshLegacy::ProtoCompat2 => {
                b.proto_version.starts_with('2') || b.proto_version == "1.99"
            }
            SshLegacy::SoftwarePrefix(p) => b.software_version.starts_with(p.as_str()),
        };
        if !ok {
            return false;
        }
    }
    for buf in SshBuf::ALL {
        let Some(list) = rule.ssh.get(buf.index()) else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        if buf.side().is_some_and(|side| side != dir) {
            return false;
        }
        let value = match buf {
            SshBuf::Proto => Some(b.proto_version),
            SshBuf::Software => Some(b.software_version),
            SshBuf::Hassh | SshBuf::HasshServer => b.hassh,
            SshBuf::HasshString | SshBuf::HasshServerString => b.hassh_string,
        };
        let Some(value) = value else {
            return false;
        };
        scratch.clear();
        scratch.extend(value.bytes().map(|c| c.to_ascii_lowercase()));
        if !list.matches(value.as_bytes(), scratch, 0) {
            return false;
        }
    }
    true
}

struct Loader<'v> {
    vars: &'v Vars,
    order: ActionOrder,
    rules: Vec<(Rule, RuleMeta)>,
    seen: HashMap<(u32, u32), String>,
    report: RuleLoadReport,
}

impl<'v> Loader<'v> {
    fn new(vars: &'v Vars) -> Loader<'v> {
        Loader {
            vars,
            order: ActionOrder::default(),
            rules: Vec::new(),
            seen: HashMap::new(),
            report: RuleLoadReport::default(),
        }
    }

    fn load_text(&mut self, text: &str, file: &str) {
        let mut fr = FileReport {
            path: file.to_string(),
            ..Default::default()
        };
        for rt in parse::split_rules(text) {
            let origin = format!("{file}:{}", rt.line);
            match parse::parse_rule(&rt.text, &origin, self.vars) {
                Parsed::Ok(rule, meta) => {
                    let key = (meta.gid, meta.sid);
                    if let Some(first) = self.seen.get(&key) {
                        fr.failed += 1;
                        self.report.errors.push(RuleError {
                            origin,
                            sid: Some(meta.sid),
                            error: ParseError::DuplicateSid {
                                gid: meta.gid,
                                sid: meta.sid,
                                first: first.clone(),
                            },
                        });
                        continue;
                    }
                    self.seen.insert(key, origin);
                    fr.loaded += 1;
                    self.rules.push((*rule, *meta));
                }
                Parsed::Unsupported { sid, keyword } => {
                    tracing::warn!(
                        sid = sid.unwrap_or(0),
                        keyword = %keyword,
                        origin = %origin,
                        "rule skipped: unsupported keyword"
                    );
                    *self
                        .report
                        .skipped_by_keyword
                        .entry(keyword.to_string())
                        .or_default() += 1;
                    fr.skipped += 1;
                }
                Parsed::Error { sid, error } => {
                    fr.failed += 1;
                    self.report.errors.push(RuleError { origin, sid, error });
                }
            }
        }
        self.report.loaded += fr.loaded;
        self.report.skipped += fr.skipped;
        self.report.failed += fr.failed;
        self.report.files.push(fr);
    }

    fn finish(self) -> (Engine, RuleLoadReport) {
        (Engine::build(self.rules, self.order), self.report)
    }
}

// TLS: rules with a TLS part run here, once per direction of the flow's
// transaction, in the directions the parser marked in this packet (see
// `crate::app::tls` and `super::tls`).
impl Engine {
    fn inspect_tls(&self, input: &DetectInput, fired: &mut Vec<u32>, out: &mut Matches) {
        let Some(t) = input.tls else { return };
        if self.tls_rules.is_empty() || !t.marks.iter().any(|&m| m) {
            return;
        }
        let Some(pdir) = input.dir else { return };
        let pkt = input.pkt;
        let Some(ptuple) = Tuple::of_ported(pkt) else {
            return;
        };
        let now = input.ts.secs;
        for dir in [Direction::ToServer, Direction::ToClient] {
            if !t.marks.get(dir.index()).copied().unwrap_or(false) {
                continue;
            }
            let tuple = if dir != pdir {
                ptuple.swapped()
            } else {
                ptuple
            };
            self.tls_index.candidates(t, dir, &mut out.tls);
            let cand = std::mem::take(&mut out.tls.cand);
            for &ri in &cand {
                let (Some(rule), Some(meta)) =
                    (self.rules.get(ri as usize), self.metas.get(ri as usize))
                else {
                    continue;
                };
                let Some(tr) = rule.tls.as_deref() else {
                    continue;
                };
                if tr.dir.is_some_and(|d| d != dir) || !rule.proto.accepts(pkt.ip.proto) {
                    continue;
                }
                let key = tx_key(ri, Some(dir));
                if fired.contains(&key) || !tr.ready(t, dir) {
                    continue;
                }
                let f = &rule.flow;
                if f.dir.is_some_and(|d| d != dir) || f.established == Some(false) {
                    continue;
                }
                if !rule.flowbits.is_empty() && !flowbits::check(&rule.flowbits, fired) {
                    continue;
                }
                if !tuple_matches(rule, &tuple) {
                    continue;
                }
                if !super::tls::matches(tr, t, dir, now, &mut out.tls) {
                    continue;
                }
                fired.push(key);
                record_tx_match(rule, meta, ri, input, fired, out, 0, dir);
            }
            out.tls.cand = cand;
        }
    }
}

//! The loaded rule set and per-packet matching.
//!
//! Rules are sorted once by Suricata's action order (pass, drop, reject,
//! alert), then priority, then sid, so a rule's index is its evaluation
//! rank. They are grouped by how they are inspected (packet, payload/stream,
//! SSH transaction), by protocol, and by destination port, so a packet only
//! looks at the rules that could apply to it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use super::address;
use super::parse::{self, ParseError, Parsed};
use super::port;
use super::rule::*;
use super::{DetectInput, FileReport, RuleError, RuleLoadReport, SshBannerRef, Vars};
use crate::decode::L4;
use crate::packet::Direction;

/// A rule whose destination ports list at most this many ports goes into
/// per-port buckets; others are checked for every packet of the protocol.
const PORT_BUCKET_LIMIT: usize = 32;
/// Views per packet: the packet, two stream chunks, two SSH banners.
const MAX_VIEWS: usize = 5;
const MAX_CHUNKS: usize = 2;

/// One matched rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index for [`Engine::rule`].
    pub rule: u32,
    pub action: Action,
    /// Matched on an SSH transaction (`ssh.*`).
    pub tx: bool,
    /// Orientation of the match: the flow direction of the inspected data
    /// (to_server when the packet has no flow).
    pub dir: Direction,
    /// The rule's action applies to the whole flow (transaction, stream
    /// or IP-only match), not just this packet.
    pub flow_scope: bool,
}

/// The verdict-relevant outcome: the first `pass`, or the first
/// `drop`/`reject` in action order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalAction {
    /// `Pass`, `Drop` or `Reject(_)`.
    pub action: Action,
    pub rule: u32,
    pub flow_scope: bool,
}

/// Results for one packet; reuse one per thread (buffers keep their
/// capacity, so steady state does not allocate).
#[derive(Debug, Default)]
pub struct Matches {
    /// Alert-producing matches (alert, drop, reject) in action order.
    pub hits: Vec<Hit>,
    pub action: Option<FinalAction>,
    cand: Vec<(u32, u8)>,
    lower: [Vec<u8>; MAX_VIEWS],
    lower_ok: [bool; MAX_VIEWS],
    tx_lower: Vec<u8>,
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
}

#[derive(Debug, Default)]
struct PortGroup {
    by_dport: HashMap<u16, Vec<u32>>,
    any: Vec<u32>,
}

impl PortGroup {
    fn add(&mut self, idx: u32, rule: &Rule) {
        let ports = match rule.dir {
            RuleDir::Forward => port::small_port_set(&rule.dst_ports, PORT_BUCKET_LIMIT),
            RuleDir::Both => None,
        };
        match ports {
            Some(ps) => {
                for p in ps {
                    self.by_dport.entry(p).or_default().push(idx);
                }
            }
            None => self.any.push(idx),
        }
    }

    fn collect(&self, dport: u16, view: u8, out: &mut Vec<(u32, u8)>) {
        if let Some(v) = self.by_dport.get(&dport) {
            out.extend(v.iter().map(|&r| (r, view)));
        }
        out.extend(self.any.iter().map(|&r| (r, view)));
    }
}

/// Rules of one inspection kind, by protocol.
#[derive(Debug, Default)]
struct Groups {
    tcp: PortGroup,
    udp: PortGroup,
    icmp: Vec<u32>,
    other: Vec<u32>,
}

impl Groups {
    fn add(&mut self, idx: u32, rule: &Rule) {
        if rule.proto.accepts(6) {
            self.tcp.add(idx, rule);
        }
        if rule.proto.accepts(17) {
            self.udp.add(idx, rule);
        }
        if rule.proto.accepts(1) || rule.proto.accepts(58) {
            self.icmp.push(idx);
        }
        if rule.proto == RuleProto::Ip {
            self.other.push(idx);
        }
    }

    fn collect(&self, t: &Tuple, l4: &L4, view: u8, out: &mut Vec<(u32, u8)>) {
        match l4 {
            L4::Tcp(_) => self.tcp.collect(t.dp, view, out),
            L4::Udp(_) => self.udp.collect(t.dp, view, out),
            L4::Icmp(_) => out.extend(self.icmp.iter().map(|&r| (r, view))),
            L4::Other => out.extend(self.other.iter().map(|&r| (r, view))),
        }
    }
}

/// The loaded rules. Immutable after loading; `Send + Sync`.
#[derive(Debug, Default)]
pub struct Engine {
    rules: Vec<Rule>,
    metas: Vec<RuleMeta>,
    packet: Groups,
    payload: Groups,
    tx: Groups,
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
        let mut loader = Loader::new(vars);
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

    fn build(mut loaded: Vec<(Rule, RuleMeta)>) -> Engine {
        // Stable: equal keys keep load order.
        loaded.sort_by_key(|(_, m)| (m.action.order(), m.severity, m.sid));
        let mut e = Engine::default();
        for (i, (rule, meta)) in loaded.into_iter().enumerate() {
            let idx = i as u32;
            match rule.kind {
                Kind::Packet => e.packet.add(idx, &rule),
                Kind::Payload => e.payload.add(idx, &rule),
                Kind::Tx => e.tx.add(idx, &rule),
            }
            e.rules.push(rule);
            e.metas.push(meta);
        }
        e
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

    /// A rule's metadata, or None for an unknown index.
    pub fn get(&self, idx: u32) -> Option<&RuleMeta> {
        self.metas.get(idx as usize)
    }

    /// Matches the rules against one packet. `fired` is the flow's list of
    /// transaction rules that already fired (updated here). Results go to
    /// `out`, which is cleared first.
    pub fn inspect<'a>(&self, input: &DetectInput<'a>, fired: &mut Vec<u32>, out: &mut Matches) {
        out.clear();
        if self.rules.is_empty() {
            return;
        }
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
            for (d, b) in [
                (Direction::ToServer, input.ssh_client),
                (Direction::ToClient, input.ssh_server),
            ] {
                if let Some(b) = b {
                    push(View {
                        tuple: orient(d),
                        dir: Some(d),
                        kind: ViewKind::Tx(b),
                    });
                }
            }
        }

        // Content on the packet itself unless the flow's stream carries it.
        let payload_on_packet = !(is_tcp && input.dir.is_some());
        for (vi, v) in views.iter().enumerate() {
            let Some(v) = v else { continue };
            let vi = vi as u8;
            match v.kind {
                ViewKind::Packet => {
                    self.packet.collect(&v.tuple, &pkt.l4, vi, &mut out.cand);
                    if payload_on_packet {
                        self.payload.collect(&v.tuple, &pkt.l4, vi, &mut out.cand);
                    }
                }
                ViewKind::Stream { .. } => {
                    self.payload.collect(&v.tuple, &pkt.l4, vi, &mut out.cand)
                }
                ViewKind::Tx(_) => self.tx.collect(&v.tuple, &pkt.l4, vi, &mut out.cand),
            }
        }
        if out.cand.is_empty() {
            return;
        }
        out.cand.sort_unstable();
        out.cand.dedup();

        let mut last_hit = u32::MAX;
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
            if rule.kind == Kind::Tx && fired.contains(&ri) {
                continue;
            }
            let ok = self.eval(
                rule,
                view,
                vi as usize,
                input,
                &mut out.lower,
                &mut out.lower_ok,
                &mut out.tx_lower,
            );
            if !ok {
                continue;
            }
            last_hit = ri;
            let tx = rule.kind == Kind::Tx;
            if tx {
                fired.push(ri);
            }
            let flow_scope = match (rule.kind, view.kind) {
                (Kind::Tx, _) => true,
                (Kind::Payload, ViewKind::Stream { .. }) => true,
                (Kind::Payload, _) => false,
                (Kind::Packet, _) => meta.flow_scope,
            };
            let action = meta.action;
            if action == Action::Pass {
                out.action = Some(FinalAction {
                    action,
                    rule: ri,
                    flow_scope,
                });
                break;
            }
            out.hits.push(Hit {
                rule: ri,
                action,
                tx,
                dir: view.dir.unwrap_or(Direction::ToServer),
                flow_scope,
            });
            if matches!(action, Action::Drop | Action::Reject(_)) && out.action.is_none() {
                out.action = Some(FinalAction {
                    action,
                    rule: ri,
                    flow_scope,
                });
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
        lower: &mut [Vec<u8>; MAX_VIEWS],
        lower_ok: &mut [bool; MAX_VIEWS],
        tx_lower: &mut Vec<u8>,
    ) -> bool {
        let pkt = input.pkt;
        if !rule.proto.accepts(pkt.ip.proto) {
            return false;
        }
        if (rule.proto == RuleProto::Ssh || rule.kind == Kind::Tx) && !input.app_is_ssh {
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
        // The fast-pattern check rejects most content rules; run it before
        // the address tests.
        let content_buf = match (rule.kind, view.kind) {
            (Kind::Packet | Kind::Payload, ViewKind::Packet) => Some(pkt.payload),
            (Kind::Payload, ViewKind::Stream { buf, .. }) => Some(buf),
            _ => None,
        };
        if let Some(buf) = content_buf {
            if !rule.payload.is_empty() {
                let low = lowered(&rule.payload, buf, vi, lower, lower_ok);
                if !rule.payload.prefilter(buf, low) {
                    return false;
                }
            }
        }
        if !tuple_matches(rule, &view.tuple) {
            return false;
        }
        match (rule.kind, view.kind) {
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
                    || content_on(&rule.payload, pkt.payload, 0, vi, lower, lower_ok)
            }
            (Kind::Payload, ViewKind::Packet) => {
                if rule.proto == RuleProto::TcpStream || rule.flow.only_stream {
                    return false;
                }
                content_on(&rule.payload, pkt.payload, 0, vi, lower, lower_ok)
            }
            (Kind::Payload, ViewKind::Stream { buf, new_from }) => {
                content_on(&rule.payload, buf, new_from, vi, lower, lower_ok)
            }
            (Kind::Tx, ViewKind::Tx(b)) => tx_matches(rule, &b, tx_lower),
            _ => false,
        }
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
) -> bool {
    let low = lowered(list, buf, vi, lower, lower_ok);
    list.matches(buf, low, min_end)
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

fn tx_matches(rule: &Rule, b: &SshBannerRef, scratch: &mut Vec<u8>) -> bool {
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
    let mut check = |list: &super::content::ContentList, s: &str| {
        if list.is_empty() {
            return true;
        }
        scratch.clear();
        scratch.extend(s.bytes().map(|c| c.to_ascii_lowercase()));
        list.matches(s.as_bytes(), scratch, 0)
    };
    check(&rule.ssh_proto, b.proto_version) && check(&rule.ssh_software, b.software_version)
}

struct Loader<'v> {
    vars: &'v Vars,
    rules: Vec<(Rule, RuleMeta)>,
    seen: HashMap<(u32, u32), String>,
    report: RuleLoadReport,
}

impl<'v> Loader<'v> {
    fn new(vars: &'v Vars) -> Loader<'v> {
        Loader {
            vars,
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
        (Engine::build(self.rules), self.report)
    }
}

//! The `tag` keyword (Suricata's `detect-tag.c`, `detect-engine-tag.c`):
//! after a rule with `tag` alerts, the following packets of its session, or
//! of its source or destination host, are "tagged" and written as EVE
//! `packet` events (with `alert: {tagged-packets: yes}`).
//!
//! Semantics follow Suricata 7: the alerting packet counts as the first
//! packet of a tag but is not logged (the alert carries it); a tag expires
//! when its packet, byte or second budget is spent. `tag:session` without
//! a count tags 256 packets. A host tag applies to every IP packet to or
//! from that host.
//!
//! State is per worker thread and bounded: at most [`MAX_TAGGED_FLOWS`]
//! flows and [`MAX_TAGGED_HOSTS`] hosts carry tags, and a flow or host at
//! most [`MAX_TAGS_PER_KEY`] tags; further tags are not added.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::packet::Timestamp;

/// Suricata's `DETECT_TAG_MAX_PKTS`: the budget of `tag:session`.
pub const DEFAULT_SESSION_PACKETS: u32 = 256;
/// Flows with tags per thread.
pub const MAX_TAGGED_FLOWS: usize = 65_536;
/// Hosts with tags per thread.
pub const MAX_TAGGED_HOSTS: usize = 65_536;
/// Suricata's `DETECT_TAG_MAX_TAGS`.
pub const MAX_TAGS_PER_KEY: usize = 50;

/// What a tag covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagScope {
    Session,
    /// The alerting packet's source host.
    HostSrc,
    /// The alerting packet's destination host.
    HostDst,
}

/// The unit of a tag's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMetric {
    Packets,
    Bytes,
    Seconds,
}

/// One `tag` option of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagSpec {
    pub scope: TagScope,
    pub count: u32,
    pub metric: TagMetric,
}

/// Parses `tag`'s value: `session|host[, count, packets|bytes|seconds[,
/// src|dst]]`.
pub fn parse(s: &str) -> Result<TagSpec, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let host = match parts.first().copied() {
        Some("session") => false,
        Some("host") => true,
        _ => return Err("expected session or host".into()),
    };
    let (count, metric) = match parts.len() {
        1 => (DEFAULT_SESSION_PACKETS, TagMetric::Packets),
        3 | 4 => {
            let count = parts
                .get(1)
                .and_then(|c| c.parse::<u32>().ok())
                .ok_or("expected a count")?;
            let metric = match parts.get(2).copied() {
                Some("packets") => TagMetric::Packets,
                Some("bytes") => TagMetric::Bytes,
                Some("seconds") => TagMetric::Seconds,
                _ => return Err("expected packets, bytes or seconds".into()),
            };
            (count, metric)
        }
        _ => return Err("expected type, count, metric[, direction]".into()),
    };
    let scope = match (host, parts.get(3).copied()) {
        (false, None) => TagScope::Session,
        (false, Some(_)) => return Err("a session tag has no direction".into()),
        (true, None | Some("src")) => TagScope::HostSrc,
        (true, Some("dst")) => TagScope::HostDst,
        (true, Some(_)) => return Err("expected src or dst".into()),
    };
    Ok(TagSpec {
        scope,
        count,
        metric,
    })
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    spec: TagSpec,
    first_secs: i64,
    packets: u64,
    bytes: u64,
    skipped_first: bool,
}

impl Entry {
    /// Counts the packet; returns (tag it, keep the entry).
    fn on_packet(&mut self, ts: Timestamp, len: u64) -> (bool, bool) {
        self.packets += 1;
        self.bytes += len;
        if !self.skipped_first {
            self.skipped_first = true;
            return (false, true);
        }
        let count = u64::from(self.spec.count);
        let expired = match self.spec.metric {
            TagMetric::Packets => self.packets > count,
            TagMetric::Bytes => self.bytes > count,
            TagMetric::Seconds => ts.secs.saturating_sub(self.first_secs) as u64 > count,
        };
        (!expired, !expired)
    }
}

/// The tags of one worker thread.
#[derive(Debug, Default)]
pub struct Tagger {
    flows: HashMap<u64, Vec<Entry>>,
    hosts: HashMap<IpAddr, Vec<Entry>>,
}

fn add(list: &mut Vec<Entry>, spec: TagSpec, ts: Timestamp) {
    if list.len() >= MAX_TAGS_PER_KEY {
        tracing::debug!("tag limit reached, tag not added");
        return;
    }
    list.push(Entry {
        spec,
        first_secs: ts.secs,
        packets: 0,
        bytes: 0,
        skipped_first: false,
    });
}

/// Counts the packet on every entry of `list`, drops expired ones.
fn run(list: &mut Vec<Entry>, ts: Timestamp, len: u64) -> bool {
    let mut tagged = false;
    list.retain_mut(|e| {
        let (tag, keep) = e.on_packet(ts, len);
        tagged |= tag;
        keep
    });
    tagged
}

impl Tagger {
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty() && self.hosts.is_empty()
    }

    /// Records the tags of an alert on a packet from `src` to `dst` of
    /// flow `flow_id` (None: no flow; session tags are then ignored).
    pub fn add(
        &mut self,
        specs: &[TagSpec],
        flow_id: Option<u64>,
        src: IpAddr,
        dst: IpAddr,
        ts: Timestamp,
    ) {
        for &spec in specs {
            match spec.scope {
                TagScope::Session => {
                    let Some(id) = flow_id else { continue };
                    if self.flows.len() >= MAX_TAGGED_FLOWS && !self.flows.contains_key(&id) {
                        tracing::debug!("tagged flow limit reached, session tag not added");
                        continue;
                    }
                    add(self.flows.entry(id).or_default(), spec, ts);
                }
                TagScope::HostSrc | TagScope::HostDst => {
                    let host = if spec.scope == TagScope::HostSrc {
                        src
                    } else {
                        dst
                    };
                    if self.hosts.len() >= MAX_TAGGED_HOSTS && !self.hosts.contains_key(&host) {
                        tracing::debug!("tagged host limit reached, host tag not added");
                        continue;
                    }
                    add(self.hosts.entry(host).or_default(), spec, ts);
                }
            }
        }
    }

    /// Counts an IP packet against the tags of its flow and hosts; true
    /// when the packet is tagged (to be logged). `len`: the packet's
    /// length for byte budgets.
    pub fn on_packet(
        &mut self,
        flow_id: Option<u64>,
        src: IpAddr,
        dst: IpAddr,
        ts: Timestamp,
        len: u64,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut tagged = false;
        if let Some(id) = flow_id {
            if let Some(list) = self.flows.get_mut(&id) {
                tagged |= run(list, ts, len);
                if list.is_empty() {
                    self.flows.remove(&id);
                }
            }
        }
        for host in [src, dst] {
            if let Some(list) = self.hosts.get_mut(&host) {
                tagged |= run(list, ts, len);
                if list.is_empty() {
                    self.hosts.remove(&host);
                }
            }
        }
        tagged
    }

    /// Forgets the session tags of a flow that ended.
    pub fn end_flow(&mut self, flow_id: u64) {
        self.flows.remove(&flow_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp { secs, micros: 0 }
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            parse("session"),
            Ok(TagSpec {
                scope: TagScope::Session,
                count: 256,
                metric: TagMetric::Packets
            })
        );
        assert_eq!(
            parse("host, 9, packets, dst").unwrap().scope,
            TagScope::HostDst
        );
        assert_eq!(parse("host,100,packets").unwrap().scope, TagScope::HostSrc);
        assert_eq!(
            parse("session,10,seconds").unwrap().metric,
            TagMetric::Seconds
        );
        assert!(parse("host,x,packets").is_err());
        assert!(parse("session,1,packets,src").is_err());
        assert!(parse("flow").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn host_tag_counts_alerting_packet() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut t = Tagger::default();
        t.add(
            &[parse("host,3,packets,src").unwrap()],
            Some(1),
            a,
            b,
            ts(0),
        );
        // The alerting packet itself.
        assert!(!t.on_packet(Some(1), a, b, ts(0), 60));
        assert!(t.on_packet(Some(1), b, a, ts(0), 60));
        assert!(t.on_packet(Some(2), a, b, ts(0), 60));
        assert!(!t.on_packet(Some(2), a, b, ts(0), 60));
        assert!(t.is_empty());
    }

    #[test]
    fn session_tag_only_its_flow() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut t = Tagger::default();
        t.add(&[parse("session").unwrap()], Some(7), a, b, ts(0));
        assert!(!t.on_packet(Some(7), a, b, ts(0), 60));
        assert!(!t.on_packet(Some(8), a, b, ts(0), 60));
        assert!(t.on_packet(Some(7), b, a, ts(0), 60));
        t.end_flow(7);
        assert!(t.is_empty());
    }
}

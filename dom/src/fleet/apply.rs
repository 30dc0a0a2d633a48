//! What the engine does with a received batch, before one netlink
//! transaction applies it.
//!
//! * A ban is checked against THIS gateway's `allow`, `home_net` and own
//!   addresses (the sender's guard is not trusted); refused ones are
//!   counted and logged.
//! * A ban whose `until_ms` has passed is not applied (no resurrection).
//! * A ban only ever extends: one not later than what this gateway holds
//!   (from its own heuristics or an earlier message) changes nothing.
//! * An unban removes the address if this gateway holds it.
//! * Within a batch the last decision per address wins, in stream order.
//! * After a snapshot, bans this gateway took from the fleet that are no
//!   longer in the fleet's active set were lifted while it was away (their
//!   unban was trimmed from the stream): they are removed too.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use crate::fleet::wire::Op;
use crate::fleet::{Batch, FleetStats};
use crate::guard::Guard;
use crate::state::{BanRecord, BanStore};

/// Prefix of the `reason` of bans taken from the fleet.
pub const FLEET_REASON: &str = "fleet origin=";

/// The changes one batch makes.
#[derive(Debug, Default)]
pub struct Plan {
    /// New or extended bans, with their absolute expiry in `expires`.
    pub adds: Vec<BanRecord>,
    /// Addresses to unban (only ones this gateway holds).
    pub removes: Vec<IpAddr>,
}

fn is_fleet(r: &BanRecord) -> bool {
    r.reason.starts_with(FLEET_REASON)
}

pub fn plan(batch: &Batch, store: &BanStore, guard: &Guard, stats: &FleetStats, now: u64) -> Plan {
    // Final action per address (None = unban), first-seen order kept.
    let mut order: Vec<IpAddr> = Vec::new();
    let mut act: HashMap<IpAddr, Option<BanRecord>> = HashMap::new();
    for d in &batch.items {
        let ip = d.ip;
        match d.op {
            Op::Unban => {
                if act.insert(ip, None).is_none() {
                    order.push(ip);
                }
            }
            Op::Ban => {
                if d.until_ms <= now {
                    stats.expired_on_arrival.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Err(why) = guard.check(ip) {
                    let n = stats.refused.fetch_add(1, Ordering::Relaxed);
                    if n < 10 || n.is_power_of_two() {
                        tracing::warn!(%ip, origin = %d.origin, "fleet: not applying a received ban: {why}");
                    }
                    continue;
                }
                let held = match act.get(&ip) {
                    Some(Some(r)) => Some(r.clone()),
                    Some(None) => None,
                    None => store.get(ip),
                };
                if held.as_ref().is_some_and(|h| d.until_ms <= h.expires) {
                    stats.not_longer.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let mut reason = format!("{FLEET_REASON}{}", d.origin);
                if !d.reason.is_empty() {
                    reason.push(' ');
                    reason.extend(d.reason.chars().take(512));
                }
                let r = BanRecord {
                    ip,
                    rule: if d.rule.is_empty() {
                        "fleet".into()
                    } else {
                        d.rule.chars().take(128).collect()
                    },
                    reason,
                    client: d.client.as_ref().map(|c| c.chars().take(256).collect()),
                    first_seen: held.as_ref().map(|h| h.first_seen).unwrap_or(now),
                    last_seen: now,
                    count: held.as_ref().map(|h| h.count + 1).unwrap_or(1),
                    offence: held.as_ref().map(|h| h.offence).unwrap_or(1),
                    expires: d.until_ms,
                };
                if act.insert(ip, Some(r)).is_none() {
                    order.push(ip);
                }
            }
        }
    }
    let mut p = Plan::default();
    for ip in order {
        match act.remove(&ip) {
            Some(Some(r)) => p.adds.push(r),
            Some(None) if store.get(ip).is_some() => p.removes.push(ip),
            _ => {}
        }
    }
    if batch.snapshot {
        let live: HashSet<IpAddr> = batch.items.iter().map(|d| d.ip).collect();
        for r in store.records() {
            if is_fleet(&r) && !live.contains(&r.ip) && !p.removes.contains(&r.ip) {
                p.removes.push(r.ip);
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::wire::{Decision, StreamId};
    use meerkat_shared::net::NetList;

    fn d(op: Op, ip: &str, until: u64, origin: &str) -> Decision {
        Decision {
            v: 1,
            op,
            ip: ip.parse().unwrap(),
            until_ms: until,
            rule: "r".into(),
            reason: "why".into(),
            client: None,
            origin: origin.into(),
            id: "x".into(),
            event: None,
        }
    }

    fn batch(items: Vec<Decision>, snapshot: bool) -> Batch {
        Batch {
            items,
            cursor: StreamId::ZERO,
            snapshot,
        }
    }

    #[test]
    fn trust_expiry_extension_and_order() {
        let dir = std::env::temp_dir().join(format!("mk-apply-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = 1_800_000_000_000;
        let mut store = BanStore::open(&dir, std::time::Duration::from_secs(3600), now).unwrap();
        let allow: NetList = NetList(vec!["192.0.2.0/24".parse().unwrap()]);
        let guard = Guard::new(
            allow,
            NetList(vec![]),
            ["203.0.113.1".parse().unwrap()],
            false,
        );
        let stats = FleetStats::default();
        let p = plan(
            &batch(
                vec![
                    d(Op::Ban, "198.51.100.1", now + 60_000, "gw1"),
                    d(Op::Ban, "192.0.2.5", now + 60_000, "gw1"),
                    d(Op::Ban, "203.0.113.1", now + 60_000, "gw1"),
                    d(Op::Ban, "198.51.100.2", now - 1, "gw1"),
                    d(Op::Ban, "198.51.100.3", now + 60_000, "gw1"),
                    d(Op::Unban, "198.51.100.3", 0, "gw1"),
                    d(Op::Ban, "198.51.100.1", now + 30_000, "gw2"),
                ],
                false,
            ),
            &store,
            &guard,
            &stats,
            now,
        );
        assert_eq!(p.adds.len(), 1);
        assert_eq!(
            p.adds[0].expires,
            now + 60_000,
            "a shorter ban does not shorten"
        );
        assert!(p.adds[0].reason.starts_with("fleet origin=gw1"));
        assert!(p.removes.is_empty(), "198.51.100.3 is not held here");
        assert_eq!(stats.refused.load(Ordering::Relaxed), 2);
        assert_eq!(stats.expired_on_arrival.load(Ordering::Relaxed), 1);
        assert_eq!(stats.not_longer.load(Ordering::Relaxed), 1);
        for r in p.adds {
            store.put(r).unwrap();
        }
        // Snapshot without 198.51.100.1: it was lifted while we were away.
        let p = plan(
            &batch(
                vec![d(Op::Ban, "198.51.100.9", now + 5000, "snapshot")],
                true,
            ),
            &store,
            &guard,
            &stats,
            now,
        );
        assert_eq!(p.adds.len(), 1);
        assert_eq!(p.removes, vec!["198.51.100.1".parse::<IpAddr>().unwrap()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

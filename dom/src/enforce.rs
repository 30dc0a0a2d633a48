//! Enforcement: every configured backend gets the same batches; one `add`
//! per backend per read cycle. Reconciliation compares what the kernel
//! holds with the active bans and repairs the difference.

use std::net::IpAddr;
use std::time::Duration;

use crate::backend::{Backend, BackendConfig, BackendError, BackendKind, BanEntry};

/// Elements closer than this to their expiry are not re-added by
/// reconciliation (the kernel may already have expired them).
const RECONCILE_SLACK: Duration = Duration::from_secs(2);

struct Slot {
    cfg: BackendConfig,
    backend: Box<dyn Backend>,
    /// The last operation failed (so recovery is logged once).
    failing: bool,
}

/// Owns the backends. Used from the engine thread only.
#[derive(Default)]
pub struct Enforcer {
    slots: Vec<Slot>,
    pub errors: u64,
    pub readded: u64,
    pub recreated: u64,
}

impl Enforcer {
    /// Builds every backend; a backend that cannot be built fails start-up
    /// (its error says what to install or fix).
    pub fn build(
        cfgs: &[BackendConfig],
        build: impl Fn(&BackendConfig) -> Result<Box<dyn Backend>, BackendError>,
    ) -> Result<Enforcer, BackendError> {
        let mut e = Enforcer::default();
        for c in cfgs {
            let b = build(c)?;
            e.push(c.clone(), b);
        }
        Ok(e)
    }

    pub fn push(&mut self, cfg: BackendConfig, backend: Box<dyn Backend>) {
        self.slots.push(Slot {
            cfg,
            backend,
            failing: false,
        });
    }

    pub fn configs(&self) -> Vec<BackendConfig> {
        self.slots.iter().map(|s| s.cfg.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| s.backend.name().to_string())
            .collect()
    }

    /// Verifies or creates every backend's table and sets. Errors are
    /// logged; the daemon keeps running and reconciliation retries.
    pub fn ensure_all(&mut self) -> usize {
        let mut ok = 0;
        for s in &mut self.slots {
            match s.backend.ensure() {
                Ok(()) => ok += 1,
                Err(e) => {
                    self.errors += 1;
                    s.failing = true;
                    tracing::error!(backend = s.backend.name(), error = %e, "backend not ready");
                }
            }
        }
        ok
    }

    /// Adds or refreshes `entries` in every backend (one batch each).
    /// Returns how many backends took the batch.
    pub fn add(&mut self, entries: &[BanEntry]) -> usize {
        if entries.is_empty() {
            return self.slots.len();
        }
        let mut ok = 0;
        for s in &mut self.slots {
            match s.backend.add(entries) {
                Ok(()) => {
                    ok += 1;
                    s.failing = false;
                }
                Err(e) => {
                    self.errors += 1;
                    s.failing = true;
                    tracing::error!(backend = s.backend.name(), n = entries.len(), error = %e, "adding bans failed; reconciliation will retry");
                }
            }
        }
        ok
    }

    pub fn remove(&mut self, ips: &[IpAddr]) -> usize {
        if ips.is_empty() {
            return self.slots.len();
        }
        let mut ok = 0;
        for s in &mut self.slots {
            match s.backend.remove(ips) {
                Ok(()) => ok += 1,
                Err(e) => {
                    self.errors += 1;
                    tracing::error!(backend = s.backend.name(), error = %e, "removing bans failed");
                }
            }
        }
        ok
    }

    pub fn flush(&mut self) -> usize {
        let mut ok = 0;
        for s in &mut self.slots {
            match s.backend.flush() {
                Ok(()) => ok += 1,
                Err(e) => {
                    self.errors += 1;
                    tracing::error!(backend = s.backend.name(), error = %e, "flushing sets failed");
                }
            }
        }
        ok
    }

    /// Elements per backend as the kernel reports them (for status).
    pub fn list_counts(&mut self) -> Vec<(String, Result<usize, String>)> {
        self.slots
            .iter_mut()
            .map(|s| {
                let mut n = 0usize;
                let r = s.backend.list_each(&mut |_, _| n += 1);
                (
                    s.backend.name().to_string(),
                    r.map(|()| n).map_err(|e| e.to_string()),
                )
            })
            .collect()
    }

    /// Makes every backend hold every active ban. The kernel's elements are
    /// streamed into marks on `active` (no copy of 100,000 elements is
    /// built); the unmarked bans are re-added with their remaining time.
    /// When a backend cannot be listed (table or set gone) and it is
    /// managed, it is recreated and refilled; unmanaged backends get an
    /// error logged on every pass.
    pub fn reconcile(&mut self, active: &mut dyn ActiveBans, now: u64) {
        for s in &mut self.slots {
            let name = s.backend.name().to_string();
            // An `ip` table holds only IPv4, an `ip6` table only IPv6.
            let family_ok = |ip: &IpAddr| {
                !matches!(
                    (s.cfg.kind, s.cfg.family.as_str(), ip),
                    (BackendKind::Nftables, "ip", IpAddr::V6(_))
                        | (BackendKind::Nftables, "ip6", IpAddr::V4(_))
                )
            };
            active.clear_marks();
            let listed = s.backend.list_each(&mut |ip, _| active.mark(ip));
            if let Err(e) = listed {
                if !s.cfg.manage {
                    self.errors += 1;
                    s.failing = true;
                    tracing::error!(backend = %name, error = %e, "cannot read the sets and manage = false: bans are kept in state but not enforced; recreate the table/sets or set manage = true");
                    continue;
                }
                tracing::warn!(backend = %name, error = %e, "sets missing; recreating them");
                if let Err(e) = s.backend.ensure() {
                    self.errors += 1;
                    s.failing = true;
                    tracing::error!(backend = %name, error = %e, "recreating the sets failed; will retry");
                    continue;
                }
                self.recreated += 1;
                // Nothing is in the new sets: everything is missing.
                active.clear_marks();
            }
            let mut missing: Vec<BanEntry> = Vec::new();
            active.for_each_unmarked(now, &mut |ip, rem| {
                if rem > RECONCILE_SLACK && family_ok(&ip) {
                    missing.push(BanEntry { ip, timeout: rem });
                }
            });
            if missing.is_empty() {
                if s.failing {
                    tracing::info!(backend = %name, "backend healthy again");
                    s.failing = false;
                }
                continue;
            }
            match s.backend.add(&missing) {
                Ok(()) => {
                    self.readded += missing.len() as u64;
                    s.failing = false;
                    tracing::warn!(backend = %name, n = missing.len(), "re-added bans missing from the kernel");
                }
                Err(e) => {
                    self.errors += 1;
                    s.failing = true;
                    let hint = if s.cfg.manage {
                        "will retry"
                    } else {
                        "check the table and sets (manage = false)"
                    };
                    tracing::error!(backend = %name, error = %e, "re-adding missing bans failed; {hint}");
                }
            }
        }
    }
}

/// The active bans as reconciliation sees them: a mark per ban, set for
/// every address the kernel reports.
pub trait ActiveBans {
    /// Clears every mark.
    fn clear_marks(&mut self);
    /// The kernel holds `ip` (addresses that are not banned are ignored).
    fn mark(&mut self, ip: IpAddr);
    /// Calls `f` with every unmarked ban and its remaining time at `now`
    /// (Unix milliseconds).
    fn for_each_unmarked(&self, now: u64, f: &mut dyn FnMut(IpAddr, Duration));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// Active bans for the tests: address -> (remaining at 0, mark).
    struct Active(HashMap<IpAddr, (Duration, bool)>);
    impl Active {
        fn new(v: &[(IpAddr, Duration)]) -> Active {
            Active(v.iter().map(|(ip, d)| (*ip, (*d, false))).collect())
        }
    }
    impl ActiveBans for Active {
        fn clear_marks(&mut self) {
            self.0.values_mut().for_each(|v| v.1 = false);
        }
        fn mark(&mut self, ip: IpAddr) {
            if let Some(v) = self.0.get_mut(&ip) {
                v.1 = true;
            }
        }
        fn for_each_unmarked(&self, now: u64, f: &mut dyn FnMut(IpAddr, Duration)) {
            for (ip, (d, m)) in &self.0 {
                if !m {
                    f(*ip, d.saturating_sub(Duration::from_millis(now)));
                }
            }
        }
    }

    /// A fake backend whose "kernel" can vanish like after `nft flush ruleset`.
    #[derive(Default)]
    struct Kernel {
        exists: bool,
        elems: HashMap<IpAddr, Duration>,
        adds: usize,
    }
    struct Fake(Arc<Mutex<Kernel>>);
    fn err() -> BackendError {
        BackendError::Missing {
            what: "fake set".into(),
            how: "test".into(),
        }
    }
    impl Backend for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        fn ensure(&mut self) -> Result<(), BackendError> {
            self.0.lock().unwrap().exists = true;
            Ok(())
        }
        fn add(&mut self, e: &[BanEntry]) -> Result<(), BackendError> {
            let mut k = self.0.lock().unwrap();
            if !k.exists {
                return Err(err());
            }
            k.adds += 1;
            for x in e {
                k.elems.insert(x.ip, x.timeout);
            }
            Ok(())
        }
        fn remove(&mut self, ips: &[IpAddr]) -> Result<(), BackendError> {
            let mut k = self.0.lock().unwrap();
            for i in ips {
                k.elems.remove(i);
            }
            Ok(())
        }
        fn list(&mut self) -> Result<Vec<(IpAddr, Option<Duration>)>, BackendError> {
            let k = self.0.lock().unwrap();
            if !k.exists {
                return Err(err());
            }
            Ok(k.elems.iter().map(|(i, d)| (*i, Some(*d))).collect())
        }
        fn flush(&mut self) -> Result<(), BackendError> {
            self.0.lock().unwrap().elems.clear();
            Ok(())
        }
    }

    fn cfg(manage: bool) -> BackendConfig {
        BackendConfig {
            kind: BackendKind::DryRun,
            family: "inet".into(),
            table: "filter".into(),
            set_v4: "a".into(),
            set_v6: "b".into(),
            manage,
            name: None,
        }
    }

    #[test]
    fn reconcile_recreates_and_refills_when_managed() {
        let k = Arc::new(Mutex::new(Kernel::default()));
        let mut e = Enforcer::default();
        e.push(cfg(true), Box::new(Fake(k.clone())));
        assert_eq!(e.ensure_all(), 1);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        assert_eq!(
            e.add(&[BanEntry {
                ip: a,
                timeout: Duration::from_secs(60)
            }]),
            1
        );
        // One element went missing.
        let mut active = Active::new(&[
            (a, Duration::from_secs(50)),
            (b, Duration::from_secs(40)),
            ("198.51.100.3".parse().unwrap(), Duration::from_secs(1)),
        ]);
        e.reconcile(&mut active, 0);
        assert_eq!(
            k.lock().unwrap().elems.get(&b),
            Some(&Duration::from_secs(40))
        );
        // Nearly expired entries are not re-added.
        assert_eq!(k.lock().unwrap().elems.len(), 2);
        // The whole table vanished.
        {
            let mut g = k.lock().unwrap();
            g.exists = false;
            g.elems.clear();
        }
        e.reconcile(&mut active, 0);
        assert!(k.lock().unwrap().exists);
        assert_eq!(k.lock().unwrap().elems.len(), 2);
        assert_eq!(e.recreated, 1);
    }

    #[test]
    fn reconcile_does_not_create_when_unmanaged() {
        let k = Arc::new(Mutex::new(Kernel::default()));
        let mut e = Enforcer::default();
        e.push(cfg(false), Box::new(Fake(k.clone())));
        e.reconcile(
            &mut Active::new(&[("198.51.100.1".parse().unwrap(), Duration::from_secs(50))]),
            0,
        );
        assert!(!k.lock().unwrap().exists);
        assert!(e.errors >= 1);
        // An add to a missing set is an error, not a panic.
        assert_eq!(
            e.add(&[BanEntry {
                ip: "198.51.100.1".parse().unwrap(),
                timeout: Duration::from_secs(5)
            }]),
            0
        );
    }
}

//! Dry-run backend: logs every ban and keeps an in-memory set with expiry
//! times, so a config can be tried without privileges or kernel changes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::info;

use super::{normalize, Backend, BackendConfig, BackendError, BanEntry};

/// In-memory stand-in for a kernel set.
#[derive(Debug)]
pub struct DryRunBackend {
    display: String,
    /// Address -> moment the ban would expire.
    elements: HashMap<IpAddr, Instant>,
}

impl DryRunBackend {
    /// A dry-run backend; never fails.
    pub fn new(cfg: &BackendConfig) -> DryRunBackend {
        DryRunBackend {
            display: cfg.name.clone().unwrap_or_else(|| "dry-run".to_string()),
            elements: HashMap::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        self.elements.retain(|_, until| *until > now);
        if self.elements.capacity() > 1024 && self.elements.capacity() > 4 * self.elements.len() {
            self.elements.shrink_to_fit();
        }
    }
}

impl Backend for DryRunBackend {
    fn name(&self) -> &str {
        &self.display
    }

    fn ensure(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    fn add(&mut self, entries: &[BanEntry]) -> Result<(), BackendError> {
        let now = Instant::now();
        self.expire(now);
        for e in entries {
            let ip = normalize(e.ip);
            let until = now
                .checked_add(e.timeout)
                .unwrap_or(now + Duration::from_secs(u32::MAX.into()));
            self.elements.insert(ip, until);
            info!(backend = %self.display, ip = %ip, timeout_s = e.timeout.as_secs(), "dry-run: would ban");
        }
        Ok(())
    }

    fn remove(&mut self, ips: &[IpAddr]) -> Result<(), BackendError> {
        for ip in ips {
            let ip = normalize(*ip);
            if self.elements.remove(&ip).is_some() {
                info!(backend = %self.display, ip = %ip, "dry-run: would unban");
            }
        }
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<(IpAddr, Option<Duration>)>, BackendError> {
        let now = Instant::now();
        self.expire(now);
        Ok(self
            .elements
            .iter()
            .map(|(ip, until)| (*ip, Some(until.saturating_duration_since(now))))
            .collect())
    }

    fn list_each(
        &mut self,
        f: &mut dyn FnMut(IpAddr, Option<Duration>),
    ) -> Result<(), BackendError> {
        let now = Instant::now();
        self.expire(now);
        for (ip, until) in &self.elements {
            f(*ip, Some(until.saturating_duration_since(now)));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        info!(backend = %self.display, count = self.elements.len(), "dry-run: would flush");
        self.elements.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_refresh_remove_flush() {
        let mut b = DryRunBackend::new(&BackendConfig::default());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        b.add(&[BanEntry {
            ip,
            timeout: Duration::from_secs(60),
        }])
        .unwrap();
        b.add(&[BanEntry {
            ip,
            timeout: Duration::from_secs(3600),
        }])
        .unwrap();
        let l = b.list().unwrap();
        assert_eq!(l.len(), 1);
        assert!(
            l[0].1.unwrap() > Duration::from_secs(3500),
            "refreshed to the new timeout"
        );
        b.add(&[BanEntry {
            ip: "198.51.100.1".parse().unwrap(),
            timeout: Duration::ZERO,
        }])
        .unwrap();
        assert_eq!(b.list().unwrap().len(), 1, "zero timeout expires at once");
        b.remove(&[ip]).unwrap();
        assert!(b.list().unwrap().is_empty());
        b.add(&[BanEntry {
            ip,
            timeout: Duration::from_secs(60),
        }])
        .unwrap();
        b.flush().unwrap();
        assert!(b.list().unwrap().is_empty());
    }
}

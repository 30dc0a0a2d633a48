//! Suricata's `fast.log`: one line per alert, in the format of Suricata
//! 7's `alert-fastlog.c`, which operators grep and the suite counts:
//!
//! ```text
//! 03/14/2025-09:26:50.713482  [Drop] [**] [1:9000001:1] LOCAL SSH libssh client [**] [Classification: Attempted Administrator Privilege Gain] [Priority: 1] {TCP} 203.0.113.50:51544 -> 192.0.2.10:22
//! ```
//!
//! The line is made from the `alert` EVE event the pipeline already built,
//! so both logs always agree. `[Drop] ` marks an alert whose packet was
//! blocked (`alert.action: blocked`); a rule without `classtype` prints
//! `(null)`, as Suricata does; ICMP puts type and code where the ports go.

use std::io::Write;

use meerkat_shared::eve::Event;

/// Appends the fast.log line of `ev` to `out` (with its newline). Returns
/// false, writing nothing, when `ev` is not an alert.
pub fn fast_line(ev: &Event, out: &mut Vec<u8>) -> bool {
    let Some(alert) = ev.alert.as_ref() else {
        return false;
    };
    if ev.event_type != "alert" {
        return false;
    }
    let action = if alert.action == "blocked" {
        "[Drop] "
    } else {
        ""
    };
    let class = if alert.category.is_empty() {
        "(null)"
    } else {
        alert.category.as_str()
    };
    let (sp, dp) = match (ev.src_port, ev.dest_port, ev.icmp_type, ev.icmp_code) {
        (Some(s), Some(d), _, _) => (u32::from(s), u32::from(d)),
        (_, _, Some(t), Some(c)) => (u32::from(t), u32::from(c)),
        _ => (0, 0),
    };
    let _ = writeln!(
        out,
        "{}  {}[**] [{}:{}:{}] {} [**] [Classification: {}] [Priority: {}] {{{}}} {}:{} -> {}:{}",
        fast_time(&ev.timestamp),
        action,
        alert.gid,
        alert.signature_id,
        alert.rev,
        alert.signature,
        class,
        alert.severity,
        ev.proto.as_deref().unwrap_or(""),
        ev.src_ip.as_deref().unwrap_or(""),
        sp,
        ev.dest_ip.as_deref().unwrap_or(""),
        dp,
    );
    true
}

/// `2025-03-14T09:26:50.713482+0000` → `03/14/2025-09:26:50.713482`
/// (Suricata's `CreateTimeString`, local time like the EVE stamp). An
/// unexpected stamp is written as it is.
pub(crate) fn fast_time(eve: &str) -> String {
    let part = |r: std::ops::Range<usize>| eve.get(r).unwrap_or("");
    if eve.len() < 26 || part(4..5) != "-" || part(10..11) != "T" {
        return eve.to_string();
    }
    format!(
        "{}/{}/{}-{}",
        part(5..7),
        part(8..10),
        part(0..4),
        part(11..26)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use meerkat_shared::eve::Alert;

    fn alert_event() -> Event {
        Event {
            timestamp: "2025-03-14T09:26:50.713482+0000".into(),
            event_type: "alert".into(),
            src_ip: Some("203.0.113.50".into()),
            src_port: Some(51544),
            dest_ip: Some("192.0.2.10".into()),
            dest_port: Some(22),
            proto: Some("TCP".into()),
            alert: Some(Alert {
                action: "blocked".into(),
                gid: 1,
                signature_id: 9000001,
                rev: 1,
                signature: "LOCAL SSH libssh client".into(),
                category: "Attempted Administrator Privilege Gain".into(),
                severity: 1,
                metadata: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn line_in_suricata_format() {
        let mut out = Vec::new();
        assert!(fast_line(&alert_event(), &mut out));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "03/14/2025-09:26:50.713482  [Drop] [**] [1:9000001:1] LOCAL SSH libssh client [**] \
             [Classification: Attempted Administrator Privilege Gain] [Priority: 1] \
             {TCP} 203.0.113.50:51544 -> 192.0.2.10:22\n"
        );
    }

    #[test]
    fn icmp_no_class_and_non_alerts() {
        let mut ev = alert_event();
        ev.src_port = None;
        ev.dest_port = None;
        ev.icmp_type = Some(8);
        ev.icmp_code = Some(0);
        ev.proto = Some("ICMP".into());
        if let Some(a) = ev.alert.as_mut() {
            a.category.clear();
            a.action = "allowed".into();
        }
        let mut out = Vec::new();
        assert!(fast_line(&ev, &mut out));
        let line = String::from_utf8(out).unwrap();
        assert!(line.contains("  [**] [1:9000001:1]"), "{line}");
        assert!(line.contains("[Classification: (null)]"), "{line}");
        assert!(
            line.ends_with("{ICMP} 203.0.113.50:8 -> 192.0.2.10:0\n"),
            "{line}"
        );
        ev.event_type = "drop".into();
        let mut out = Vec::new();
        assert!(!fast_line(&ev, &mut out) && out.is_empty());
    }
}

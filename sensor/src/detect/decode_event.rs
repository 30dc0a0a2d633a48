//! The `decode-event` keyword: matches packets on which the decoder set a
//! given anomaly (`decode-event:ipv6.frag_overlap;`, Suricata's names,
//! also with a `decoder.` prefix). Rules with it are evaluated only for
//! packets that carry anomalies, invalid ones included.

use crate::decode::{Ev, Packet};

/// The anomalies a rule's `decode-event` options ask for (all must be set).
pub type DecodeEvents = Vec<Ev>;

/// Parses a `decode-event` value.
///
/// # Errors
/// A message naming the unknown event.
pub fn parse(v: &str) -> Result<Ev, String> {
    let v = v.trim().trim_matches('"');
    if v == "udp.hlen_invalid" || v == "decoder.udp.hlen_invalid" {
        return Err(format!(
            "decode-event keyword no longer supports event \"decoder.udp.hlen_invalid\" ({v})"
        ));
    }
    Ev::by_name(v).ok_or_else(|| format!("unknown decoder event {v:?}"))
}

/// True when `pkt` carries every event in `want` (true for an empty list).
pub fn matches(want: &[Ev], pkt: &Packet<'_>) -> bool {
    want.iter().all(|e| pkt.ext.events.contains(*e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_frame, LINKTYPE_RAW};

    #[test]
    fn parse_and_match() {
        assert_eq!(parse("ipv6.frag_overlap"), Ok(Ev::Ipv6FragOverlap));
        assert_eq!(parse(" decoder.tcp.pkt_too_small"), Ok(Ev::TcpPktTooSmall));
        assert!(parse("ipv6.bogus").is_err());
        assert!(parse("udp.hlen_invalid").is_err());
        // IPv4 with a 10-byte TCP header.
        let mut p = vec![
            0x45, 0, 0, 30, 0, 1, 0, 0, 64, 6, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        ];
        p.extend_from_slice(&[0u8; 10]);
        let d = decode_frame(LINKTYPE_RAW, &p, false);
        assert!(matches(&[Ev::TcpPktTooSmall], &d));
        assert!(!matches(&[Ev::UdpPktTooSmall], &d));
        assert!(matches(&[], &d));
    }
}

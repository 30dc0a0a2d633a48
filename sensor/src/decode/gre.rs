//! GRE (RFC 2784/2890, and version 1 as PPTP uses it) and the ERSPAN
//! headers carried in it, with Suricata's checks and event names.

use super::event::Ev;
use super::{be16, be32};

pub const HEADER_LEN: usize = 4;
/// GRE protocol type of PPP (PPTP, version 1).
pub const PROTO_PPP: u16 = 0x880b;
/// ERSPAN type II (with a sequence number) or type I (without).
pub const PROTO_ERSPAN: u16 = 0x88be;

const FLAG_C: u8 = 0x80;
const FLAG_R: u8 = 0x40;
const FLAG_K: u8 = 0x20;
const FLAG_S: u8 = 0x10;
const FLAG_SSR: u8 = 0x08;
const RECUR: u8 = 0x07;
const V1_ACK: u8 = 0x80;
const FLAGS1: u8 = 0x78;

/// A checked GRE header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gre {
    pub version: u8,
    pub proto: u16,
    /// Header length, options included.
    pub len: usize,
    /// The sequence-number flag (ERSPAN type II vs type I).
    pub seq: bool,
}

/// Checks a GRE header as Suricata's `DecodeGRE`.
///
/// # Errors
/// The anomaly that makes the header unusable.
pub fn parse(f: &[u8]) -> Result<Gre, Ev> {
    if f.len() < HEADER_LEN {
        return Err(Ev::GrePktTooSmall);
    }
    let b0 = f.first().copied().unwrap_or(0);
    let b1 = f.get(1).copied().unwrap_or(0);
    let version = b1 & 0x07;
    let proto = be16(f, 2..4);
    let mut len = HEADER_LEN;
    match version {
        0 => {
            if b0 & RECUR != 0 {
                return Err(Ev::GreVersion0Recur);
            }
            if b1 & 0xf8 != 0 {
                return Err(Ev::GreVersion0Flags);
            }
            if b0 & (FLAG_C | FLAG_R) != 0 {
                len += 4;
            }
            if b0 & FLAG_K != 0 {
                len += 4;
            }
            if b0 & FLAG_S != 0 {
                len += 4;
            }
            if len > f.len() {
                return Err(Ev::GreVersion0HdrTooBig);
            }
            if b0 & FLAG_R != 0 {
                // Source route entries until a NULL one.
                loop {
                    let Some(sre) = f.get(len..len + 4) else {
                        return Err(Ev::GreVersion0MalformedSreHdr);
                    };
                    let af = be16(sre, 0..2);
                    let sre_len = usize::from(sre.get(3).copied().unwrap_or(0));
                    len += 4;
                    if af == 0 && sre_len == 0 {
                        break;
                    }
                    len += sre_len;
                    if len > f.len() {
                        return Err(Ev::GreVersion0MalformedSreHdr);
                    }
                }
            }
        }
        1 => {
            if b0 & FLAG_C != 0 {
                return Err(Ev::GreVersion1Chksum);
            }
            if b0 & FLAG_R != 0 {
                return Err(Ev::GreVersion1Route);
            }
            if b0 & FLAG_SSR != 0 {
                return Err(Ev::GreVersion1Ssr);
            }
            if b0 & RECUR != 0 {
                return Err(Ev::GreVersion1Recur);
            }
            if b1 & FLAGS1 != 0 {
                return Err(Ev::GreVersion1Flags);
            }
            if proto != PROTO_PPP {
                return Err(Ev::GreVersion1WrongProtocol);
            }
            if b0 & FLAG_K == 0 {
                return Err(Ev::GreVersion1NoKey);
            }
            len += 4;
            if b0 & FLAG_S != 0 {
                len += 4;
            }
            if b1 & V1_ACK != 0 {
                len += 4;
            }
            if len > f.len() {
                return Err(Ev::GreVersion1HdrTooBig);
            }
        }
        _ => return Err(Ev::GreWrongVersion),
    }
    Ok(Gre {
        version,
        proto,
        len,
        seq: b0 & FLAG_S != 0,
    })
}

/// ERSPAN type II header length.
pub const ERSPAN_LEN: usize = 8;

/// An ERSPAN type II header: the VLAN id it reports (0: none).
///
/// # Errors
/// `erspan.header_too_small`, `erspan.unsupported_version`.
pub fn erspan2(f: &[u8]) -> Result<u16, Ev> {
    if f.len() < ERSPAN_LEN {
        return Err(Ev::ErspanHeaderTooSmall);
    }
    let vv = be16(f, 0..2);
    if vv >> 12 != 1 {
        return Err(Ev::ErspanUnsupportedVersion);
    }
    let _session = be32(f, 0..4);
    Ok(vv & 0x0fff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version0_and_1() {
        assert_eq!(
            parse(&[0, 0, 0x08, 0x00]),
            Ok(Gre {
                version: 0,
                proto: 0x0800,
                len: 4,
                seq: false
            })
        );
        assert_eq!(parse(&[0, 0, 0x08]), Err(Ev::GrePktTooSmall));
        assert_eq!(parse(&[0x10, 0, 0x88, 0xbe]), Err(Ev::GreVersion0HdrTooBig));
        assert_eq!(parse(&[0, 2, 0, 0]), Err(Ev::GreWrongVersion));
        assert_eq!(
            parse(&[0, 1, 0x08, 0x00]),
            Err(Ev::GreVersion1WrongProtocol)
        );
        assert_eq!(
            parse(&[0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]).map(|g| g.len),
            Ok(16)
        );
        assert_eq!(erspan2(&[0x13, 0xf3, 0, 0, 0, 0, 0, 0]), Ok(1011));
        assert_eq!(
            erspan2(&[0x23, 0xf3, 0, 0, 0, 0, 0, 0]),
            Err(Ev::ErspanUnsupportedVersion)
        );
    }
}

//! PPP (link type 9, PPTP inside GRE) and PPPoE headers.

use super::be16;

/// PPP protocol numbers the decoder follows.
pub mod proto {
    pub const IPV4: u16 = 0x0021;
    pub const VJ_UCOMP: u16 = 0x002f;
    pub const IPV6: u16 = 0x0057;
}

/// PPPoE session header (6) plus the PPP protocol (2).
pub const PPPOE_SESSION_MIN: usize = 8;

/// A PPP header: (protocol, header length). The address/control bytes
/// `ff 03` are optional, and a protocol with an odd first byte is the
/// compressed one-byte form. `None` when too short.
pub fn header(f: &[u8]) -> Option<(u16, usize)> {
    let skip = if f.get(..2) == Some(&[0xff, 0x03]) {
        2
    } else {
        0
    };
    let first = *f.get(skip)?;
    if first & 1 == 1 {
        return Some((u16::from(first), skip + 1));
    }
    (f.len() >= skip + 2).then(|| (be16(f, skip..skip + 2), skip + 2))
}

/// Whether a PPP protocol is a control or compressed protocol Suricata
/// knows but does not decode (`ppp.unsup_proto`, not `ppp.wrong_type`).
pub fn known_unsupported(p: u16) -> bool {
    matches!(
        p,
        0x002d // VJ compressed
            | 0x0023 | 0x0025 | 0x0027 | 0x0029 | 0x002b | 0x0031 | 0x0033 | 0x0039
            | 0x003b | 0x003d | 0x003f | 0x0041 | 0x004f | 0x0201 | 0x0203
            | 0x8021 | 0x8023 | 0x8025 | 0x8027 | 0x8029 | 0x802b | 0x8031 | 0x8033
            | 0x8039 | 0x803b | 0x803d | 0x803f | 0x8041 | 0x804f | 0x8057 | 0x80fd
            | 0x8207 | 0xc021 | 0xc023 | 0xc025 | 0xc223
    )
}

/// A PPPoE session header: (code, PPP protocol, header length).
pub fn pppoe_session(f: &[u8]) -> Option<(u8, u16, usize)> {
    if f.len() < PPPOE_SESSION_MIN {
        return None;
    }
    let code = *f.get(1)?;
    let first = *f.get(6)?;
    if first & 1 == 1 {
        return Some((code, u16::from(first), 7));
    }
    Some((code, be16(f, 6..8), 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(header(&[0xff, 0x03, 0x00, 0x21, 0x45]), Some((0x21, 4)));
        assert_eq!(header(&[0x00, 0x57]), Some((0x57, 2)));
        assert_eq!(header(&[0x21, 0x45]), Some((0x21, 1)));
        assert_eq!(header(&[0xff, 0x03]), None);
        assert_eq!(header(&[]), None);
        assert_eq!(
            pppoe_session(&[0x11, 0, 0, 1, 0, 10, 0, 0x21]),
            Some((0, 0x21, 8))
        );
        assert!(known_unsupported(0xc021) && !known_unsupported(0x21));
    }
}

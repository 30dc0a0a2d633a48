//! Tunnels over UDP on their IANA ports: VXLAN (4789) and Geneve (6081),
//! as Suricata decodes them by default.

use super::be16;

pub const VXLAN_PORT: u16 = 4789;
pub const GENEVE_PORT: u16 = 6081;
pub const VXLAN_LEN: usize = 8;
pub const GENEVE_LEN: usize = 8;

/// A VXLAN header followed by at least an Ethernet header: the bytes
/// after the VXLAN header. `None` when it is not VXLAN (the datagram is
/// then plain UDP).
pub fn vxlan(f: &[u8]) -> Option<&[u8]> {
    if f.len() < VXLAN_LEN + super::ethernet::HEADER_LEN {
        return None;
    }
    // The I flag must be set; the other flag bits and the reserved byte
    // after the VNI are zero (RFC 7348).
    if f.first() != Some(&0x08) || f.get(7) != Some(&0) {
        return None;
    }
    f.get(VXLAN_LEN..)
}

/// A Geneve header: (protocol type, bytes after the header and its
/// options). `None` when it is not Geneve.
pub fn geneve(f: &[u8]) -> Option<(u16, &[u8])> {
    let b0 = *f.first()?;
    if b0 >> 6 != 0 {
        return None;
    }
    let opt_len = usize::from(b0 & 0x3f) * 4;
    let total = GENEVE_LEN + opt_len;
    if f.len() < total {
        return None;
    }
    Some((be16(f, 2..4), f.get(total..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut v = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        v.extend_from_slice(&[0u8; 14]);
        assert_eq!(vxlan(&v).map(<[u8]>::len), Some(14));
        v[0] = 0;
        assert!(vxlan(&v).is_none());
        assert!(vxlan(&v[..10]).is_none());
        let g = [0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 9, 9, 9, 9, 7];
        assert_eq!(geneve(&g), Some((0x6558, &[7u8][..])));
        assert!(geneve(&g[..10]).is_none());
    }
}

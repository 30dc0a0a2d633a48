//! Ethernet II and the tags that can follow it: 802.1Q/802.1ad VLAN
//! (QinQ), Cisco VNTag and 802.1ah (MAC-in-MAC). Plain functions over
//! byte slices: every field is read with a bounds check.

use super::be16;

/// Ethertypes the decoder follows.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const TEB: u16 = 0x6558;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const IPV6: u16 = 0x86dd;
    pub const PPPOE_DISC: u16 = 0x8863;
    pub const PPPOE_SESS: u16 = 0x8864;
    pub const MPLS_UC: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const ERSPAN: u16 = 0x88be;
    pub const IEEE8021AH: u16 = 0x88e7;
    pub const DCE: u16 = 0x8903;
    pub const VNTAG: u16 = 0x8926;
    pub const NSH: u16 = 0x894f;
}

pub const HEADER_LEN: usize = 14;
pub const VLAN_LEN: usize = 4;
pub const VNTAG_LEN: usize = 6;
/// I-TAG (4) + customer destination, source and ethertype (14).
pub const IEEE8021AH_LEN: usize = 18;
/// A DCE header is an Ethernet header plus 2 bytes, then another Ethernet.
pub const DCE_LEN: usize = HEADER_LEN + 2;

/// The fixed Ethernet header: (destination, source, ethertype).
pub fn header(f: &[u8]) -> Option<([u8; 6], [u8; 6], u16)> {
    let dst: [u8; 6] = f.get(0..6)?.try_into().ok()?;
    let src: [u8; 6] = f.get(6..12)?.try_into().ok()?;
    (f.len() >= HEADER_LEN).then(|| (dst, src, be16(f, 12..14)))
}

/// A VLAN tag: (vlan id, next ethertype).
pub fn vlan(f: &[u8]) -> Option<(u16, u16)> {
    (f.len() >= VLAN_LEN).then(|| (be16(f, 0..2) & 0x0fff, be16(f, 2..4)))
}

/// A VNTag: the next ethertype.
pub fn vntag(f: &[u8]) -> Option<u16> {
    (f.len() >= VNTAG_LEN).then(|| be16(f, 4..6))
}

/// An 802.1ah header: the customer ethertype.
pub fn ieee8021ah(f: &[u8]) -> Option<u16> {
    (f.len() >= IEEE8021AH_LEN).then(|| be16(f, 16..18))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut f = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0];
        let (d, s, t) = header(&f).unwrap();
        assert_eq!((d[0], s[0], t), (1, 7, 0x8100));
        f.truncate(13);
        assert!(header(&f).is_none());
        assert_eq!(vlan(&[0x20, 0x05, 0x08, 0x00]), Some((5, 0x0800)));
        assert_eq!(vlan(&[0x20]), None);
        assert_eq!(vntag(&[0, 0, 0, 0, 0x81, 0]), Some(0x8100));
        assert_eq!(ieee8021ah(&[0; 17]), None);
    }
}

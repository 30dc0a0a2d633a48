//! MPLS label stacks and NSH (network service header).

use super::{be16, be32};

pub const MPLS_LABEL_LEN: usize = 4;
/// Pseudowire control word before an Ethernet payload.
pub const MPLS_PW_LEN: usize = 4;

pub mod label {
    pub const IPV4: u32 = 0;
    pub const ROUTER_ALERT: u32 = 1;
    pub const IPV6: u32 = 2;
    pub const NULL: u32 = 3;
    /// Labels below this are reserved.
    pub const MAX_RESERVED: u32 = 16;
}

/// One MPLS shim: (label, bottom of stack).
pub fn shim(f: &[u8]) -> Option<(u32, bool)> {
    (f.len() >= MPLS_LABEL_LEN).then(|| {
        let s = be32(f, 0..4);
        (s >> 12, s & 0x100 != 0)
    })
}

/// The fixed NSH base + service path header.
pub const NSH_LEN: usize = 8;

/// NSH next-protocol values.
pub mod nsh_next {
    pub const IPV4: u8 = 1;
    pub const IPV6: u8 = 2;
    pub const ETHERNET: u8 = 3;
    pub const NSH: u8 = 4;
    pub const MPLS: u8 = 5;
}

/// NSH fields: (version, total header length in bytes, MD type, next
/// protocol); `None` when shorter than the fixed part.
pub fn nsh(f: &[u8]) -> Option<(u8, usize, u8, u8)> {
    if f.len() < NSH_LEN {
        return None;
    }
    let vfl = be16(f, 0..2);
    let version = (vfl >> 14) as u8;
    let len = usize::from(vfl & 0x3f) * 4;
    let md = *f.get(2)? & 0x0f;
    let next = *f.get(3)?;
    Some((version, len, md, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        assert_eq!(shim(&[0x00, 0x01, 0x01, 0x40]), Some((16, true)));
        assert_eq!(shim(&[0x00, 0x01, 0x00, 0x40]), Some((16, false)));
        assert_eq!(shim(&[0; 3]), None);
        assert_eq!(
            nsh(&[0x0f, 0xc6, 0x01, 0x03, 0, 0, 0, 0]),
            Some((0, 24, 1, 3))
        );
        assert_eq!(nsh(&[0; 7]), None);
    }
}

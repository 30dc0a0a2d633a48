//! Link types (pcap `LINKTYPE_*` numbers) and the small link-layer headers
//! that carry no more than a protocol field: Linux SLL/SLL2 and BSD
//! NULL/LOOP.

use super::be16;

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_PPP: u16 = 9;
/// Raw IP as NFQUEUE, NFLOG and most pcaps of routed traffic carry it.
pub const LINKTYPE_RAW: u16 = 101;
pub const LINKTYPE_LOOP: u16 = 108;
pub const LINKTYPE_LINUX_SLL: u16 = 113;
pub const LINKTYPE_IPV4: u16 = 228;
pub const LINKTYPE_IPV6: u16 = 229;
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

/// The link types [`super::decode_frame`] understands (12 and 14 are raw
/// IP as some systems number it).
pub fn supported(lt: u16) -> bool {
    matches!(
        lt,
        LINKTYPE_NULL
            | LINKTYPE_ETHERNET
            | LINKTYPE_PPP
            | 12
            | 14
            | LINKTYPE_RAW
            | LINKTYPE_LOOP
            | LINKTYPE_LINUX_SLL
            | LINKTYPE_IPV4
            | LINKTYPE_IPV6
            | LINKTYPE_LINUX_SLL2
    )
}

/// Linux cooked capture v1: 16 bytes, protocol (an ethertype) at 14.
pub const SLL_LEN: usize = 16;
/// Linux cooked capture v2: 20 bytes, protocol at 0.
pub const SLL2_LEN: usize = 20;

/// The ethertype of an SLL header, `None` when too short.
pub fn sll_proto(f: &[u8]) -> Option<u16> {
    (f.len() >= SLL_LEN).then(|| be16(f, 14..16))
}

/// The ethertype of an SLL2 header, `None` when too short.
pub fn sll2_proto(f: &[u8]) -> Option<u16> {
    (f.len() >= SLL2_LEN).then(|| be16(f, 0..2))
}

/// What a NULL/LOOP header's address family says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullFamily {
    Ipv4,
    Ipv6,
    Other,
}

/// The family of a 4-byte NULL (host byte order of the writer: both are
/// tried) or LOOP (network order) header, `None` when too short.
pub fn null_family(lt: u16, f: &[u8]) -> Option<NullFamily> {
    let raw: [u8; 4] = f.get(..4)?.try_into().ok()?;
    let family = if lt == LINKTYPE_LOOP {
        u32::from_be_bytes(raw)
    } else {
        let le = u32::from_le_bytes(raw);
        if le > 0xffff {
            u32::from_be_bytes(raw)
        } else {
            le
        }
    };
    // AF_INET, and AF_INET6 as BSDs, Darwin and Linux number it.
    Some(match family {
        2 => NullFamily::Ipv4,
        10 | 24 | 28 | 30 => NullFamily::Ipv6,
        _ => NullFamily::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_loop_families() {
        assert_eq!(
            null_family(LINKTYPE_NULL, &2u32.to_le_bytes()),
            Some(NullFamily::Ipv4)
        );
        assert_eq!(
            null_family(LINKTYPE_NULL, &30u32.to_be_bytes()),
            Some(NullFamily::Ipv6)
        );
        assert_eq!(
            null_family(LINKTYPE_LOOP, &[0, 0, 0, 7]),
            Some(NullFamily::Other)
        );
        assert_eq!(null_family(LINKTYPE_LOOP, &[0, 0]), None);
        assert_eq!(sll_proto(&[0; 15]), None);
        assert!(supported(9) && !supported(147));
    }
}

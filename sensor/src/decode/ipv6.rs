//! IPv6 header view and a step-limited extension-header walk.
//!
//! [`Packet`] wraps a buffer that starts at the IPv6 header. After
//! [`Packet::check_len`] succeeded, no accessor can panic. A payload length
//! of 0 (jumbograms, BIG TCP super-packets) means "use the buffer length";
//! bytes after the payload length are padding and ignored.
//!
//! [`walk_extensions`] follows hop-by-hop, routing, fragment, destination
//! options and AH headers (at most [`MAX_EXT_HEADERS`]) to the upper-layer
//! protocol, reading every length with `get()`.

use std::net::Ipv6Addr;

use super::{DecodeError, Layer};

mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// At most this many extension headers are followed; more is an error
/// (`ipv6_too_many_ext`), so a crafted chain cannot make us loop long.
pub const MAX_EXT_HEADERS: usize = 8;

/// Extension-header protocol numbers.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AH: u8 = 51;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
}

/// A read-only view over an IPv6 header and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer and checks its lengths.
    ///
    /// # Errors
    /// See [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DecodeError> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the fixed header and the payload
    /// length (unless it is 0).
    ///
    /// # Errors
    /// `Truncated(Ipv6)` for a short buffer.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        self.check_len_inner(false)
    }

    pub(crate) fn check_len_inner(&self, allow_truncated: bool) -> Result<(), DecodeError> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated(Layer::Ipv6));
        }
        let plen = usize::from(self.payload_len());
        if plen != 0 && len < HEADER_LEN + plen && !allow_truncated {
            return Err(DecodeError::Truncated(Layer::Ipv6));
        }
        Ok(())
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn word(&self) -> u32 {
        match self.b().get(field::VER_TC_FLOW) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// The version nibble (6 for a valid packet).
    pub fn version(&self) -> u8 {
        (self.word() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.word() >> 20) as u8
    }

    /// Flow label.
    pub fn flow_label(&self) -> u32 {
        self.word() & 0x000f_ffff
    }

    /// Payload length field as written.
    pub fn payload_len(&self) -> u16 {
        match self.b().get(field::LENGTH) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }

    /// First next-header value.
    pub fn next_header(&self) -> u8 {
        self.b().get(field::NXT_HDR).copied().unwrap_or(0)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.b().get(field::HOP_LIMIT).copied().unwrap_or(0)
    }

    fn addr(&self, r: std::ops::Range<usize>) -> Ipv6Addr {
        match self.b().get(r).and_then(|s| <[u8; 16]>::try_from(s).ok()) {
            Some(a) => Ipv6Addr::from(a),
            None => Ipv6Addr::UNSPECIFIED,
        }
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr(field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr(field::DST_ADDR)
    }

    /// Everything after the fixed header, trimmed to the payload length
    /// (the whole rest of the buffer when it is 0).
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.payload_range()).unwrap_or(&[])
    }

    fn payload_range(&self) -> std::ops::Range<usize> {
        let len = self.b().len();
        let end = match usize::from(self.payload_len()) {
            0 => len,
            n => (HEADER_LEN + n).min(len),
        };
        HEADER_LEN.min(end)..end
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(self.payload_range()).unwrap_or(&[])
    }
}

/// Result of walking the extension-header chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtWalk {
    /// Upper-layer protocol (59 when "no next header").
    pub proto: u8,
    /// Bytes of extension headers walked.
    pub ext_len: usize,
    /// A fragment header was present.
    pub fragment: bool,
    /// Fragment offset (bytes) was non-zero: no L4 header here.
    pub non_first_fragment: bool,
}

/// Follows the extension-header chain starting with `first` over `data`
/// (the bytes after the fixed header).
///
/// # Errors
/// `Truncated(Ipv6Ext)` when a header runs past the data,
/// `TooManyExtensions` after [`MAX_EXT_HEADERS`] headers.
pub fn walk_extensions(first: u8, data: &[u8]) -> Result<ExtWalk, DecodeError> {
    let mut nh = first;
    let mut off = 0usize;
    let mut fragment = false;
    let mut non_first = false;
    let mut steps = 0usize;
    loop {
        let hdr_len = match nh {
            next_header::HOP_BY_HOP | next_header::ROUTING | next_header::DEST_OPTS => {
                let l = data
                    .get(off + 1)
                    .ok_or(DecodeError::Truncated(Layer::Ipv6Ext))?;
                (usize::from(*l) + 1) * 8
            }
            next_header::FRAGMENT => 8,
            next_header::AH => {
                let l = data
                    .get(off + 1)
                    .ok_or(DecodeError::Truncated(Layer::Ipv6Ext))?;
                (usize::from(*l) + 2) * 4
            }
            _ => {
                return Ok(ExtWalk {
                    proto: nh,
                    ext_len: off,
                    fragment,
                    non_first_fragment: non_first,
                })
            }
        };
        steps += 1;
        if steps > MAX_EXT_HEADERS {
            return Err(DecodeError::TooManyExtensions);
        }
        let hdr = data
            .get(off..off + hdr_len)
            .ok_or(DecodeError::Truncated(Layer::Ipv6Ext))?;
        if nh == next_header::FRAGMENT {
            fragment = true;
            if let Some(&[a, b]) = hdr.get(2..4) {
                if u16::from_be_bytes([a, b]) & 0xfff8 != 0 {
                    non_first = true;
                }
            }
        }
        nh = hdr.first().copied().unwrap_or(next_header::NO_NEXT);
        off += hdr_len;
        if non_first {
            // The rest is a fragment of the upper layer: report its
            // protocol but do not look inside.
            return Ok(ExtWalk {
                proto: nh,
                ext_len: off,
                fragment,
                non_first_fragment: true,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2001:db8::1 -> 2001:db8::2, next header `nh`, payload `payload`.
    fn fixture(nh: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0x00, 0x00, 0x00];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.push(nh);
        v.push(64);
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn good_fixture_fields() {
        let f = fixture(17, &[0u8; 8]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.payload_len(), 8);
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr().to_string(), "2001:db8::1");
        assert_eq!(p.dst_addr().to_string(), "2001:db8::2");
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn shorter_than_fixed_header() {
        let f = fixture(17, &[]);
        assert_eq!(
            Packet::new_checked(&f[..39]).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv6)
        );
    }

    #[test]
    fn buffer_shorter_than_payload_len() {
        let mut f = fixture(17, &[0u8; 8]);
        f[5] = 9;
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv6)
        );
    }

    #[test]
    fn padding_ignored_and_zero_len_uses_buffer() {
        let mut f = fixture(17, &[0u8; 8]);
        f.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Packet::new_checked(&f[..]).unwrap().payload().len(), 8);
        f[4] = 0;
        f[5] = 0;
        assert_eq!(Packet::new_checked(&f[..]).unwrap().payload().len(), 11);
    }

    #[test]
    fn walks_every_extension_kind() {
        // HBH(8) -> routing(16) -> dest opts(8) -> AH(12) -> fragment(8, offset 0, M) -> TCP
        let mut d = vec![43, 0, 0, 0, 0, 0, 0, 0];
        d.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        d.extend_from_slice(&[51, 0, 0, 0, 0, 0, 0, 0]);
        d.extend_from_slice(&[44, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        d.extend_from_slice(&[6, 0, 0x00, 0x01, 0, 0, 0, 1]);
        let w = walk_extensions(0, &d).unwrap();
        assert_eq!(w.proto, 6);
        assert_eq!(w.ext_len, 52);
        assert!(w.fragment);
        assert!(!w.non_first_fragment);
    }

    #[test]
    fn non_first_fragment_stops() {
        let d = [6, 0, 0x00, 0x08, 0, 0, 0, 1, 0xde, 0xad];
        let w = walk_extensions(44, &d).unwrap();
        assert!(w.non_first_fragment);
        assert_eq!(w.proto, 6);
        assert_eq!(w.ext_len, 8);
    }

    #[test]
    fn extension_truncated() {
        let d = [60, 1, 0, 0, 0, 0, 0, 0]; // claims 16 bytes
        assert_eq!(
            walk_extensions(0, &d).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv6Ext)
        );
        assert_eq!(
            walk_extensions(0, &[]).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv6Ext)
        );
    }

    #[test]
    fn too_many_extensions() {
        let mut d = Vec::new();
        for _ in 0..(MAX_EXT_HEADERS + 1) {
            d.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        d.extend_from_slice(&[6; 8]);
        assert_eq!(
            walk_extensions(60, &d).unwrap_err(),
            DecodeError::TooManyExtensions
        );
    }
}

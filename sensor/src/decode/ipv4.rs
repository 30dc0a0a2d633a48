//! IPv4 header view.
//!
//! [`Packet`] wraps a buffer that starts at the IPv4 header. After
//! [`Packet::new_checked`] (or [`Packet::check_len`]) succeeded, no accessor
//! can panic: every field range lies inside the buffer.
//!
//! Length policy (an IDS must see what the kernel hands it):
//! - a total length of 0 means "use the buffer length" (TSO/GSO and BIG TCP
//!   super-packets, which netfilter sees before segmentation);
//! - bytes after the total length are link-layer padding and are ignored;
//! - checksums are never validated (offload leaves them unfilled).

use super::be16;
use super::{DecodeError, Layer};

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// "More fragments" flag in the flags/offset word.
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A read-only view over an IPv4 header and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic until
    /// [`Packet::check_len`] succeeded.
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

    /// Checks, in order: the buffer holds the fixed header; the IHL is at
    /// least 5 words; the buffer holds the whole header; the total length
    /// (unless 0) is not below the IHL; the buffer holds the total length.
    ///
    /// # Errors
    /// `Truncated(Ipv4)` when the buffer is too short, `BadLength(Ipv4)`
    /// when the header's own length fields contradict each other.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        self.check_len_inner(false)
    }

    /// Like [`Packet::check_len`] but accepts a buffer shorter than the
    /// total length (a capture copy that was cut short).
    pub(crate) fn check_len_inner(&self, allow_truncated: bool) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated(Layer::Ipv4));
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(DecodeError::BadLength(Layer::Ipv4));
        }
        if len < hlen {
            return Err(DecodeError::Truncated(Layer::Ipv4));
        }
        let total = usize::from(self.total_len());
        if total != 0 {
            if total < hlen {
                return Err(DecodeError::BadLength(Layer::Ipv4));
            }
            if len < total && !allow_truncated {
                return Err(DecodeError::Truncated(Layer::Ipv4));
            }
        }
        Ok(())
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    #[inline]
    fn u8_at(&self, i: usize) -> u8 {
        self.b().get(i).copied().unwrap_or(0)
    }

    /// The version nibble (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.u8_at(field::VER_IHL) >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.u8_at(field::VER_IHL) & 0x0f) * 4
    }

    /// Type of service / DSCP+ECN byte.
    pub fn tos(&self) -> u8 {
        self.u8_at(field::TOS)
    }

    /// The total length field as written (0 for BIG TCP super-packets).
    pub fn total_len(&self) -> u16 {
        be16(self.b(), field::LENGTH)
    }

    /// The effective total length: the field, or the buffer length when the
    /// field is 0, never more than the buffer.
    pub fn effective_len(&self) -> usize {
        let len = self.b().len();
        match usize::from(self.total_len()) {
            0 => len,
            t => t.min(len),
        }
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(self.b(), field::IDENT)
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(self.b(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(self.b(), field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.u8_at(field::TTL)
    }

    /// Upper-layer protocol number.
    pub fn protocol(&self) -> u8 {
        self.u8_at(field::PROTOCOL)
    }

    fn addr(&self, r: std::ops::Range<usize>) -> std::net::Ipv4Addr {
        match self.b().get(r) {
            Some(&[a, b, c, d]) => std::net::Ipv4Addr::new(a, b, c, d),
            _ => std::net::Ipv4Addr::UNSPECIFIED,
        }
    }

    /// Source address.
    pub fn src_addr(&self) -> std::net::Ipv4Addr {
        self.addr(field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> std::net::Ipv4Addr {
        self.addr(field::DST_ADDR)
    }

    fn payload_range(&self) -> std::ops::Range<usize> {
        let end = self.effective_len();
        self.header_len().min(end)..end
    }

    /// The payload after the header, trimmed to the effective total length.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.payload_range()).unwrap_or(&[])
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(self.payload_range()).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 192.0.2.1 -> 198.51.100.2, TCP, total length 40, ident 0x1234.
    pub(crate) fn fixture() -> Vec<u8> {
        let mut v = vec![
            0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 192, 0, 2, 1,
            198, 51, 100, 2,
        ];
        v.extend_from_slice(&[0u8; 20]);
        v
    }

    #[test]
    fn good_fixture_fields() {
        let f = fixture();
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 40);
        assert_eq!(p.ident(), 0x1234);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 6);
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.src_addr().to_string(), "192.0.2.1");
        assert_eq!(p.dst_addr().to_string(), "198.51.100.2");
        assert_eq!(p.payload().len(), 20);
    }

    #[test]
    fn shorter_than_fixed_header() {
        let f = fixture();
        assert_eq!(
            Packet::new_checked(&f[..19]).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv4)
        );
    }

    #[test]
    fn ihl_below_minimum() {
        let mut f = fixture();
        f[0] = 0x44;
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::BadLength(Layer::Ipv4)
        );
    }

    #[test]
    fn buffer_shorter_than_ihl() {
        let mut f = fixture();
        f[0] = 0x4f; // 60-byte header
        assert_eq!(
            Packet::new_checked(&f[..40]).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv4)
        );
    }

    #[test]
    fn total_len_below_ihl() {
        let mut f = fixture();
        f[3] = 19;
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::BadLength(Layer::Ipv4)
        );
    }

    #[test]
    fn buffer_shorter_than_total_len() {
        let mut f = fixture();
        f[2] = 0x01; // 296
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::Truncated(Layer::Ipv4)
        );
        // Accepted when the caller allows cut-short copies.
        let p = Packet::new_unchecked(&f[..]);
        assert!(p.check_len_inner(true).is_ok());
        assert_eq!(p.payload().len(), 20);
    }

    #[test]
    fn trailing_padding_ignored() {
        let mut f = fixture();
        f.extend_from_slice(&[0xee; 6]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.payload().len(), 20);
    }

    #[test]
    fn zero_total_len_uses_buffer() {
        let mut f = fixture();
        f[2] = 0;
        f[3] = 0;
        f.extend_from_slice(&[0u8; 70_000]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.payload().len(), 70_020);
    }

    #[test]
    fn fragment_fields() {
        let mut f = fixture();
        f[6] = 0x20; // MF
        f[7] = 0x03; // offset 3*8
        let p = Packet::new_checked(&f[..]).unwrap();
        assert!(p.more_frags());
        assert_eq!(p.frag_offset(), 24);
    }
}

//! UDP header view.
//!
//! [`Packet`] wraps a buffer that starts at the UDP header. After
//! [`Packet::check_len`] succeeded, no accessor can panic. A length field of
//! 0 (UDP jumbograms / GSO) means "use the buffer"; bytes after the length
//! are ignored. Checksums are not validated.

use super::be16;
use super::{DecodeError, Layer, UdpInfo};

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// Header length.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// A read-only view over a UDP header and its payload.
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

    /// Checks: the buffer holds the header; the length field (unless 0) is
    /// at least 8 and not beyond the buffer.
    ///
    /// # Errors
    /// `Truncated(Udp)` for a short buffer, `BadLength(Udp)` for a length
    /// field below 8 or past the buffer.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        self.check_len_inner(false)
    }

    pub(crate) fn check_len_inner(&self, allow_truncated: bool) -> Result<(), DecodeError> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated(Layer::Udp));
        }
        let l = usize::from(self.len());
        if l != 0 && (l < HEADER_LEN || (l > len && !allow_truncated)) {
            return Err(DecodeError::BadLength(Layer::Udp));
        }
        Ok(())
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.b(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.b(), field::DST_PORT)
    }

    /// Length field (header + payload) as written.
    pub fn len(&self) -> u16 {
        be16(self.b(), field::LENGTH)
    }

    /// True when the length field is 0 (jumbogram: use the buffer).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Payload, trimmed to the length field (whole buffer rest when 0).
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.payload_range()).unwrap_or(&[])
    }

    fn payload_range(&self) -> std::ops::Range<usize> {
        let len = self.b().len();
        let end = match usize::from(self.len()) {
            0 => len,
            l => l.min(len),
        };
        HEADER_LEN.min(end)..end
    }

    /// The summary later stages read.
    pub fn info(&self) -> UdpInfo {
        UdpInfo {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            len: self.len(),
        }
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

    fn fixture() -> Vec<u8> {
        vec![0x00, 0x35, 0xd4, 0x31, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4]
    }

    #[test]
    fn good_fixture_fields() {
        let f = fixture();
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.src_port(), 53);
        assert_eq!(p.dst_port(), 54321);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
    }

    #[test]
    fn shorter_than_header() {
        let f = fixture();
        assert_eq!(
            Packet::new_checked(&f[..7]).unwrap_err(),
            DecodeError::Truncated(Layer::Udp)
        );
    }

    #[test]
    fn length_below_header() {
        let mut f = fixture();
        f[5] = 7;
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::BadLength(Layer::Udp)
        );
    }

    #[test]
    fn length_past_buffer() {
        let mut f = fixture();
        f[5] = 13;
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::BadLength(Layer::Udp)
        );
    }

    #[test]
    fn trailing_bytes_ignored() {
        let mut f = fixture();
        f.push(9);
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap().payload(),
            &[1, 2, 3, 4]
        );
    }
}

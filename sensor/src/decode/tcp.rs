//! TCP header view.
//!
//! [`Packet`] wraps a buffer that starts at the TCP header. After
//! [`Packet::check_len`] succeeded, no accessor can panic. Options are
//! available raw through [`Packet::options`]; checksums are not validated.

use super::{be16, be32};
use super::{DecodeError, Layer, TcpInfo};

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const FLAGS: Range<usize> = 12..14;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const URGENT: Range<usize> = 18..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = field::URGENT.end;

/// A read-only view over a TCP header and its payload.
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

    /// Checks: the buffer holds the fixed header; the data offset is at
    /// least 5 words; the buffer holds the options.
    ///
    /// # Errors
    /// `Truncated(Tcp)` for a short buffer, `BadLength(Tcp)` for a data
    /// offset below 5.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated(Layer::Tcp));
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(DecodeError::BadLength(Layer::Tcp));
        }
        if len < hlen {
            return Err(DecodeError::Truncated(Layer::Tcp));
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

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(self.b(), field::SEQ_NUM)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        be32(self.b(), field::ACK_NUM)
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(be16(self.b(), field::FLAGS) >> 12) * 4
    }

    /// The eight classic flag bits (FIN..CWR).
    pub fn flags(&self) -> u8 {
        be16(self.b(), field::FLAGS) as u8
    }

    /// The reserved bits between the data offset and the flags (NS
    /// included).
    pub fn reserved(&self) -> u8 {
        ((be16(self.b(), field::FLAGS) >> 8) & 0x0f) as u8
    }

    /// Window size.
    pub fn window_len(&self) -> u16 {
        be16(self.b(), field::WIN_SIZE)
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        be16(self.b(), field::URGENT)
    }

    /// Raw option bytes.
    pub fn options(&self) -> &[u8] {
        self.b().get(HEADER_LEN..self.header_len()).unwrap_or(&[])
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.header_len()..).unwrap_or(&[])
    }

    /// The summary later stages read.
    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            seq: self.seq_number(),
            ack: self.ack_number(),
            flags: self.flags(),
            window: self.window_len(),
            urgent: self.urgent_at(),
            reserved: self.reserved(),
            header_len: self.header_len() as u8,
        }
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(self.header_len()..).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        let mut v = vec![
            0xc3, 0x50, 0x00, 0x16, // 50000 -> 22
            0x00, 0x00, 0x03, 0xe8, // seq 1000
            0x00, 0x00, 0x07, 0xd0, // ack 2000
            0x60, 0x18, // doff 6, PSH|ACK
            0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // win, csum, urg
            0x02, 0x04, 0x05, 0xb4, // MSS option
        ];
        v.extend_from_slice(b"SSH-");
        v
    }

    #[test]
    fn good_fixture_fields() {
        let f = fixture();
        let p = Packet::new_checked(&f[..]).unwrap();
        let i = p.info();
        assert_eq!((i.src_port, i.dst_port), (50000, 22));
        assert_eq!((i.seq, i.ack), (1000, 2000));
        assert_eq!(i.flags, 0x18);
        assert_eq!(i.header_len, 24);
        assert_eq!(i.window, 0xffff);
        assert_eq!(p.options(), &[2, 4, 5, 0xb4]);
        assert_eq!(p.payload(), b"SSH-");
    }

    #[test]
    fn shorter_than_fixed_header() {
        let f = fixture();
        assert_eq!(
            Packet::new_checked(&f[..19]).unwrap_err(),
            DecodeError::Truncated(Layer::Tcp)
        );
    }

    #[test]
    fn data_offset_below_minimum() {
        let mut f = fixture();
        f[12] = 0x40;
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::BadLength(Layer::Tcp)
        );
    }

    #[test]
    fn data_offset_past_buffer() {
        let mut f = fixture();
        f[12] = 0xf0; // 60 bytes
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::Truncated(Layer::Tcp)
        );
    }

    #[test]
    fn reserved_bits() {
        let mut f = fixture();
        f[12] = 0x6e;
        assert_eq!(Packet::new_checked(&f[..]).unwrap().reserved(), 0x0e);
    }
}

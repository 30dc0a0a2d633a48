//! ICMPv4 and ICMPv6 header view (they share the first 8 bytes' layout).
//!
//! [`Packet`] wraps a buffer that starts at the ICMP header. After
//! [`Packet::check_len`] succeeded, no accessor can panic. Echo messages
//! carry an id and sequence; for other types those bytes read as 0 in the
//! summary. Checksums are not validated.

use super::be16;
use super::event::Ev;
use super::{DecodeError, IcmpInfo, Layer};

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
}

/// Header length (type, code, checksum, 4 bytes of "rest of header").
pub const HEADER_LEN: usize = field::ECHO_SEQNO.end;

/// A read-only view over an ICMP or ICMPv6 message.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// True for echo request/reply types of ICMPv4 (8/0) or ICMPv6 (128/129).
pub fn is_echo(v6: bool, itype: u8) -> bool {
    if v6 {
        itype == 128 || itype == 129
    } else {
        itype == 8 || itype == 0
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer and checks its length.
    ///
    /// # Errors
    /// See [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Packet<T>, DecodeError> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds the 8-byte header.
    ///
    /// # Errors
    /// `Truncated(Icmp)`.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        if self.b().len() < HEADER_LEN {
            return Err(DecodeError::Truncated(Layer::Icmp));
        }
        Ok(())
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.b().get(field::TYPE).copied().unwrap_or(0)
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.b().get(field::CODE).copied().unwrap_or(0)
    }

    /// Echo identifier (meaningful for echo messages only).
    pub fn echo_ident(&self) -> u16 {
        be16(self.b(), field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo messages only).
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.b(), field::ECHO_SEQNO)
    }

    /// Bytes after the 8-byte header.
    pub fn payload(&self) -> &[u8] {
        self.b().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// The summary later stages read.
    pub fn info(&self, v6: bool) -> IcmpInfo {
        let itype = self.msg_type();
        let echo = is_echo(v6, itype);
        IcmpInfo {
            v6,
            itype,
            icode: self.msg_code(),
            id: if echo { self.echo_ident() } else { 0 },
            seq: if echo { self.echo_seq_no() } else { 0 },
        }
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(HEADER_LEN..).unwrap_or(&[])
    }
}

/// Suricata's type/code validation: the anomaly for an unknown type or a
/// code out of range for its type, if any.
pub fn check_type_code(v6: bool, t: u8, c: u8) -> Option<Ev> {
    if v6 {
        let max_code = match t {
            1 => 7,
            2 | 128 | 129 | 130 | 131 | 132 | 133 | 134 | 135 | 136 | 137 | 143 => 0,
            3 => 1,
            4 => 3,
            138 => 255,
            139 | 140 => 2,
            100 | 101 | 200 | 201 => return Some(Ev::Icmpv6ExperimentationType),
            5..=99 | 102..=126 | 162..=199 | 202..=254 => return Some(Ev::Icmpv6UnassignedType),
            141..=161 => 255,
            _ => return Some(Ev::Icmpv6UnknownType),
        };
        return (c > max_code).then_some(Ev::Icmpv6UnknownCode);
    }
    let max_code = match t {
        0 | 4 | 8 | 10 | 13 | 14 | 15 | 16 | 17 | 18 => 0,
        3 => 15,
        5 => 3,
        9 => 16,
        11 => 1,
        12 => 2,
        _ => return Some(Ev::Icmpv4UnknownType),
    };
    (c > max_code).then_some(Ev::Icmpv4UnknownCode)
}

/// ICMPv4 error types that quote the offending packet's IPv4 header.
pub fn quotes_ipv4(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_fields() {
        let f = [8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, b'x'];
        let p = Packet::new_checked(&f[..]).unwrap();
        let i = p.info(false);
        assert_eq!((i.itype, i.icode, i.id, i.seq), (8, 0, 0x1234, 7));
        assert_eq!(p.payload(), b"x");
    }

    #[test]
    fn non_echo_has_no_id() {
        let f = [3, 3, 0, 0, 0x12, 0x34, 0x00, 0x07];
        let i = Packet::new_checked(&f[..]).unwrap().info(false);
        assert_eq!((i.itype, i.icode, i.id, i.seq), (3, 3, 0, 0));
        let f6 = [129, 0, 0, 0, 0, 9, 0, 1];
        assert_eq!(Packet::new_checked(&f6[..]).unwrap().info(true).id, 9);
    }

    #[test]
    fn shorter_than_header() {
        let f = [8, 0, 0, 0, 0x12, 0x34, 0x00];
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            DecodeError::Truncated(Layer::Icmp)
        );
    }
}

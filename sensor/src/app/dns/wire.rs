//! DNS wire format: the 12-byte header and (compressed) names, read through
//! offsets into the whole message, so no input can make them panic.
//!
//! Names follow Suricata 7's rules: at most [`MAX_LABELS`] labels or
//! pointers per name (the guard against pointer loops), names longer than
//! [`MAX_NAME_LEN`] in text form are cut and flagged, and a pointer to
//! itself is an infinite loop. What can be recovered (the end of the name
//! in the message is known because a pointer was followed) is returned
//! with a flag; what cannot is an error.

/// Length of the DNS header.
pub const HEADER_LEN: usize = 12;
/// Longest name kept, in text form (dnsmasq's limit, as Suricata).
pub const MAX_NAME_LEN: usize = 1025;
/// Labels and pointers followed per name before giving up.
pub const MAX_LABELS: usize = 255;

/// A message could not be parsed (malformed or cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Big-endian reads at an offset of a message; `None` past its end.
pub fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_be_bytes(a))
}

/// The fixed header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// The DNS transaction id (EVE `id`).
    pub id: u16,
    pub flags: u16,
    pub questions: u16,
    pub answers: u16,
    pub authorities: u16,
    pub additionals: u16,
}

impl Header {
    /// Reads the header at the start of `msg`.
    pub fn parse(msg: &[u8]) -> Option<Header> {
        Some(Header {
            id: u16_at(msg, 0)?,
            flags: u16_at(msg, 2)?,
            questions: u16_at(msg, 4)?,
            answers: u16_at(msg, 6)?,
            authorities: u16_at(msg, 8)?,
            additionals: u16_at(msg, 10)?,
        })
    }

    /// QR bit: a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    pub fn rcode(&self) -> u16 {
        self.flags & 0x000f
    }

    /// The reserved Z bit.
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }

    /// Suricata's sanity check: every record announced needs at least two
    /// bytes, so a message of `len` bytes cannot announce more.
    pub fn plausible(&self, len: usize) -> bool {
        let records = usize::from(self.questions)
            + usize::from(self.answers)
            + usize::from(self.authorities)
            + usize::from(self.additionals);
        2 * records + HEADER_LEN <= len
    }
}

/// Recoverable problems of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NameFlags {
    /// A pointer pointed at itself.
    pub infinite_loop: bool,
    /// Cut at [`MAX_NAME_LEN`] (or at the label limit).
    pub truncated: bool,
    /// More than [`MAX_LABELS`] labels or pointers.
    pub label_limit: bool,
}

impl NameFlags {
    pub fn merge(&mut self, o: NameFlags) {
        self.infinite_loop |= o.infinite_loop;
        self.truncated |= o.truncated;
        self.label_limit |= o.label_limit;
    }
}

/// A name in text form (labels joined by `.`, bytes as sent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Name {
    pub value: Vec<u8>,
    pub flags: NameFlags,
}

/// Reads the name at offset `start` of `msg`. Returns it and the offset
/// just after it (after the first pointer when one was followed). The
/// flags of the name are also or-ed into `acc`.
pub fn parse_name(
    msg: &[u8],
    start: usize,
    acc: &mut NameFlags,
) -> Result<(Name, usize), Malformed> {
    parse_name_in(msg, start, msg.len(), acc)
}

/// [`parse_name`] for a name inside record data that ends at `end`: its
/// labels up to the first pointer must lie before `end` (pointers may lead
/// anywhere in the message).
pub fn parse_name_in(
    msg: &[u8],
    start: usize,
    end: usize,
    acc: &mut NameFlags,
) -> Result<(Name, usize), Malformed> {
    let full = msg;
    let mut msg = msg.get(..end).unwrap_or(msg);
    let mut pos = start;
    // Where parsing continues after the name once a pointer was followed.
    let mut pivot: Option<usize> = None;
    let mut value: Vec<u8> = Vec::with_capacity(32);
    let mut flags = NameFlags::default();
    let mut count = 0usize;
    // Running off the end ends the name: the caller's next read fails.
    while let Some(len) = u8_at(msg, pos) {
        if len == 0 {
            pos += 1;
            break;
        }
        match len & 0xc0 {
            0x00 => {
                let from = pos + 1;
                let label = msg.get(from..from + usize::from(len)).ok_or(Malformed)?;
                if !flags.truncated {
                    if !value.is_empty() {
                        value.push(b'.');
                    }
                    value.extend_from_slice(label);
                }
                pos = from + usize::from(len);
            }
            0xc0 => {
                let leader = u16_at(msg, pos).ok_or(Malformed)?;
                let offset = usize::from(leader & 0x3fff);
                if offset > full.len() {
                    return Err(Malformed);
                }
                if offset == pos {
                    flags.infinite_loop = true;
                    if pivot.is_some() {
                        break;
                    }
                    acc.merge(flags);
                    return Err(Malformed);
                }
                if pivot.is_none() {
                    pivot = Some(pos + 2);
                    msg = full;
                }
                pos = offset;
            }
            // 0x40 and 0x80: extended and reserved label types.
            _ => return Err(Malformed),
        }
        count += 1;
        if count > MAX_LABELS {
            flags.label_limit = true;
            if pivot.is_some() {
                flags.truncated = true;
                break;
            }
            acc.merge(flags);
            return Err(Malformed);
        }
        if value.len() > MAX_NAME_LEN {
            value.truncate(MAX_NAME_LEN);
            flags.truncated = true;
            if pivot.is_some() {
                break;
            }
        }
    }
    // The label limit can end the walk right after a label that crossed
    // the length limit.
    if value.len() > MAX_NAME_LEN {
        value.truncate(MAX_NAME_LEN);
        flags.truncated = true;
    }
    acc.merge(flags);
    Ok((Name { value, flags }, pivot.unwrap_or(pos)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(msg: &[u8], at: usize) -> Result<(Name, usize), Malformed> {
        parse_name(msg, at, &mut NameFlags::default())
    }

    #[test]
    fn plain_and_compressed_names() {
        // header (12) + www.example.com + pointer to "example.com".
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00");
        let ptr_at = m.len();
        m.extend_from_slice(&[0xc0, 16, 0xab]);
        let (n, next) = name(&m, 12).unwrap();
        assert_eq!(n.value, b"www.example.com");
        assert_eq!(next, ptr_at);
        let (n, next) = name(&m, ptr_at).unwrap();
        assert_eq!(n.value, b"example.com");
        assert_eq!(next, ptr_at + 2);
        assert_eq!(n.flags, NameFlags::default());
    }

    #[test]
    fn root_and_cut_names() {
        let m = [0u8; 13];
        assert_eq!(name(&m, 12).unwrap().0.value, b"");
        // A label running past the end.
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x05ab");
        assert_eq!(name(&m, 12), Err(Malformed));
        // A pointer cut in half, a pointer past the end, reserved types.
        assert_eq!(name(&[0xc0], 0), Err(Malformed));
        assert_eq!(name(&[0xc0, 0x40], 0), Err(Malformed));
        assert_eq!(name(&[0x40, 0x00], 0), Err(Malformed));
        assert_eq!(name(&[0x80, 0x00], 0), Err(Malformed));
    }

    #[test]
    fn self_pointer_is_an_infinite_loop() {
        // A direct self reference: an error, flagged.
        let mut acc = NameFlags::default();
        assert_eq!(parse_name(&[0xc0, 0x00], 0, &mut acc), Err(Malformed));
        assert!(acc.infinite_loop);
        // After following a pointer: recovered, the name ends there.
        let m = [0x01, b'a', 0xc0, 0x02, 0xc0, 0x00];
        let (n, next) = name(&m, 4).unwrap();
        assert!(n.flags.infinite_loop);
        assert_eq!(n.value, b"a");
        assert_eq!(next, 6);
    }

    #[test]
    fn pointer_loops_stop_at_the_label_limit() {
        // Two pointers pointing at each other.
        let m = [0xc0, 0x02, 0xc0, 0x00];
        let mut acc = NameFlags::default();
        let (n, next) = parse_name(&m, 0, &mut acc).unwrap();
        assert!(n.flags.label_limit && n.flags.truncated);
        assert!(acc.label_limit);
        assert_eq!(next, 2);
        // A label repeated through a loop grows the name until the cut.
        let m = [0x3f; 64 + 2];
        let mut m = m.to_vec();
        m[0] = 63;
        m[64] = 0xc0;
        m[65] = 0x00;
        let mut msg = m.clone();
        msg.extend_from_slice(&[0xc0, 0x00]);
        let (n, _) = name(&msg, 66).unwrap();
        assert!(n.flags.truncated);
        assert_eq!(n.value.len(), MAX_NAME_LEN);
        // 256 labels without pointers: an error.
        let mut m = Vec::new();
        for _ in 0..300 {
            m.extend_from_slice(b"\x01a");
        }
        m.push(0);
        let mut acc = NameFlags::default();
        assert_eq!(parse_name(&m, 0, &mut acc), Err(Malformed));
        assert!(acc.label_limit);
    }

    #[test]
    fn long_name_without_pointer_is_cut_but_parsed_to_its_end() {
        let mut m = Vec::new();
        for _ in 0..20 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.push(0);
        m.extend_from_slice(&[0, 1]);
        let (n, next) = name(&m, 0).unwrap();
        assert!(n.flags.truncated);
        assert_eq!(n.value.len(), MAX_NAME_LEN);
        assert_eq!(next, m.len() - 2);
    }

    #[test]
    fn header_fields() {
        let h = Header::parse(&[0x12, 0x34, 0x81, 0xc3, 0, 1, 0, 2, 0, 0, 0, 1]).unwrap();
        assert_eq!(h.id, 0x1234);
        assert!(h.is_response() && h.z());
        assert_eq!((h.opcode(), h.rcode()), (0, 3));
        assert!(h.plausible(12 + 8) && !h.plausible(12 + 7));
        assert!(Header::parse(&[0; 11]).is_none());
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// A pointer loop through a label that ends past the cut: the name must
    /// still be cut at MAX_NAME_LEN (fuzz crash ef7aedfe).
    #[test]
    fn loop_name_is_cut() {
        let m: &[u8] = &[
            0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'e',
            b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x0d,
            0x00, 0x00, 0x00, 0x04, 0x00, 0x2d, 0x01, 0x00, 0x01,
        ];
        let mut acc = NameFlags::default();
        let (n, _) = parse_name(m, 12, &mut acc).unwrap();
        assert_eq!(n.value.len(), MAX_NAME_LEN);
        assert!(n.flags.truncated && n.flags.label_limit);
    }
}

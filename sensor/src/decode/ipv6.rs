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

use super::event::{Ev, Events};
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

/// Result of [`walk_exthdrs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtHdrs {
    /// Upper-layer protocol (Suricata's `IPV6_SET_L4PROTO`: the last
    /// header type looked at).
    pub proto: u8,
    /// Where the upper layer starts in the walked data.
    pub l4_off: usize,
    /// The walk reached an upper-layer protocol to decode (`proto` at
    /// `l4_off`); false after a fragment, "no next header", an unknown
    /// header or a fatal anomaly.
    pub l4: bool,
    /// The first fragment header, if any: (its offset in the data, offset
    /// of the next-header byte naming it, counted from the IPv6 header
    /// start, fragment offset in bytes, more fragments, id, next header).
    pub frag: Option<FragHdr>,
    /// A fatal anomaly (`ENGINE_SET_INVALID_EVENT` in Suricata).
    pub fatal: Option<Ev>,
}

/// Fields of an IPv6 fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FragHdr {
    /// Offset of the fragment header in the walked data.
    pub at: usize,
    /// Offset, from the IPv6 header start, of the next-header byte that
    /// names the fragment header.
    pub prev_nh: usize,
    pub offset: u32,
    pub more: bool,
    pub id: u32,
    pub next: u8,
}

const OPT_PAD1: u8 = 0;
const OPT_PADN: u8 = 1;
const OPT_RA: u8 = 5;
const OPT_JUMBO: u8 = 0xc2;
const OPT_HAO: u8 = 0xc9;

/// Walks the extension headers starting with `first` over `data` (the
/// payload after the fixed header) as Suricata's `DecodeIPV6ExtHdrs`,
/// pushing its anomalies into `events`. Every step advances at least 8
/// bytes, so the walk ends.
pub fn walk_exthdrs(first: u8, data: &[u8], events: &mut Events) -> ExtHdrs {
    let mut nh = first;
    let mut off = 0usize;
    let mut prev_nh = field::NXT_HDR;
    let (mut hh, mut rh, mut ah, mut fh) = (false, false, false, false);
    let mut dstopts = 0u8;
    let mut out = ExtHdrs::default();
    loop {
        let rest = data.get(off..).unwrap_or(&[]);
        let plen = rest.len();
        out.l4_off = off;
        if nh == next_header::NO_NEXT {
            if plen > 0 {
                events.push(Ev::Ipv6DataAfterNoneHeader);
            }
            out.proto = nh;
            return out;
        }
        // An upper layer right after the fixed header is decoded (and
        // judged) by its own decoder, as Suricata's DecodeIPV6 hands it
        // over without the extension-header walk's length check.
        if off == 0 && matches!(nh, 6 | 17 | 58 | 132 | 4 | 41 | 47) {
            out.proto = nh;
            out.l4 = true;
            return out;
        }
        if plen < 2 {
            out.fatal = Some(Ev::Ipv6TruncExthdr);
            return out;
        }
        let b1 = usize::from(rest.get(1).copied().unwrap_or(0));
        let next = rest.first().copied().unwrap_or(0);
        let hdrlen = match nh {
            6 | 17 | 58 | 132 | 50 | 4 | 41 => {
                out.proto = nh;
                out.l4 = true;
                return out;
            }
            1 => {
                events.push(Ev::Ipv6Icmpv4);
                out.proto = nh;
                return out;
            }
            next_header::ROUTING => {
                out.proto = nh;
                let l = 8 + b1 * 8;
                if l > plen {
                    out.fatal = Some(Ev::Ipv6TruncExthdr);
                    return out;
                }
                if rh {
                    events.push(Ev::Ipv6ExthdrDuplRh);
                } else {
                    rh = true;
                    if rest.get(2) == Some(&0) {
                        events.push(Ev::Ipv6RhType0);
                    }
                }
                l
            }
            next_header::HOP_BY_HOP | next_header::DEST_OPTS => {
                out.proto = nh;
                let l = (b1 + 1) << 3;
                if l > plen {
                    out.fatal = Some(Ev::Ipv6TruncExthdr);
                    return out;
                }
                let dup = if nh == next_header::HOP_BY_HOP {
                    let d = hh;
                    hh = true;
                    d
                } else {
                    dstopts += 1;
                    dstopts > 2
                };
                if dup {
                    events.push(if nh == next_header::HOP_BY_HOP {
                        Ev::Ipv6ExthdrDuplHh
                    } else {
                        Ev::Ipv6ExthdrDuplDh
                    });
                } else {
                    options(nh, rest.get(2..l).unwrap_or(&[]), events);
                }
                l
            }
            next_header::FRAGMENT => {
                out.proto = nh;
                let l = 8;
                if l > plen {
                    out.fatal = Some(Ev::Ipv6TruncExthdr);
                    return out;
                }
                if b1 != 0 {
                    events.push(Ev::Ipv6FhNonZeroReservedField);
                }
                if fh {
                    events.push(Ev::Ipv6ExthdrDuplFh);
                } else {
                    fh = true;
                    let ofm = super::be16(rest, 2..4);
                    let f = FragHdr {
                        at: off,
                        prev_nh,
                        offset: u32::from(ofm & 0xfff8),
                        more: ofm & 1 != 0,
                        id: super::be32(rest, 4..8),
                        next,
                    };
                    if !f.more && f.offset == 0 {
                        events.push(Ev::Ipv6ExthdrUselessFh);
                    } else {
                        if f.more && (plen - l) % 8 != 0 {
                            events.push(Ev::Ipv6FragInvalidLength);
                        }
                        out.frag = Some(f);
                        // The rest is parsed on reassembly.
                        out.l4_off = off + l;
                        out.proto = next;
                        return out;
                    }
                }
                l
            }
            next_header::AH => {
                out.proto = nh;
                let l = if b1 > 0 { 12 + (b1 - 1) * 4 } else { 12 };
                if l > plen {
                    out.fatal = Some(Ev::Ipv6TruncExthdr);
                    return out;
                }
                if super::be16(rest, 2..4) != 0 {
                    events.push(Ev::Ipv6ExthdrAhResNotNull);
                }
                if ah {
                    events.push(Ev::Ipv6ExthdrDuplAh);
                }
                ah = true;
                l
            }
            // Mobility, HIP, Shim6: skipped.
            135 | 139 | 140 => {
                let l = 8 + b1 * 8;
                if l > plen {
                    out.fatal = Some(Ev::Ipv6TruncExthdr);
                    return out;
                }
                l
            }
            _ => {
                events.push(Ev::Ipv6UnknownNextHeader);
                out.proto = nh;
                return out;
            }
        };
        prev_nh = HEADER_LEN + off;
        nh = next;
        off += hdrlen;
    }
}

/// Hop-by-hop or destination options (without the 2-byte header).
fn options(nh: u8, opts: &[u8], events: &mut Events) {
    let optslen = opts.len();
    let (mut padn, mut other) = (0u32, 0u32);
    let mut o = 0usize;
    while o < optslen {
        let t = opts.get(o).copied().unwrap_or(0);
        if t == OPT_PAD1 {
            padn += 1;
            o += 1;
            continue;
        }
        if o + 1 >= optslen {
            events.push(Ev::Ipv6ExthdrInvalidOptlen);
            break;
        }
        let ol = usize::from(opts.get(o + 1).copied().unwrap_or(0));
        if o + 1 + ol > optslen {
            events.push(Ev::Ipv6ExthdrInvalidOptlen);
            break;
        }
        match t {
            OPT_PADN => {
                padn += 1;
                if ol == 0 {
                    events.push(Ev::Ipv6ZeroLenPadn);
                }
            }
            OPT_RA => {
                if ol < 2 {
                    events.push(Ev::Ipv6ExthdrInvalidOptlen);
                    break;
                }
                other += 1;
            }
            OPT_JUMBO => {
                if ol < 4 {
                    events.push(Ev::Ipv6ExthdrInvalidOptlen);
                    break;
                }
            }
            OPT_HAO => {
                if ol < 16 {
                    events.push(Ev::Ipv6ExthdrInvalidOptlen);
                    break;
                }
                other += 1;
            }
            _ => {
                events.push(if nh == next_header::HOP_BY_HOP {
                    Ev::Ipv6HopoptsUnknownOpt
                } else {
                    Ev::Ipv6DstoptsUnknownOpt
                });
                other += 1;
            }
        }
        o += ol + 2;
    }
    if padn > 0 && other == 0 {
        events.push(if nh == next_header::HOP_BY_HOP {
            Ev::Ipv6HopoptsOnlyPadding
        } else {
            Ev::Ipv6DstoptsOnlyPadding
        });
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

//! Offline capture files (`-r FILE`): classic pcap (both byte orders,
//! microsecond and nanosecond variants) and pcapng (SHB, IDB with
//! `if_tsresol`/`if_tsoffset`, EPB, SPB and the obsolete PB; other blocks
//! are skipped), read as a stream with one reused buffer.
//!
//! Frames are handed on whole, with their link type: decoding the link
//! layer (Ethernet, VLAN/QinQ, SLL/SLL2, NULL/LOOP, PPP, raw IP) is
//! `decode`'s job, so its counters and the EVE `ether` object see it. The
//! link types accepted are [`crate::decode::link::supported`]'s. A
//! truncated or malformed file header gives [`CaptureError::PcapFormat`]
//! naming the file and the byte offset; a corrupt record later in the file
//! is logged and ends the file (as libpcap, which cannot resynchronise),
//! keeping what was read; nothing here panics.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{CaptureError, PacketHandler};
use crate::counters::{add, inc, SourceCounters};
use crate::packet::{CapturedPacket, Source, Timestamp};

/// What a file contained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapSummary {
    /// Frames handed to the handler.
    pub packets: u64,
    /// Their captured bytes (link layer included).
    pub bytes: u64,
    /// Records not read: a corrupt record ends the file early (1 then).
    pub skipped: u64,
    /// Packets whose capture was shorter than the original.
    pub truncated: u64,
    /// Time of the first and last packet.
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
}

/// Largest record or block accepted (guards against garbage lengths).
const MAX_RECORD: u32 = 64 << 20;

fn supported_linktype(lt: u16) -> bool {
    crate::decode::link::supported(lt)
}

/// Reads `path`, handing every IP packet to `handler` (source
/// [`Source::Pcap`], timestamps from the file) and calling `handler.tick`
/// whenever file time advances by a second, and once at the end.
pub fn read_pcap(
    path: &Path,
    handler: &mut dyn PacketHandler,
    counters: &SourceCounters,
) -> Result<PcapSummary, CaptureError> {
    read_pcap_as(path, Source::Pcap, handler, counters)
}

/// [`read_pcap`] with the packets tagged as `source` (and so its mode):
/// [`Source::PcapIps`] for `--simulate-ips`.
pub fn read_pcap_as(
    path: &Path,
    source: Source,
    handler: &mut dyn PacketHandler,
    counters: &SourceCounters,
) -> Result<PcapSummary, CaptureError> {
    let file = File::open(path).map_err(|source| CaptureError::PcapIo {
        path: path.to_path_buf(),
        source,
    })?;
    read_pcap_from_as(
        BufReader::with_capacity(1 << 20, file),
        path,
        source,
        handler,
        counters,
    )
}

/// [`read_pcap`] over any reader; `name` is used in error messages.
pub fn read_pcap_from<R: Read>(
    reader: R,
    name: &Path,
    handler: &mut dyn PacketHandler,
    counters: &SourceCounters,
) -> Result<PcapSummary, CaptureError> {
    read_pcap_from_as(reader, name, Source::Pcap, handler, counters)
}

/// [`read_pcap_from`] with the packets tagged as `source`.
pub fn read_pcap_from_as<R: Read>(
    reader: R,
    name: &Path,
    source: Source,
    handler: &mut dyn PacketHandler,
    counters: &SourceCounters,
) -> Result<PcapSummary, CaptureError> {
    let mut rd = Reader {
        r: reader,
        offset: 0,
        path: name.to_path_buf(),
    };
    let mut out = Emitter {
        source,
        handler,
        counters,
        summary: PcapSummary::default(),
        last_tick_secs: None,
    };
    let mut magic = [0u8; 4];
    if rd.fill(&mut magic)? < 4 {
        return Err(rd.format_err(0, "file too short for a pcap or pcapng header".into()));
    }
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => {
            read_classic(&mut rd, &mut out, magic, Endian::Little)?
        }
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => {
            read_classic(&mut rd, &mut out, magic, Endian::Big)?
        }
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(&mut rd, &mut out)?,
        _ => {
            return Err(rd.format_err(
                0,
                format!("not a pcap or pcapng file (magic {:02x?})", magic),
            ))
        }
    }
    let end = out.summary.last_ts.unwrap_or_else(Timestamp::now);
    out.handler.tick(end);
    Ok(out.summary)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }
    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }
}

struct Reader<R> {
    r: R,
    offset: u64,
    path: PathBuf,
}

impl<R: Read> Reader<R> {
    /// Reads until `buf` is full or the file ends; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, CaptureError> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(buf.get_mut(n..).unwrap_or(&mut [])) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::PcapIo {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
        self.offset += n as u64;
        Ok(n)
    }

    /// Reads exactly `buf.len()` bytes of the item that started at `start`.
    fn exact(&mut self, buf: &mut [u8], start: u64, what: &str) -> Result<(), CaptureError> {
        let want = buf.len();
        let got = self.fill(buf)?;
        if got < want {
            return Err(self.format_err(
                start,
                format!("truncated {what}: file ends after {got} of {want} bytes"),
            ));
        }
        Ok(())
    }

    /// Replaces `buf` with exactly `n` bytes of the item that started at
    /// `start`, growing it only as far as the file really has data (a
    /// garbage length cannot make us allocate memory the file does not back).
    fn exact_vec(
        &mut self,
        buf: &mut Vec<u8>,
        n: usize,
        start: u64,
        what: &str,
    ) -> Result<(), CaptureError> {
        buf.clear();
        let got = loop {
            match (&mut self.r).take(n as u64).read_to_end(buf) {
                Ok(k) => break k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CaptureError::PcapIo {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        };
        self.offset += got as u64;
        if buf.len() < n {
            return Err(self.format_err(
                start,
                format!(
                    "truncated {what}: file ends after {} of {n} bytes",
                    buf.len()
                ),
            ));
        }
        Ok(())
    }

    fn format_err(&self, offset: u64, what: String) -> CaptureError {
        CaptureError::PcapFormat {
            path: self.path.clone(),
            offset,
            what,
        }
    }
}

struct Emitter<'h, 'c> {
    /// The source every packet is tagged with (its mode follows).
    source: Source,
    handler: &'h mut dyn PacketHandler,
    counters: &'c SourceCounters,
    summary: PcapSummary,
    last_tick_secs: Option<i64>,
}

impl Emitter<'_, '_> {
    fn frame(&mut self, linktype: u16, ts: Timestamp, frame: &[u8], orig_len: u32) {
        let data = frame;
        let orig_len = orig_len.max(data.len() as u32);
        match self.last_tick_secs {
            Some(last) if ts.secs > last => {
                self.handler.tick(ts);
                self.last_tick_secs = Some(ts.secs);
            }
            Some(_) => {}
            None => self.last_tick_secs = Some(ts.secs),
        }
        let pkt = CapturedPacket {
            source: self.source,
            ts,
            data,
            linktype,
            orig_len,
            csum_unknown: false,
        };
        inc(&self.counters.packets);
        add(&self.counters.bytes, data.len() as u64);
        self.summary.packets += 1;
        self.summary.bytes += data.len() as u64;
        if pkt.truncated() {
            inc(&self.counters.truncated);
            self.summary.truncated += 1;
        }
        self.summary.first_ts.get_or_insert(ts);
        self.summary.last_ts = Some(ts);
        let _ = self.handler.handle(&pkt);
    }
}

fn read_classic<R: Read>(
    rd: &mut Reader<R>,
    out: &mut Emitter<'_, '_>,
    magic: [u8; 4],
    e: Endian,
) -> Result<(), CaptureError> {
    let nanos = matches!(magic, [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d]);
    let mut hdr = [0u8; 20];
    rd.exact(&mut hdr, 0, "pcap file header")?;
    let linktype_raw = e.u32(&hdr, 16).unwrap_or(0);
    let linktype = (linktype_raw & 0xffff) as u16;
    if !supported_linktype(linktype) {
        return Err(rd.format_err(
            20,
            format!("unsupported link type {linktype} (supported: RAW 101/12/14, IPv4 228, IPv6 229, Ethernet 1, PPP 9, SLL 113, SLL2 276, NULL 0, LOOP 108)"),
        ));
    }
    let mut rec = [0u8; 16];
    let mut data: Vec<u8> = Vec::with_capacity(65_536);
    loop {
        let start = rd.offset;
        let got = rd.fill(&mut rec)?;
        if got == 0 {
            return Ok(());
        }
        if got < rec.len() {
            return truncated_end(
                out,
                rd.format_err(
                    start,
                    format!("truncated record header: file ends after {got} of 16 bytes"),
                ),
            );
        }
        let secs = e.u32(&rec, 0).unwrap_or(0);
        let frac = e.u32(&rec, 4).unwrap_or(0);
        let incl = e.u32(&rec, 8).unwrap_or(0);
        let orig = e.u32(&rec, 12).unwrap_or(0);
        if incl > MAX_RECORD {
            // libpcap gives up on the file here; so do we, keeping what
            // was read (Suricata logs it and exits 0).
            tracing::error!(
                path = %rd.path.display(),
                offset = start,
                captured_length = incl,
                "corrupt pcap record header: the rest of the file is skipped"
            );
            out.summary.skipped += 1;
            return Ok(());
        }
        if let Err(e) = rd.exact_vec(&mut data, incl as usize, start, "packet record") {
            return truncated_end(out, e);
        }
        let sub_limit = if nanos { 1_000_000_000 } else { 1_000_000 };
        let ts = Timestamp {
            secs: i64::from(secs) + i64::from(frac / sub_limit),
            micros: if nanos {
                (frac % sub_limit) / 1000
            } else {
                frac % sub_limit
            },
        };
        out.frame(linktype, ts, &data, orig);
    }
}

/// A file that ends inside a record (a capture cut short, a copy still
/// being written): what was read is kept, the partial record is logged and
/// counted as skipped, and the run ends normally, as Suricata (libpcap's
/// "truncated dump file") does. Read errors stay errors.
fn truncated_end(out: &mut Emitter<'_, '_>, e: CaptureError) -> Result<(), CaptureError> {
    match e {
        CaptureError::PcapFormat { .. } => {
            tracing::error!(error = %e, "pcap file ends inside a record: the partial record is skipped");
            out.summary.skipped += 1;
            Ok(())
        }
        other => Err(other),
    }
}

/// Per-interface state of a pcapng section.
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u16,
    snaplen: u32,
    /// Timestamp units per second, as (base, exponent): 10^n or 2^n.
    units_per_sec: u128,
    offset_secs: i64,
}

fn read_pcapng<R: Read>(rd: &mut Reader<R>, out: &mut Emitter<'_, '_>) -> Result<(), CaptureError> {
    let mut e = Endian::Little;
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut body: Vec<u8> = Vec::with_capacity(65_536);
    let mut head = [0u8; 8];
    // The first block type was consumed as the magic.
    let mut first = true;
    loop {
        let start = if first { 0 } else { rd.offset };
        let block_type;
        if first {
            head[..4].copy_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
            rd.exact(&mut head[4..], 0, "pcapng block header")?;
            first = false;
        } else {
            let got = rd.fill(&mut head)?;
            if got == 0 {
                return Ok(());
            }
            if got < head.len() {
                return truncated_end(
                    out,
                    rd.format_err(
                        start,
                        format!("truncated block header: file ends after {got} of 8 bytes"),
                    ),
                );
            }
        }
        let is_shb = head[..4] == [0x0a, 0x0d, 0x0d, 0x0a];
        if is_shb {
            // The byte-order magic decides how to read this section.
            let mut bom = [0u8; 4];
            rd.exact(&mut bom, start, "section header block")?;
            e = match bom {
                [0x4d, 0x3c, 0x2b, 0x1a] => Endian::Little,
                [0x1a, 0x2b, 0x3c, 0x4d] => Endian::Big,
                _ => {
                    return Err(rd.format_err(
                        start + 8,
                        format!("bad pcapng byte-order magic {:02x?}", bom),
                    ))
                }
            };
            ifaces.clear();
            block_type = 0x0a0d0d0a;
        } else {
            block_type = e.u32(&head, 0).unwrap_or(0);
        }
        let total = e.u32(&head, 4).unwrap_or(0);
        let min = if is_shb { 28 } else { 12 };
        if total < min || total & 3 != 0 || total > MAX_RECORD {
            return Err(rd.format_err(
                start,
                format!("corrupt pcapng block (type {block_type:#x}, length {total})"),
            ));
        }
        // Body = everything between the header (and the SHB's byte-order
        // magic) and the trailing length.
        let consumed = if is_shb { 12 } else { 8 };
        let body_len = total as usize - consumed - 4;
        if let Err(e) = rd.exact_vec(&mut body, body_len, start, "pcapng block") {
            return truncated_end(out, e);
        }
        let mut trailer = [0u8; 4];
        if let Err(e) = rd.exact(&mut trailer, start, "pcapng block") {
            return truncated_end(out, e);
        }
        if e.u32(&trailer, 0) != Some(total) {
            return Err(rd.format_err(
                start,
                format!(
                    "pcapng block (type {block_type:#x}) trailing length does not match {total}"
                ),
            ));
        }
        let bad = |what: &str| rd.format_err(start, format!("malformed pcapng {what}"));
        match block_type {
            // Interface Description Block
            1 => {
                let linktype = e.u16(&body, 0).ok_or_else(|| bad("interface block"))?;
                let snaplen = e.u32(&body, 4).ok_or_else(|| bad("interface block"))?;
                if !supported_linktype(linktype) {
                    return Err(rd.format_err(
                        start,
                        format!(
                            "interface {} has unsupported link type {linktype}",
                            ifaces.len()
                        ),
                    ));
                }
                let mut iface = Iface {
                    linktype,
                    snaplen,
                    units_per_sec: 1_000_000,
                    offset_secs: 0,
                };
                for (code, val) in options(e, body.get(8..).unwrap_or(&[])) {
                    match code {
                        9 => {
                            let v = *val.first().ok_or_else(|| bad("if_tsresol option"))?;
                            let exp = u32::from(v & 0x7f);
                            iface.units_per_sec = if v & 0x80 != 0 {
                                if exp > 64 {
                                    return Err(bad("if_tsresol option"));
                                }
                                1u128 << exp
                            } else {
                                10u128
                                    .checked_pow(exp)
                                    .filter(|_| exp <= 19)
                                    .ok_or_else(|| bad("if_tsresol option"))?
                            };
                        }
                        14 => {
                            iface.offset_secs =
                                e.u64(val, 0).ok_or_else(|| bad("if_tsoffset option"))? as i64;
                        }
                        _ => {}
                    }
                }
                ifaces.push(iface);
            }
            // Enhanced Packet Block, obsolete Packet Block
            6 | 2 => {
                let (if_id, rest) = if block_type == 6 {
                    (e.u32(&body, 0), 4)
                } else {
                    (e.u16(&body, 0).map(u32::from), 4)
                };
                let if_id = if_id.ok_or_else(|| bad("packet block"))?;
                let hi = e.u32(&body, rest).ok_or_else(|| bad("packet block"))?;
                let lo = e.u32(&body, rest + 4).ok_or_else(|| bad("packet block"))?;
                let cap = e.u32(&body, rest + 8).ok_or_else(|| bad("packet block"))? as usize;
                let orig = e.u32(&body, rest + 12).ok_or_else(|| bad("packet block"))?;
                let data_at = rest + 16;
                let data = body
                    .get(data_at..data_at.saturating_add(cap))
                    .ok_or_else(|| bad("packet block (captured length beyond the block)"))?;
                let iface = *ifaces.get(if_id as usize).ok_or_else(|| {
                    rd.format_err(start, format!("packet for undeclared interface {if_id}"))
                })?;
                let ts = ts_from_units(iface, (u64::from(hi) << 32) | u64::from(lo));
                out.frame(iface.linktype, ts, data, orig);
            }
            // Simple Packet Block: interface 0, no timestamp.
            3 => {
                let iface = *ifaces.first().ok_or_else(|| {
                    rd.format_err(start, "simple packet block before any interface".into())
                })?;
                let orig = e.u32(&body, 0).ok_or_else(|| bad("simple packet block"))?;
                let mut cap = (orig as usize).min(body.len().saturating_sub(4));
                if iface.snaplen != 0 {
                    cap = cap.min(iface.snaplen as usize);
                }
                let data = body.get(4..4 + cap).unwrap_or(&[]);
                let ts = out.summary.last_ts.unwrap_or_default();
                out.frame(iface.linktype, ts, data, orig);
            }
            _ => {} // SHB (handled above), name resolution, statistics, custom...
        }
    }
}

/// pcapng options: `(code, value)` until `opt_endofopt` or the end.
fn options(e: Endian, mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let code = e.u16(b, 0)?;
        let len = e.u16(b, 2)? as usize;
        if code == 0 {
            return None;
        }
        let val = b.get(4..4 + len)?;
        b = b.get(4 + ((len + 3) & !3)..).unwrap_or(&[]);
        Some((code, val))
    })
}

fn ts_from_units(iface: Iface, units: u64) -> Timestamp {
    let ups = iface.units_per_sec.max(1);
    let units = u128::from(units);
    let secs = i64::try_from(units / ups).unwrap_or(i64::MAX);
    let micros = ((units % ups) * 1_000_000 / ups) as u32;
    Timestamp {
        secs: secs.saturating_add(iface.offset_secs),
        micros,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Verdict;
    use std::sync::atomic::Ordering::Relaxed;

    #[derive(Default)]
    struct Collect {
        pkts: Vec<(Vec<u8>, Timestamp, u32)>,
        ticks: Vec<Timestamp>,
    }

    impl PacketHandler for Collect {
        fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict {
            assert_eq!(pkt.source, Source::Pcap);
            self.pkts.push((pkt.data.to_vec(), pkt.ts, pkt.orig_len));
            Verdict::Accept
        }
        fn tick(&mut self, now: Timestamp) {
            self.ticks.push(now);
        }
    }

    const IP4: [u8; 20] = [
        0x45, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2,
    ];

    fn classic(e: Endian, nanos: bool, linktype: u32, recs: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut v = Vec::new();
        let put32 = |v: &mut Vec<u8>, x: u32| match e {
            Endian::Little => v.extend_from_slice(&x.to_le_bytes()),
            Endian::Big => v.extend_from_slice(&x.to_be_bytes()),
        };
        let put16 = |v: &mut Vec<u8>, x: u16| match e {
            Endian::Little => v.extend_from_slice(&x.to_le_bytes()),
            Endian::Big => v.extend_from_slice(&x.to_be_bytes()),
        };
        put32(&mut v, if nanos { 0xa1b23c4d } else { 0xa1b2c3d4 });
        put16(&mut v, 2);
        put16(&mut v, 4);
        put32(&mut v, 0);
        put32(&mut v, 0);
        put32(&mut v, 65535);
        put32(&mut v, linktype);
        for (s, f, data, orig) in recs {
            put32(&mut v, *s);
            put32(&mut v, *f);
            put32(&mut v, data.len() as u32);
            put32(&mut v, *orig);
            v.extend_from_slice(data);
        }
        v
    }

    fn run(bytes: &[u8]) -> Result<(PcapSummary, Collect, SourceCounters), CaptureError> {
        let mut h = Collect::default();
        let c = SourceCounters::default();
        let s = read_pcap_from(bytes, Path::new("mem.pcap"), &mut h, &c)?;
        Ok((s, h, c))
    }

    #[test]
    fn classic_raw_little_endian_micro() {
        let f = classic(
            Endian::Little,
            false,
            101,
            &[
                (1_700_000_000, 250_000, &IP4, 20),
                (1_700_000_002, 1, &IP4, 40),
            ],
        );
        let (s, h, c) = run(&f).unwrap();
        assert_eq!((s.packets, s.bytes, s.truncated, s.skipped), (2, 40, 1, 0));
        assert_eq!(
            h.pkts[0].1,
            Timestamp {
                secs: 1_700_000_000,
                micros: 250_000
            }
        );
        assert_eq!(h.pkts[1].2, 40);
        assert_eq!(c.packets.load(Relaxed), 2);
        assert_eq!(c.truncated.load(Relaxed), 1);
        // One tick when time advanced, one at the end.
        assert_eq!(h.ticks.len(), 2);
        assert_eq!(h.ticks[1].secs, 1_700_000_002);
    }

    #[test]
    fn classic_ethernet_vlan_big_endian_nano() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        frame.extend_from_slice(&IP4);
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        let f = classic(
            Endian::Big,
            true,
            1,
            &[
                (10, 123_456_789, &frame, frame.len() as u32),
                (11, 0, &arp, 16),
            ],
        );
        let (s, h, _) = run(&f).unwrap();
        // Frames are handed on whole: decode strips the link layer.
        assert_eq!((s.packets, s.skipped), (2, 0));
        assert_eq!(h.pkts[0].0, frame);
        assert_eq!(
            h.pkts[0].1,
            Timestamp {
                secs: 10,
                micros: 123_456
            }
        );
        assert_eq!(h.pkts[0].2, frame.len() as u32);
    }

    #[test]
    fn linux_sll_and_sll2() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x86, 0xdd]);
        sll.extend_from_slice(&[0x60; 40]);
        let (s, h, _) = run(&classic(Endian::Little, false, 113, &[(1, 0, &sll, 56)])).unwrap();
        assert_eq!(s.packets, 1);
        assert_eq!(h.pkts[0].0, sll);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&IP4);
        let (s, h, _) = run(&classic(Endian::Little, false, 276, &[(1, 0, &sll2, 40)])).unwrap();
        assert_eq!(s.packets, 1);
        assert_eq!(h.pkts[0].0, sll2);
    }

    #[test]
    fn corrupt_record_ends_the_file_without_error() {
        let mut f = classic(Endian::Little, false, 101, &[(1, 0, &IP4, 20)]);
        // A record header claiming a gigabyte.
        for x in [2u32, 0, 1 << 30, 1 << 30] {
            f.extend_from_slice(&x.to_le_bytes());
        }
        f.extend_from_slice(&IP4);
        let (s, h, _) = run(&f).unwrap();
        assert_eq!((s.packets, s.skipped), (1, 1));
        assert_eq!(h.pkts.len(), 1);
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let total = (12 + body.len() + 3) & !3;
        let mut v = t.to_le_bytes().to_vec();
        v.extend_from_slice(&(total as u32).to_le_bytes());
        v.extend_from_slice(body);
        v.resize(total - 4, 0);
        v.extend_from_slice(&(total as u32).to_le_bytes());
        v
    }

    fn pcapng() -> Vec<u8> {
        let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut f = block(0x0a0d0d0a, &shb);
        // IDB: raw IP, snaplen 0, if_tsresol = 9 (ns).
        let mut idb = vec![101, 0, 0, 0, 0, 0, 0, 0];
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        f.extend(block(1, &idb));
        // EPB at 1_700_000_000.5 s.
        let ns: u64 = 1_700_000_000 * 1_000_000_000 + 500_000_000;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ns as u32).to_le_bytes());
        epb.extend_from_slice(&20u32.to_le_bytes());
        epb.extend_from_slice(&1500u32.to_le_bytes());
        epb.extend_from_slice(&IP4);
        f.extend(block(6, &epb));
        // A statistics block is skipped.
        f.extend(block(5, &[0u8; 12]));
        // SPB
        let mut spb = 20u32.to_le_bytes().to_vec();
        spb.extend_from_slice(&IP4);
        f.extend(block(3, &spb));
        f
    }

    #[test]
    fn pcapng_idb_epb_spb() {
        let (s, h, _) = run(&pcapng()).unwrap();
        assert_eq!(s.packets, 2);
        assert_eq!(
            h.pkts[0].1,
            Timestamp {
                secs: 1_700_000_000,
                micros: 500_000
            }
        );
        assert_eq!(h.pkts[0].2, 1500);
        assert_eq!(s.truncated, 1);
        assert_eq!(h.pkts[1].0, IP4.to_vec());
        assert_eq!(h.pkts[1].1, h.pkts[0].1);
    }

    #[test]
    fn truncated_file_keeps_what_was_read() {
        let f = classic(
            Endian::Little,
            false,
            101,
            &[(1, 0, &IP4, 20), (2, 0, &IP4, 20)],
        );
        // Cut inside the second record's data, then inside its header: the
        // first packet is read, the partial record counted as skipped, and
        // the run ends normally (as Suricata with libpcap).
        for cut in [f.len() - 5, 24 + 16 + 20 + 6] {
            let (s, h, _) = run(&f[..cut]).unwrap();
            assert_eq!(
                (s.packets, s.skipped, h.pkts.len()),
                (1, 1, 1),
                "cut at {cut}"
            );
        }
        // Cut inside the file header: an error naming the file and offset.
        let err = run(&f[..20]).err().unwrap().to_string();
        assert!(
            err.contains("mem.pcap") && err.contains("byte offset 0"),
            "{err}"
        );
        let err = run(b"hello world, not a pcap").err().unwrap().to_string();
        assert!(err.contains("not a pcap"), "{err}");
        let err = run(&classic(Endian::Little, false, 147, &[]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unsupported link type 147"), "{err}");
    }

    #[test]
    fn garbage_never_panics() {
        for base in [classic(Endian::Big, true, 1, &[(1, 0, &IP4, 20)]), pcapng()] {
            for cut in 0..base.len() {
                let _ = run(&base[..cut]);
            }
            for i in 0..base.len() {
                for v in [0u8, 0x7f, 0xff] {
                    let mut b = base.clone();
                    b[i] = v;
                    let _ = run(&b);
                }
            }
        }
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let mut h = Collect::default();
        let err = read_pcap(
            Path::new("/nonexistent/x.pcap"),
            &mut h,
            &SourceCounters::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/x.pcap"), "{err}");
    }
}

//! The byte-carrying fields of alert and `packet` events, as Suricata 7
//! writes them (`output-json-alert.c`, `output-json.c`): `payload` (base64),
//! `payload_printable`, `payload_length`, `packet` (base64 of the captured
//! frame, link layer included) and `packet_info.linktype`.

use meerkat_shared::eve::{Event, PacketInfo};

use crate::decode::Packet;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sym = |shift: u32| char::from(B64[((n >> shift) & 63) as usize]);
        out.push(sym(18));
        out.push(sym(12));
        out.push(if chunk.len() > 1 { sym(6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(0) } else { '=' });
    }
    out
}

/// Suricata's `PrintStringsToBuffer`: printable ASCII, CR and LF kept,
/// everything else as `.`.
pub fn printable(data: &[u8]) -> String {
    data.iter()
        .map(|&c| match c {
            0x20..=0x7e | b'\n' | b'\r' => char::from(c),
            _ => '.',
        })
        .collect()
}

/// Which byte fields an alert carries (`outputs.N.eve-log.types.M.alert`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PayloadOpts {
    pub payload: bool,
    pub payload_printable: bool,
    pub payload_length: bool,
    pub packet: bool,
}

impl PayloadOpts {
    pub fn any(&self) -> bool {
        self.payload || self.payload_printable || self.payload_length || self.packet
    }
}

/// Adds the payload fields for `data` (`stream`: it is reassembled stream
/// data rather than the packet's own payload).
pub fn add_payload(ev: &mut Event, data: &[u8], stream: bool, opts: &PayloadOpts) {
    if opts.payload {
        ev.payload = Some(base64(data));
    }
    if opts.payload_printable {
        ev.payload_printable = Some(printable(data));
    }
    if opts.payload_length {
        ev.payload_length = Some(data.len() as u64);
    }
    if opts.payload || opts.payload_printable {
        ev.stream = Some(u8::from(stream));
    }
}

/// Adds `packet` and `packet_info` for the captured frame of `pkt`.
pub fn add_packet(ev: &mut Event, pkt: &Packet<'_>) {
    let frame = if pkt.ext.frame.is_empty() {
        pkt.ext.ip_raw
    } else {
        pkt.ext.frame
    };
    ev.packet = Some(base64(frame));
    ev.packet_info = Some(PacketInfo {
        linktype: pkt.ext.linktype,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"G"), "Rw==");
        assert_eq!(base64(b"GO"), "R08=");
        assert_eq!(base64(b"GOOD"), "R09PRA==");
        assert_eq!(base64(b"EVIL"), "RVZJTA==");
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn printable_keeps_crlf() {
        assert_eq!(printable(b"GET /\r\n\t\x00\xffA"), "GET /\r\n...A");
    }
}

//! The pcap/pcapng reader (`-r FILE`) on arbitrary files; every packet it
//! hands over is decoded. Invariants: no panic, and the summary counts
//! exactly the packets handed over.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::capture::pcap::read_pcap_from;
use meerkat_sensor::capture::PacketHandler;
use meerkat_sensor::counters::SourceCounters;
use meerkat_sensor::decode::{decode, decode_truncated};
use meerkat_sensor::packet::{CapturedPacket, Timestamp, Verdict};

struct Decoder {
    packets: u64,
    bytes: u64,
}

impl PacketHandler for Decoder {
    fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict {
        self.packets += 1;
        self.bytes += pkt.data.len() as u64;
        let _ = if pkt.orig_len as usize > pkt.data.len() {
            decode_truncated(pkt.data)
        } else {
            decode(pkt.data)
        };
        Verdict::Accept
    }
    fn tick(&mut self, _now: Timestamp) {}
}

fuzz_target!(|data: &[u8]| {
    let mut h = Decoder {
        packets: 0,
        bytes: 0,
    };
    let counters = SourceCounters::default();
    if let Ok(s) = read_pcap_from(data, Path::new("fuzz.pcap"), &mut h, &counters) {
        assert_eq!(s.packets, h.packets);
        assert_eq!(s.bytes, h.bytes);
    }
});

//! NFLOG datagrams (nfnetlink_log messages and attributes) as the kernel
//! would send them. Invariants: no panic; every packet handed over lies
//! inside the datagram and is decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::capture::nflog::fuzz_parse_datagram;
use meerkat_sensor::decode::decode;

fuzz_target!(|input: &[u8]| {
    if input.len() < 6 {
        return;
    }
    let group = u16::from_be_bytes([input[0], input[1]]);
    let mut next_seq = u32::from_be_bytes([input[2], input[3], input[4], input[5]]);
    let data = &input[6..];
    let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    let mut seen = 0u64;
    let (packets, _lost, _malformed) = fuzz_parse_datagram(data, group, &mut next_seq, |p| {
        let at = p.data.as_ptr() as usize;
        assert!(p.data.is_empty() || (at >= start && at + p.data.len() <= end));
        let _ = decode(p.data);
        seen += 1;
    });
    assert_eq!(packets, seen);
});

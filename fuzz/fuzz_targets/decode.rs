//! Packet decode (IPv4, IPv6 with extension headers, TCP, UDP, ICMP) on
//! arbitrary bytes, strict and truncation-tolerant. Invariants: no panic;
//! the payload is a slice of the input; a strict success is also a
//! tolerant success with the same result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::decode::{decode, decode_truncated};

fuzz_target!(|data: &[u8]| {
    let strict = decode(data);
    let loose = decode_truncated(data);
    if let Ok(p) = &strict {
        let start = data.as_ptr() as usize;
        let at = p.payload.as_ptr() as usize;
        assert!(
            p.payload.is_empty() || (at >= start && at + p.payload.len() <= start + data.len()),
            "payload outside the packet"
        );
        let _ = p.ports();
        let _ = p.proto_name();
        let l = loose
            .as_ref()
            .expect("strict ok but truncated-tolerant failed");
        assert_eq!(l.payload, p.payload);
        assert_eq!(l.ip, p.ip);
    }
    if let Err(e) = &strict {
        let _ = e.reason();
    }
});

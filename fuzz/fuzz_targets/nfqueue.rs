//! NFQUEUE datagrams (nfnetlink_queue messages and attributes) parsed by
//! the vendored, patched `nfq` exactly as `Queue::recv` does, then every
//! accessor of every message. Built with AddressSanitizer: the parser is
//! `unsafe` pointer code, so an out-of-bounds read is a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::decode::decode;

fuzz_target!(|data: &[u8]| {
    let (msgs, _err, _ack) = nfq::Queue::fuzz_parse(data);
    for mut m in msgs {
        let _ = m.get_packet_id();
        let _ = m.get_hw_protocol();
        let _ = m.get_hook();
        let _ = m.get_nfmark();
        let _ = m.get_indev();
        let _ = m.get_outdev();
        let _ = m.get_physindev();
        let _ = m.get_physoutdev();
        let _ = m.get_original_len();
        let _ = m.get_skb_info();
        let _ = m.is_seg_offloaded();
        let _ = m.is_checksum_ready();
        let _ = m.get_security_context();
        let _ = m.get_uid();
        let _ = m.get_gid();
        let _ = m.get_timestamp();
        let _ = m
            .get_hw_addr()
            .map(|a| a.iter().map(|&b| u32::from(b)).sum::<u32>());
        if let Some(ct) = m.get_conntrack() {
            let _ = ct.get_id();
            let _ = ct.get_state();
        }
        let _ = decode(m.get_payload());
        let _ = m.get_payload_mut().first_mut().map(|b| *b ^= 1);
    }
});

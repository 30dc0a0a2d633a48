//! Entry points for the fuzz targets in `fuzz/` (not an API): the netlink
//! reply parsers of both backends, run on arbitrary bytes as if the kernel
//! had sent them.

use std::net::IpAddr;
use std::time::Duration;

use super::ipset::{parse_list, SetHeader};
use super::netlink::{messages, parse_error};
use super::nft_wire::{parse_elements, parse_set_info};

/// Walks `datagram` as one netlink reply and feeds every message to each
/// parser the backends use on replies: errors/acks (with extended-ack
/// text), nft set info, nft set elements (v4 and v6) and ipset list dumps.
/// Returns the addresses found (for the caller's invariants).
pub fn netlink_reply(datagram: &[u8]) -> Vec<(IpAddr, Option<Duration>)> {
    let mut out = Vec::new();
    let mut header = SetHeader::default();
    for msg in messages(datagram) {
        let Ok(msg) = msg else { break };
        let _ = parse_error(&msg);
        let _ = parse_set_info(&msg);
        parse_elements(&msg, false, &mut out);
        parse_elements(&msg, true, &mut out);
        parse_list(&msg, &mut header, &mut out);
    }
    out
}

//! meerkat-dom's netlink reply parsing (both backends): acks and errors
//! with extended-ack text, nft set info and set elements, ipset list
//! dumps, on arbitrary datagrams. Invariant: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_dom::backend::fuzzing::netlink_reply;

fuzz_target!(|data: &[u8]| {
    let found = netlink_reply(data);
    // Each element needs at least a 4-byte key attribute.
    assert!(found.len() <= data.len());
});

//! Wire format of the nftables backend: nfnetlink constants, the
//! transaction builder ([`Tx`]: `BATCH_BEGIN` … messages … `BATCH_END` in one
//! buffer, acks collected per message) and the parsers for `NEWSET` and
//! `NEWSETELEM` replies. Policy (what to send when) lives in
//! [`super::nftables`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tracing::debug;

use super::netlink::{
    KernelError, MsgBuf, NfSocket, NlError, NlMsg, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END,
    NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST,
};

pub(super) const NFNL_SUBSYS_NFTABLES: u16 = 10;

pub(super) const NFT_MSG_NEWTABLE: u16 = 0;
pub(super) const NFT_MSG_NEWSET: u16 = 9;
pub(super) const NFT_MSG_GETSET: u16 = 10;
pub(super) const NFT_MSG_NEWSETELEM: u16 = 12;
pub(super) const NFT_MSG_GETSETELEM: u16 = 13;
pub(super) const NFT_MSG_DELSETELEM: u16 = 14;
/// Like DELSETELEM but a missing element is not an error (Linux >= 6.3).
pub(super) const NFT_MSG_DESTROYSETELEM: u16 = 30;

pub(super) const NFTA_TABLE_NAME: u16 = 1;

pub(super) const NFTA_SET_TABLE: u16 = 1;
pub(super) const NFTA_SET_NAME: u16 = 2;
pub(super) const NFTA_SET_FLAGS: u16 = 3;
pub(super) const NFTA_SET_KEY_TYPE: u16 = 4;
pub(super) const NFTA_SET_KEY_LEN: u16 = 5;
pub(super) const NFTA_SET_ID: u16 = 10;

pub(super) const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
pub(super) const NFTA_SET_ELEM_LIST_SET: u16 = 2;
pub(super) const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
pub(super) const NFTA_LIST_ELEM: u16 = 1;
pub(super) const NFTA_SET_ELEM_KEY: u16 = 1;
pub(super) const NFTA_SET_ELEM_FLAGS: u16 = 3;
pub(super) const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
pub(super) const NFTA_SET_ELEM_EXPIRATION: u16 = 5;
pub(super) const NFTA_DATA_VALUE: u16 = 1;
pub(super) const NFT_SET_ELEM_INTERVAL_END: u32 = 1;

pub(super) const NFT_SET_INTERVAL: u32 = 0x4;
pub(super) const NFT_SET_MAP: u32 = 0x8;
pub(super) const NFT_SET_TIMEOUT: u32 = 0x10;
pub(super) const NFT_SET_OBJECT: u32 = 0x40;
pub(super) const NFT_SET_CONCAT: u32 = 0x80;

/// nft datatype ids (`ipv4_addr`, `ipv6_addr`).
pub(super) const TYPE_IPADDR: u32 = 7;
pub(super) const TYPE_IP6ADDR: u32 = 8;

pub(super) const NFPROTO_UNSPEC: u8 = 0;
pub(super) const NFPROTO_INET: u8 = 1;
pub(super) const NFPROTO_IPV4: u8 = 2;
pub(super) const NFPROTO_IPV6: u8 = 10;

/// Bytes of element list per message; the nested attribute length is a u16.
pub(super) const MAX_ELEMS_BYTES: usize = 60_000;
/// Longest timeout we send (~31 years); the kernel rejects values whose
/// nanoseconds overflow a u64.
pub(super) const MAX_TIMEOUT_MS: u64 = 1_000_000_000_000;

pub(super) fn msg_type(m: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | m
}

/// Kernel timeout value for a ban duration: milliseconds, at least 1.
pub(super) fn timeout_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TIMEOUT_MS)
}

/// Element keys with an optional timeout in ms.
pub(super) type Keys = Vec<(IpAddr, Option<u64>)>;

/// What a message in a transaction was about (for error messages).
#[derive(Debug, Clone)]
pub(super) struct MsgCtx {
    pub(super) op: &'static str,
    pub(super) set: String,
    pub(super) ips: Vec<IpAddr>,
}

/// Attributes of an existing set that decide whether we can use it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SetInfo {
    pub(super) flags: u32,
    pub(super) key_type: u32,
    pub(super) key_len: u32,
}

/// One nfnetlink transaction being built.
pub(super) struct Tx<'s> {
    sock: &'s mut NfSocket,
    buf: MsgBuf,
    family: u8,
    table: String,
    begin_seq: u32,
    msgs: Vec<(u32, MsgCtx)>,
}

impl<'s> Tx<'s> {
    pub(super) fn begin(sock: &'s mut NfSocket, family: u8, table: String) -> Tx<'s> {
        let begin_seq = sock.next_seq();
        let mut buf = MsgBuf::new();
        buf.begin(
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            begin_seq,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        buf.end();
        Tx {
            sock,
            buf,
            family,
            table,
            begin_seq,
            msgs: Vec::new(),
        }
    }

    pub(super) fn msg(&mut self, ty: u16, flags: u16, ctx: MsgCtx) {
        let seq = self.sock.next_seq();
        self.buf.begin(
            msg_type(ty),
            NLM_F_REQUEST | NLM_F_ACK | flags,
            seq,
            self.family,
            0,
        );
        self.msgs.push((seq, ctx));
    }

    pub(super) fn new_table(&mut self, table: &str) -> Result<(), NlError> {
        self.msg(
            NFT_MSG_NEWTABLE,
            NLM_F_CREATE,
            MsgCtx {
                op: "create table",
                set: String::new(),
                ips: Vec::new(),
            },
        );
        self.buf.attr_strz(NFTA_TABLE_NAME, table)?;
        self.buf.end();
        Ok(())
    }

    pub(super) fn new_set(&mut self, name: &str, v6: bool, id: u32) -> Result<(), NlError> {
        self.msg(
            NFT_MSG_NEWSET,
            NLM_F_CREATE,
            MsgCtx {
                op: "create set",
                set: name.to_string(),
                ips: Vec::new(),
            },
        );
        let table = self.table.clone();
        self.buf.attr_strz(NFTA_SET_TABLE, &table)?;
        self.buf.attr_strz(NFTA_SET_NAME, name)?;
        self.buf.attr_u32_be(NFTA_SET_FLAGS, NFT_SET_TIMEOUT)?;
        self.buf.attr_u32_be(
            NFTA_SET_KEY_TYPE,
            if v6 { TYPE_IP6ADDR } else { TYPE_IPADDR },
        )?;
        self.buf
            .attr_u32_be(NFTA_SET_KEY_LEN, if v6 { 16 } else { 4 })?;
        self.buf.attr_u32_be(NFTA_SET_ID, id)?;
        self.buf.end();
        Ok(())
    }

    /// DELSETELEM without an element list flushes the set.
    pub(super) fn flush_set(&mut self, name: &str) -> Result<(), NlError> {
        self.msg(
            NFT_MSG_DELSETELEM,
            0,
            MsgCtx {
                op: "flush",
                set: name.to_string(),
                ips: Vec::new(),
            },
        );
        let table = self.table.clone();
        self.buf.attr_strz(NFTA_SET_ELEM_LIST_TABLE, &table)?;
        self.buf.attr_strz(NFTA_SET_ELEM_LIST_SET, name)?;
        self.buf.end();
        Ok(())
    }

    /// Element messages (as many as the 64 KiB attribute limit needs).
    pub(super) fn elements(
        &mut self,
        ty: u16,
        flags: u16,
        op: &'static str,
        set: &str,
        elems: &[(IpAddr, Option<u64>)],
    ) -> Result<(), NlError> {
        let mut open = false;
        for (ip, timeout) in elems {
            if open && self.buf.open_nest_len() > MAX_ELEMS_BYTES {
                self.buf.nest_end()?;
                self.buf.end();
                open = false;
            }
            if !open {
                self.msg(
                    ty,
                    flags,
                    MsgCtx {
                        op,
                        set: set.to_string(),
                        ips: Vec::new(),
                    },
                );
                let table = self.table.clone();
                self.buf.attr_strz(NFTA_SET_ELEM_LIST_TABLE, &table)?;
                self.buf.attr_strz(NFTA_SET_ELEM_LIST_SET, set)?;
                self.buf.nest_start(NFTA_SET_ELEM_LIST_ELEMENTS);
                open = true;
            }
            if let Some((_, ctx)) = self.msgs.last_mut() {
                ctx.ips.push(*ip);
            }
            self.buf.nest_start(NFTA_LIST_ELEM);
            self.buf.nest_start(NFTA_SET_ELEM_KEY);
            match ip {
                IpAddr::V4(a) => self.buf.attr(NFTA_DATA_VALUE, &a.octets())?,
                IpAddr::V6(a) => self.buf.attr(NFTA_DATA_VALUE, &a.octets())?,
            }
            self.buf.nest_end()?;
            if let Some(ms) = timeout {
                self.buf.attr_u64_be(NFTA_SET_ELEM_TIMEOUT, *ms)?;
            }
            self.buf.nest_end()?;
        }
        if open {
            self.buf.nest_end()?;
            self.buf.end();
        }
        Ok(())
    }

    /// Send the transaction and wait for every acknowledgement.
    pub(super) fn commit(mut self) -> Result<Vec<(KernelError, MsgCtx)>, NlError> {
        if self.msgs.is_empty() {
            return Ok(Vec::new());
        }
        let end_seq = self.sock.next_seq();
        self.buf.begin(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            end_seq,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        self.buf.end();
        self.sock.send(self.buf.as_bytes())?;
        let expected: Vec<u32> = self.msgs.iter().map(|(s, _)| *s).collect();
        let errors =
            self.sock
                .collect_acks(self.begin_seq, &expected, Some(self.begin_seq), |_| {})?;
        debug!(
            bytes = self.buf.len(),
            messages = expected.len(),
            errors = errors.len(),
            "nft transaction"
        );
        Ok(errors
            .into_iter()
            .map(|ke| {
                let ctx = self
                    .msgs
                    .iter()
                    .find(|(s, _)| *s == ke.seq)
                    .map(|(_, c)| c.clone())
                    .unwrap_or(MsgCtx {
                        op: "transaction",
                        set: String::new(),
                        ips: Vec::new(),
                    });
                (ke, ctx)
            })
            .collect())
    }
}

pub(super) fn parse_set_info(m: &NlMsg<'_>) -> SetInfo {
    let mut info = SetInfo::default();
    for a in m.nf_attrs() {
        match a.ty {
            NFTA_SET_FLAGS => info.flags = a.u32_be().unwrap_or(0),
            NFTA_SET_KEY_TYPE => info.key_type = a.u32_be().unwrap_or(0),
            NFTA_SET_KEY_LEN => info.key_len = a.u32_be().unwrap_or(0),
            _ => {}
        }
    }
    info
}

/// Append the elements of one `NEWSETELEM` dump message to `out`. Malformed
/// elements are skipped (logged at debug level).
pub(super) fn parse_elements(m: &NlMsg<'_>, v6: bool, out: &mut Vec<(IpAddr, Option<Duration>)>) {
    if m.ty != msg_type(NFT_MSG_NEWSETELEM) {
        return;
    }
    let Some(list) = m.nf_attrs().find_type(NFTA_SET_ELEM_LIST_ELEMENTS) else {
        return;
    };
    for elem in list.nested().filter(|a| a.ty == NFTA_LIST_ELEM) {
        let mut key = None;
        let mut expires = None;
        let mut interval_end = false;
        for a in elem.nested() {
            match a.ty {
                NFTA_SET_ELEM_KEY => {
                    key = a.nested().find_type(NFTA_DATA_VALUE).and_then(|v| {
                        if v6 {
                            <[u8; 16]>::try_from(v.data)
                                .ok()
                                .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
                        } else {
                            <[u8; 4]>::try_from(v.data)
                                .ok()
                                .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
                        }
                    })
                }
                NFTA_SET_ELEM_EXPIRATION => expires = a.u64_be().map(Duration::from_millis),
                NFTA_SET_ELEM_FLAGS => {
                    interval_end = a.u32_be().unwrap_or(0) & NFT_SET_ELEM_INTERVAL_END != 0
                }
                _ => {}
            }
        }
        match key {
            Some(ip) if !interval_end => out.push((ip, expires)),
            Some(_) => {}
            None => debug!("skipping nft set element without a usable key"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::netlink::messages;

    #[test]
    fn timeouts_are_clamped_milliseconds() {
        assert_eq!(timeout_ms(Duration::from_secs(3600)), 3_600_000);
        assert_eq!(timeout_ms(Duration::ZERO), 1);
        assert_eq!(timeout_ms(Duration::from_secs(u64::MAX)), MAX_TIMEOUT_MS);
    }

    /// Build a transaction into a buffer without a socket by reusing the
    /// element encoder, then parse it back as if it were a dump reply.
    #[test]
    fn element_encoding_round_trips_through_the_dump_parser() {
        let mut b = MsgBuf::new();
        b.begin(msg_type(NFT_MSG_NEWSETELEM), 0, 1, NFPROTO_INET, 0);
        b.attr_strz(NFTA_SET_ELEM_LIST_TABLE, "filter").unwrap();
        b.nest_start(NFTA_SET_ELEM_LIST_ELEMENTS);
        for (i, exp) in [(1u8, Some(5000u64)), (2, None)] {
            b.nest_start(NFTA_LIST_ELEM);
            b.nest_start(NFTA_SET_ELEM_KEY);
            b.attr(NFTA_DATA_VALUE, &[203, 0, 113, i]).unwrap();
            b.nest_end().unwrap();
            if let Some(ms) = exp {
                b.attr_u64_be(NFTA_SET_ELEM_TIMEOUT, ms).unwrap();
                b.attr_u64_be(NFTA_SET_ELEM_EXPIRATION, ms - 10).unwrap();
            }
            b.nest_end().unwrap();
        }
        // A malformed element (3-byte key) is skipped.
        b.nest_start(NFTA_LIST_ELEM);
        b.nest_start(NFTA_SET_ELEM_KEY);
        b.attr(NFTA_DATA_VALUE, &[1, 2, 3]).unwrap();
        b.nest_end().unwrap();
        b.nest_end().unwrap();
        b.nest_end().unwrap();
        b.end();
        let bytes = b.as_bytes().to_vec();
        let mut out = Vec::new();
        for m in messages(&bytes) {
            parse_elements(&m.unwrap(), false, &mut out);
        }
        assert_eq!(
            out,
            vec![
                (
                    "203.0.113.1".parse().unwrap(),
                    Some(Duration::from_millis(4990))
                ),
                ("203.0.113.2".parse().unwrap(), None),
            ]
        );
        // Every truncation parses without panicking.
        for cut in 0..bytes.len() {
            for m in messages(&bytes[..cut]).flatten() {
                parse_elements(&m, false, &mut Vec::new());
            }
        }
    }
}

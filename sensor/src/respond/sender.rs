//! Raw IP sockets that send reject packets. One IPv4 socket (`IPPROTO_RAW`,
//! header included) and one IPv6 socket (`IPPROTO_RAW`, which on Linux
//! implies a caller-built IPv6 header). Both are non-blocking: a full send
//! buffer is an error for that reject, never a stall of the verdict path.
//! The kernel routes the packets, so they leave through whatever interface
//! the current network namespace's routes choose.

use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::decode::{Packet, L4};
use crate::packet::CapturedPacket;

use super::icmp::build_unreachable;
use super::tcp_rst::build_rst;
use super::{RejectTarget, RespondError, Toward};

/// `IPPROTO_RAW`.
const IPPROTO_RAW: i32 = 255;

/// Sends reject packets.
#[derive(Debug)]
pub struct Responder {
    v4: Option<Socket>,
    v6: Option<Socket>,
}

/// The IP packet to quote: decode's view of it (past any link layer or
/// tunnel), else the capture as it is (raw IP).
fn ip_bytes<'a>(cap: &CapturedPacket<'a>, pkt: &Packet<'a>) -> &'a [u8] {
    if pkt.ext.ip_raw.is_empty() {
        cap.data
    } else {
        pkt.ext.ip_raw
    }
}

fn open(domain: Domain) -> std::io::Result<Socket> {
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_RAW)))?;
    if domain == Domain::IPV4 {
        s.set_header_included_v4(true)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

impl Responder {
    /// Opens the raw sockets (needs CAP_NET_RAW). Fails only if neither
    /// family can be opened; a missing family is logged and its rejects
    /// fail with [`RespondError::NoSocket`].
    pub fn new() -> Result<Responder, RespondError> {
        match (open(Domain::IPV4), open(Domain::IPV6)) {
            (Err(v4), Err(v6)) => Err(RespondError::NoSockets { v4, v6 }),
            (v4, v6) => {
                if let Err(e) = &v4 {
                    tracing::warn!(error = %e, "no raw IPv4 socket: IPv4 rejects will fail");
                }
                if let Err(e) = &v6 {
                    tracing::warn!(error = %e, "no raw IPv6 socket: IPv6 rejects will fail");
                }
                Ok(Responder {
                    v4: v4.ok(),
                    v6: v6.ok(),
                })
            }
        }
    }

    /// Answers the decoded packet `pkt` (captured as `cap`) with a TCP RST
    /// or an ICMP admin-prohibited error, toward `target`. The capture
    /// source's mode says whether the packet reached its destination (IDS
    /// copy) or was dropped (IPS), which sets the RST sequence number toward
    /// the destination. Returns how many packets were sent (0 when the
    /// packet must not be answered: an ICMP error, a RST, a non-first
    /// fragment, multicast/broadcast).
    pub fn reject(
        &self,
        cap: &CapturedPacket<'_>,
        pkt: &Packet<'_>,
        target: RejectTarget,
    ) -> Result<usize, RespondError> {
        let mut sent = 0;
        for toward in [Toward::Src, Toward::Dst] {
            let wanted = match toward {
                Toward::Src => target.to_src(),
                Toward::Dst => target.to_dst(),
            };
            if !wanted {
                continue;
            }
            let (bytes, kind) = match pkt.l4 {
                L4::Tcp(_) => (build_rst(pkt, toward, cap.mode()), "TCP RST"),
                _ => (
                    build_unreachable(pkt, ip_bytes(cap, pkt), toward),
                    "ICMP unreachable",
                ),
            };
            let Some(bytes) = bytes else {
                continue;
            };
            let dst = match toward {
                Toward::Src => pkt.ip.src,
                Toward::Dst => pkt.ip.dst,
            };
            self.send(&bytes, dst, kind)?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Sends one complete IP packet to `dst`.
    pub fn send(&self, bytes: &[u8], dst: IpAddr, kind: &'static str) -> Result<(), RespondError> {
        let (sock, family) = match dst {
            IpAddr::V4(_) => (self.v4.as_ref(), "IPv4"),
            IpAddr::V6(_) => (self.v6.as_ref(), "IPv6"),
        };
        let sock = sock.ok_or(RespondError::NoSocket { family, dst })?;
        let addr = SockAddr::from(SocketAddr::new(dst, 0));
        let n = sock
            .send_to(bytes, &addr)
            .map_err(|source| RespondError::Send { kind, dst, source })?;
        if n != bytes.len() {
            return Err(RespondError::Short {
                kind,
                dst,
                sent: n,
                len: bytes.len(),
            });
        }
        tracing::debug!(%dst, kind, len = n, "reject packet sent");
        Ok(())
    }
}

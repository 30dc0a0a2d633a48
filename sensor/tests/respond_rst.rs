//! Root-only: a reject (RST toward both ends) built by `respond` aborts a
//! real TCP connection between two fresh network namespaces.

#[path = "prereq/mod.rs"]
mod prereq;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use meerkat_sensor::decode::{IpInfo, Packet, TcpInfo, L4};
use meerkat_sensor::packet::{CapturedPacket, Source, Timestamp};
use meerkat_sensor::respond::{RejectTarget, Responder};
use meerkat_sensor::sys::enter_netns;
use socket2::{Domain, Protocol, Socket, Type};

struct Netns(Vec<String>);

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

const PORT: u16 = 5555;

/// Waits for the client's data segment on any interface of the current
/// namespace and returns its IP bytes.
fn sniff_data_segment(sock: &Socket) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; 65536];
    while Instant::now() < deadline {
        let n = match (&*sock).read(&mut buf) {
            Ok(n) => n,
            Err(_) => continue,
        };
        let frame = &buf[..n];
        if frame.len() < 14 + 40 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ipb = &frame[14..];
        let ihl = usize::from(ipb[0] & 0xf) * 4;
        let total = usize::from(u16::from_be_bytes([ipb[2], ipb[3]]));
        if ipb[9] != 6 || total > ipb.len() || total < ihl + 20 {
            continue;
        }
        let tcp = &ipb[ihl..total];
        let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
        let doff = usize::from(tcp[12] >> 4) * 4;
        if dport == PORT && tcp.len() > doff {
            return Some(ipb[..total].to_vec());
        }
    }
    None
}

fn summary(ipb: &[u8]) -> Packet<'_> {
    let ihl = usize::from(ipb[0] & 0xf) * 4;
    let tcp = &ipb[ihl..];
    let doff = usize::from(tcp[12] >> 4) * 4;
    let addr = |o: usize| IpAddr::V4(Ipv4Addr::new(ipb[o], ipb[o + 1], ipb[o + 2], ipb[o + 3]));
    let u32at = |o: usize| u32::from_be_bytes([tcp[o], tcp[o + 1], tcp[o + 2], tcp[o + 3]]);
    Packet {
        ext: Default::default(),
        ip: IpInfo {
            version: 4,
            src: addr(12),
            dst: addr(16),
            proto: 6,
            ttl: ipb[8],
            tos: ipb[1],
            id: u16::from_be_bytes([ipb[4], ipb[5]]),
            len: ipb.len() as u32,
            flow_label: 0,
            fragment: false,
            header_len: ihl as u16,
        },
        l4: L4::Tcp(TcpInfo {
            src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
            dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
            seq: u32at(4),
            ack: u32at(8),
            flags: tcp[13],
            window: u16::from_be_bytes([tcp[14], tcp[15]]),
            urgent: 0,
            reserved: 0,
            header_len: doff as u8,
        }),
        payload: &tcp[doff..],
    }
}

#[test]
fn reject_both_resets_a_real_connection() {
    if !prereq::require_netns("reject_both_resets_a_real_connection") {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("mkrst-a-{pid}"), format!("mkrst-b-{pid}"));
    let _guard = Netns(vec![a.clone(), b.clone()]);
    for n in [&a, &b] {
        assert!(ip(&["netns", "add", n]), "ip netns add {n}");
        assert!(ip(&["-n", n, "link", "set", "lo", "up"]));
    }
    assert!(ip(&[
        "-n", &a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b
    ]));
    assert!(ip(&["-n", &a, "addr", "add", "192.0.2.1/24", "dev", "va"]));
    assert!(ip(&["-n", &b, "addr", "add", "192.0.2.2/24", "dev", "vb"]));
    assert!(ip(&["-n", &a, "link", "set", "va", "up"]));
    assert!(ip(&["-n", &b, "link", "set", "vb", "up"]));

    let server_ns = format!("/run/netns/{b}");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || -> Result<String, String> {
        enter_netns(Path::new(&server_ns)).map_err(|e| format!("setns: {e}"))?;
        let eth_p_all = i32::from((libc::ETH_P_ALL as u16).to_be());
        let sniff = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(eth_p_all)))
            .map_err(|e| format!("AF_PACKET: {e}"))?;
        sniff
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        let listener = TcpListener::bind(("192.0.2.2", PORT)).map_err(|e| e.to_string())?;
        let responder = Responder::new().map_err(|e| e.to_string())?;
        ready_tx.send(()).map_err(|e| e.to_string())?;
        let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let ipb = sniff_data_segment(&sniff).ok_or("client data segment not seen")?;
        let pkt = summary(&ipb);
        let cap = CapturedPacket {
            source: Source::Nflog(0),
            ts: Timestamp::now(),
            data: &ipb,
            linktype: meerkat_sensor::decode::LINKTYPE_RAW,
            orig_len: ipb.len() as u32,
            csum_unknown: false,
        };
        let sent = responder
            .reject(&cap, &pkt, RejectTarget::Both)
            .map_err(|e| e.to_string())?;
        if sent != 2 {
            return Err(format!("{sent} reject packets sent, expected 2"));
        }
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        loop {
            match conn.read(&mut buf) {
                Ok(0) => return Err("server: orderly EOF instead of reset".into()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Ok(String::from_utf8_lossy(&got).into_owned())
                }
                Err(e) => return Err(format!("server read: {e}")),
            }
        }
    });

    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("server ready");
    enter_netns(Path::new(&format!("/run/netns/{a}"))).expect("setns client");
    let addr = SocketAddr::from(([192, 0, 2, 2], PORT));
    let mut client = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.write_all(b"hello").unwrap();
    let mut buf = [0u8; 16];
    let client_res = client.read(&mut buf);
    let server_res = server.join().expect("server thread");
    assert_eq!(server_res, Ok("hello".to_string()), "server side");
    match client_res {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "client got {e}"),
        Ok(n) => panic!("client read {n} bytes instead of a reset"),
    }
}

//! Engine behaviour: matching semantics, action order, stream and
//! transaction handling.

use std::net::IpAddr;

use super::*;
use crate::decode::{IcmpInfo, IpInfo, Packet, TcpInfo, UdpInfo, L4};
use crate::packet::{Direction, Mode};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ipinfo(src: &str, dst: &str, proto: u8) -> IpInfo {
    IpInfo {
        version: 4,
        src: ip(src),
        dst: ip(dst),
        proto,
        ttl: 64,
        tos: 0,
        id: 1,
        len: 100,
        flow_label: 0,
        fragment: false,
        header_len: 20,
    }
}

fn tcp<'a>(src: &str, sp: u16, dst: &str, dp: u16, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        ext: Default::default(),
        ip: ipinfo(src, dst, 6),
        l4: L4::Tcp(TcpInfo {
            src_port: sp,
            dst_port: dp,
            flags: 0x18,
            ..Default::default()
        }),
        payload,
    }
}

fn udp<'a>(src: &str, sp: u16, dst: &str, dp: u16, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        ext: Default::default(),
        ip: ipinfo(src, dst, 17),
        l4: L4::Udp(UdpInfo {
            src_port: sp,
            dst_port: dp,
            len: 8,
        }),
        payload,
    }
}

fn icmp(src: &str, dst: &str, itype: u8, icode: u8) -> Packet<'static> {
    Packet {
        ext: Default::default(),
        ip: ipinfo(src, dst, 1),
        l4: L4::Icmp(IcmpInfo {
            v6: false,
            itype,
            icode,
            id: 0,
            seq: 0,
        }),
        payload: b"",
    }
}

fn input<'a>(pkt: &'a Packet<'a>) -> DetectInput<'a> {
    DetectInput {
        mode: Mode::Ips,
        pkt,
        dir: None,
        established: false,
        stream: &[],
        ssh_client: None,
        ssh_server: None,
        app_is_ssh: false,
        pseudo: false,
        http: None,
        tls: None,
        dns: None,
        ts: crate::packet::Timestamp {
            secs: 1_700_000_000,
            micros: 0,
        },
        stream_size: None,
    }
}

fn engine(rules: &str) -> Engine {
    let (e, r) = Engine::load_str(rules, "test.rules", &Vars::default());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.skipped, 0);
    e
}

fn sids(e: &Engine, inp: &DetectInput) -> Vec<u32> {
    let mut m = Matches::new();
    e.inspect(inp, &mut Vec::new(), &mut m);
    let mut v: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    v.sort();
    v
}

#[test]
fn header_addresses_ports_and_bidirectional() {
    let e = engine(
        "alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (sid:1;)\n\
         alert tcp any any -> ![192.168.0.0/16,!192.168.1.0/24] any (sid:2;)\n\
         alert tcp 203.0.113.5 any <> 192.168.1.1 [1024:,!2000] (sid:3;)\n\
         alert udp any any -> any :1023 (sid:4;)\n",
    );
    let p = tcp("203.0.113.5", 40000, "192.168.1.1", 22, b"");
    assert_eq!(sids(&e, &input(&p)), vec![1, 2]);
    let p = tcp("203.0.113.5", 40000, "192.168.2.1", 22, b"");
    assert_eq!(sids(&e, &input(&p)), vec![1]);
    // <> matches the reverse direction with ports swapped too.
    let p = tcp("192.168.1.1", 5000, "203.0.113.5", 40000, b"");
    assert_eq!(sids(&e, &input(&p)), vec![2, 3]);
    let p = tcp("192.168.1.1", 2000, "203.0.113.5", 40000, b"");
    assert_eq!(sids(&e, &input(&p)), vec![2]);
    let p = udp("192.0.2.1", 5000, "192.0.2.2", 53, b"");
    assert_eq!(sids(&e, &input(&p)), vec![4]);
    let p = udp("192.0.2.1", 5000, "192.0.2.2", 1024, b"");
    assert!(sids(&e, &input(&p)).is_empty());
}

#[test]
fn icmp_type_code_and_dsize() {
    let e = engine(
        "alert icmp any any -> any any (itype:8; sid:1;)\n\
         alert icmp any any -> any any (itype:>2; icode:1<>4; sid:2;)\n\
         alert udp any any -> any any (dsize:<4; sid:3;)\n\
         alert udp any any -> any any (dsize:10<>20; sid:4;)\n",
    );
    assert_eq!(
        sids(&e, &input(&icmp("192.0.2.1", "192.0.2.2", 8, 0))),
        vec![1]
    );
    assert_eq!(
        sids(&e, &input(&icmp("192.0.2.1", "192.0.2.2", 8, 2))),
        vec![1, 2]
    );
    assert_eq!(
        sids(&e, &input(&icmp("192.0.2.1", "192.0.2.2", 3, 4))),
        Vec::<u32>::new()
    );
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"abc");
    assert_eq!(sids(&e, &input(&p)), vec![3]);
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"0123456789ab");
    assert_eq!(sids(&e, &input(&p)), vec![4]);
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"0123456789");
    assert!(sids(&e, &input(&p)).is_empty());
}

#[test]
fn content_on_udp_payload() {
    let e = engine(
        "alert udp any any -> any 53 (content:\"ABC\"; nocase; content:\"|00 01|\"; distance:1; within:3; sid:1;)\n\
         alert udp any any -> any 53 (content:\"abc\"; content:!\"zzz\"; sid:2;)\n",
    );
    let p = udp("192.0.2.1", 1, "192.0.2.2", 53, b"xxabc-\x00\x01");
    assert_eq!(sids(&e, &input(&p)), vec![1, 2]);
    let p = udp("192.0.2.1", 1, "192.0.2.2", 53, b"xxabc--\x00\x01zzz");
    assert_eq!(sids(&e, &input(&p)), vec![1]);
    let p = udp("192.0.2.1", 1, "192.0.2.2", 53, b"xxabc---\x00\x01");
    assert_eq!(sids(&e, &input(&p)), vec![2]);
}

/// `action-order: [drop, pass, reject, alert]`: the drop rule runs before
/// the pass rule, so it alerts and drops; the pass ends the rules after it
/// (no alert from the alert rule) without undoing the drop.
#[test]
fn configured_action_order_drop_before_pass() {
    const RULES: &str = "alert tcp any any -> any any (content:\"Hi\"; sid:1;)\n\
                         pass tcp any any -> any any (content:\"Hi\"; sid:2;)\n\
                         drop tcp any any -> any any (content:\"Hi\"; sid:3;)\n";
    let dir = std::env::temp_dir().join(format!("mk-action-order-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("order.rules");
    std::fs::write(&file, RULES).unwrap();
    let order = crate::action::ActionOrder::parse(&["drop", "pass", "reject", "alert"]).unwrap();
    let (e, r) = Engine::load_files_ordered(&[file], &Vars::default(), order);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(r.loaded, 3);
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 80, b"Hi all");
    let mut m = Matches::new();
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    let sids: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    assert_eq!(sids, vec![3]);
    assert_eq!(m.action.map(|a| a.action), Some(Action::Drop));
    // The default order: the pass rule wins and nothing alerts.
    let e = engine(RULES);
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    assert!(m.hits.is_empty());
    assert_eq!(m.action.map(|a| a.action), Some(Action::Pass));
}

#[test]
fn action_order_and_pass_stops_alerts() {
    let e = engine(
        "alert tcp any any -> any 22 (sid:10;)\n\
         reject tcp any any -> any 22 (sid:11;)\n\
         drop tcp any any -> any 22 (sid:12;)\n\
         pass tcp 192.0.2.9 any -> any 22 (sid:13;)\n",
    );
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"");
    let mut m = Matches::new();
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    let order: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    assert_eq!(order, vec![12, 11, 10]);
    let a = m.action.unwrap();
    assert_eq!(a.action, Action::Drop);
    assert_eq!(e.rule(a.rule).sid, 12);
    // Address/port-only rules act on the flow (Suricata's IP-only).
    assert!(a.flow_scope);
    // The pass rule matches first and suppresses everything else.
    let p = tcp("192.0.2.9", 40000, "192.0.2.2", 22, b"");
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    assert!(m.hits.is_empty());
    assert_eq!(m.action.map(|a| a.action), Some(Action::Pass));
    // Rules are ordered pass, drop, reject, alert whatever the file order.
    let sorted: Vec<Action> = (0..e.len() as u32).map(|i| e.rule(i).action).collect();
    assert_eq!(sorted[0], Action::Pass);
    assert_eq!(sorted[3], Action::Alert);
}

#[test]
fn reject_target_reported() {
    let e = engine("rejectboth udp any any -> any any (sid:5;)\n");
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"");
    let mut m = Matches::new();
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    assert_eq!(
        m.action.map(|a| a.action),
        Some(Action::Reject(RejectTarget::Both))
    );
    assert_eq!(m.hits.len(), 1);
}

#[test]
fn flow_keyword_needs_flow_and_direction() {
    let e = engine(
        "alert tcp any any -> any any (flow:established,to_server; sid:1;)\n\
         alert tcp any any -> any any (flow:to_client; sid:2;)\n\
         alert tcp any any -> any any (flow:not_established; sid:3;)\n\
         alert tcp any any -> any any (flow:stateless; sid:4;)\n",
    );
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"");
    let mut inp = input(&p);
    assert_eq!(sids(&e, &inp), vec![4]);
    inp.dir = Some(Direction::ToServer);
    inp.established = true;
    assert_eq!(sids(&e, &inp), vec![1, 4]);
    inp.established = false;
    assert_eq!(sids(&e, &inp), vec![3, 4]);
    inp.dir = Some(Direction::ToClient);
    assert_eq!(sids(&e, &inp), vec![2, 3, 4]);
}

#[test]
fn stream_match_across_segments_alerts_once() {
    let e = engine("alert tcp any any -> any 22 (flow:established,to_server; content:\"SSH-2.0-libssh\"; sid:1;)\n");
    let mut m = Matches::new();
    let mut fired = Vec::new();
    // Segment 1 carries "SSH-2.0-lib": no match, and the packet payload is
    // not inspected for a TCP flow.
    let p1 = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"SSH-2.0-lib");
    let c1 = [StreamChunk {
        dir: Direction::ToServer,
        window: b"SSH-2.0-lib",
        new_from: 0,
    }];
    let mut inp = input(&p1);
    inp.dir = Some(Direction::ToServer);
    inp.established = true;
    inp.stream = &c1;
    e.inspect(&inp, &mut fired, &mut m);
    assert!(m.hits.is_empty());
    // Segment 2 completes the pattern across the boundary.
    let p2 = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"ssh_0.10\r\n");
    let c2 = [StreamChunk {
        dir: Direction::ToServer,
        window: b"SSH-2.0-libssh_0.10\r\n",
        new_from: 11,
    }];
    let mut inp = input(&p2);
    inp.dir = Some(Direction::ToServer);
    inp.established = true;
    inp.stream = &c2;
    e.inspect(&inp, &mut fired, &mut m);
    assert_eq!(m.hits.len(), 1);
    assert!(m.hits[0].flow_scope);
    assert_eq!(m.hits[0].dir, Direction::ToServer);
    // More data later: the old match is not reported again.
    let c3 = [StreamChunk {
        dir: Direction::ToServer,
        window: b"SSH-2.0-libssh_0.10\r\nmore",
        new_from: 21,
    }];
    inp.stream = &c3;
    e.inspect(&inp, &mut fired, &mut m);
    assert!(m.hits.is_empty());
}

#[test]
fn stream_chunk_oriented_by_its_direction() {
    // IDS: the client's data becomes inspectable on the server's ACK.
    let e = engine(
        "alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (flow:to_server; content:\"hello\"; sid:1;)\n",
    );
    let ack = tcp("192.168.1.1", 22, "203.0.113.5", 40000, b"");
    let c = [StreamChunk {
        dir: Direction::ToServer,
        window: b"hello",
        new_from: 0,
    }];
    let mut inp = input(&ack);
    inp.mode = Mode::Ids;
    inp.dir = Some(Direction::ToClient);
    inp.stream = &c;
    let mut m = Matches::new();
    e.inspect(&inp, &mut Vec::new(), &mut m);
    assert_eq!(m.hits.len(), 1);
    assert_eq!(m.hits[0].dir, Direction::ToServer);
}

#[test]
fn tcp_pkt_and_dsize_rules_use_the_packet() {
    let e = engine(
        "alert tcp-pkt any any -> any 22 (content:\"abc\"; sid:1;)\n\
         alert tcp any any -> any 22 (flow:to_server; dsize:3; content:\"abc\"; sid:2;)\n\
         alert tcp-stream any any -> any 22 (content:\"abc\"; sid:3;)\n",
    );
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"abc");
    let mut inp = input(&p);
    inp.dir = Some(Direction::ToServer);
    assert_eq!(sids(&e, &inp), vec![1, 2]);
    let c = [StreamChunk {
        dir: Direction::ToServer,
        window: b"abc",
        new_from: 0,
    }];
    inp.stream = &c;
    assert_eq!(sids(&e, &inp), vec![1, 2, 3]);
}

#[test]
fn ssh_tx_rules_fire_once_per_flow() {
    let e = engine(
        "alert ssh any any -> any any (flow:to_server; ssh.software; content:\"LIBSSH\"; nocase; sid:1;)\n\
         alert ssh any any -> any any (ssh_proto; content:\"2.0\"; sid:2;)\n\
         alert ssh any any -> any any (ssh.protoversion:2_compat; ssh.softwareversion:OpenSSH; sid:3;)\n\
         drop ssh any any -> any 22 (flow:to_server; ssh.software; content:\"paramiko\"; sid:4;)\n",
    );
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"");
    let mut inp = input(&p);
    inp.dir = Some(Direction::ToServer);
    inp.established = true;
    inp.ssh_client = Some(SshBannerRef {
        proto_version: "2.0",
        software_version: "libssh_0.10.6",
        hassh: None,
        hassh_string: None,
    });
    let mut fired = Vec::new();
    let mut m = Matches::new();
    // Not SSH yet: nothing.
    e.inspect(&inp, &mut fired, &mut m);
    assert!(m.hits.is_empty());
    inp.app_is_ssh = true;
    e.inspect(&inp, &mut fired, &mut m);
    let got: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    assert_eq!(got, vec![1, 2]);
    assert!(m.hits.iter().all(|h| h.tx && h.flow_scope));
    // Server banner arrives and is inspected with a server packet: sid 2
    // does not match "1.99"; sid 3 matches the server.
    inp.dir = Some(Direction::ToClient);
    inp.ssh_server = Some(SshBannerRef {
        proto_version: "1.99",
        software_version: "OpenSSH_9.2p1",
        hassh: None,
        hassh_string: None,
    });
    e.inspect(&inp, &mut fired, &mut m);
    let got: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    assert_eq!(got, vec![3]);
    assert_eq!(m.hits[0].dir, Direction::ToClient);
    e.inspect(&inp, &mut fired, &mut m);
    assert!(m.hits.is_empty());
    // A drop on a tx rule applies to the flow.
    inp.dir = Some(Direction::ToServer);
    inp.ssh_client = Some(SshBannerRef {
        proto_version: "2.0",
        software_version: "paramiko_3.4",
        hassh: None,
        hassh_string: None,
    });
    let mut fired = Vec::new();
    e.inspect(&inp, &mut fired, &mut m);
    let a = m.action.unwrap();
    assert_eq!((a.action, a.flow_scope), (Action::Drop, true));
}

#[test]
fn ip_rules_match_every_protocol_and_pass_the_flow() {
    let e =
        engine("pass ip 192.0.2.9 any -> any any (sid:1;)\nalert ip any any -> any any (sid:2;)\n");
    let p = icmp("192.0.2.9", "192.0.2.2", 8, 0);
    let mut m = Matches::new();
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    let a = m.action.unwrap();
    assert_eq!((a.action, a.flow_scope), (Action::Pass, true));
    assert!(m.hits.is_empty());
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"");
    assert_eq!(sids(&e, &input(&p)), vec![2]);
}

#[test]
fn port_buckets_do_not_hide_rules() {
    let mut text = String::new();
    for i in 0..500u32 {
        text.push_str(&format!(
            "alert tcp any any -> any {} (sid:{};)\n",
            1000 + i,
            i + 1
        ));
    }
    text.push_str("alert tcp any any -> any !1000 (sid:9999;)\n");
    let e = engine(&text);
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 1007, b"");
    assert_eq!(sids(&e, &input(&p)), vec![8, 9999]);
    let p = tcp("192.0.2.1", 40000, "192.0.2.2", 1000, b"");
    assert_eq!(sids(&e, &input(&p)), vec![1]);
}

#[test]
fn errors_carry_file_and_line() {
    let text = "# header\n\nalert tcp any any -> any any (sid:1;)\nalert tcp any any -> any any (msg:\"x\";)\n\
                alert tcp any any -> any any (sid:1;)\nalert tcp any any -> \\\n any any (content:\"|0|\"; sid:3;)\n\
                alert http any any -> any any (http.uri; content:\"a\"; sid:4;)\n";
    let (e, r) = Engine::load_str(text, "x.rules", &Vars::default());
    assert_eq!((r.loaded, r.skipped, r.failed), (2, 0, 3));
    assert_eq!(e.len(), 2);
    let origins: Vec<&str> = r.errors.iter().map(|e| e.origin.as_str()).collect();
    assert_eq!(origins, vec!["x.rules:4", "x.rules:5", "x.rules:6"]);
    assert_eq!(r.errors[0].error, ParseError::MissingSid);
    assert!(matches!(r.errors[1].error, ParseError::DuplicateSid { .. }));
    assert!(
        r.errors[2].to_string().starts_with("x.rules:6: sid 3: "),
        "{}",
        r.errors[2]
    );
    assert_eq!(e.rule(0).origin, "x.rules:3");
}

#[test]
fn undefined_variable_is_named() {
    let (_, r) = Engine::load_str(
        "alert tcp $NOPE any -> any any (sid:1;)\n",
        "v.rules",
        &Vars::default(),
    );
    assert_eq!(r.failed, 1);
    let msg = r.errors[0].to_string();
    assert!(msg.contains("v.rules:1") && msg.contains("$NOPE"), "{msg}");
}

#[test]
fn garbage_gives_errors_not_panics() {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut bytes = Vec::new();
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push((x >> 24) as u8);
    }
    let text = String::from_utf8_lossy(&bytes);
    let (e, r) = Engine::load_str(&text, "garbage", &Vars::default());
    assert_eq!(e.len(), 0);
    assert!(r.failed > 0);
    assert_eq!(r.fatal_files().count(), 1);
    // Rule-shaped garbage too.
    for t in [
        "alert tcp [[[ any -> any any (sid:1;)",
        "alert tcp any any -> any any (content:\"\\",
        "alert tcp any any -> any any ((((;;;)",
        "alert tcp any any -> any any (content:!; sid:1;)",
        "alert tcp any any -> any any (sid:1; dsize:<>; itype:99999999999999999999;)",
        "alert ( )",
        "\\",
    ] {
        let (_, r) = Engine::load_str(t, "g", &Vars::default());
        assert_eq!(r.loaded, 0, "{t}");
    }
}

#[test]
fn inspect_reuses_buffers() {
    let e = engine("alert udp any any -> any any (content:\"abc\"; nocase; sid:1;)\n");
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"xABCx");
    let mut m = Matches::new();
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    assert_eq!(m.hits.len(), 1);
    let cap = m.hits.capacity();
    for _ in 0..100 {
        e.inspect(&input(&p), &mut Vec::new(), &mut m);
    }
    assert_eq!(m.hits.capacity(), cap);
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// A payload made of pieces of rule patterns (case sometimes flipped) and
/// random bytes.
fn payload_from(rng: &mut Rng, pats: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(8) {
        match rng.below(4) {
            0 => out.extend((0..rng.below(12)).map(|_| rng.next() as u8)),
            _ if !pats.is_empty() => {
                let p = rng.pick(pats).clone();
                let flip = rng.below(3) == 0;
                out.extend(
                    p.iter()
                        .map(|b| if flip { b.to_ascii_uppercase() } else { *b }),
                );
            }
            _ => {}
        }
    }
    out
}

/// Runs random packets through a prefiltered and a brute-force copy of
/// the same rules; results must be identical. Returns the number of hits.
fn compare_with_brute_force(load: &dyn Fn() -> Engine, rounds: usize, seed: u64) -> usize {
    let fast = load();
    let mut slow = load();
    slow.set_brute_force(true);
    let pats = fast.content_patterns();
    let mut rng = Rng(seed);
    let addrs = ["192.168.1.10", "203.0.113.5", "10.0.0.1", "198.51.100.7"];
    let ports = [22u16, 53, 80, 443, 445, 1433, 3389, 8080, 40000];
    let (mut mf, mut ms) = (Matches::new(), Matches::new());
    let (mut ff, mut fs) = (Vec::new(), Vec::new());
    let mut hits = 0;
    for round in 0..rounds {
        let data = payload_from(&mut rng, &pats);
        let (src, dst) = (*rng.pick(&addrs), *rng.pick(&addrs));
        let (sp, dp) = (*rng.pick(&ports), *rng.pick(&ports));
        let kind = rng.below(4);
        let p = match kind {
            0 | 1 => tcp(src, sp, dst, dp, &data),
            2 => udp(src, sp, dst, dp, &data),
            _ => Packet {
                ext: Default::default(),
                payload: &data,
                ..icmp(src, dst, 8, 0)
            },
        };
        let chunk = [StreamChunk {
            dir: Direction::ToServer,
            window: &data,
            new_from: rng.below(data.len() + 1),
        }];
        let mut inp = input(&p);
        if kind == 1 {
            inp.dir = Some(Direction::ToServer);
            inp.established = true;
            inp.stream = &chunk;
        }
        if round % 50 == 0 {
            ff.clear();
            fs.clear();
        }
        fast.inspect(&inp, &mut ff, &mut mf);
        slow.inspect(&inp, &mut fs, &mut ms);
        assert_eq!(mf.hits, ms.hits, "round {round}: payload {data:?}");
        assert_eq!(mf.action, ms.action, "round {round}");
        assert_eq!(ff, fs, "round {round}");
        hits += mf.hits.len();
    }
    hits
}

#[test]
fn prefilter_gives_the_same_results_as_brute_force() {
    // Synthetic rules over a small vocabulary, so random payloads hit.
    let words = [
        "\"GET \"",
        "\"admin\"",
        "\"|00 01|\"",
        "\"passwd\"",
        "\"SSH-\"",
        "\"User-Agent|3a|\"",
        "\"x\"",
        "\"ab\"",
        "\"Abc\"",
        "\"libssh\"",
    ];
    let mods = [
        "",
        " nocase;",
        " depth:12;",
        " offset:2;",
        " fast_pattern;",
        " nocase; fast_pattern;",
    ];
    let rel = ["", " distance:0;", " within:20;", " distance:1; within:16;"];
    let heads = [
        "alert tcp any any -> any any",
        "alert tcp any any -> any [80,443]",
        "alert udp any any -> any 53",
        "alert ip any any -> any any",
        "drop tcp $EXTERNAL_NET any -> $HOME_NET !22",
        "alert tcp any any <> 192.168.1.10 any",
        "alert icmp any any -> any any",
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut text = String::new();
    for sid in 1..=400u32 {
        let mut opts = String::new();
        let n = rng.below(3);
        for i in 0..n {
            let neg = if i > 0 && rng.below(5) == 0 { "!" } else { "" };
            opts.push_str(&format!("content:{neg}{};", rng.pick(&words)));
            let m = *rng.pick(&mods);
            if i > 0 && rng.below(2) == 0 {
                let r: &&str = rng.pick(&rel);
                opts.push_str(r);
                if m.contains("nocase") {
                    opts.push_str(" nocase;");
                }
            } else if !(neg == "!" && m.contains("fast_pattern")) {
                opts.push_str(m);
            }
            opts.push(' ');
        }
        if rng.below(6) == 0 {
            opts.push_str("pcre:\"/a.{0,3}b/i\"; ");
        }
        if n == 0 && rng.below(2) == 0 {
            opts.push_str("flags:S; ");
        }
        if rng.below(8) == 0 {
            let ip = *rng.pick(&["203.0.113.5", "[10.0.0.1,198.51.100.0/24]"][..]);
            text.push_str(&format!(
                "alert ip {ip} any -> any any ({opts}sid:{sid};)\n"
            ));
            continue;
        }
        text.push_str(&format!("{} ({opts}sid:{sid};)\n", *rng.pick(&heads)));
    }
    let load = || {
        let (e, r) = Engine::load_str(&text, "synthetic.rules", &Vars::default());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        e
    };
    let hits = compare_with_brute_force(&load, 3000, 42);
    assert!(hits > 100, "too few hits ({hits}) to compare anything");
}

/// Whether a missing prerequisite must fail the test: `CI` set (not "",
/// "0", "false") or `MEERKAT_REQUIRE_ALL=1` (as in `sensor/tests/prereq`).
fn strict() -> bool {
    let ci = std::env::var("CI").unwrap_or_default();
    let ci = !ci.is_empty() && ci != "0" && !ci.eq_ignore_ascii_case("false");
    ci || std::env::var("MEERKAT_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

#[test]
fn prefilter_matches_brute_force_on_etopen() {
    // ../shared beside the repository (sensor/ -> workspace -> ..).
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/etopen");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rules"))
                .collect()
        })
        .unwrap_or_default();
    if files.is_empty() {
        assert!(
            !strict(),
            "no ET Open rules in {} (CI/MEERKAT_REQUIRE_ALL=1: a failure)",
            dir.display()
        );
        eprintln!(
            "\n*** SKIPPED prefilter_matches_brute_force_on_etopen: no ET Open rules in {} ***\n",
            dir.display()
        );
        return;
    }
    files.sort();
    let load = || {
        let (e, r) = Engine::load_files(&files, &Vars::default());
        assert!(r.loaded >= 1_500, "only {} ET Open rules loaded", r.loaded);
        assert_eq!(e.len(), r.loaded);
        e
    };
    let hits = compare_with_brute_force(&load, 300, 7);
    assert!(
        hits > 0,
        "no rule fired in 300 rounds: nothing was compared"
    );
}

#[test]
fn threshold_limits_alerts_per_source() {
    let e = engine(
        "alert tcp any any -> any 22 (flags:S; threshold: type both, track by_src, count 3, seconds 60; sid:1;)\n\
         drop tcp any any -> any 23 (detection_filter: track by_src, count 2, seconds 60; sid:2;)\n",
    );
    let mut m = Matches::new();
    let mut syn = tcp("203.0.113.5", 40000, "192.0.2.2", 22, b"");
    if let L4::Tcp(t) = &mut syn.l4 {
        t.flags = 0x02;
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        e.inspect(&input(&syn), &mut Vec::new(), &mut m);
        got.push(m.hits.len());
    }
    // type both: one alert, on the third match in the window.
    assert_eq!(got, vec![0, 0, 1, 0, 0]);
    // Another source has its own counter.
    let other = Packet {
        ext: Default::default(),
        ip: ipinfo("198.51.100.1", "192.0.2.2", 6),
        ..syn
    };
    e.inspect(&input(&other), &mut Vec::new(), &mut m);
    assert!(m.hits.is_empty());
    // detection_filter: the action applies only from the third match on.
    let p = tcp("203.0.113.5", 40000, "192.0.2.2", 23, b"");
    let mut actions = Vec::new();
    for _ in 0..4 {
        e.inspect(&input(&p), &mut Vec::new(), &mut m);
        actions.push(m.action.map(|a| a.action));
    }
    assert_eq!(
        actions,
        vec![None, None, Some(Action::Drop), Some(Action::Drop)]
    );
    assert!(m.thresholds().len() >= 2);
}

#[test]
fn flowbits_set_then_checked_on_the_flow() {
    let e = engine(
        "alert tcp any any -> any any (flow:to_client; content:\"SSH-\"; depth:4; flowbits:set,ssh.banner; flowbits:noalert; sid:1;)\n\
         alert tcp any any -> any any (flow:to_server; flowbits:isset,ssh.banner; content:\"hello\"; sid:2;)\n\
         alert tcp any any -> any any (flow:to_server; flowbits:isnotset,ssh.banner; content:\"hello\"; sid:3;)\n",
    );
    let mut fired = Vec::new();
    let mut m = Matches::new();
    let hello = tcp("192.0.2.1", 40000, "192.0.2.2", 22, b"hello");
    let c = [StreamChunk {
        dir: Direction::ToServer,
        window: b"hello",
        new_from: 0,
    }];
    let mut inp = input(&hello);
    inp.dir = Some(Direction::ToServer);
    inp.stream = &c;
    e.inspect(&inp, &mut fired, &mut m);
    let sids: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    assert_eq!(sids, vec![3]);
    // The server's banner sets the bit; noalert: no alert for it.
    let banner = tcp("192.0.2.2", 22, "192.0.2.1", 40000, b"SSH-2.0-x\r\n");
    let c2 = [StreamChunk {
        dir: Direction::ToClient,
        window: b"SSH-2.0-x\r\n",
        new_from: 0,
    }];
    let mut inp2 = input(&banner);
    inp2.dir = Some(Direction::ToClient);
    inp2.stream = &c2;
    e.inspect(&inp2, &mut fired, &mut m);
    assert!(m.hits.is_empty());
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0] & FLOWBIT_TAG, FLOWBIT_TAG);
    assert_eq!(e.flowbit_name(fired[0] & !FLOWBIT_TAG), Some("ssh.banner"));
    let c3 = [StreamChunk {
        dir: Direction::ToServer,
        window: b"hello hello",
        new_from: 6,
    }];
    inp.stream = &c3;
    e.inspect(&inp, &mut fired, &mut m);
    let sids: Vec<u32> = m.hits.iter().map(|h| e.rule(h.rule).sid).collect();
    assert_eq!(sids, vec![2]);
    // Without a flow, flowbit rules do not match.
    let mut nf = Vec::new();
    e.inspect(&input(&hello), &mut nf, &mut m);
    assert!(m.hits.is_empty() && nf.is_empty());
}

#[test]
fn pcre_relative_to_content() {
    let e = engine(
        "alert tcp any any -> any 22 (content:\"SSH-2.0-libssh-0.\"; depth:17; pcre:\"/^[67]\\.[01235]/R\"; sid:1;)\n\
         alert udp any any -> any any (content:\"user\"; pcre:!\"/user=admin/i\"; sid:2;)\n",
    );
    let check = |payload: &[u8]| {
        let p = tcp("192.0.2.1", 40000, "192.0.2.2", 22, payload);
        sids(&e, &input(&p))
    };
    assert_eq!(check(b"SSH-2.0-libssh-0.6.3\r\n"), vec![1]);
    assert!(check(b"SSH-2.0-libssh-0.8.1\r\n").is_empty());
    assert!(check(b"SSH-2.0-libssh-0.x6.3\r\n").is_empty());
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"user=bob");
    assert_eq!(sids(&e, &input(&p)), vec![2]);
    let p = udp("192.0.2.1", 1, "192.0.2.2", 2, b"USER=Admin");
    assert!(sids(&e, &input(&p)).is_empty());
}

#[test]
fn threshold_config_rate_filter_and_limit_in_packet_time() {
    let mut e = engine(
        "drop tcp any any -> any 80 (dsize:0; sid:1;)\n\
         alert tcp any any -> any 22 (flags:S; sid:2;)\n",
    );
    let cfg = crate::detect::threshold::config::parse(
        "rate_filter gen_id 1, sig_id 1, track by_rule, count 1, seconds 60, new_action alert, timeout 1000\n\
         threshold gen_id 1, sig_id 2, type limit, track by_src, count 1, seconds 10\n",
        "t.config",
        &|_| None,
    );
    assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
    assert_eq!(e.apply_thresholds(&cfg.entries).applied, 2);
    let mut m = Matches::new();
    // rate_filter: the first match drops; past the count the action is
    // the rate_filter's (alert), marked as such.
    let p = tcp("203.0.113.5", 40000, "192.0.2.2", 80, b"");
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    assert_eq!(
        m.action.map(|a| (a.action, a.rate_filter)),
        Some((Action::Drop, false))
    );
    e.inspect(&input(&p), &mut Vec::new(), &mut m);
    assert_eq!(m.action, None);
    assert_eq!(
        m.hits
            .iter()
            .map(|h| (h.action, h.rate_filter))
            .collect::<Vec<_>>(),
        vec![(Action::Alert, true)]
    );
    // limit: windows follow the packets' timestamps, not the wall clock.
    let mut syn = tcp("203.0.113.5", 40000, "192.0.2.2", 22, b"");
    if let L4::Tcp(t) = &mut syn.l4 {
        t.flags = 0x02;
    }
    let mut got = Vec::new();
    for secs in [0, 5, 10, 11, 12] {
        let mut inp = input(&syn);
        inp.ts.secs += secs;
        e.inspect(&inp, &mut Vec::new(), &mut m);
        got.push(m.hits.len());
    }
    assert_eq!(got, vec![1, 0, 0, 1, 0]);
}

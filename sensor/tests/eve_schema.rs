//! Every event the output builders produce, written through the real EVE
//! writer, validates against Suricata 7.0.10's schema (`check-eve` from
//! `../shared/tools` beside the repository). `check-eve` missing or unable
//! to run is a failure under CI (see `prereq`), never a silent pass.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use meerkat_sensor::action::{Action, RejectTarget};
use meerkat_sensor::counters::{add, PipelineCounters, SourceCounters};
use meerkat_sensor::decode::{tcp_flags, IcmpInfo, IpInfo, Packet, TcpInfo, UdpInfo, L4};
use meerkat_sensor::output::build::{
    alert_action, alert_event, drop_event, flow_event, ssh_event, AlertInfo, BuildOpts, FlowEnd,
    FlowView, PacketView, TcpSummary, TxMatch,
};
use meerkat_sensor::output::eve::{EveConfig, EveWriter};
use meerkat_sensor::output::stats::{stats_event, DetectStats};
use meerkat_sensor::packet::{Direction, Mode, Source, Timestamp};
use meerkat_shared::eve::{Alert, Event, Ssh, SshSide};

mod prereq;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ts(us: u32) -> Timestamp {
    Timestamp {
        secs: 1_741_944_410,
        micros: us,
    }
}

fn tcp_pkt(payload: &[u8], v6: bool) -> Packet<'_> {
    let (src, dst) = if v6 {
        (ip("2001:db8::50"), ip("2001:db8::10"))
    } else {
        (ip("203.0.113.50"), ip("192.0.2.10"))
    };
    Packet {
        ext: Default::default(),
        ip: IpInfo {
            version: if v6 { 6 } else { 4 },
            src,
            dst,
            proto: 6,
            ttl: 52,
            tos: 0,
            id: if v6 { 0 } else { 46211 },
            len: 73,
            flow_label: if v6 { 12345 } else { 0 },
            fragment: false,
            header_len: if v6 { 40 } else { 20 },
        },
        l4: L4::Tcp(TcpInfo {
            src_port: 51544,
            dst_port: 22,
            seq: 3_617_113_208,
            ack: 2_046_573_119,
            flags: tcp_flags::ACK | tcp_flags::PSH,
            window: 502,
            urgent: 0,
            reserved: 0,
            header_len: 32,
        }),
        payload,
    }
}

fn flow() -> FlowView {
    FlowView {
        flow_id: 816_023_875_525_697,
        start: ts(583_211),
        client: (ip("203.0.113.50"), 51544),
        server: (ip("192.0.2.10"), 22),
        proto: 6,
        pkts: [4, 3],
        bytes: [301, 250],
    }
}

fn alert(mode: Mode, action: Action) -> Alert {
    let mut md = BTreeMap::new();
    md.insert("created_at".to_string(), vec!["2025_03_14".to_string()]);
    md.insert("signature_severity".to_string(), vec!["Major".to_string()]);
    Alert {
        action: alert_action(mode, action).into(),
        gid: 1,
        signature_id: 9_000_001,
        rev: 1,
        signature: "LOCAL SSH libssh client blocked".into(),
        category: "Attempted Administrator Privilege Gain".into(),
        severity: 1,
        metadata: Some(md),
    }
}

fn ssh() -> Ssh {
    let side = |v: &str| SshSide {
        proto_version: "2.0".into(),
        software_version: Some(v.into()),
        hassh: None,
    };
    Ssh {
        client: Some(side("libssh_0.9.6")),
        server: Some(side("OpenSSH_9.2p1")),
    }
}

fn all_events() -> Vec<Event> {
    let opts = BuildOpts {
        community_id: Some(0),
        verdict: true,
        ..Default::default()
    };
    let payload = [b'x'; 21];
    let p4 = tcp_pkt(&payload, false);
    let p6 = tcp_pkt(&payload, true);
    let udp = Packet {
        ext: Default::default(),
        ip: IpInfo { proto: 17, ..p4.ip },
        l4: L4::Udp(UdpInfo {
            src_port: 5353,
            dst_port: 53,
            len: 29,
        }),
        payload: &payload,
    };
    let icmp = Packet {
        ext: Default::default(),
        ip: IpInfo { proto: 1, ..p4.ip },
        l4: L4::Icmp(IcmpInfo {
            v6: false,
            itype: 8,
            icode: 0,
            id: 7,
            seq: 1,
        }),
        payload: &payload,
    };
    let nfq = |pkt| PacketView {
        pkt,
        ts: ts(621_034),
        source: Source::Nfq(0),
        dir: Some(Direction::ToServer),
        pcap_cnt: None,
    };
    let nflog = |pkt| PacketView {
        pkt,
        ts: ts(621_034),
        source: Source::Nflog(10),
        dir: Some(Direction::ToClient),
        pcap_cnt: None,
    };
    let f = flow();
    let mut evs = vec![ssh_event(
        &f,
        ssh(),
        Source::Nfq(0),
        ts(713_482),
        None,
        &opts,
    )];
    for (pv, mode, action) in [
        (nfq(&p4), Mode::Ips, Action::Drop),
        (nflog(&p4), Mode::Ids, Action::Reject(RejectTarget::Src)),
        (nfq(&p6), Mode::Ips, Action::Reject(RejectTarget::Both)),
        (nflog(&udp), Mode::Ids, Action::Alert),
    ] {
        evs.push(alert_event(
            &pv,
            Some(&f),
            AlertInfo {
                alert: alert(mode, action),
                action,
                tx: Some(TxMatch {
                    tx_id: 0,
                    ssh: Some(ssh()),
                    http: None,
                    tls: None,
                    dns: None,
                }),
                app_proto: Some("ssh"),
                stream: None,
            },
            &opts,
        ));
    }
    evs.push(alert_event(
        &nfq(&icmp),
        None,
        AlertInfo {
            alert: alert(Mode::Ips, Action::Pass),
            action: Action::Pass,
            tx: None,
            app_proto: None,
            stream: None,
        },
        &BuildOpts::default(),
    ));
    let with_alert = Some((alert(Mode::Ips, Action::Drop), Action::Drop, Some(0)));
    evs.push(drop_event(&nfq(&p4), Some(&f), "rules", with_alert, &opts));
    evs.push(drop_event(&nfq(&p6), Some(&f), "flow drop", None, &opts));
    evs.push(drop_event(&nfq(&udp), None, "rules", None, &opts));
    evs.push(drop_event(
        &nfq(&icmp),
        None,
        "decode error",
        None,
        &BuildOpts::default(),
    ));
    let end = FlowEnd {
        last_seen: ts(790_011),
        state: "established",
        reason: "timeout",
        alerted: true,
        action: Some("drop"),
        app_proto: Some("ssh"),
        tcp: Some(TcpSummary {
            flags_ts: 0x1b,
            flags_tc: 0xd2,
            state: Some("established"),
        }),
    };
    evs.push(flow_event(&f, &end, Source::Nfq(0), ts(900_000), &opts));

    let sc = SourceCounters::default();
    add(&sc.packets, 100);
    let sl = SourceCounters::default();
    let pc = PipelineCounters::default();
    add(&pc.decoder_pkts, 100);
    add(&pc.decoder_bytes, 7000);
    for c in pc.decoder_errors.iter() {
        add(c, 1);
    }
    let det = DetectStats {
        rules_loaded: 3,
        rules_failed: 1,
        rules_skipped: 0,
        last_reload: ts(0),
    };
    evs.push(stats_event(
        30,
        &[(Source::Nfq(0), &sc), (Source::Nflog(10), &sl)],
        &[&pc],
        &det,
        ts(1),
    ));
    evs.push(stats_event(
        30,
        &[(Source::Nflog(10), &sl)],
        &[],
        &det,
        ts(2),
    ));
    evs
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meerkat-eve-schema-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, cfg: &EveConfig) -> PathBuf {
    let path = dir.join("eve.json");
    let w = EveWriter::open(&path, cfg).unwrap();
    let s = w.sender();
    for ev in all_events() {
        assert!(s.send(&ev));
    }
    w.shutdown();
    path
}

#[test]
fn every_built_event_validates() {
    let test = "every_built_event_validates";
    let Some(tool) = prereq::require_check_eve(test) else {
        return;
    };
    let dir = tmp("ok");
    let path = write(&dir, &EveConfig::default());
    let n = std::fs::read_to_string(&path).unwrap().lines().count();
    assert_eq!(n, all_events().len());
    let Some((code, report)) = prereq::run_check_eve(test, &tool, &path) else {
        return;
    };
    assert_eq!(code, 0, "check-eve failed:\n{report}");
    // check-eve really read every line (not an empty or other file).
    assert!(
        report.contains(&format!("OK: all {n} line(s) valid")),
        "check-eve did not validate {n} lines:\n{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn capture_object_is_documented_as_breaking_the_schema() {
    let test = "capture_object_is_documented_as_breaking_the_schema";
    let Some(tool) = prereq::require_check_eve(test) else {
        return;
    };
    let dir = tmp("capture");
    let cfg = EveConfig {
        capture_object: true,
        ..EveConfig::default()
    };
    let path = write(&dir, &cfg);
    let Some((code, report)) = prereq::run_check_eve(test, &tool, &path) else {
        return;
    };
    assert_eq!(code, 1, "capture object unexpectedly valid:\n{report}");
    assert!(report.contains("capture"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

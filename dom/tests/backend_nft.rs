//! nftables backend against the real kernel, each scenario in its own
//! network namespace (see `backend_common`). Addresses are documentation
//! ranges only.

mod backend_common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use backend_common as common;
use meerkat_dom::backend::nftables::NftBackend;
use meerkat_dom::backend::{build, Backend, BackendConfig, BackendKind, BanEntry};

macro_rules! netns_test {
    ($outer:ident, $inner:ident, $body:block) => {
        #[test]
        fn $outer() {
            common::run_in_netns(stringify!($inner));
        }
        #[test]
        #[ignore = "runs inside a fresh netns, started by the outer test"]
        fn $inner() {
            if !common::inside() {
                return;
            }
            $body
        }
    };
}

fn cfg(family: &str, table: &str, manage: bool) -> BackendConfig {
    BackendConfig {
        kind: BackendKind::Nftables,
        family: family.into(),
        table: table.into(),
        set_v4: "ban4".into(),
        set_v6: "ban6".into(),
        manage,
        name: None,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ban(s: &str, secs: u64) -> BanEntry {
    BanEntry {
        ip: ip(s),
        timeout: Duration::from_secs(secs),
    }
}

/// `nft -j list set`: the set object.
fn nft_set(family: &str, table: &str, set: &str) -> serde_json::Value {
    let out = common::sh("nft", &["-j", "list", "set", family, table, set]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o.get("set").cloned())
        .expect("set object")
}

/// Elements as the kernel reports them: ip -> (timeout s, expires s).
fn nft_elems(family: &str, table: &str, set: &str) -> HashMap<IpAddr, (u64, u64)> {
    let s = nft_set(family, table, set);
    let mut out = HashMap::new();
    for e in s["elem"].as_array().cloned().unwrap_or_default() {
        let e = &e["elem"];
        out.insert(
            ip(e["val"].as_str().unwrap()),
            (
                e["timeout"].as_u64().unwrap_or(0),
                e["expires"].as_u64().unwrap_or(0),
            ),
        );
    }
    out
}

netns_test!(
    nft_manage_add_refresh_remove_list_flush,
    inner_nft_lifecycle,
    {
        let mut b = build(&cfg("inet", "mk", true)).unwrap();
        assert_eq!(b.name(), "nftables inet mk ban4/ban6");
        b.ensure().unwrap();
        b.ensure().unwrap(); // idempotent
        let s4 = nft_set("inet", "mk", "ban4");
        assert_eq!(s4["type"], "ipv4_addr");
        assert_eq!(s4["flags"], serde_json::json!(["timeout"]));
        assert_eq!(nft_set("inet", "mk", "ban6")["type"], "ipv6_addr");

        let t = Instant::now();
        b.add(&[ban("203.0.113.5", 3600)]).unwrap();
        println!("TIMING nft add 1 element: {:?}", t.elapsed());
        b.add(&[ban("2001:db8::5", 3600), ban("203.0.113.6", 300)])
            .unwrap();

        let e4 = nft_elems("inet", "mk", "ban4");
        let (timeout, expires) = e4[&ip("203.0.113.5")];
        assert_eq!(timeout, 3600);
        assert!((3590..=3600).contains(&expires), "expires {expires}");
        assert_eq!(e4[&ip("203.0.113.6")].0, 300);
        let e6 = nft_elems("inet", "mk", "ban6");
        assert!((3590..=3600).contains(&e6[&ip("2001:db8::5")].1));

        // Same timeout again after 2 s: the expiry must be reset.
        std::thread::sleep(Duration::from_secs(2));
        let before = nft_elems("inet", "mk", "ban4")[&ip("203.0.113.5")].1;
        assert!(before <= 3598, "time passed: {before}");
        b.add(&[ban("203.0.113.5", 3600)]).unwrap();
        let after = nft_elems("inet", "mk", "ban4")[&ip("203.0.113.5")].1;
        assert!(after >= 3599, "refreshed expiry {after}");

        // list() matches the kernel.
        let listed: HashMap<IpAddr, Option<Duration>> = b.list().unwrap().into_iter().collect();
        assert_eq!(listed.len(), 3);
        let mut kernel = nft_elems("inet", "mk", "ban4");
        kernel.extend(nft_elems("inet", "mk", "ban6"));
        for (addr, (_, expires)) in &kernel {
            let got = listed[addr].expect("has timeout").as_secs();
            assert!(got.abs_diff(*expires) <= 1, "{addr}: {got} vs {expires}");
        }

        // Remove (a missing element is fine), then flush.
        b.remove(&[ip("203.0.113.5"), ip("192.0.2.99"), ip("2001:db8::77")])
            .unwrap();
        let e4 = nft_elems("inet", "mk", "ban4");
        assert_eq!(e4.keys().collect::<Vec<_>>(), vec![&ip("203.0.113.6")]);
        b.flush().unwrap();
        assert!(nft_elems("inet", "mk", "ban4").is_empty());
        assert!(nft_elems("inet", "mk", "ban6").is_empty());
        assert!(b.list().unwrap().is_empty());
    }
);

netns_test!(
    nft_manage_false_missing_set_is_a_clear_error,
    inner_nft_missing,
    {
        let mut b = build(&BackendConfig {
            kind: BackendKind::Nftables,
            ..BackendConfig::default()
        })
        .unwrap();
        let e = b.ensure().unwrap_err();
        assert_eq!(
        e.to_string(),
        "nftables set inet filter suspectedip does not exist; create it (see examples/nftables.conf) or set manage = true"
    );
        let e = b.add(&[ban("192.0.2.1", 60)]).unwrap_err();
        assert!(e.is_missing(), "{e}");
        assert!(e.to_string().contains("inet filter suspectedip"), "{e}");
        // Nothing was created behind the operator's back.
        assert!(!common::sh("nft", &["list", "ruleset"]).contains("table"));
    }
);

netns_test!(nft_operator_sets_and_foreign_content, inner_nft_operator, {
    // A set without `flags timeout` is refused with a fix.
    common::sh_stdin(
        "nft",
        &["-f", "-"],
        "table inet filter {\n set ban4 { type ipv4_addr; }\n set ban6 { type ipv6_addr; flags timeout; }\n}\n",
    );
    let mut b = build(&cfg("inet", "filter", false)).unwrap();
    let e = b.ensure().unwrap_err().to_string();
    assert!(e.contains("flags timeout"), "{e}");
    assert!(e.contains("inet filter ban4"), "{e}");
    common::sh("nft", &["flush", "ruleset"]);

    // The operator's table with chains and rules referencing the sets.
    common::sh_stdin(
        "nft",
        &["-f", "-"],
        "table inet filter {\n set ban4 { type ipv4_addr; flags timeout; }\n set ban6 { type ipv6_addr; flags timeout; }\n chain input { type filter hook input priority 0; policy accept; ip saddr @ban4 drop; ip6 saddr @ban6 drop; }\n}\n",
    );
    for manage in [false, true] {
        let mut b = build(&cfg("inet", "filter", manage)).unwrap();
        b.ensure().unwrap();
        b.add(&[ban("198.51.100.7", 600), ban("2001:db8::7", 600)])
            .unwrap();
    }
    let rules = common::sh("nft", &["list", "chain", "inet", "filter", "input"]);
    assert!(
        rules.contains("@ban4 drop"),
        "operator rules untouched: {rules}"
    );
    assert_eq!(
        nft_elems("inet", "filter", "ban4")[&ip("198.51.100.7")].0,
        600
    );

    // manage=true with only one set missing creates just that one.
    common::sh(
        "nft",
        &[
            "delete",
            "rule",
            "inet",
            "filter",
            "input",
            "handle",
            common::sh("nft", &["-a", "list", "chain", "inet", "filter", "input"])
                .lines()
                .find(|l| l.contains("@ban6"))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap()
                .trim(),
        ],
    );
    common::sh("nft", &["delete", "set", "inet", "filter", "ban6"]);
    let mut b = build(&cfg("inet", "filter", true)).unwrap();
    b.ensure().unwrap();
    assert_eq!(
        nft_set("inet", "filter", "ban6")["flags"],
        serde_json::json!(["timeout"])
    );
    assert_eq!(
        nft_elems("inet", "filter", "ban4").len(),
        1,
        "existing set kept"
    );

    // A kernel refusal names the backend, set, address, reason and a fix;
    // the transaction is all-or-nothing.
    common::sh_stdin(
        "nft",
        &["-f", "-"],
        "table ip small {\n set ban4 { type ipv4_addr; size 2; flags timeout; }\n}\n",
    );
    let mut b = build(&cfg("ip", "small", false)).unwrap();
    b.ensure().unwrap();
    let e = b
        .add(&[
            ban("192.0.2.1", 60),
            ban("192.0.2.2", 60),
            ban("192.0.2.3", 60),
        ])
        .unwrap_err();
    println!("full-set error: {e}");
    let text = e.to_string();
    assert!(text.contains("nftables ip small ban4: kernel refused add on ip small ban4 for 192.0.2.1 (and 2 more)"), "{text}");
    assert!(text.contains("set is full"), "{text}");
    assert!(
        nft_elems("ip", "small", "ban4").is_empty(),
        "aborted as a whole"
    );
});

netns_test!(nft_batch_of_2000_and_100k_active, inner_nft_batch, {
    let mut b = build(&cfg("inet", "mk", true)).unwrap();
    b.ensure().unwrap();
    let mut entries = Vec::new();
    for net in ["192.0.2", "198.51.100", "203.0.113"] {
        for host in 0..=255u32 {
            entries.push(ban(&format!("{net}.{host}"), 3600));
        }
    }
    let mut n = 0u32;
    while entries.len() < 2000 {
        n += 1;
        entries.push(ban(
            &format!("2001:db8::{:x}:{:x}", n >> 16, n & 0xffff),
            3600,
        ));
    }
    let t = Instant::now();
    b.add(&entries).unwrap();
    println!(
        "TIMING nft add 2000 elements (one transaction): {:?}",
        t.elapsed()
    );
    assert_eq!(b.list().unwrap().len(), 2000);
    assert_eq!(
        nft_elems("inet", "mk", "ban4").len() + nft_elems("inet", "mk", "ban6").len(),
        2000
    );
    let t = Instant::now();
    b.add(&entries).unwrap();
    println!(
        "TIMING nft refresh 2000 existing elements: {:?}",
        t.elapsed()
    );

    let more: Vec<BanEntry> = (0..98_000u32)
        .map(|i| ban(&format!("2001:db8:1::{:x}:{:x}", i >> 16, i & 0xffff), 7200))
        .collect();
    let t = Instant::now();
    b.add(&more).unwrap();
    println!(
        "TIMING nft add 98000 elements (one transaction): {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let all = b.list().unwrap();
    println!("TIMING nft list 100000 elements: {:?}", t.elapsed());
    assert_eq!(all.len(), 100_000);
    assert!(all.iter().all(|(_, t)| t.is_some()));
    let ips: Vec<IpAddr> = entries.iter().map(|e| e.ip).collect();
    b.remove(&ips).unwrap();
    assert_eq!(b.list().unwrap().len(), 98_000);
    b.flush().unwrap();
    assert!(b.list().unwrap().is_empty());
});

netns_test!(nft_flush_ruleset_then_ensure_recovers, inner_nft_recover, {
    let mut b = build(&cfg("inet", "mk", true)).unwrap();
    b.ensure().unwrap();
    b.add(&[ban("192.0.2.10", 60)]).unwrap();
    common::sh("nft", &["flush", "ruleset"]);
    b.ensure().unwrap();
    b.add(&[ban("192.0.2.11", 60)]).unwrap();
    assert!(nft_elems("inet", "mk", "ban4").contains_key(&ip("192.0.2.11")));
    // manage = true also recovers inside add() itself.
    common::sh("nft", &["flush", "ruleset"]);
    b.add(&[ban("192.0.2.12", 60)]).unwrap();
    assert!(nft_elems("inet", "mk", "ban4").contains_key(&ip("192.0.2.12")));
    // manage = false reports the missing set.
    common::sh("nft", &["flush", "ruleset"]);
    let mut m = build(&cfg("inet", "mk", false)).unwrap();
    assert!(m.add(&[ban("192.0.2.13", 60)]).unwrap_err().is_missing());
});

netns_test!(nft_single_family_tables, inner_nft_families, {
    let mut b = build(&cfg("ip", "t4", true)).unwrap();
    assert_eq!(b.name(), "nftables ip t4 ban4");
    b.ensure().unwrap();
    // v6 entries are skipped with a warning; the v4 ones still land.
    b.add(&[ban("203.0.113.9", 60), ban("2001:db8::9", 60)])
        .unwrap();
    assert_eq!(nft_elems("ip", "t4", "ban4").len(), 1);
    assert!(!common::sh("nft", &["list", "table", "ip", "t4"]).contains("ban6"));
    assert_eq!(b.list().unwrap().len(), 1);

    let mut b6 = build(&cfg("ip6", "t6", true)).unwrap();
    b6.ensure().unwrap();
    b6.add(&[ban("203.0.113.9", 60), ban("2001:db8::9", 60)])
        .unwrap();
    assert_eq!(nft_elems("ip6", "t6", "ban6").len(), 1);
    assert_eq!(
        b6.list().unwrap(),
        vec![(ip("2001:db8::9"), b6.list().unwrap()[0].1)]
    );
});

netns_test!(nft_legacy_refresh_without_destroy, inner_nft_legacy, {
    // The pre-6.3 path (dump, DELSETELEM present keys, NEWSETELEM).
    let mut b = NftBackend::new(&cfg("inet", "mk", true)).unwrap();
    b.set_legacy_refresh(true);
    b.ensure().unwrap();
    b.add(&[ban("192.0.2.20", 3600), ban("2001:db8::20", 3600)])
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    b.add(&[ban("192.0.2.20", 3600), ban("192.0.2.21", 3600)])
        .unwrap();
    let e = nft_elems("inet", "mk", "ban4");
    assert!(e[&ip("192.0.2.20")].1 >= 3599, "refreshed: {e:?}");
    assert_eq!(e.len(), 2);
    b.remove(&[ip("192.0.2.20"), ip("192.0.2.99")]).unwrap();
    assert_eq!(nft_elems("inet", "mk", "ban4").len(), 1);
});

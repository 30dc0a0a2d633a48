//! ipset backend against the real kernel, each scenario in its own network
//! namespace (see `backend_common`). Addresses are documentation ranges only.

mod backend_common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use backend_common as common;
use meerkat_dom::backend::{build, BackendConfig, BackendKind, BanEntry};

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

fn cfg(manage: bool) -> BackendConfig {
    BackendConfig {
        kind: BackendKind::Ipset,
        set_v4: "ban4".into(),
        set_v6: "ban6".into(),
        manage,
        ..BackendConfig::default()
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

/// `ipset list -o save NAME`: header line and ip -> remaining seconds.
fn ipset_save(set: &str) -> (String, HashMap<IpAddr, u64>) {
    let out = common::sh("ipset", &["list", "-o", "save", set]);
    let mut header = String::new();
    let mut elems = HashMap::new();
    for line in out.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.first() {
            Some(&"create") => header = line.to_string(),
            Some(&"add") => {
                let t = w
                    .iter()
                    .position(|x| *x == "timeout")
                    .and_then(|i| w.get(i + 1))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                elems.insert(ip(w[2]), t);
            }
            _ => {}
        }
    }
    (header, elems)
}

netns_test!(
    ipset_manage_add_refresh_remove_list_flush,
    inner_ipset_lifecycle,
    {
        let mut b = build(&cfg(true)).unwrap();
        assert_eq!(b.name(), "ipset ban4/ban6");
        b.ensure().unwrap();
        b.ensure().unwrap(); // idempotent
        let (h4, _) = ipset_save("ban4");
        assert!(
            h4.contains("hash:ip family inet ") && h4.contains("timeout 0"),
            "{h4}"
        );
        let (h6, _) = ipset_save("ban6");
        assert!(h6.contains("family inet6"), "{h6}");

        let t = Instant::now();
        b.add(&[ban("203.0.113.5", 3600)]).unwrap();
        println!("TIMING ipset add 1 element: {:?}", t.elapsed());
        b.add(&[ban("2001:db8::5", 3600), ban("203.0.113.6", 300)])
            .unwrap();
        let (_, e4) = ipset_save("ban4");
        assert!((3590..=3600).contains(&e4[&ip("203.0.113.5")]), "{e4:?}");
        assert!((290..=300).contains(&e4[&ip("203.0.113.6")]), "{e4:?}");
        let (_, e6) = ipset_save("ban6");
        assert!((3590..=3600).contains(&e6[&ip("2001:db8::5")]), "{e6:?}");

        std::thread::sleep(Duration::from_secs(2));
        assert!(ipset_save("ban4").1[&ip("203.0.113.5")] <= 3598);
        b.add(&[ban("203.0.113.5", 3600)]).unwrap();
        assert!(
            ipset_save("ban4").1[&ip("203.0.113.5")] >= 3599,
            "refreshed"
        );

        let listed: HashMap<IpAddr, Option<Duration>> = b.list().unwrap().into_iter().collect();
        let mut kernel = ipset_save("ban4").1;
        kernel.extend(ipset_save("ban6").1);
        assert_eq!(listed.len(), kernel.len());
        for (addr, secs) in &kernel {
            let got = listed[addr].expect("timeout").as_secs();
            assert!(got.abs_diff(*secs) <= 1, "{addr}: {got} vs {secs}");
        }

        b.remove(&[ip("203.0.113.5"), ip("192.0.2.99"), ip("2001:db8::77")])
            .unwrap();
        assert_eq!(
            ipset_save("ban4").1.keys().collect::<Vec<_>>(),
            vec![&ip("203.0.113.6")]
        );
        b.flush().unwrap();
        assert!(ipset_save("ban4").1.is_empty() && ipset_save("ban6").1.is_empty());
        assert!(b.list().unwrap().is_empty());
    }
);

netns_test!(
    ipset_manage_false_missing_set_is_a_clear_error,
    inner_ipset_missing,
    {
        let mut b = build(&BackendConfig {
            kind: BackendKind::Ipset,
            ..BackendConfig::default()
        })
        .unwrap();
        let e = b.ensure().unwrap_err().to_string();
        assert!(
        e.starts_with("ipset suspectedip does not exist; create it (ipset create suspectedip hash:ip family inet timeout 0"),
        "{e}"
    );
        assert!(e.ends_with("or set manage = true"), "{e}");
        let e = b.add(&[ban("192.0.2.1", 60)]).unwrap_err();
        assert!(e.is_missing(), "{e}");
        assert!(common::sh("ipset", &["list", "-n"]).trim().is_empty());
    }
);

netns_test!(ipset_operator_sets, inner_ipset_operator, {
    // Without timeout support: refused with a fix.
    common::sh("ipset", &["create", "ban4", "hash:ip"]);
    common::sh(
        "ipset",
        &[
            "create", "ban6", "hash:ip", "family", "inet6", "timeout", "0",
        ],
    );
    let mut b = build(&cfg(false)).unwrap();
    let e = b.ensure().unwrap_err().to_string();
    assert!(
        e.contains("without timeout support") && e.contains("ipset create ban4"),
        "{e}"
    );
    common::sh("ipset", &["destroy", "ban4"]);
    // Wrong family.
    common::sh(
        "ipset",
        &[
            "create", "ban4", "hash:ip", "family", "inet6", "timeout", "0",
        ],
    );
    assert!(b
        .ensure()
        .unwrap_err()
        .to_string()
        .contains("not family inet"));
    common::sh("ipset", &["destroy", "ban4"]);
    // A correct operator set, with a default timeout.
    common::sh("ipset", &["create", "ban4", "hash:ip", "timeout", "600"]);
    b.ensure().unwrap();
    b.add(&[ban("198.51.100.7", 60), ban("2001:db8::7", 90)])
        .unwrap();
    assert!((55..=60).contains(&ipset_save("ban4").1[&ip("198.51.100.7")]));
    assert!((85..=90).contains(&ipset_save("ban6").1[&ip("2001:db8::7")]));
});

netns_test!(ipset_batch_of_2000_and_100k_active, inner_ipset_batch, {
    let mut b = build(&cfg(true)).unwrap();
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
        "TIMING ipset add 2000 elements (one sendmsg): {:?}",
        t.elapsed()
    );
    assert_eq!(b.list().unwrap().len(), 2000);
    assert_eq!(
        ipset_save("ban4").1.len() + ipset_save("ban6").1.len(),
        2000
    );

    let more: Vec<BanEntry> = (0..98_000u32)
        .map(|i| ban(&format!("2001:db8:1::{:x}:{:x}", i >> 16, i & 0xffff), 7200))
        .collect();
    let t = Instant::now();
    b.add(&more).unwrap();
    println!(
        "TIMING ipset add 98000 elements (one sendmsg): {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert_eq!(b.list().unwrap().len(), 100_000);
    println!("TIMING ipset list 100000 elements: {:?}", t.elapsed());
    b.flush().unwrap();
    assert!(b.list().unwrap().is_empty());
});

netns_test!(ipset_destroyed_set_recovers, inner_ipset_recover, {
    let mut b = build(&cfg(true)).unwrap();
    b.ensure().unwrap();
    b.add(&[ban("192.0.2.10", 60)]).unwrap();
    common::sh("ipset", &["destroy"]);
    b.ensure().unwrap();
    b.add(&[ban("192.0.2.11", 60)]).unwrap();
    common::sh("ipset", &["destroy"]);
    b.add(&[ban("192.0.2.12", 60)]).unwrap(); // manage = true recreates
    assert!(ipset_save("ban4").1.contains_key(&ip("192.0.2.12")));
});

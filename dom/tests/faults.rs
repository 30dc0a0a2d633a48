//! Faults a gateway meets (issue 8), against the real `meerkat-dom` binary
//! with the dry-run backend:
//!
//! * 7: a corrupt and truncated state file: the daemon names the file,
//!   keeps the bad part aside, and starts with the bans it could read.
//! * 8: control socket abuse: garbage, over-long and half-sent commands get
//!   an error (or are dropped) and the daemon stays up; idle connections do
//!   not block others; many concurrent clients are all answered; a user
//!   outside the socket's group is refused (root only).
//! * 9: a hostile eve.json: 100 MB of garbage, a 1 GB line, the file
//!   replaced by a directory, a symlink loop: skipped and counted, memory
//!   bounded, and real events after them still ban.

mod common;
// The sensor tests' prerequisite checks (CI makes a missing one a failure).
#[path = "../../sensor/tests/prereq/mod.rs"]
mod prereq;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use common::*;

fn dom_config(dir: &Path) -> String {
    config(
        dir,
        "",
        "",
        &format!("{}{}", dry_run_backend(), ISSUE_RULES),
    )
}

fn vm_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ban_line(ip: &str, expires_ms: u64) -> String {
    format!(
        r#"{{"op":"ban","ip":"{ip}","rule":"libssh clients","reason":"dest=192.0.2.1:22","client":"libssh_0.9.6","first_seen":1735689000000,"last_seen":1735689000000,"count":1,"offence":1,"expires":{expires_ms}}}"#
    )
}

#[test]
fn corrupt_and_truncated_state_file() {
    let t = TmpDir::new("fault-state");
    let state = t.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let later = meerkat_dom::state::now_ms() + 3_600_000;
    let journal = state.join("bans.jsonl");
    let good1 = ban_line("198.51.100.41", later);
    let good2 = ban_line("198.51.100.42", later);
    let truncated = &ban_line("198.51.100.43", later)[..70];
    let text = format!(
        "{good1}\n\u{0}\u{1}binary garbage \u{7f}\n{{\"op\":\"ban\",\"ip\":\"not an ip\"}}\n{good2}\n{truncated}"
    );
    std::fs::write(&journal, &text).unwrap();

    let d = Daemon::start(&t.0, &dom_config(&t.0));
    assert_eq!(
        d.banned_ips(),
        vec!["198.51.100.41", "198.51.100.42"],
        "the readable bans are restored; log:\n{}",
        d.log_text()
    );
    let log = d.log_text();
    assert!(
        log.contains(&journal.display().to_string()),
        "the error names the state file:\n{log}"
    );
    // The damaged lines are kept aside, not silently compacted away.
    let aside: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p != &journal && p.to_string_lossy().contains("bans.jsonl"))
        .collect();
    assert!(
        aside.iter().any(|p| std::fs::read(p)
            .map(|b| b.windows(14).any(|w| w == b"binary garbage"))
            .unwrap_or(false)),
        "no copy of the damaged journal next to it ({aside:?}); log:\n{log}"
    );
    // And the daemon works: a new ban is recorded next to the restored ones.
    d.append(&[ssh_line("198.51.100.44", "libssh_0.9.6")]);
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 3));
}

/// Sends `bytes` on a new connection and reads one response line (or
/// nothing when the daemon closes the connection).
fn raw_request(sock: &Path, bytes: &[u8], close_write: bool) -> String {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // The daemon may close early on an over-long line: a write error then
    // is part of the expected outcome.
    let _ = s.write_all(bytes);
    if close_write {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut line = String::new();
    let _ = BufReader::new(&s).read_line(&mut line);
    line
}

#[test]
fn control_socket_abuse() {
    let t = TmpDir::new("fault-ctl");
    let d = Daemon::start(&t.0, &dom_config(&t.0));
    let sock = d.sock.clone();

    // Garbage and unknown commands: an error each, connection reusable.
    for bad in [
        &b"hello\n"[..],
        b"{\"cmd\":\"explode\"}\n",
        b"{\"cmd\":\"ban\"}\n",
        b"{\"cmd\":\"ban\",\"ip\":\"999.1.1.1\"}\n",
        b"{\"cmd\":\"ban\",\"ip\":\"198.51.100.9\",\"for\":\"-5s\"}\n",
        b"\xff\xfe\x00\x01\n",
        b"[]\n",
    ] {
        let r = raw_request(&sock, bad, false);
        let v: serde_json::Value = serde_json::from_str(&r)
            .unwrap_or_else(|e| panic!("no JSON answer to {bad:?}: {r:?} ({e})"));
        assert_eq!(v["ok"], false, "{bad:?} -> {r}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
    }
    // Over-long: an error (or a closed connection), never a hang or a crash.
    let mut long = vec![b'x'; 1 << 20];
    long.push(b'\n');
    let r = raw_request(&sock, &long, false);
    assert!(r.is_empty() || r.contains("\"ok\":false"), "{r}");
    // Half-sent then closed: no answer needed, the daemon stays up.
    let _ = raw_request(&sock, b"{\"cmd\":\"sta", true);
    // Idle connections holding half a command do not block anyone.
    let idle: Vec<UnixStream> = (0..200)
        .map(|_| {
            let mut s = UnixStream::connect(&sock).expect("idle connect");
            s.write_all(b"{\"cmd\":").unwrap();
            s
        })
        .collect();
    // Many concurrent clients, each answered.
    let workers: Vec<_> = (0..32)
        .map(|i| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut ok = 0;
                for j in 0..10 {
                    let req = if j % 2 == 0 {
                        "{\"cmd\":\"status\"}\n".to_string()
                    } else {
                        format!(
                            "{{\"cmd\":\"ban\",\"ip\":\"198.51.100.{}\",\"for\":\"1h\"}}\n",
                            100 + i
                        )
                    };
                    let r = raw_request(&sock, req.as_bytes(), false);
                    if r.contains("\"ok\":true") {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let answered: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(answered, 320, "every concurrent request answered with ok");
    drop(idle);
    assert_eq!(d.list().len(), 32, "the 32 manual bans");
    let s = d.status();
    assert!(s.is_object(), "daemon still answers: {s}");

    // A user outside the socket's group is refused by the socket mode.
    if prereq::require_root("control_socket_abuse (other user)")
        && prereq::require_programs("control_socket_abuse (other user)", &["setpriv"])
    {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(BIN)
            .arg("--socket")
            .arg(&sock)
            .arg("status")
            .output()
            .expect("run setpriv");
        assert!(
            !out.status.success(),
            "nobody could use the control socket: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ermission denied"), "{err}");
    }
}

#[test]
fn hostile_eve_file() {
    let t = TmpDir::new("fault-eve");
    let d = Daemon::start(&t.0, &dom_config(&t.0));
    let pid = d.child.as_ref().map(|c| c.id()).expect("pid");
    let rss0 = vm_kib(pid, "VmRSS:");

    // 100 MB of garbage (no JSON, some newlines), then a real event.
    {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&d.eve)
            .unwrap();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..100 {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = if x.is_multiple_of(61) {
                    b'\n'
                } else {
                    (x >> 32) as u8
                };
            }
            f.write_all(&block).unwrap();
        }
        f.write_all(b"\n").unwrap();
    }
    d.append(&[ssh_line("198.51.100.51", "libssh_0.9.6")]);
    assert!(
        wait_for(Duration::from_secs(60), || d
            .banned_ips()
            .contains(&"198.51.100.51".to_string())),
        "event after 100 MB of garbage not seen; log:\n{}",
        d.log_text()
    );
    let s = d.status();
    assert!(
        s["skipped_invalid_json"].as_u64().unwrap_or(0) > 1000,
        "garbage lines counted: {s}"
    );

    // One line of 1 GB (no newline inside), then a real event.
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&d.eve)
            .unwrap();
        let chunk = vec![b'a'; 8 << 20];
        f.write_all(b"{\"event_type\":\"ssh\",\"pad\":\"").unwrap();
        for _ in 0..128 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\"}\n").unwrap();
    }
    d.append(&[ssh_line("198.51.100.52", "libssh_0.9.6")]);
    assert!(
        wait_for(Duration::from_secs(120), || d
            .banned_ips()
            .contains(&"198.51.100.52".to_string())),
        "event after a 1 GB line not seen; log:\n{}",
        d.log_text()
    );
    let s = d.status();
    assert!(s["skipped_long"].as_u64().unwrap_or(0) >= 1, "{s}");
    let hwm = vm_kib(pid, "VmHWM:");
    println!(
        "meerkat-dom RSS: {rss0} KiB at start, peak {hwm} KiB after 100 MB garbage + 1 GB line"
    );
    assert!(
        hwm < 256 * 1024,
        "memory not bounded: peak {hwm} KiB after a 1 GB line"
    );
    // Free the disk space now.
    std::fs::remove_file(&d.eve).unwrap();

    // The file replaced by a directory, then by a symlink loop: the daemon
    // stays up and answers.
    std::fs::create_dir(&d.eve).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        d.try_status().is_some(),
        "daemon down after eve.json became a directory"
    );
    std::fs::remove_dir(&d.eve).unwrap();
    std::os::unix::fs::symlink(&d.eve, &d.eve).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(d.try_status().is_some(), "daemon down after a symlink loop");
    std::fs::remove_file(&d.eve).unwrap();

    // A real file again: events are followed again.
    d.append(&[ssh_line("198.51.100.53", "libssh_0.9.6")]);
    assert!(
        wait_for(Duration::from_secs(15), || d
            .banned_ips()
            .contains(&"198.51.100.53".to_string())),
        "new eve.json not followed after the directory and the loop; log:\n{}",
        d.log_text()
    );
    let mut leftover = String::new();
    let _ = std::fs::File::open(&d.log).and_then(|mut f| f.read_to_string(&mut leftover));
    assert!(!leftover.contains("panicked"), "{leftover}");
}

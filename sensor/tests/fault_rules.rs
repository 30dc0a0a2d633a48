//! Fault 10 (issue 8): a rules file of 100,000 random lines under `-T`.
//! The lines are mutated rules (bytes replaced, deleted, inserted,
//! truncated, options duplicated), planted garbage and planted valid rules.
//! Checked: no panic, exit status 1, every planted garbage line reported
//! with `file:line`, every planted valid rule loaded, and the peak memory
//! of the check (printed with the time it took; memory is asserted to stay
//! under a generous bound, time is only printed).

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

mod prereq;

const LINES: usize = 100_000;
/// Every `PLANT`-th line is garbage, the one after it a valid rule.
const PLANT: usize = 97;
/// Peak RSS bound for checking 100,000 lines (the real figure is printed).
const MAX_RSS_KIB: i64 = 1024 * 1024;

const TEMPLATES: &[&str] = &[
    "alert tcp $EXTERNAL_NET any -> $HOME_NET 22 (msg:\"LOCAL libssh\"; flow:established,to_server; content:\"SSH-\"; depth:4; content:\"libssh\"; distance:0; nocase; classtype:attempted-admin; sid:1; rev:1;)",
    "drop ssh any any -> any any (msg:\"agent\"; ssh.software; content:\"paramiko\"; startswith; sid:1;)",
    "alert ip [192.0.2.0/24,!192.0.2.7] any <> 198.51.100.0/24 [1:1024,!22] (msg:\"x\"; threshold: type both, track by_src, count 3, seconds 60; sid:1;)",
    "reject tcp any any -> any 80 (msg:\"pcre\"; content:\"GET \"; pcre:\"/^GET \\/[a-z]{3,}/i\"; flowbits:set,web; sid:1;)",
    "pass icmp any any -> any any (msg:\"ping\"; itype:8; icode:0; dsize:>10; sid:1;)",
    "alert udp any 53 -> any any (msg:\"dns\"; content:\"|00 01 00 00|\"; offset:4; within:8; metadata:created_at 2025_03_14, signature_severity Major; reference:url,example.org; sid:1;)",
    "alert tcp any any -> any any (msg:\"flags\"; flags:SA,12; detection_filter: track by_dst, count 5, seconds 10; priority:2; gid:1; sid:1;)",
];

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
}

fn mutate(rng: &mut Rng, line: &str) -> String {
    let alphabet = b" ;:()\"|!,[]-<>$\\/x0a9";
    let mut b: Vec<u8> = line.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len());
        match rng.below(6) {
            0 => b[at] = alphabet[rng.below(alphabet.len())],
            1 => {
                b.remove(at);
            }
            2 => b.insert(at, alphabet[rng.below(alphabet.len())]),
            3 => b.truncate(at),
            4 => {
                let from = rng.below(b.len());
                let piece: Vec<u8> = b[from..b.len().min(from + 20)].to_vec();
                b.splice(at..at, piece);
            }
            _ => b[at] = (rng.next() & 0xff) as u8,
        }
    }
    String::from_utf8_lossy(&b).replace('\n', " ")
}

#[test]
fn hundred_thousand_random_rule_lines() {
    let dir = std::env::temp_dir().join(format!("meerkat-fault-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("random.rules");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut text = String::with_capacity(LINES * 120);
    let (mut garbage, mut valid) = (Vec::new(), Vec::new());
    for n in 1..=LINES {
        let sid = 1_000_000 + n;
        if n % PLANT == 0 {
            garbage.push(n);
            let _ = writeln!(text, "garbage line {n} (((");
        } else if n % PLANT == 1 && n > 1 {
            valid.push(n);
            let _ = writeln!(
                text,
                "alert tcp any any -> any 22 (msg:\"planted {n}\"; content:\"SSH-\"; sid:{sid};)"
            );
        } else {
            let t = TEMPLATES[rng.below(TEMPLATES.len())].replace("sid:1;", &format!("sid:{sid};"));
            let line = if rng.below(5) == 0 {
                t
            } else {
                mutate(&mut rng, &t)
            };
            let _ = writeln!(text, "{line}");
        }
    }
    std::fs::write(&path, &text).expect("write rules");

    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_meerkat-sensor"))
        .arg("-T")
        .arg("-S")
        .arg(&path)
        .output()
        .expect("run meerkat-sensor -T");
    let took = t.elapsed();
    let rss_kib = children_max_rss_kib();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "-T on {LINES} random lines: exit {:?}, {took:?}, peak RSS {rss_kib} KiB, {} stderr lines",
        out.status.code(),
        stderr.lines().count()
    );
    assert!(!stderr.contains("panicked"), "panic under -T:\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "-T must fail with errors: {stdout}"
    );
    let p = path.to_string_lossy();
    for n in &garbage {
        assert!(
            stderr.contains(&format!("{p}:{n}:")) || stderr.contains(&format!("{p}:{n} ")),
            "garbage line {n} not reported with {p}:{n}"
        );
    }
    // The planted valid rules load: "<file>: N loaded, M skipped ..., K failed".
    let summary = format!("{p}: ");
    let loaded: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&summary))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no per-file summary in -T output:\n{stdout}"));
    assert!(
        loaded >= valid.len(),
        "{loaded} rules loaded, {} valid ones planted:\n{stdout}",
        valid.len()
    );
    assert!(
        rss_kib < MAX_RSS_KIB,
        "checking {LINES} lines took {rss_kib} KiB"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Peak resident set of this process's waited-for children, in KiB.
fn children_max_rss_kib() -> i64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer we give.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr()) };
    if rc != 0 {
        return -1;
    }
    // SAFETY: rc == 0, so the struct was initialized.
    #[allow(unsafe_code)]
    let ru = unsafe { ru.assume_init() };
    ru.ru_maxrss
}

//! Real TLS and DNS peers for the end-to-end and differential tests: a
//! certificate chain made with `openssl` at test time, `openssl s_server`
//! serving it, and `dnsmasq` answering a small zone. Nothing here is
//! recorded: every test makes its own keys and certificates.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{run_ok, Topology};

/// The programs [`Pki::generate`] and [`start_tls_server`] need.
pub const TLS_TOOLS: &[&str] = &["openssl"];
/// The programs [`start_dnsmasq`] and its clients need.
pub const DNS_TOOLS: &[&str] = &["dnsmasq", "dig"];

/// The zone [`start_dnsmasq`] serves (documentation addresses only).
pub const DNS_ZONE: &str = "example.net";
pub const DNS_WWW: &str = "www.example.net";
pub const DNS_WWW_A: &str = "192.0.2.80";
pub const DNS_WWW_AAAA: &str = "2001:db8::80";
pub const DNS_ALIAS: &str = "alias.example.net";
pub const DNS_MX: &str = "mail.example.net";
pub const DNS_TXT: &str = "v=spf1 -all";
/// A name the drop rules of the tests look for; it resolves like any other.
pub const DNS_BLOCKED: &str = "blocked.example.net";
pub const DNS_BLOCKED_A: &str = "192.0.2.66";
/// A name in the zone that does not exist (NXDOMAIN).
pub const DNS_MISSING: &str = "nothing-here.example.net";

/// The server names of the leaf certificate (its subjectAltName).
pub const TLS_NAMES: &[&str] = &["www.example.net", "blocked.example.net"];

/// A root CA, an intermediate CA and a leaf with subjectAltName, made with
/// `openssl` in one directory.
pub struct Pki {
    /// The root CA certificate (what clients trust).
    pub ca: PathBuf,
    /// The intermediate CA certificate (sent by the server after the leaf).
    pub intermediate: PathBuf,
    /// The leaf certificate and its key.
    pub leaf: PathBuf,
    pub leaf_key: PathBuf,
}

/// What `openssl x509` says about the leaf, in Suricata's spelling, to
/// compare with the `tls` objects of EVE.
#[derive(Debug, Clone)]
pub struct LeafFacts {
    /// `C=.., O=.., CN=..` as Suricata writes a DN (RDNs in certificate
    /// order, `", "` between them; `openssl x509 -nameopt
    /// sep_comma_plus_space` prints it the same way).
    pub subject: String,
    pub issuerdn: String,
    /// Colon-separated upper-case hex, as Suricata writes it.
    pub serial: String,
    /// SHA-1 of the DER, colon-separated lower-case hex.
    pub fingerprint: String,
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Pki {
    /// Makes the three certificates under `dir/pki` (EC P-256 keys, valid
    /// from now for 30 days, random serials).
    pub fn generate(dir: &Path) -> Pki {
        let dir = dir.join("pki");
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let p = |n: &str| dir.join(n);
        let ca_ext = p("ca.ext");
        write(
            &ca_ext,
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        );
        let leaf_ext = p("leaf.ext");
        let sans: Vec<String> = TLS_NAMES.iter().map(|n| format!("DNS:{n}")).collect();
        write(
            &leaf_ext,
            &format!(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=serverAuth\nsubjectAltName={}\n\
                 subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
                sans.join(",")
            ),
        );
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        // Root: self-signed.
        let (ca, ca_key) = (p("ca.pem"), p("ca.key"));
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(&ec);
        let (ca_s, ca_key_s, ca_ext_s) = (s(&ca), s(&ca_key), s(&ca_ext));
        args.extend_from_slice(&[
            "-keyout",
            &ca_key_s,
            "-out",
            &ca_s,
            "-days",
            "30",
            "-subj",
            "/C=NL/O=Meerkat Test/CN=Meerkat Test Root CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run_ok("openssl", &args);
        // Intermediate and leaf: a request, signed by the one above.
        let sign = |name: &str, subj: &str, issuer: &Path, issuer_key: &Path, ext: &str| {
            let (key, csr, pem) = (
                p(&format!("{name}.key")),
                p(&format!("{name}.csr")),
                p(&format!("{name}.pem")),
            );
            let (key_s, csr_s, pem_s) = (s(&key), s(&csr), s(&pem));
            let mut req = vec!["req"];
            req.extend_from_slice(&ec);
            req.extend_from_slice(&["-keyout", &key_s, "-out", &csr_s, "-subj", subj]);
            run_ok("openssl", &req);
            let (iss_s, iss_key_s) = (s(issuer), s(issuer_key));
            run_ok(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr_s,
                    "-CA",
                    &iss_s,
                    "-CAkey",
                    &iss_key_s,
                    "-CAcreateserial",
                    "-days",
                    "30",
                    "-sha256",
                    "-extfile",
                    ext,
                    "-out",
                    &pem_s,
                ],
            );
            (pem, key)
        };
        let (intermediate, int_key) = sign(
            "intermediate",
            "/C=NL/O=Meerkat Test/CN=Meerkat Test Intermediate CA",
            &ca,
            &ca_key,
            &ca_ext_s,
        );
        let (leaf, leaf_key) = sign(
            "leaf",
            &format!("/C=NL/O=Meerkat Test/CN={}", TLS_NAMES[0]),
            &intermediate,
            &int_key,
            &s(&leaf_ext),
        );
        Pki {
            ca,
            intermediate,
            leaf,
            leaf_key,
        }
    }

    /// The leaf's subject, issuer, serial and fingerprint as `openssl x509`
    /// prints them, converted to Suricata's spelling.
    pub fn leaf_facts(&self) -> LeafFacts {
        let leaf = s(&self.leaf);
        let field = |opt: &str| {
            let out = run_ok(
                "openssl",
                &[
                    "x509",
                    "-in",
                    &leaf,
                    "-noout",
                    "-nameopt",
                    "sep_comma_plus_space,utf8",
                    opt,
                ],
            );
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            // "subject=C=NL, ..." / "serial=0A1B" / "SHA1 Fingerprint=AB:.."
            text.split_once('=')
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or(text)
        };
        let serial_hex = field("-serial");
        let serial = serial_hex
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        LeafFacts {
            subject: field("-subject"),
            issuerdn: field("-issuer"),
            serial,
            fingerprint: field("-fingerprint").to_lowercase(),
        }
    }
}

/// Starts `openssl s_server -www` in `ns` on `addr:port` with the leaf and
/// the intermediate, and waits until it listens.
pub fn start_tls_server(topo: &Topology, ns: &str, addr: &str, port: u16, pki: &Pki, log: &Path) {
    let accept = format!("{addr}:{port}");
    let (leaf, key, chain) = (s(&pki.leaf), s(&pki.leaf_key), s(&pki.intermediate));
    topo.spawn(
        ns,
        &[
            "openssl",
            "s_server",
            "-accept",
            &accept,
            "-cert",
            &leaf,
            "-key",
            &key,
            "-cert_chain",
            &chain,
            "-www",
            "-quiet",
        ],
        log,
    );
    assert!(
        topo.wait_listen(ns, port, Duration::from_secs(10)),
        "openssl s_server does not listen on {accept}:\n{}",
        fs::read_to_string(log).unwrap_or_default()
    );
}

/// Starts `dnsmasq` in `ns` on `addr` port 53 (UDP and TCP), serving
/// [`DNS_ZONE`] only: A/AAAA for [`DNS_WWW`], a CNAME [`DNS_ALIAS`], MX and
/// TXT records for the zone, [`DNS_BLOCKED`], and NXDOMAIN for everything
/// else in the zone. Waits until it answers.
pub fn start_dnsmasq(topo: &Topology, ns: &str, addr: &str, dir: &Path) {
    let log = dir.join("dnsmasq.log");
    let pid = dir.join("dnsmasq.pid");
    let args = [
        "dnsmasq".to_string(),
        "--keep-in-foreground".into(),
        "--conf-file=/dev/null".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        "--bind-interfaces".into(),
        format!("--listen-address={addr}"),
        "--except-interface=lo".into(),
        "--port=53".into(),
        "--user=root".into(),
        format!("--pid-file={}", pid.display()),
        "--log-queries".into(),
        "--log-facility=-".into(),
        format!("--local=/{DNS_ZONE}/"),
        format!("--host-record={DNS_WWW},{DNS_WWW_A},{DNS_WWW_AAAA}"),
        format!("--host-record={DNS_BLOCKED},{DNS_BLOCKED_A}"),
        format!("--cname={DNS_ALIAS},{DNS_WWW}"),
        format!("--mx-host={DNS_ZONE},{DNS_MX},10"),
        format!("--host-record={DNS_MX},192.0.2.25"),
        format!("--txt-record={DNS_ZONE},{DNS_TXT}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    topo.spawn(ns, &args, &log);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = topo.exec(
            ns,
            &[
                "dig",
                &format!("@{addr}"),
                "+time=1",
                "+tries=1",
                "+short",
                DNS_WWW,
                "A",
            ],
        );
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains(DNS_WWW_A) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "dnsmasq does not answer on {addr}:53 after 10 s:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `dig @server NAME TYPE` from `ns` (one try, 2 s), `+tcp` when asked.
/// Returns (got an answer, the `status:` word, the answer section).
pub fn dig(
    topo: &Topology,
    ns: &str,
    server: &str,
    name: &str,
    rtype: &str,
    tcp: bool,
) -> (bool, String, String) {
    let at = format!("@{server}");
    let mut args = vec![
        "dig",
        &at,
        "+time=2",
        "+tries=1",
        "+noall",
        "+comments",
        "+answer",
    ];
    if tcp {
        args.push("+tcp");
    }
    args.extend_from_slice(&[name, rtype]);
    let out = topo.exec(ns, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("")
        .to_string();
    let answers = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (out.status.success() && !status.is_empty(), status, answers)
}

//! The EVE `tls` object (of `tls` events and of alerts on TLS flows), with
//! Suricata 7's fields and order: `subject`, `issuerdn`,
//! `session_resumed`, `serial`, `fingerprint`, `sni`, `version`,
//! `notbefore`, `notafter`, `certificate`, `chain`, `ja3`, `ja3s`,
//! `client`. Which of them are written follows `outputs.eve-log.types.tls`
//! (`extended`, `custom`; see [`TlsLogOpts`]).

use serde_json::{Map, Value};

use crate::app::tls::{cert, version, TlsSide, TlsState};

/// Field bits of the `tls` object.
pub mod field {
    pub const SUBJECT: u32 = 1;
    pub const ISSUER: u32 = 1 << 1;
    pub const SESSION_RESUMED: u32 = 1 << 2;
    pub const SERIAL: u32 = 1 << 3;
    pub const FINGERPRINT: u32 = 1 << 4;
    pub const SNI: u32 = 1 << 5;
    pub const VERSION: u32 = 1 << 6;
    pub const NOTBEFORE: u32 = 1 << 7;
    pub const NOTAFTER: u32 = 1 << 8;
    pub const CERTIFICATE: u32 = 1 << 9;
    pub const CHAIN: u32 = 1 << 10;
    pub const JA3: u32 = 1 << 11;
    pub const JA3S: u32 = 1 << 12;
    pub const CLIENT: u32 = 1 << 13;
    pub const CLIENT_CERT: u32 = 1 << 14;
    pub const CLIENT_CHAIN: u32 = 1 << 15;

    /// Suricata's default (`extended: no`).
    pub const BASIC: u32 = SUBJECT | ISSUER | SESSION_RESUMED;
    /// `extended: yes`.
    pub const EXTENDED: u32 =
        BASIC | VERSION | SERIAL | FINGERPRINT | NOTBEFORE | NOTAFTER | JA3 | JA3S | CLIENT | SNI;

    /// The bit of a `custom` field name.
    pub fn by_name(name: &str) -> Option<u32> {
        Some(match name {
            "version" => VERSION,
            "subject" => SUBJECT,
            "issuer" => ISSUER,
            "serial" => SERIAL,
            "fingerprint" => FINGERPRINT,
            "not_before" => NOTBEFORE,
            "not_after" => NOTAFTER,
            "sni" => SNI,
            "certificate" => CERTIFICATE,
            "chain" => CHAIN,
            "session_resumed" => SESSION_RESUMED,
            "ja3" => JA3,
            "ja3s" => JA3S,
            "client" => CLIENT,
            "client_certificate" => CLIENT_CERT,
            "client_chain" => CLIENT_CHAIN,
            // Suricata 8 fields: accepted, not written.
            "ja4" | "subjectaltname" | "client_alpns" | "server_alpns" | "client_handshake"
            | "server_handshake" => 0,
            _ => return None,
        })
    }
}

/// What the `tls` object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsLogOpts {
    /// [`field`] bits.
    pub fields: u32,
    /// JA3/JA3S are written (Suricata's `ja3-fingerprints`, resolved with
    /// the rules for `auto`).
    pub ja3: bool,
}

impl Default for TlsLogOpts {
    /// Suricata's default configuration: `extended: yes`, JA3 off.
    fn default() -> Self {
        TlsLogOpts {
            fields: field::EXTENDED,
            ja3: false,
        }
    }
}

fn set_cert_fields(m: &mut Map<String, Value>, side: &TlsSide, fields: u32) {
    let Some(c) = side.cert0.as_ref() else {
        return;
    };
    if fields & field::SUBJECT != 0 {
        m.insert("subject".into(), c.subject.clone().into());
    }
    if fields & field::ISSUER != 0 {
        m.insert("issuerdn".into(), c.issuer.clone().into());
    }
}

fn b64(b: &[u8]) -> Value {
    super::payload::base64(b).into()
}

/// The `tls` object of a flow's TLS state.
pub fn tls_object(t: &TlsState, opts: &TlsLogOpts) -> Value {
    let f = opts.fields;
    let mut m = Map::new();
    set_cert_fields(&mut m, &t.server, f & (field::SUBJECT | field::ISSUER));
    if f & field::SESSION_RESUMED != 0 && t.resumed_without_cert() {
        m.insert("session_resumed".into(), true.into());
    }
    let c0 = t.server.cert0.as_ref();
    if let (true, Some(c)) = (f & field::SERIAL != 0, c0) {
        m.insert("serial".into(), c.serial.clone().into());
    }
    if let (true, Some(c)) = (f & field::FINGERPRINT != 0, c0) {
        m.insert("fingerprint".into(), c.fingerprint.clone().into());
    }
    if let (true, Some(sni)) = (f & field::SNI != 0, t.client.sni.as_ref()) {
        m.insert(
            "sni".into(),
            String::from_utf8_lossy(sni).into_owned().into(),
        );
    }
    if f & field::VERSION != 0 {
        m.insert(
            "version".into(),
            version::name(t.version()).into_owned().into(),
        );
    }
    if let (true, Some(c)) = (f & field::NOTBEFORE != 0, c0) {
        if c.not_before != 0 {
            m.insert("notbefore".into(), cert::format_time(c.not_before).into());
        }
    }
    if let (true, Some(c)) = (f & field::NOTAFTER != 0, c0) {
        if c.not_after != 0 {
            m.insert("notafter".into(), cert::format_time(c.not_after).into());
        }
    }
    if f & field::CERTIFICATE != 0 {
        if let Some(c) = t.server.certs.first() {
            m.insert("certificate".into(), b64(c));
        }
    }
    if f & field::CHAIN != 0 && !t.server.certs.is_empty() {
        m.insert(
            "chain".into(),
            t.server.certs.iter().map(|c| b64(c)).collect(),
        );
    }
    if opts.ja3 {
        for (bit, key, side) in [
            (field::JA3, "ja3", &t.client),
            (field::JA3S, "ja3s", &t.server),
        ] {
            if let (true, Some(j)) = (f & bit != 0, side.ja3.as_ref()) {
                m.insert(
                    key.into(),
                    serde_json::json!({"hash": j.hash, "string": j.string}),
                );
            }
        }
    }
    if f & field::CLIENT != 0 {
        if let Some(c) = t.client.cert0.as_ref() {
            let mut cm = Map::new();
            cm.insert("subject".into(), c.subject.clone().into());
            cm.insert("issuerdn".into(), c.issuer.clone().into());
            cm.insert("fingerprint".into(), c.fingerprint.clone().into());
            cm.insert("serial".into(), c.serial.clone().into());
            if c.not_before != 0 {
                cm.insert("notbefore".into(), cert::format_time(c.not_before).into());
            }
            if c.not_after != 0 {
                cm.insert("notafter".into(), cert::format_time(c.not_after).into());
            }
            if f & field::CLIENT_CERT != 0 {
                if let Some(d) = t.client.certs.first() {
                    cm.insert("certificate".into(), b64(d));
                }
            }
            if f & field::CLIENT_CHAIN != 0 && !t.client.certs.is_empty() {
                cm.insert(
                    "chain".into(),
                    t.client.certs.iter().map(|c| b64(c)).collect(),
                );
            }
            m.insert("client".into(), Value::Object(cm));
        }
    }
    Value::Object(m)
}

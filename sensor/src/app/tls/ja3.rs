//! JA3 (ClientHello) and JA3S (ServerHello) fingerprints, built as
//! Suricata builds them: decimal values, `-` within a field, `,` between
//! fields, GREASE values left out, an empty field kept empty (so a client
//! string always has five fields and a server string three), and the hash
//! is the lowercase hex MD5 of the string.

use md5::{Digest, Md5};
use std::fmt::Write;

use super::version::is_grease;

/// A JA3 or JA3S fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    pub string: String,
    pub hash: String,
}

impl Ja3 {
    fn from_string(string: String) -> Ja3 {
        let digest = Md5::digest(string.as_bytes());
        let mut hash = String::with_capacity(32);
        for b in digest {
            let _ = write!(hash, "{b:02x}");
        }
        Ja3 { string, hash }
    }

    /// JA3 of a ClientHello: version, ciphers, extensions, supported
    /// groups, EC point formats.
    pub fn client(version: u16, ciphers: &[u16], exts: &[u16], groups: &[u16], pf: &[u8]) -> Ja3 {
        let mut s = version.to_string();
        s.push(',');
        push_list(&mut s, ciphers.iter().copied());
        s.push(',');
        push_list(&mut s, exts.iter().copied());
        s.push(',');
        push_list(&mut s, groups.iter().copied());
        s.push(',');
        push_list(&mut s, pf.iter().map(|&p| u16::from(p)));
        Ja3::from_string(s)
    }

    /// JA3S of a ServerHello: version, cipher, extensions.
    pub fn server(version: u16, cipher: Option<u16>, exts: &[u16]) -> Ja3 {
        let mut s = version.to_string();
        s.push(',');
        push_list(&mut s, cipher);
        s.push(',');
        push_list(&mut s, exts.iter().copied());
        Ja3::from_string(s)
    }
}

fn push_list(s: &mut String, vals: impl IntoIterator<Item = u16>) {
    let mut first = true;
    for v in vals.into_iter().filter(|&v| !is_grease(v)) {
        if !first {
            s.push('-');
        }
        first = false;
        let _ = write!(s, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_grease_removed_and_empty_fields_kept() {
        // From the suite's TLS 1.3 draft-22 capture (no point formats).
        let j = Ja3::client(771, &[0x1a1a, 4865, 4867], &[0, 43, 13, 10, 40], &[23], &[]);
        assert_eq!(j.string, "771,4865-4867,0-43-13-10-40,23,");
        assert_eq!(j.hash, "786468211b4d23f9b725987b0de9d090");
        let j = Ja3::client(769, &[47], &[], &[], &[]);
        assert_eq!(j.string, "769,47,,,");
    }

    #[test]
    fn server() {
        let j = Ja3::server(771, Some(49199), &[65281, 0, 11, 16, 23]);
        assert_eq!(j.string, "771,49199,65281-0-11-16-23");
        assert_eq!(j.hash, "5d79edf64e03689ff559a54e9d9487bc");
    }
}

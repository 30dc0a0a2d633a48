//! The SSH binary packets that follow a side's banner, up to the point
//! where the session turns encrypted: the side's `SSH_MSG_KEXINIT`
//! (RFC 4253 §7.1), from which HASSH is computed, and `SSH_MSG_NEWKEYS`,
//! after which nothing more is parsed.
//!
//! Two layers, like the banner parser:
//! - pure functions: [`parse_kexinit`] (one packet's payload →
//!   [`KexInit`]) and [`hassh_string`];
//! - [`KexSide`], the per-direction state machine that walks packet headers
//!   across any segmentation, buffers only a `KEXINIT` packet (bounded by
//!   [`MAX_PACKET_LEN`]) and skips every other packet without copying it.
//!
//! HASSH (Salesforce; as Suricata computes it): the client's string is
//! `kex;enc_c2s;mac_c2s;comp_c2s`, the server's `kex;enc_s2c;mac_s2c;comp_s2c`,
//! each name-list as sent; the hash is the string's MD5 in lowercase hex.

use md5::{Digest, Md5};

/// Largest SSH packet accepted (RFC 4253 §6.1: implementations must handle
/// 35000-byte packets). A longer length field means the stream is not (or
/// no longer) plain SSH: parsing stops.
pub const MAX_PACKET_LEN: usize = 35_000;

const MSG_KEXINIT: u8 = 20;
const MSG_NEWKEYS: u8 = 21;

/// The name-lists of a `KEXINIT` payload that HASSH uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KexInit {
    pub kex: String,
    pub host_key: String,
    pub enc_c2s: String,
    pub enc_s2c: String,
    pub mac_c2s: String,
    pub mac_s2c: String,
    pub comp_c2s: String,
    pub comp_s2c: String,
}

/// Why a `KEXINIT` payload could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KexError {
    #[error("KEXINIT payload shorter than its fields")]
    Truncated,
    #[error("not a KEXINIT message")]
    NotKexInit,
}

/// Parses the payload of one `SSH_MSG_KEXINIT` packet (message code
/// included, padding excluded).
///
/// # Errors
/// [`KexError`] when the payload is not a complete `KEXINIT`.
pub fn parse_kexinit(payload: &[u8]) -> Result<KexInit, KexError> {
    if payload.first() != Some(&MSG_KEXINIT) {
        return Err(KexError::NotKexInit);
    }
    // Message code, then a 16-byte cookie.
    let mut rest = payload.get(17..).ok_or(KexError::Truncated)?;
    let mut next = || -> Result<String, KexError> {
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(KexError::Truncated)?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        let text = rest.get(4..4 + len).ok_or(KexError::Truncated)?;
        rest = rest.get(4 + len..).unwrap_or(&[]);
        Ok(String::from_utf8_lossy(text).into_owned())
    };
    Ok(KexInit {
        kex: next()?,
        host_key: next()?,
        enc_c2s: next()?,
        enc_s2c: next()?,
        mac_c2s: next()?,
        mac_s2c: next()?,
        comp_c2s: next()?,
        comp_s2c: next()?,
    })
}

/// The HASSH string of a side (`server` selects the server-to-client lists).
pub fn hassh_string(k: &KexInit, server: bool) -> String {
    if server {
        format!("{};{};{};{}", k.kex, k.enc_s2c, k.mac_s2c, k.comp_s2c)
    } else {
        format!("{};{};{};{}", k.kex, k.enc_c2s, k.mac_c2s, k.comp_c2s)
    }
}

/// MD5 of `s` in lowercase hex.
pub fn md5_hex(s: &str) -> String {
    let digest = Md5::digest(s.as_bytes());
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// A side's HASSH: the string and its MD5.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hassh {
    pub string: String,
    pub hash: String,
}

/// Where one side's packet walk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Walk {
    /// Reading the 4-byte length and the padding length and message code.
    #[default]
    Header,
    /// Buffering a `KEXINIT` packet of this many bytes (after the length).
    KexInit(usize),
    /// Skipping the rest of a packet that is not needed.
    Skip(usize),
    /// `NEWKEYS` seen (encrypted from here) or not SSH: nothing more.
    Done,
}

/// What one [`KexSide::feed`] call changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KexFeed {
    /// The side's `KEXINIT` was parsed in this call.
    pub kexinit: bool,
    /// The side's `NEWKEYS` was seen in this call.
    pub newkeys: bool,
    /// The bytes are not SSH packets (bad length, bad KEXINIT).
    pub malformed: bool,
}

/// One direction's packet walk after its banner.
#[derive(Debug, Clone, Default)]
pub struct KexSide {
    walk: Walk,
    /// Header bytes or the `KEXINIT` packet while it spans segments.
    buf: Vec<u8>,
    pub kexinit: Option<KexInit>,
    pub hassh: Option<Hassh>,
    /// `NEWKEYS` seen: the rest of this side is encrypted.
    pub newkeys: bool,
}

/// Bytes of a packet header this walk reads: length (4), padding length
/// (1), message code (1).
const HEADER: usize = 6;

impl KexSide {
    /// Nothing more will be parsed on this side.
    pub fn finished(&self) -> bool {
        self.walk == Walk::Done
    }

    /// Feeds the next in-order bytes after the banner. `server` selects the
    /// HASSH lists; `hassh` whether to compute HASSH at all.
    pub fn feed(&mut self, mut data: &[u8], server: bool, hassh: bool) -> KexFeed {
        let mut r = KexFeed::default();
        while !data.is_empty() {
            match self.walk {
                Walk::Done => break,
                Walk::Skip(n) => {
                    let take = n.min(data.len());
                    data = data.get(take..).unwrap_or(&[]);
                    self.walk = if take == n {
                        Walk::Header
                    } else {
                        Walk::Skip(n - take)
                    };
                }
                Walk::Header => {
                    let need = HEADER - self.buf.len();
                    let take = need.min(data.len());
                    self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
                    data = data.get(take..).unwrap_or(&[]);
                    if self.buf.len() < HEADER {
                        break;
                    }
                    let len_bytes: [u8; 4] = self
                        .buf
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or([0; 4]);
                    let len = u32::from_be_bytes(len_bytes) as usize;
                    let code = self.buf.get(5).copied().unwrap_or(0);
                    if !(2..=MAX_PACKET_LEN).contains(&len) {
                        self.stop(&mut r, true);
                        break;
                    }
                    // Bytes of this packet after the header just read.
                    let rest = len + 4 - HEADER;
                    match code {
                        MSG_KEXINIT if self.kexinit.is_none() => {
                            self.walk = Walk::KexInit(len + 4);
                            // Keep the header: the packet is parsed whole.
                        }
                        MSG_NEWKEYS => {
                            self.newkeys = true;
                            r.newkeys = true;
                            self.stop(&mut r, false);
                            break;
                        }
                        _ => {
                            self.buf.clear();
                            self.walk = Walk::Skip(rest);
                        }
                    }
                }
                Walk::KexInit(total) => {
                    let need = total - self.buf.len();
                    let take = need.min(data.len());
                    self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
                    data = data.get(take..).unwrap_or(&[]);
                    if self.buf.len() < total {
                        break;
                    }
                    let packet = std::mem::take(&mut self.buf);
                    let pad = usize::from(packet.get(4).copied().unwrap_or(0));
                    let end = total.saturating_sub(pad);
                    match packet.get(5..end).map(parse_kexinit) {
                        Some(Ok(k)) => {
                            if hassh {
                                let string = hassh_string(&k, server);
                                let hash = md5_hex(&string);
                                self.hassh = Some(Hassh { string, hash });
                            }
                            self.kexinit = Some(k);
                            r.kexinit = true;
                            self.walk = Walk::Header;
                        }
                        _ => {
                            self.stop(&mut r, true);
                            break;
                        }
                    }
                }
            }
        }
        r
    }

    fn stop(&mut self, r: &mut KexFeed, malformed: bool) {
        self.walk = Walk::Done;
        self.buf = Vec::new();
        r.malformed |= malformed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_list(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// One SSH packet around `payload` with 4 bytes of padding.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let pad = 4u8;
        let len = 1 + payload.len() + usize::from(pad);
        let mut p = (len as u32).to_be_bytes().to_vec();
        p.push(pad);
        p.extend_from_slice(payload);
        p.extend_from_slice(&[0; 4]);
        p
    }

    fn kexinit_payload() -> Vec<u8> {
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[7; 16]);
        for s in [
            "curve25519-sha256,diffie-hellman-group14-sha256",
            "ssh-ed25519",
            "aes128-ctr",
            "aes256-ctr",
            "hmac-sha2-256",
            "hmac-sha2-512",
            "none",
            "none,zlib",
            "",
            "",
        ] {
            name_list(&mut p, s);
        }
        p.push(0);
        p.extend_from_slice(&[0; 4]);
        p
    }

    #[test]
    fn hassh_of_split_kexinit_then_newkeys() {
        let mut bytes = packet(&kexinit_payload());
        bytes.extend_from_slice(&packet(&[30, 1, 2, 3]));
        bytes.extend_from_slice(&packet(&[MSG_NEWKEYS]));
        bytes.extend_from_slice(b"\xde\xad encrypted");
        let mut side = KexSide::default();
        let mut seen = KexFeed::default();
        for c in bytes.chunks(3) {
            let r = side.feed(c, false, true);
            seen.kexinit |= r.kexinit;
            seen.newkeys |= r.newkeys;
            seen.malformed |= r.malformed;
        }
        assert!(seen.kexinit && seen.newkeys && !seen.malformed);
        assert!(side.finished() && side.newkeys);
        let h = side.hassh.as_ref().unwrap();
        assert_eq!(
            h.string,
            "curve25519-sha256,diffie-hellman-group14-sha256;aes128-ctr;hmac-sha2-256;none"
        );
        assert_eq!(h.hash, md5_hex(&h.string));
        assert_eq!(h.hash.len(), 32);
    }

    #[test]
    fn server_uses_server_to_client_lists() {
        let mut side = KexSide::default();
        side.feed(&packet(&kexinit_payload()), true, true);
        assert_eq!(
            side.hassh.unwrap().string,
            "curve25519-sha256,diffie-hellman-group14-sha256;aes256-ctr;hmac-sha2-512;none,zlib"
        );
    }

    #[test]
    fn md5_matches_known_vector() {
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn garbage_stops_without_panic() {
        for junk in [
            &b"\xff\xff\xff\xff\x00\x14"[..],
            b"\x00\x00\x00\x00\x00",
            b"\x00\x00\x00\x08\x02\x14\x00",
        ] {
            let mut side = KexSide::default();
            side.feed(junk, false, true);
            side.feed(&[0; 64], false, true);
            assert!(side.hassh.is_none());
        }
        // A KEXINIT whose name-list runs past its packet.
        let mut p = kexinit_payload();
        p.truncate(30);
        let mut side = KexSide::default();
        let r = side.feed(&packet(&p), false, true);
        assert!(r.malformed && side.finished());
        // Every prefix of a good stream is harmless.
        let good = packet(&kexinit_payload());
        for n in 0..good.len() {
            let mut side = KexSide::default();
            side.feed(&good[..n], false, true);
            assert!(side.hassh.is_none());
        }
    }
}

//! ClientHello and ServerHello bodies (the handshake message without its
//! 4-byte header), parsed in one pass into a [`Hello`]. Parsing stops at
//! the first inconsistency; what was read before it is kept and the
//! anomaly is named as Suricata names it, so the caller can apply
//! Suricata's rules about what a broken hello still sets.

use super::reader::{u16s, Reader};
use super::version;

pub const EXT_SNI: u16 = 0;
pub const EXT_GROUPS: u16 = 10;
pub const EXT_EC_POINT_FORMATS: u16 = 11;
pub const EXT_ALPN: u16 = 16;
pub const EXT_SESSION_TICKET: u16 = 35;
pub const EXT_EARLY_DATA: u16 = 42;
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Most values of one list kept (ciphers, extensions, groups, ALPNs).
const MAX_LIST: usize = 512;

/// One parsed hello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello<'a> {
    /// The `legacy_version` field.
    pub version: u16,
    pub random: Option<[u8; 32]>,
    /// The session id (absent in TLS 1.3 draft ServerHellos).
    pub session_id: Option<&'a [u8]>,
    /// Offered cipher suites (client) or the chosen one (server).
    pub ciphers: Vec<u16>,
    /// Extension types in order, GREASE included.
    pub extensions: Vec<u16>,
    /// The first server_name host name.
    pub sni: Option<&'a [u8]>,
    /// Client: the first valid version of `supported_versions`; server:
    /// the selected version.
    pub supported_version: Option<u16>,
    /// The `supported_versions` extension was present.
    pub has_supported_versions: bool,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub alpns: Vec<&'a [u8]>,
    pub session_ticket: bool,
    pub early_data: bool,
    /// Anomalies, in order (Suricata's tls event names).
    pub events: Vec<&'static str>,
    /// The hello was read to the end of its fixed part (its extensions may
    /// still have stopped early): JA3 and the progress apply.
    pub ok: bool,
    /// The extension list was read (to its end or to a broken extension,
    /// whose type is left out).
    pub extensions_read: bool,
}

const INVALID_LENGTH: &str = "HANDSHAKE_INVALID_LENGTH";

/// Parses a hello body. `server`: a ServerHello; `no_sid`: the session id
/// and compression fields are absent (TLS 1.3 drafts before 22; Suricata
/// decides it from the ServerHello's version or an earlier 1.3 sign).
pub fn parse(body: &[u8], server: bool, no_sid_before: bool) -> Hello<'_> {
    let mut h = Hello::default();
    let mut r = Reader::new(body);
    if fixed(&mut r, &mut h, server, no_sid_before).is_none() {
        h.events.push(INVALID_LENGTH);
        return h;
    }
    h.ok = true;
    extensions(&mut r, &mut h, server);
    h
}

/// Whether a ServerHello of this legacy version omits the session id and
/// compression (TLS 1.3 drafts).
pub fn server_version_is_13(v: u16) -> bool {
    v == version::TLS_13 || version::is_13_draft(v)
}

fn fixed<'a>(
    r: &mut Reader<'a>,
    h: &mut Hello<'a>,
    server: bool,
    no_sid_before: bool,
) -> Option<()> {
    h.version = r.u16()?;
    let no_sid = server && (no_sid_before || server_version_is_13(h.version));
    let random = r.take(32)?;
    let mut rnd = [0u8; 32];
    rnd.copy_from_slice(random);
    h.random = Some(rnd);
    if !no_sid {
        h.session_id = Some(r.vec8()?);
    }
    if server {
        h.ciphers.push(r.u16()?);
    } else {
        let cs = r.vec16()?;
        if cs.len() % 2 != 0 {
            return None;
        }
        h.ciphers.extend(u16s(cs).take(MAX_LIST));
    }
    if !no_sid {
        if server {
            r.u8()?;
        } else {
            r.vec8()?;
        }
    }
    Some(())
}

fn extensions<'a>(r: &mut Reader<'a>, h: &mut Hello<'a>, server: bool) {
    // Extensions are optional.
    let Some(total) = r.u16() else {
        h.extensions_read = true;
        return;
    };
    let Some(block) = r.take(usize::from(total)) else {
        // The block's own framing is broken: as Suricata, the hello gives
        // no JA3 and no progress.
        h.events.push(INVALID_LENGTH);
        h.ok = false;
        return;
    };
    let mut r = Reader::new(block);
    while !r.is_empty() {
        let (Some(ty), Some(data)) = (r.u16(), r.vec16()) else {
            h.events.push(INVALID_LENGTH);
            h.ok = false;
            return;
        };
        match extension(ty, data, h, server) {
            Ext::Ok => {
                if h.extensions.len() < MAX_LIST {
                    h.extensions.push(ty);
                }
            }
            // A broken extension ends the list; what came before counts.
            Ext::Stop(ev) => {
                h.events.push(ev);
                break;
            }
            Ext::Invalid => {
                h.events.push(INVALID_LENGTH);
                break;
            }
        }
    }
    h.extensions_read = true;
}

enum Ext {
    Ok,
    /// Stop reading extensions, keep the hello (an SNI problem).
    Stop(&'static str),
    /// A length error inside the extension: stop, keep the hello.
    Invalid,
}

fn extension<'a>(ty: u16, data: &'a [u8], h: &mut Hello<'a>, server: bool) -> Ext {
    let mut r = Reader::new(data);
    match ty {
        EXT_SNI if !data.is_empty() => {
            let (Some(_list_len), Some(kind)) = (r.u16(), r.u8()) else {
                return Ext::Invalid;
            };
            if kind != 0 {
                return Ext::Stop("INVALID_SNI_TYPE");
            }
            let Some(len) = r.u16() else {
                return Ext::Invalid;
            };
            let len = usize::from(len);
            if len == 0 || len > 255 || len > r.len() {
                return Ext::Stop("INVALID_SNI_LENGTH");
            }
            if h.sni.is_some() {
                h.events.push("MULTIPLE_SNI_EXTENSIONS");
            } else {
                h.sni = r.take(len);
            }
        }
        EXT_GROUPS if !data.is_empty() => {
            let Some(list) = r.vec16() else {
                return Ext::Invalid;
            };
            if !server {
                h.groups.extend(u16s(list).take(MAX_LIST));
            }
        }
        EXT_EC_POINT_FORMATS if !data.is_empty() => {
            let Some(list) = r.vec8() else {
                return Ext::Invalid;
            };
            if !server {
                h.point_formats.extend_from_slice(list);
            }
        }
        EXT_ALPN if !data.is_empty() => {
            let Some(list) = r.vec16() else {
                return Ext::Invalid;
            };
            let mut l = Reader::new(list);
            while !l.is_empty() {
                let Some(p) = l.vec8() else {
                    return Ext::Invalid;
                };
                if h.alpns.len() < MAX_LIST {
                    h.alpns.push(p);
                }
            }
        }
        EXT_SUPPORTED_VERSIONS if !data.is_empty() => {
            h.has_supported_versions = true;
            if server {
                let Some(v) = r.u16() else {
                    return Ext::Invalid;
                };
                h.supported_version = Some(v);
            } else {
                let Some(n) = r.u8() else {
                    return Ext::Invalid;
                };
                if n < 2 {
                    return Ext::Invalid;
                }
                let Some(list) = r.take(usize::from(n)) else {
                    return Ext::Invalid;
                };
                h.supported_version = u16s(list).find(|&v| version::valid(v));
            }
        }
        EXT_SESSION_TICKET => h.session_ticket = true,
        EXT_EARLY_DATA => h.early_data = true,
        _ => {}
    }
    Ext::Ok
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello body with these ciphers and extensions (type, data).
    pub fn client_hello_body(version: u16, ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x11; 32]);
        b.push(0); // session id
        b.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
        for c in ciphers {
            b.extend_from_slice(&c.to_be_bytes());
        }
        b.extend_from_slice(&[1, 0]); // compression: null
        let mut e = Vec::new();
        for (t, d) in exts {
            e.extend_from_slice(&t.to_be_bytes());
            e.extend_from_slice(&(d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        b.extend_from_slice(&(e.len() as u16).to_be_bytes());
        b.extend_from_slice(&e);
        b
    }

    pub fn sni_ext(name: &str) -> (u16, Vec<u8>) {
        let n = name.as_bytes();
        let mut d = ((n.len() + 3) as u16).to_be_bytes().to_vec();
        d.push(0);
        d.extend_from_slice(&(n.len() as u16).to_be_bytes());
        d.extend_from_slice(n);
        (EXT_SNI, d)
    }

    #[test]
    fn client_hello_fields() {
        let body = client_hello_body(
            0x0303,
            &[0x0a0a, 0x1301, 0xc02b],
            &[
                (0x1a1a, vec![]),
                sni_ext("example.com"),
                (EXT_GROUPS, vec![0, 4, 0x2a, 0x2a, 0, 29]),
                (EXT_EC_POINT_FORMATS, vec![1, 0]),
                (EXT_ALPN, vec![0, 3, 2, b'h', b'2']),
                (EXT_SUPPORTED_VERSIONS, vec![4, 0x3a, 0x3a, 3, 4]),
            ],
        );
        let h = parse(&body, false, false);
        assert!(h.ok && h.extensions_read && h.events.is_empty(), "{h:?}");
        assert_eq!(h.sni, Some(&b"example.com"[..]));
        assert_eq!(h.ciphers, vec![0x0a0a, 0x1301, 0xc02b]);
        assert_eq!(h.extensions, vec![0x1a1a, 0, 10, 11, 16, 43]);
        assert_eq!(h.groups, vec![0x2a2a, 29]);
        assert_eq!(h.point_formats, vec![0]);
        assert_eq!(h.alpns, vec![&b"h2"[..]]);
        assert_eq!(h.supported_version, Some(0x0304));
    }

    #[test]
    fn truncated_and_bad_sni() {
        let body = client_hello_body(0x0303, &[0x002f], &[sni_ext("a.b")]);
        for cut in 0..body.len() {
            let h = parse(&body[..cut], false, false);
            assert!(
                !h.events.is_empty() || (h.ok && h.sni.is_none()),
                "cut {cut}"
            );
        }
        let mut bad = sni_ext("a.b");
        bad.1[2] = 7; // name type
        let body = client_hello_body(0x0303, &[47], &[bad]);
        let h = parse(&body, false, false);
        assert!(h.ok && h.extensions_read);
        assert_eq!(h.events, vec!["INVALID_SNI_TYPE"]);
        let body = client_hello_body(0x0303, &[47], &[sni_ext("a"), sni_ext("b")]);
        let h = parse(&body, false, false);
        assert_eq!(h.events, vec!["MULTIPLE_SNI_EXTENSIONS"]);
        assert_eq!(h.sni, Some(&b"a"[..]));
    }

    #[test]
    fn server_hello_draft_has_no_session_id() {
        let mut b = 0x7f12u16.to_be_bytes().to_vec();
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&0x1301u16.to_be_bytes());
        b.extend_from_slice(&[0, 4, 0, 40, 0, 0]);
        let h = parse(&b, true, false);
        assert!(h.ok && h.session_id.is_none());
        assert_eq!(
            (h.ciphers.clone(), h.extensions.clone()),
            (vec![0x1301], vec![40])
        );
    }
}

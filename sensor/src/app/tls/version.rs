//! SSL/TLS version numbers as Suricata names them (EVE `tls.version`).

pub const SSL_V2: u16 = 0x0200;
pub const SSL_V3: u16 = 0x0300;
pub const TLS_10: u16 = 0x0301;
pub const TLS_11: u16 = 0x0302;
pub const TLS_12: u16 = 0x0303;
pub const TLS_13: u16 = 0x0304;
/// Suricata's marker for TLS 1.3 drafts before draft 16, which all sent
/// 0x0304 or an early 0x7fXX value.
pub const TLS_13_PRE_DRAFT16: u16 = 0x7f01;

/// The EVE name of a version; unknown numbers are written in decimal.
pub fn name(v: u16) -> std::borrow::Cow<'static, str> {
    let s = match v {
        0 => "UNDETERMINED",
        SSL_V2 => "SSLv2",
        SSL_V3 => "SSLv3",
        TLS_10 => "TLSv1",
        TLS_11 => "TLS 1.1",
        TLS_12 => "TLS 1.2",
        TLS_13 => "TLS 1.3",
        TLS_13_PRE_DRAFT16 => "TLS 1.3 draft-<16",
        0x7f10..=0x7f1c => {
            return format!("TLS 1.3 draft-{}", v - 0x7f00).into();
        }
        0xfb14 => "TLS 1.3 draft-20-fb",
        0xfb15 => "TLS 1.3 draft-21-fb",
        0xfb16 => "TLS 1.3 draft-22-fb",
        0xfb17 => "TLS 1.3 draft-23-fb",
        0xfb1a => "TLS 1.3 draft-26-fb",
        other => return other.to_string().into(),
    };
    s.into()
}

/// A version a peer may really use (Suricata's `TLSVersionValid`): a
/// known SSLv3/TLS version or TLS 1.3 draft, not SSLv2 and not GREASE.
pub fn valid(v: u16) -> bool {
    matches!(
        v,
        SSL_V3 | TLS_10 | TLS_11 | TLS_12 | TLS_13 | TLS_13_PRE_DRAFT16 | 0x7f10..=0x7f1c
    ) || matches!(v, 0xfb14 | 0xfb15 | 0xfb16 | 0xfb17 | 0xfb1a)
}

/// A TLS 1.3 draft number (0x7fXX).
pub fn is_13_draft(v: u16) -> bool {
    v >> 8 == 0x7f
}

/// A GREASE value (RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa), left out of
/// JA3 as Suricata does.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_suricata() {
        assert_eq!(name(TLS_10), "TLSv1");
        assert_eq!(name(TLS_12), "TLS 1.2");
        assert_eq!(name(0x7f12), "TLS 1.3 draft-18");
        assert_eq!(name(0x7f1c), "TLS 1.3 draft-28");
        assert_eq!(name(TLS_13_PRE_DRAFT16), "TLS 1.3 draft-<16");
        assert_eq!(name(0), "UNDETERMINED");
        assert_eq!(name(0x1234), "4660");
        assert!(is_grease(0x2a2a) && is_grease(0xfafa) && !is_grease(0x2a3a));
        assert!(valid(TLS_13) && !valid(SSL_V2) && !valid(0x0a0a));
    }
}

//! X.509 certificates of a TLS `Certificate` message (TLS <= 1.2; 1.3
//! sends it encrypted). The chain is kept as DER for `tls.certs`; the first
//! certificate is decoded with `x509-parser` (the crate Suricata uses, so
//! names print the same) into the fields EVE and the keywords read.

use sha1::{Digest, Sha1};
use std::fmt::Write;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What EVE and the `tls.cert_*` keywords read of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject DN as `C=US, O=..., CN=...`.
    pub subject: String,
    pub issuer: String,
    /// The serial's bytes as uppercase hex pairs joined by `:`.
    pub serial: String,
    /// SHA-1 of the DER as lowercase hex pairs joined by `:`.
    pub fingerprint: String,
    /// Seconds since the epoch (negative before 1970).
    pub not_before: i64,
    pub not_after: i64,
    /// Subject alternative names (DNS names and URIs as text).
    pub sans: Vec<String>,
}

/// Why a certificate could not be decoded (Suricata's anomaly names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertError {
    InvalidDer,
}

impl CertError {
    pub fn event(self) -> &'static str {
        match self {
            CertError::InvalidDer => "CERTIFICATE_INVALID_DER",
        }
    }
}

/// Decodes one DER certificate.
///
/// # Errors
/// [`CertError`] when the DER is not a certificate.
pub fn decode(der: &[u8]) -> Result<CertInfo, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| CertError::InvalidDer)?;
    let tbs = &cert.tbs_certificate;
    let mut serial = String::with_capacity(tbs.raw_serial().len() * 3);
    for (i, b) in tbs.raw_serial().iter().enumerate() {
        if i > 0 {
            serial.push(':');
        }
        let _ = write!(serial, "{b:02X}");
    }
    let sans = match tbs.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .map(|g| match g {
                GeneralName::DNSName(s) | GeneralName::URI(s) | GeneralName::RFC822Name(s) => {
                    (*s).to_string()
                }
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(CertInfo {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial,
        fingerprint: fingerprint(der),
        not_before: tbs.validity().not_before.timestamp(),
        not_after: tbs.validity().not_after.timestamp(),
        sans,
    })
}

/// SHA-1 of `der` as `aa:bb:...`.
pub fn fingerprint(der: &[u8]) -> String {
    let d = Sha1::digest(der);
    let mut s = String::with_capacity(59);
    for (i, b) in d.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of seconds since the epoch, as Suricata
/// writes `notbefore`/`notafter` (dates before 1970 included).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00");
        assert_eq!(format_time(1_423_764_447), "2015-02-12T18:07:27");
        assert_eq!(format_time(-86_400), "1969-12-31T00:00:00");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00");
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(decode(b"\x30\x03\x02\x01"), Err(CertError::InvalidDer));
        assert_eq!(decode(&[]), Err(CertError::InvalidDer));
    }
}

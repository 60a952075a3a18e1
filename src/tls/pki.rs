//! Certificates: make a CA, issue a serving certificate from it, and read certificates back.
//!
//! Keys are ECDSA P-256 (rcgen's default, what kube-apiserver and every TLS client accepts).
//! Certificates are backdated by 5 minutes (`notBefore`) so that a node whose clock runs a little
//! behind still accepts them. Reading uses `x509-parser`; "signed by" checks the signature with
//! the issuer's public key, not just names.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::time::Duration;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// How far `notBefore` is set back from now, for clock skew between nodes.
const BACKDATE: Duration = Duration::from_secs(300);

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused to make or sign a certificate (bad name, key error).
    #[error("cannot make a certificate: {0}")]
    Make(#[from] rcgen::Error),
    /// The text holds no PEM `CERTIFICATE` block, or one that is not an X.509 certificate.
    #[error("not a PEM X.509 certificate: {0}")]
    Parse(String),
}

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub key_pem: String,
}

/// What sticky-guard reads from a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// `notBefore`, Unix seconds.
    pub not_before: i64,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
    /// DNS subject alternative names, in order.
    pub dns_names: Vec<String>,
    /// Whether BasicConstraints says CA.
    pub is_ca: bool,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

impl CertInfo {
    /// Whether `self` carries a valid signature by `issuer`'s key.
    pub fn signed_by(&self, issuer: &CertInfo) -> bool {
        let (Ok((_, cert)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// Seconds of validity left at `now` (negative once expired).
    pub fn remaining(&self, now: i64) -> i64 {
        self.not_after - now
    }

    /// Seconds from `notBefore` to `notAfter`.
    pub fn lifetime(&self) -> i64 {
        self.not_after - self.not_before
    }
}

/// The DNS names a webhook Service is reached by, in the order the certificate lists them:
/// `svc.ns.svc` (what kube-apiserver dials for a `clientConfig.service`), `svc`, `svc.ns`,
/// `svc.ns.svc.<cluster domain>`.
pub fn service_dns_names(service: &str, namespace: &str, cluster_domain: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc.{cluster_domain}"),
    ]
}

/// Now, Unix seconds.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Makes a self-signed CA named `common_name`, valid for `validity` from now.
///
/// # Errors
/// [`PkiError::Make`] when key generation or signing fails.
pub fn new_ca(common_name: &str, validity: Duration) -> Result<KeyedCert, PkiError> {
    let now = time::OffsetDateTime::now_utc();
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.distinguished_name = name(common_name);
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(KeyedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a serving certificate for `names` (IP addresses become IP SANs) from `ca`, valid for
/// `validity` from now but never past the CA's own `notAfter`.
///
/// # Errors
/// [`PkiError::Parse`] when `ca` does not parse, [`PkiError::Make`] when a name is not a valid
/// DNS name or signing fails.
pub fn issue(ca: &KeyedCert, names: &[String], validity: Duration) -> Result<KeyedCert, PkiError> {
    let ca_info = parse(&ca.cert_pem)?;
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name = name(names.first().map_or("sticky-guard", String::as_str));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    let wanted = now + validity;
    params.not_after = match time::OffsetDateTime::from_unix_timestamp(ca_info.not_after) {
        Ok(ca_end) if ca_end < wanted => ca_end,
        _ => wanted,
    };
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(KeyedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Reads the first certificate of a PEM text.
///
/// # Errors
/// [`PkiError::Parse`] when there is none or it is not X.509.
pub fn parse(pem: &str) -> Result<CertInfo, PkiError> {
    parse_all(pem)?
        .into_iter()
        .next()
        .ok_or_else(|| PkiError::Parse("no CERTIFICATE block".into()))
}

/// Reads every certificate of a PEM text (a bundle), in order. Blocks of other types (keys) are
/// skipped.
///
/// # Errors
/// [`PkiError::Parse`] when the PEM framing is broken or a `CERTIFICATE` block is not X.509.
pub fn parse_all(pem: &str) -> Result<Vec<CertInfo>, PkiError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::new();
    for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let der = der.map_err(|e| PkiError::Parse(e.to_string()))?;
        out.push(parse_der(der.as_ref())?);
    }
    Ok(out)
}

/// Every certificate of a PEM text that parses, in order; blocks that do not parse (and text
/// that is not PEM at all) are skipped. For bundles where one bad block must not cost the others.
pub fn parse_each(pem: &str) -> Vec<CertInfo> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map_while(Result::ok)
        .filter_map(|der| parse_der(der.as_ref()).ok())
        .collect()
}

/// Whether `key_pem` is the private key of the certificate `cert_pem` (compares the public key
/// the key derives with the certificate's subject public key). False when either does not parse.
pub fn key_matches(cert_pem: &str, key_pem: &str) -> bool {
    let (Ok(info), Ok(key)) = (parse(cert_pem), KeyPair::from_pem(key_pem)) else {
        return false;
    };
    let Ok((_, cert)) = X509Certificate::from_der(&info.der) else {
        return false;
    };
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

/// Reads one DER certificate.
///
/// # Errors
/// [`PkiError::Parse`] when it is not X.509.
pub fn parse_der(der: &[u8]) -> Result<CertInfo, PkiError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Parse(e.to_string()))?;
    let validity = cert.validity();
    let dns_names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(CertInfo {
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        dns_names,
        is_ca: cert.is_ca(),
        der: der.to_vec(),
    })
}

/// PEM text of one DER certificate.
pub fn pem_of(info: &CertInfo) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(&info.der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn issued_certificate_is_signed_by_its_ca_only() {
        let ca = new_ca("test CA", 10 * DAY).unwrap();
        let other = new_ca("other CA", 10 * DAY).unwrap();
        let names = service_dns_names("sg", "ns", "cluster.local");
        let leaf = issue(&ca, &names, DAY).unwrap();
        let (ca_info, other_info, leaf_info) = (
            parse(&ca.cert_pem).unwrap(),
            parse(&other.cert_pem).unwrap(),
            parse(&leaf.cert_pem).unwrap(),
        );
        assert!(ca_info.is_ca && !leaf_info.is_ca);
        assert!(leaf_info.signed_by(&ca_info));
        assert!(!leaf_info.signed_by(&other_info));
        assert_eq!(
            leaf_info.dns_names,
            ["sg.ns.svc", "sg", "sg.ns", "sg.ns.svc.cluster.local"]
        );
        let now = unix_now();
        assert!((leaf_info.not_after - (now + 86_400)).abs() <= 2);
        assert!((leaf_info.not_before - (now - 300)).abs() <= 2);
        crate::tls::server_config(
            leaf.cert_pem.as_bytes(),
            leaf.key_pem.as_bytes(),
            Default::default(),
        )
        .unwrap();
        assert!(key_matches(&leaf.cert_pem, &leaf.key_pem));
        assert!(key_matches(&ca.cert_pem, &ca.key_pem));
        assert!(!key_matches(&leaf.cert_pem, &ca.key_pem));
        assert!(!key_matches("junk", &ca.key_pem));
    }

    #[test]
    fn a_certificate_never_outlives_its_ca() {
        let ca = new_ca("short CA", Duration::from_secs(3600)).unwrap();
        let leaf = issue(&ca, &["a.example".into()], 30 * DAY).unwrap();
        assert_eq!(
            parse(&leaf.cert_pem).unwrap().not_after,
            parse(&ca.cert_pem).unwrap().not_after
        );
    }

    #[test]
    fn bundles_round_trip_through_pem() {
        let a = new_ca("a", DAY).unwrap();
        let b = new_ca("b", DAY).unwrap();
        let bundle = format!("{}{}", a.cert_pem, b.cert_pem);
        let infos = parse_all(&bundle).unwrap();
        assert_eq!(infos.len(), 2);
        let again: String = infos.iter().map(pem_of).collect();
        assert_eq!(parse_all(&again).unwrap(), infos);
        assert!(parse("not pem").is_err());
        assert!(parse_all("").unwrap().is_empty());
    }
}

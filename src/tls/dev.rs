//! Throw-away certificates: a CA and a serving certificate signed by it (rcgen).
//!
//! Used by `serve --dev` (names `localhost` and `127.0.0.1`), by `sticky-guard certs` for a
//! cluster install (names `<service>.<namespace>.svc`), and by the tests.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::time::Duration;

/// A CA and a serving certificate, all PEM.
#[derive(Clone, Debug)]
pub struct DevPki {
    /// The CA certificate: what a client (curl `--cacert`, a webhook `caBundle`) trusts.
    pub ca_pem: String,
    /// The serving certificate, signed by the CA.
    pub cert_pem: String,
    /// The serving certificate's private key (PKCS#8).
    pub key_pem: String,
}

/// Makes a CA (valid 10 years) and a serving certificate (valid `days`, at most 3650) for
/// `names`; names that parse as IP addresses become IP SANs, the others DNS SANs.
///
/// # Errors
/// rcgen's error when a name is not a valid DNS name or key generation fails.
pub fn generate(names: &[String], days: u64) -> Result<DevPki, rcgen::Error> {
    let now = time::OffsetDateTime::now_utc();
    let start = now - Duration::from_secs(300);

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.distinguished_name = name("sticky-guard CA");
    ca_params.not_before = start;
    ca_params.not_after = now + Duration::from_secs(10 * 365 * 86_400);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name = name(names.first().map_or("sticky-guard", String::as_str));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = start;
    params.not_after = now + Duration::from_secs(days.min(3650) * 86_400);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;

    Ok(DevPki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_usable_server_config() {
        let pki = generate(&["localhost".into(), "127.0.0.1".into()], 1).unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.key_pem.contains("PRIVATE KEY"));
        super::super::server_config(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    }

    #[test]
    fn mismatched_key_is_refused() {
        let a = generate(&["a.example".into()], 1).unwrap();
        let b = generate(&["b.example".into()], 1).unwrap();
        assert!(super::super::server_config(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).is_err());
        assert!(super::super::server_config(b"", a.key_pem.as_bytes()).is_err());
    }
}

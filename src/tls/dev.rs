//! Throw-away certificates: a CA and a serving certificate signed by it (rcgen).
//!
//! Used by `serve --dev` (names `localhost` and `127.0.0.1`), by `sticky-guard certs` for a
//! cluster install (names `<service>.<namespace>.svc`), and by the tests.

use super::pki::{self, PkiError};
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
/// [`PkiError`] when a name is not a valid DNS name or key generation fails.
pub fn generate(names: &[String], days: u64) -> Result<DevPki, PkiError> {
    const DAY: u64 = 86_400;
    let ca = pki::new_ca("sticky-guard CA", Duration::from_secs(3650 * DAY))?;
    let leaf = pki::issue(&ca, names, Duration::from_secs(days.min(3650) * DAY))?;
    Ok(DevPki {
        ca_pem: ca.cert_pem,
        cert_pem: leaf.cert_pem,
        key_pem: leaf.key_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_usable_server_config() {
        let pki = generate(&["localhost".into(), "127.0.0.1".into()], 1).unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.key_pem.contains("PRIVATE KEY"));
        super::super::server_config(
            pki.cert_pem.as_bytes(),
            pki.key_pem.as_bytes(),
            Default::default(),
        )
        .unwrap();
    }

    #[test]
    fn mismatched_key_is_refused() {
        let a = generate(&["a.example".into()], 1).unwrap();
        let b = generate(&["b.example".into()], 1).unwrap();
        assert!(
            super::super::server_config(
                a.cert_pem.as_bytes(),
                b.key_pem.as_bytes(),
                Default::default()
            )
            .is_err()
        );
        assert!(
            super::super::server_config(b"", a.key_pem.as_bytes(), Default::default()).is_err()
        );
    }
}

//! The HTTPS side: rustls configuration, development certificates, and the server loop.
//!
//! rustls with the `ring` provider, TLS 1.2 and 1.3 only; ALPN offers `h2` and `http/1.1`
//! (the API server speaks HTTP/2 to webhooks when offered).

pub mod dev;
pub mod files;
pub mod limit;
pub mod managed;
pub mod pki;
pub mod server;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why the serving certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PEM data holds no certificate or no private key, or is not PEM.
    #[error("{0}")]
    Pem(String),
    /// rustls refused the certificate/key pair.
    #[error("certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider sticky-guard uses everywhere: `ring`.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The oldest TLS version served (`serve --tls-min-version`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (the default; kube-apiserver speaks both).
    #[default]
    #[value(name = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[value(name = "1.3")]
    Tls13,
}

impl MinVersion {
    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static BOTH: [&rustls::SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        match self {
            MinVersion::Tls12 => &BOTH,
            MinVersion::Tls13 => &BOTH[..1],
        }
    }
}

/// A server configuration from PEM: `cert_chain` (leaf first, then intermediates) and `key`
/// (PKCS#8, PKCS#1 or SEC1), serving TLS `min` and later (rustls offers nothing older than 1.2,
/// and only AEAD suites).
///
/// # Errors
/// [`TlsError::Pem`] when there is no certificate or key; [`TlsError::Rustls`] when they do not
/// match.
pub fn server_config(
    cert_chain: &[u8],
    key: &[u8],
    min: MinVersion,
) -> Result<ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(
            "no CERTIFICATE block in the certificate PEM".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| TlsError::Pem(format!("private key PEM: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(min.versions())?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// [`server_config`] from two PEM files.
///
/// # Errors
/// [`TlsError::Read`] when a file cannot be read, else as [`server_config`].
pub fn load_server_config(
    cert_path: &Path,
    key_path: &Path,
    min: MinVersion,
) -> Result<ServerConfig, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    server_config(&read(cert_path)?, &read(key_path)?, min)
}

/// Which certificate the HTTPS server serves, shared between whoever loads certificates (file
/// reload, the certificate manager) and `/readyz` and `/metrics`. Clones share one state.
#[derive(Clone, Debug, Default)]
pub struct ServingState(Arc<Mutex<Serving>>);

#[derive(Clone, Debug, Default)]
struct Serving {
    loaded: bool,
    expiry: Expiry,
}

/// `notAfter` of the certificates in use, Unix seconds (`None` when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expiry {
    /// The serving certificate.
    pub serving: Option<i64>,
    /// The CA that issued it, when known (self-managed and dev certificates).
    pub ca: Option<i64>,
}

impl ServingState {
    /// A state for a server that starts with a real certificate: `serving_pem` (and its issuer
    /// `ca_pem`, when known).
    pub fn loaded(serving_pem: &str, ca_pem: Option<&str>) -> ServingState {
        let state = ServingState::default();
        state.set_loaded(serving_pem, ca_pem);
        state
    }

    /// Records that `serving_pem` (issued by `ca_pem`, when known) is now served.
    pub fn set_loaded(&self, serving_pem: &str, ca_pem: Option<&str>) {
        let not_after = |pem: &str| pki::parse(pem).ok().map(|c| c.not_after);
        let expiry = Expiry {
            serving: not_after(serving_pem),
            ca: ca_pem.and_then(not_after),
        };
        let mut serving = self.0.lock().unwrap_or_else(|e| e.into_inner());
        serving.loaded = true;
        serving.expiry = expiry;
    }

    /// Whether a real certificate is served (not the start-up placeholder).
    pub fn is_loaded(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).loaded
    }

    /// Expiry of what is served.
    pub fn expiry(&self) -> Expiry {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).expiry
    }
}

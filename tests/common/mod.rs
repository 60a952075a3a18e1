//! Shared helpers for the integration tests: fixtures, a real HTTPS server, a TLS client.
#![allow(dead_code)]

pub mod apiserver;
pub mod webhook_double;

use base64::Engine;
use serde_json::{Value, json};
use std::path::PathBuf;
use sticky_guard::admission::http::{AppState, DEFAULT_MAX_BODY_BYTES, router};
use sticky_guard::policy::Policy;
use sticky_guard::tls;
use sticky_guard::view::ViewSource;

/// `../shared/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(rel)
}

/// A captured AdmissionReview request body, parsed.
pub fn captured_review(name: &str) -> Value {
    let path = fixture(&format!("admission-reviews/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The documents of a seed scenario, as JSON.
pub fn seed_documents(name: &str) -> Vec<Value> {
    yaml_file(&fixture(&format!("seed-scenarios/{name}")))
}

/// The documents of a YAML stream, as JSON, up to the first one that does not parse (the rest
/// of such a stream is unreliable); empty documents left out.
pub fn yaml_values(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map_while(|doc| Value::deserialize(doc).ok())
        .filter(|v| !v.is_null())
        .collect()
}

/// [`yaml_values`] of a file.
pub fn yaml_file(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    yaml_values(&text)
}

/// The documents of `tests/data/gateway-api/<name>` (Gateway API manifests written from the
/// implementations' docs).
pub fn gateway_data(name: &str) -> Vec<Value> {
    yaml_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/gateway-api")
            .join(name),
    )
}

/// Wraps an object in an `admission.k8s.io/v1` CREATE request, as the API server would.
pub fn review_for(object: &Value, uid: &str) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or("");
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let resource = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "test"},
            "object": object,
            "oldObject": null,
            "dryRun": false
        }
    })
}

/// The real webhook router served over HTTPS on 127.0.0.1:0 with `config`.
pub async fn start_https(state: AppState, config: rustls::ServerConfig) -> tls::server::Running {
    tls::server::start(
        "127.0.0.1:0".parse().unwrap(),
        config,
        router(state, DEFAULT_MAX_BODY_BYTES),
    )
    .await
    .unwrap()
}

/// The YAML files (`*.yaml`, `*.yml`) of a fixture directory, sorted.
pub fn fixture_yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(fixture(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    paths
}

/// A running HTTPS server with its own fresh CA, and a client that trusts only that CA.
pub struct Server {
    pub running: tls::server::Running,
    pub client: reqwest::Client,
    pub base: String,
    /// Readiness and metrics state, shared with the running server.
    pub health: sticky_guard::ops::Health,
    /// The serving certificate, PEM.
    pub cert_pem: String,
    /// The CA that issued it, PEM.
    pub ca_pem: String,
}

impl Server {
    /// Starts the real server on 127.0.0.1:0, in single-object mode.
    pub async fn start(policy: Policy) -> Server {
        Server::start_with(policy, ViewSource::Off("tests".into())).await
    }

    /// Starts the real server on 127.0.0.1:0 with a cluster view.
    pub async fn start_with(policy: Policy, view: ViewSource) -> Server {
        Server::start_limited(policy, view, Default::default(), Default::default()).await
    }

    /// [`Server::start_with`], serving TLS `min` and later, with connection `limits`.
    pub async fn start_limited(
        policy: Policy,
        view: ViewSource,
        min: tls::MinVersion,
        limits: tls::server::Limits,
    ) -> Server {
        let pki = tls::dev::generate(&["localhost".into(), "127.0.0.1".into()], 1).unwrap();
        let config =
            tls::server_config(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes(), min).unwrap();
        let serving = tls::ServingState::loaded(&pki.cert_pem, Some(&pki.ca_pem));
        let state = AppState::new(policy, view, serving);
        let health = state.health.clone();
        let app = router(state, DEFAULT_MAX_BODY_BYTES);
        let running = tls::server::start_with("127.0.0.1:0".parse().unwrap(), config, app, limits)
            .await
            .unwrap();
        let client = client_trusting(&pki.ca_pem);
        let base = format!("https://localhost:{}", running.local_addr.port());
        Server {
            running,
            client,
            base,
            health,
            cert_pem: pki.cert_pem,
            ca_pem: pki.ca_pem,
        }
    }

    /// POSTs the captured AdmissionReview `name` (in `admission-reviews/`) to `path`; returns
    /// the `response` as [`Server::review`] does.
    pub async fn review_captured(&self, path: &str, name: &str) -> Value {
        self.review(path, &captured_review(name)).await
    }

    /// POSTs a body; returns the HTTP status and the body text.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request goes through");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// GETs `path`; returns the HTTP status and the body as JSON (`null` if it is not JSON).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request goes through");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// POSTs an AdmissionReview and returns the `response` of the answer (asserting HTTP 200 and
    /// the envelope).
    pub async fn review(&self, path: &str, review: &Value) -> Value {
        let (status, body) = self
            .post_raw(path, serde_json::to_vec(review).unwrap())
            .await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(answer["kind"], "AdmissionReview");
        answer["response"].clone()
    }
}

/// Runs the `sticky-guard` binary with `args`, feeding `stdin` (or closing it).
pub fn run_binary(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .expect("stdin takes the text");
    }
    drop(input);
    child.wait_with_output().expect("binary ends")
}

/// A reqwest client whose only trust anchor is `ca_pem`.
pub fn client_trusting(ca_pem: &str) -> reqwest::Client {
    client_trusting_at(ca_pem, None)
}

/// [`client_trusting`], with `name` resolved to `address` when given (to dial a Service's DNS
/// name on 127.0.0.1, as kube-apiserver dials it in a cluster).
pub fn client_trusting_at(
    ca_pem: &str,
    name_at: Option<(&str, std::net::SocketAddr)>,
) -> reqwest::Client {
    client_speaking(ca_pem, name_at, rustls::DEFAULT_VERSIONS)
}

/// The certificates of `ca_pem` as a rustls root store.
pub fn roots(ca_pem: &str) -> rustls::RootCertStore {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// [`client_trusting_at`], offering only the TLS `versions` given.
pub fn client_speaking(
    ca_pem: &str,
    name_at: Option<(&str, std::net::SocketAddr)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::Client {
    let config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots(ca_pem))
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder().tls_backend_preconfigured(config);
    if let Some((name, address)) = name_at {
        builder = builder.resolve(name, address);
    }
    builder.build().unwrap()
}

/// Sends SIGTERM to the process `pid` (what the kubelet sends).
pub fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid}");
}

/// The decoded JSON Patch of a response (`patchType` must be `JSONPatch`), or `None`.
pub fn decoded_patch(response: &Value) -> Option<Value> {
    let patch = response
        .get("patch")?
        .as_str()
        .expect("patch is a base64 string");
    assert_eq!(response["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .expect("patch is base64");
    Some(serde_json::from_slice(&bytes).expect("patch is JSON"))
}

/// The certificate (DER) that the TLS server at `address` presents for `server_name`, read with
/// a client that accepts anything: tests compare it with what they expect.
pub async fn served_certificate(address: std::net::SocketAddr, server_name: &str) -> Vec<u8> {
    let server_name = server_name.to_string();
    tokio::task::spawn_blocking(move || served_certificate_blocking(address, &server_name))
        .await
        .expect("handshake task")
}

fn served_certificate_blocking(address: std::net::SocketAddr, server_name: &str) -> Vec<u8> {
    served_certificate_with(address, server_name, None)
}

/// Raw bytes to send after the handshake, how long to wait, and where to put the answer.
type RawSink = (
    Vec<u8>,
    std::time::Duration,
    std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>,
);

fn served_certificate_with(
    address: std::net::SocketAddr,
    server_name: &str,
    raw: Option<RawSink>,
) -> Vec<u8> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use std::sync::{Arc, Mutex};

    #[derive(Debug)]
    struct Capture(Mutex<Option<Vec<u8>>>, Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for Capture {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.0.lock().unwrap() = Some(end_entity.to_vec());
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.1.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.1.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.1.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = sticky_guard::tls::provider();
    let capture = Arc::new(Capture(Mutex::new(None), provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let mut connection = rustls::ClientConnection::new(Arc::new(config.clone()), name).unwrap();
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    while connection.is_handshaking() {
        connection.complete_io(&mut socket).unwrap();
    }
    if let Some(sink) = raw {
        // Send the raw bytes over the same TLS connection and read until the server closes or
        // `wait` passes.
        let (request, wait, out) = sink;
        socket.set_read_timeout(Some(wait)).unwrap();
        let mut stream = rustls::Stream::new(&mut connection, &mut socket);
        use std::io::{Read, Write};
        let _ = stream.write_all(&request);
        let _ = stream.flush();
        let deadline = std::time::Instant::now() + wait;
        let mut buf = [0u8; 16384];
        while std::time::Instant::now() < deadline {
            match stream.read(&mut buf) {
                Ok(0) => {
                    out.lock().unwrap().1 = true;
                    break;
                }
                Ok(n) => out.lock().unwrap().0.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break;
                }
                Err(_) => {
                    out.lock().unwrap().1 = true;
                    break;
                }
            }
        }
    }
    capture.0.lock().unwrap().take().expect("a certificate")
}

/// What a raw exchange over TLS got: the bytes the server sent, and whether it closed the
/// connection (rather than the wait running out).
pub struct RawAnswer {
    pub text: String,
    pub closed: bool,
}

/// Sends `request` as raw bytes over a TLS connection to `address` (any certificate accepted)
/// and reads what comes back until the server closes the connection or `wait` passes.
pub async fn raw_https(
    address: std::net::SocketAddr,
    request: Vec<u8>,
    wait: std::time::Duration,
) -> RawAnswer {
    let out = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), false)));
    let sink = (request, wait, out.clone());
    tokio::task::spawn_blocking(move || served_certificate_with(address, "localhost", Some(sink)))
        .await
        .expect("raw exchange task");
    let (bytes, closed) = out.lock().unwrap().clone();
    RawAnswer {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        closed,
    }
}

/// `sticky-guard serve --dev` on 127.0.0.1 ports of its own, in single-object mode, writing its
/// CA to `dir`, with `extra` arguments. Returns the child, its HTTPS port and the rest of its
/// stdout (after the first line, which gave the port).
pub fn spawn_dev_server(
    dir: &std::path::Path,
    extra: &[&str],
) -> (
    std::process::Child,
    u16,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args([
            "serve",
            "--dev",
            "--cluster-view",
            "off",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .arg("--dev-dir")
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    (child, port, lines)
}

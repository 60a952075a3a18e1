//! The binary as the Deployment runs it: `serve --manage-certs` against the stand-in API server
//! (through a kubeconfig). The probes answer at once, readiness waits for the certificate from
//! the Secret, and SIGTERM fails readiness for the shutdown delay before the process exits 0.

mod common;

use common::apiserver::{ApiServer, Options};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {server}\n\
         contexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: nobody\n\
         current-context: stand-in\nusers:\n- name: nobody\n  user: {{}}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads JSON log lines from the child's stderr until the one saying where it listens.
fn addresses(stderr: impl std::io::Read + Send + 'static) -> (SocketAddr, SocketAddr) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(log) = serde_json::from_str::<Value>(&line)
                && let (Some(https), Some(metrics)) = (
                    log["fields"]["address"].as_str(),
                    log["fields"]["metrics"].as_str(),
                )
            {
                let _ = tx.send((https.parse().unwrap(), metrics.parse().unwrap()));
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the server logs its addresses")
}

/// Kills the server if the test fails before it ends it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn get(url: String) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let response = client.get(url).send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn manage_certs_serves_probes_at_once_and_becomes_ready_with_the_secret() {
    let api = ApiServer::start(Options::default()).await;
    api.apply(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "sticky-guard"},
        "webhooks": [{"name": "ingresses.validate.sticky-guard.dev", "admissionReviewVersions": ["v1"],
                      "sideEffects": "None",
                      "clientConfig": {"service": {"name": "sticky-guard", "namespace": "sticky-guard"}}}],
    }));
    // Refuse writes at first: the Secret cannot be created, so the replica must stay unready
    // while its probes answer.
    api.set_refuse_writes(true);
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &api.url);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args([
            "serve",
            "--manage-certs",
            "--namespace",
            "sticky-guard",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--shutdown-delay",
            "1s",
        ])
        .env("KUBECONFIG", &config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut guard = KillOnDrop(Some(child));
    let (https, metrics) = addresses(stderr);

    let (status, _) = get(format!("http://{metrics}/healthz")).await;
    assert_eq!(status, 200);
    let (status, body) = get(format!("http://{metrics}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["certificate"], "pending");
    // The HTTPS port answers too, with the placeholder certificate.
    let placeholder = common::served_certificate(https, "sticky-guard.sticky-guard.svc").await;

    api.set_refuse_writes(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(format!("http://{metrics}/readyz")).await;
        if status == 200 {
            assert_eq!(body["certificate"], "loaded");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secret = api
        .get("Secret", "sticky-guard", "sticky-guard-tls")
        .unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let served = common::served_certificate(https, "sticky-guard.sticky-guard.svc").await;
    assert_ne!(served, placeholder);
    let config = api
        .get("ValidatingWebhookConfiguration", "", "sticky-guard")
        .unwrap();
    assert_eq!(
        config["webhooks"][0]["clientConfig"]["caBundle"],
        secret["data"]["ca-bundle.crt"]
    );

    // SIGTERM: readiness fails during the shutdown delay, then the process exits 0.
    common::sigterm(guard.0.as_ref().unwrap().id());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = get(format!("http://{metrics}/readyz")).await;
        if status == 503 {
            assert_eq!(body["shuttingDown"], true);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness never failed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut child = guard.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

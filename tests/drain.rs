//! Graceful drain: SIGTERM under keep-alive load loses no request. During `--shutdown-delay`
//! `/readyz` is 503 and answers say `Connection: close`; then the server drains and exits 0.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[tokio::test]
async fn sigterm_under_load_loses_no_request() {
    let dir = tempfile::tempdir().unwrap();
    // The rest of stdout stays open: the server prints more lines after the port.
    let (mut child, port, _stdout) =
        common::spawn_dev_server(dir.path(), &["--shutdown-delay", "2s"]);
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let url = format!("https://localhost:{port}/validate");
    let body = serde_json::to_vec(&common::captured_review(
        "ingress-create-sticky-regex-path.json",
    ))
    .unwrap();

    // 32 keep-alive clients, each sending reviews back to back until "the endpoints are gone".
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, answered, closing) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut clients = Vec::new();
    for _ in 0..32 {
        let client = common::client_trusting(&ca);
        let (url, body, stop) = (url.clone(), body.clone(), stop.clone());
        let (sent, answered, closing) = (sent.clone(), answered.clone(), closing.clone());
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Acquire) {
                sent.fetch_add(1, Ordering::Relaxed);
                let result = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match result {
                    Ok(response) if response.status() == 200 => {
                        if response
                            .headers()
                            .get("connection")
                            .is_some_and(|v| v == "close")
                        {
                            closing.fetch_add(1, Ordering::Relaxed);
                        }
                        if response.bytes().await.is_ok() {
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failures.push("body cut".to_string());
                        }
                    }
                    Ok(response) => failures.push(format!("status {}", response.status())),
                    Err(error) => failures.push(format!("{error:?}")),
                }
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = answered.load(Ordering::Relaxed);
    assert!(before > 32, "the load runs: {before} answers");

    common::sigterm(child.id());
    // Endpoints controllers take the replica out within the delay; the load stops halfway.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Release);
    let mut failures = Vec::new();
    for client in clients {
        failures.extend(client.await.unwrap());
    }
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        failures.is_empty(),
        "{} lost requests, the first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert_eq!(
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
        "every request sent was answered"
    );
    assert!(
        answered.load(Ordering::Relaxed) > before,
        "requests kept being answered after SIGTERM"
    );
    assert!(
        closing.load(Ordering::Relaxed) >= 1,
        "answers during the drain say Connection: close"
    );
}

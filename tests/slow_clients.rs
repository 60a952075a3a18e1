//! 2,000 connections that never finish their TLS handshake do not keep the server from
//! answering a fresh request within 1 s, and each of them is closed by the handshake timeout.

mod common;

use common::Server;
use std::time::{Duration, Instant};
use sticky_guard::policy::Policy;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const SLOW: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_stalled_connections_do_not_block_a_fresh_request() {
    // Both ends of every connection live in this process.
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let wanted = (2 * SLOW as u64 + 512).min(hard);
    if soft < wanted {
        rlimit::Resource::NOFILE.set(wanted, hard).unwrap();
    }
    assert!(
        wanted >= 2 * SLOW as u64 + 256,
        "the hard fd limit ({hard}) is too low"
    );

    let server = Server::start(Policy::default()).await;
    let address = server.running.local_addr;
    let mut stalled = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        stalled.push(TcpStream::connect(address).await.unwrap());
    }
    let opened = Instant::now();

    let started = Instant::now();
    let response = server
        .review_captured("/validate", "service-create-clusterip.json")
        .await;
    assert_eq!(response["allowed"], true);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a fresh request took {:?} with {SLOW} stalled connections open",
        started.elapsed()
    );

    // The handshake timeout (5 s) closes every one of them: each read ends (EOF or reset).
    let deadline = sticky_guard::tls::server::HANDSHAKE_TIMEOUT + Duration::from_secs(5);
    let mut buf = [0u8; 16];
    for mut stream in stalled {
        let left = deadline.saturating_sub(opened.elapsed());
        let read = tokio::time::timeout(left, stream.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "a stalled connection was still open {:?} after it was made",
            opened.elapsed()
        );
    }
}

/// `--max-connections`: connections beyond the bound are closed at once, and a slot frees up
/// when a connection ends.
#[tokio::test]
async fn connections_beyond_the_bound_are_closed_at_once() {
    let limits = sticky_guard::tls::server::Limits {
        max_connections: 4,
        ..Default::default()
    };
    let server = Server::start_limited(
        Policy::default(),
        sticky_guard::view::ViewSource::Off("tests".into()),
        Default::default(),
        limits,
    )
    .await;
    let address = server.running.local_addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(address).await.unwrap());
    }
    // Let the server accept them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = TcpStream::connect(address).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(1), fifth.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the fifth connection was not closed at once: {read:?}"
    );

    // One ends; a fresh HTTPS request is served.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = server
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

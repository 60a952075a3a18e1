//! HTTP/2 abuse: a client that opens streams and resets them at once (CVE-2023-44487, "rapid
//! reset") is cut off: hyper's h2 server sends GOAWAY once more than 20 streams are reset before
//! it accepts them (streams reset after acceptance cost only the cancelled task, at most 32 at a
//! time, the per-connection stream limit). Other clients keep being answered. The 20 is h2's
//! default, as hyper's `server::conn::http2::Builder::max_pending_accept_reset_streams` documents
//! ("As of v0.4.0, it is 20"; hyperium/hyper#2877).

mod common;

use common::{Server, captured_review};
use std::sync::Arc;
use std::time::Duration;
use sticky_guard::policy::Policy;
use sticky_guard::tls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off_and_others_are_served() {
    let server = Server::start(Policy::default()).await;

    // An HTTP/2 connection over TLS (ALPN h2).
    let mut client_config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(common::roots(&server.ca_pem))
        .with_no_client_auth();
    client_config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = tokio::net::TcpStream::connect(server.running.local_addr)
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls_stream = connector.connect(name, tcp).await.unwrap();
    let (mut send, connection) = h2::client::handshake(tls_stream).await.unwrap();
    let connection = tokio::spawn(connection);

    // Open and reset streams as fast as the connection takes them, for 3 s.
    let body = serde_json::to_vec(&captured_review("service-create-clusterip.json")).unwrap();
    let url = format!(
        "https://localhost:{}/validate",
        server.running.local_addr.port()
    );
    let flood = {
        let (body, url) = (body.clone(), url.clone());
        tokio::spawn(async move {
            let (mut reset, mut cut_off) = (0u64, false);
            let until = tokio::time::Instant::now() + Duration::from_secs(3);
            while tokio::time::Instant::now() < until {
                send = match send.ready().await {
                    Ok(send) => send,
                    Err(_) => {
                        cut_off = true; // GOAWAY
                        break;
                    }
                };
                let request = axum::http::Request::post(url.as_str())
                    .header("content-type", "application/json")
                    .body(())
                    .unwrap();
                let Ok((_response, mut stream)) = send.send_request(request, false) else {
                    cut_off = true;
                    break;
                };
                let _ = stream.send_data(body.clone().into(), false);
                stream.send_reset(h2::Reason::CANCEL);
                reset += 1;
                // A real attacker is another process: let the server's tasks run too.
                tokio::task::yield_now().await;
            }
            (reset, cut_off)
        })
    };

    // Meanwhile, and after, another client's reviews are answered, each within 1 s.
    let client = &server.client;
    let review = || async {
        let started = std::time::Instant::now();
        let answer = client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a review took {:?} during the flood",
            started.elapsed()
        );
    };
    while !flood.is_finished() {
        review().await;
    }
    let (reset, cut_off) = flood.await.unwrap();
    assert!(cut_off, "{reset} streams reset in 3 s without a GOAWAY");
    assert!(reset < 1_000, "cut off only after {reset} resets");
    review().await;
    drop(connection);
}

//! `/metrics` and `/readyz` of a server with a live cluster view on the stand-in API server.

mod common;

use common::apiserver::{ApiServer, Options};
use common::{Server, captured_review};
use serde_json::{Value, json};
use std::time::Duration;
use sticky_guard::ops;
use sticky_guard::policy::Policy;
use sticky_guard::view::ViewSource;
use sticky_guard::view::live::LiveView;

const WAIT: Duration = Duration::from_secs(10);

async fn synced_view(api: &ApiServer) -> LiveView {
    let view = LiveView::start(api.client());
    tokio::time::timeout(WAIT, view.wait_until_synced())
        .await
        .expect("caches sync");
    view
}

/// Serves `/metrics` of `server` on a plain-HTTP 127.0.0.1 port; returns its base URL.
async fn metrics_port(server: &Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = ops::metrics_router(server.health.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// The samples of an OpenMetrics text, `name{labels}` → value.
fn samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_requests_findings_lookups_and_latency() {
    let api = ApiServer::start(Options::default()).await;
    api.apply(
        json!({"kind": "Service", "metadata": {"name": "other", "namespace": "myapp"},
                     "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}),
    );
    let view = synced_view(&api).await;
    let server = Server::start_with(Policy::default(), ViewSource::Live(Box::new(view))).await;
    let metrics = metrics_port(&server).await;

    let sticky = captured_review("ingress-create-sticky-regex-path.json");
    // Mutate: patched. Validate: denied (the patch did not happen), twice, once as a dry run.
    let response = server.review("/mutate", &sticky).await;
    assert_eq!(response["allowed"], true);
    assert_eq!(server.review("/validate", &sticky).await["allowed"], false);
    let mut dry = sticky.clone();
    dry["request"]["dryRun"] = json!(true);
    assert_eq!(server.review("/validate", &dry).await["allowed"], false);
    // Not an AdmissionReview.
    let (status, _) = server.post_raw("/validate", b"{}".to_vec()).await;
    assert_eq!(status, 400);

    let response = reqwest::get(format!("{metrics}/metrics")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    let samples = samples(&text);
    let expect = |series: &str, value: f64| {
        assert_eq!(samples.get(series), Some(&value), "{series} in:\n{text}");
    };
    expect(
        r#"sticky_guard_admission_requests_total{webhook="mutate",kind="Ingress",allowed="true",dry_run="false"}"#,
        1.0,
    );
    expect(
        r#"sticky_guard_admission_requests_total{webhook="validate",kind="Ingress",allowed="false",dry_run="false"}"#,
        1.0,
    );
    expect(
        r#"sticky_guard_admission_requests_total{webhook="validate",kind="Ingress",allowed="false",dry_run="true"}"#,
        1.0,
    );
    expect(
        r#"sticky_guard_admission_rejected_bodies_total{webhook="validate"}"#,
        1.0,
    );
    expect(r#"sticky_guard_http_errors_total{status="400"}"#, 1.0);
    expect(
        r#"sticky_guard_findings_total{rule="cookie-path-for-regex",action="patch"}"#,
        1.0,
    );
    expect(
        r#"sticky_guard_findings_total{rule="cookie-path-for-regex",action="deny"}"#,
        2.0,
    );
    expect(
        r#"sticky_guard_admission_duration_seconds_count{webhook="mutate"}"#,
        1.0,
    );
    expect(
        r#"sticky_guard_admission_duration_seconds_count{webhook="validate"}"#,
        2.0,
    );
    expect(
        r#"sticky_guard_admission_duration_seconds_bucket{le="+Inf",webhook="validate"}"#,
        2.0,
    );
    assert!(
        text.contains(
            r#"sticky_guard_admission_duration_seconds_bucket{le="0.00005",webhook="mutate"}"#
        ),
        "the first bucket is 50 µs:\n{text}"
    );
    // The backend `mysvc` is in neither the cache nor the API: the first validation asked the
    // API, the second was answered from the remembered "not found".
    expect(r#"sticky_guard_live_lookups_total{result="absent"}"#, 1.0);
    expect(
        r#"sticky_guard_live_lookups_total{result="remembered"}"#,
        1.0,
    );
    expect(r#"sticky_guard_live_lookups_total{result="found"}"#, 0.0);
    expect(r#"sticky_guard_cache_objects{resource="services"}"#, 1.0);
    expect(r#"sticky_guard_cache_objects{resource="ingresses"}"#, 0.0);
    expect(r#"sticky_guard_cache_synced{resource="services"}"#, 1.0);
    expect(
        r#"sticky_guard_cache_watch_failing{resource="services"}"#,
        0.0,
    );
    expect(
        &format!(
            r#"sticky_guard_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        ),
        1.0,
    );
    let served = sticky_guard::tls::pki::parse(&server.cert_pem).unwrap();
    expect(
        r#"sticky_guard_certificate_expiry_timestamp_seconds{certificate="serving"}"#,
        served.not_after as f64,
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn a_synced_replica_stays_ready_while_the_api_server_refuses_connections() {
    let api = ApiServer::start(Options::default()).await;
    let view = synced_view(&api).await;
    let server = Server::start_with(Policy::default(), ViewSource::Live(Box::new(view))).await;
    let metrics = metrics_port(&server).await;
    let (status, body) = server.get_json("/readyz").await;
    assert_eq!((status, &body["ready"]), (200, &json!(true)), "{body}");

    api.shutdown().await; // connections are refused from now on
    let deadline = tokio::time::Instant::now() + WAIT;
    let body: Value = loop {
        let (status, body) = server.get_json("/readyz").await;
        assert_eq!(status, 200, "a synced replica must stay ready: {body}");
        assert_eq!(body["ready"], true, "{body}");
        if body["caches"]["services"] == "degraded" && body["caches"]["ingresses"] == "degraded" {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never degraded: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("serving from caches that may be stale: the "),
        "{detail}"
    );
    // The unauthenticated endpoint does not repeat the error (addresses, paths): the log has it.
    assert!(detail.ends_with("(see the log)"), "{detail}");
    assert!(!detail.contains("127.0.0.1"), "{detail}");
    let text = reqwest::get(format!("{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = samples(&text);
    assert_eq!(
        samples.get(r#"sticky_guard_cache_watch_failing{resource="services"}"#),
        Some(&1.0),
        "{text}"
    );
    // The probe on the metrics port says the same.
    let response = reqwest::get(format!("{metrics}/readyz")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // And the webhook still answers from what it holds.
    let response = server
        .review_captured("/mutate", "ingress-create-sticky-regex-path.json")
        .await;
    assert_eq!(response["allowed"], true);
    assert!(response.get("patch").is_some(), "{response}");
}

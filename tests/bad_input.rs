//! Bad input against the running server: every case gets the answer README documents, nothing
//! echoes unbounded input, slow or oversized requests are cut off, and a valid review right
//! after still gets the right verdict.

mod common;

use common::{Server, captured_review, raw_https, review_for, seed_documents};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use sticky_guard::admission::http::DEFAULT_MAX_BODY_BYTES;
use sticky_guard::policy::Policy;

/// POSTs `body` with `content_type` (none when `None`) and returns status and body text.
async fn post(server: &Server, content_type: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut request = server
        .client
        .post(format!("{}/validate", server.base))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// What, content type, body, expected status, text the answer contains.
type Case = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn every_bad_body_gets_its_documented_answer() {
    let server = Server::start(Policy::default()).await;
    let good =
        serde_json::to_vec(&captured_review("ingress-create-sticky-regex-path.json")).unwrap();
    let mut trailing = good.clone();
    trailing.extend_from_slice(b" {}");
    let mut long_uid = captured_review("service-create-clusterip.json");
    long_uid["request"]["uid"] = json!("u".repeat(1000));
    let mut v1beta1 = captured_review("service-create-clusterip.json");
    v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let json_ct = Some("application/json");

    let cases: Vec<Case> = vec![
        (
            "empty",
            json_ct,
            vec![],
            400,
            "request body is not an AdmissionReview",
        ),
        (
            "not JSON",
            json_ct,
            b"{not json".to_vec(),
            400,
            "request body is not an AdmissionReview",
        ),
        (
            "an array",
            json_ct,
            b"[]".to_vec(),
            400,
            "request body is not an AdmissionReview",
        ),
        (
            "a string",
            json_ct,
            b"\"x\"".to_vec(),
            400,
            "request body is not an AdmissionReview",
        ),
        (
            "{}",
            json_ct,
            b"{}".to_vec(),
            400,
            "request body is not an AdmissionReview",
        ),
        (
            "invalid UTF-8",
            json_ct,
            b"{\"apiVersion\":\"\xff\"}".to_vec(),
            400,
            "request body is not an AdmissionReview",
        ),
        (
            "v1beta1",
            json_ct,
            serde_json::to_vec(&v1beta1).unwrap(),
            400,
            "admissionReviewVersions",
        ),
        (
            "trailing garbage",
            json_ct,
            trailing,
            400,
            "characters after the JSON document",
        ),
        (
            "a 1000-byte uid",
            json_ct,
            serde_json::to_vec(&long_uid).unwrap(),
            400,
            "a uid is a UUID",
        ),
        (
            "text/plain",
            Some("text/plain"),
            good.clone(),
            415,
            "an AdmissionReview is sent as Content-Type: application/json",
        ),
        (
            "no Content-Type",
            None,
            good.clone(),
            415,
            "an AdmissionReview is sent as Content-Type: application/json",
        ),
        (
            "JSON with a charset",
            Some("application/json; charset=utf-8"),
            good.clone(),
            200,
            "\"uid\":\"f28a87bc",
        ),
    ];
    for (what, content_type, body, status, expected) in cases {
        let (got, text) = post(&server, content_type, body).await;
        assert_eq!(got, status, "{what}: {text}");
        assert!(text.contains(expected), "{what}: {text}");
        assert!(
            text.len() < 2048,
            "{what}: a short answer, got {} bytes",
            text.len()
        );
    }

    // A valid review right after still gets the right verdict.
    let response = server
        .review_captured("/validate", "ingress-create-sticky-regex-path.json")
        .await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
}

#[tokio::test]
async fn input_repeated_in_answers_is_bounded() {
    let server = Server::start(Policy::default()).await;
    // A 200 KB dotted backend name: denied, and the denial names it only in part.
    let mut ingress = seed_documents("03-dotted-service-name.yaml")[0].clone();
    let huge = format!("{}.otherns.svc.cluster.local", "a".repeat(200_000));
    ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!(huge);
    let response = server.review("/mutate", &review_for(&ingress, "u1")).await;
    assert_eq!(response["allowed"], false);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.len() < 4096, "denial of {} bytes", message.len());
    assert!(message.contains("…"), "{message}");
    assert!(
        message.starts_with("sticky-guard denied Ingress"),
        "{message}"
    );

    // A 1 MB string where the object must be a mapping: refused (code 400) in a short answer.
    let mut review = captured_review("service-create-clusterip.json");
    review["request"]["object"] = Value::String("x".repeat(1 << 20));
    let (status, text) = post(
        &server,
        Some("application/json"),
        serde_json::to_vec(&review).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.len() < 1024, "an answer of {} bytes", text.len());
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["status"]["code"], 400);
}

/// A field of the wrong type inside the object (which the API server would never send) gets
/// one answer, whatever the field: `allowed: false`, code 400, a message naming the field.
#[tokio::test]
async fn wrong_field_types_inside_the_object_get_one_answer() {
    let server = Server::start(Policy::default()).await;
    let ingress = captured_review("ingress-create-sticky-regex-path.json");
    let service = captured_review("service-create-clusterip.json");
    let with = |review: &Value, pointer: &str, value: Value| {
        let mut review = review.clone();
        *review
            .pointer_mut(pointer)
            .expect("the fixture has the field") = value;
        review
    };
    let cases = [
        (
            with(
                &ingress,
                "/request/object/spec/rules/0/http/paths",
                json!("/x"),
            ),
            "Ingress does not decode at `spec.rules[0].http.paths`",
        ),
        (
            with(
                &ingress,
                "/request/object/metadata/annotations",
                json!(["a", "b"]),
            ),
            "Ingress does not decode at `metadata.annotations`",
        ),
        (
            with(
                &ingress,
                "/request/object/spec/rules/0/http/paths/0/backend/service/port",
                json!({"number": {"n": 80}}),
            ),
            "Ingress does not decode at `spec.rules[0].http.paths[0].backend.service.port.number`",
        ),
        (
            with(
                &service,
                "/request/object/spec/ports/0/port",
                json!({"n": 80}),
            ),
            "Service does not decode at `spec.ports[0].port`",
        ),
        (
            with(
                &ingress,
                "/request/object/metadata/annotations/nginx.ingress.kubernetes.io~1affinity",
                json!(true),
            ),
            "metadata.annotations[\"nginx.ingress.kubernetes.io/affinity\"] is a boolean (true)",
        ),
        (
            with(&ingress, "/request/object", json!(["not", "a", "mapping"])),
            "Ingress does not decode at `.`",
        ),
    ];
    for (review, expected) in cases {
        let response = server.review("/validate", &review).await;
        assert_eq!(response["allowed"], false, "{response}");
        assert_eq!(response["status"]["code"], 400, "{response}");
        let message = response["status"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("sticky-guard could not read the object: ")
                && message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
}

#[tokio::test]
async fn a_declared_length_over_the_limit_gets_413_before_the_body() {
    let server = Server::start(Policy::default()).await;
    let address = server.running.local_addr;
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        DEFAULT_MAX_BODY_BYTES * 4
    );
    let started = Instant::now();
    let answer = raw_https(address, head.into_bytes(), Duration::from_secs(3)).await;
    assert!(
        answer.text.starts_with("HTTP/1.1 413"),
        "got {:?}",
        answer.text.lines().next()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "413 at once, not after a timeout"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let server = Server::start(Policy::default()).await;
    let address = server.running.local_addr;
    let started = Instant::now();
    let answer = raw_https(
        address,
        b"POST /validate HTTP/1.1\r\nHost: loc".to_vec(),
        Duration::from_secs(12),
    )
    .await;
    let held = started.elapsed();
    assert!(answer.closed, "the server closed the connection");
    assert!(
        held >= sticky_guard::tls::server::HEADER_READ_TIMEOUT
            && held < sticky_guard::tls::server::HEADER_READ_TIMEOUT + Duration::from_secs(3),
        "held for {held:?}"
    );
    // And the server still answers.
    let response = server
        .review_captured("/validate", "service-create-clusterip.json")
        .await;
    assert_eq!(response["allowed"], true);
}

//! `sticky-guard serve --dev`, the README's demo: the binary makes a CA, writes it where it says,
//! and answers over HTTPS to a client that trusts only that CA.

mod common;

#[tokio::test]
async fn serve_dev_writes_its_ca_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, mut lines) = common::spawn_dev_server(dir.path(), &[]);
    let second = lines.next().unwrap().unwrap();
    let ca_path = dir.path().join("ca.pem");
    assert_eq!(
        second,
        format!("dev CA certificate written to {}", ca_path.display())
    );
    let ca = std::fs::read_to_string(&ca_path).unwrap();
    let client = common::client_trusting(&ca);
    let review = common::captured_review("ingress-create-sticky-regex-path.json");
    let response = client
        .post(format!("https://localhost:{port}/mutate"))
        .json(&review)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["response"]["uid"],
        "f28a87bc-3386-46a9-be8c-bb94e2d69e28"
    );
    assert_eq!(body["response"]["patchType"], "JSONPatch");
    child.kill().unwrap();
    child.wait().unwrap();
}

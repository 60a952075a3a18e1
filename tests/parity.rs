//! Parity: every fixture gets the same findings from the HTTPS webhook (`/validate`, which runs
//! every rule on the object as it arrives) and from `sticky-guard check`.

mod common;

use common::{Server, captured_review, fixture, review_for, seed_documents};
use serde_json::Value;
use sticky_guard::policy::Policy;

/// `check -o json` on `text` (stdin): exit code and report.
fn check(text: &str) -> (i32, Value) {
    let out = common::run_binary(&["check", "--output", "json", "-"], Some(text));
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// What the webhook said, in the terms of `check`: (allowed, rule IDs, number of warnings).
fn webhook_view(response: &Value) -> (bool, String, usize) {
    (
        response["allowed"].as_bool().unwrap(),
        response["auditAnnotations"]["rules"]
            .as_str()
            .unwrap_or("none")
            .to_string(),
        response["warnings"].as_array().map_or(0, Vec::len),
    )
}

/// What `check` said about one object, in the same terms.
fn check_view(code: i32, report: &Value) -> (bool, String, usize) {
    let findings = report["findings"].as_array().unwrap();
    let mut rules: Vec<&str> = Vec::new();
    for f in findings {
        let id = f["rule"].as_str().unwrap();
        if !rules.contains(&id) {
            rules.push(id);
        }
    }
    let warnings = findings.iter().filter(|f| f["level"] == "warn").count();
    let rules = if rules.is_empty() {
        "none".to_string()
    } else {
        rules.join(",")
    };
    (code == 0, rules, warnings)
}

#[tokio::test]
async fn seed_scenarios_get_the_same_findings_online_and_offline() {
    let server = Server::start(Policy::default()).await;
    let mut compared = 0;
    for entry in std::fs::read_dir(fixture("seed-scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("06-") {
            continue; // an input error on both sides: see below
        }
        for (i, object) in seed_documents(&name).iter().enumerate() {
            let judged = matches!(object["kind"].as_str(), Some("Ingress" | "Service"));
            let review = review_for(object, &format!("{name}-{i}"));
            let response = server.review("/validate", &review).await;
            let (code, report) = check(&serde_json::to_string(object).unwrap());
            if !judged {
                assert_eq!(response["allowed"], true, "{name}#{i}");
                assert_eq!(code, 0, "{name}#{i}");
                continue;
            }
            assert_eq!(
                webhook_view(&response),
                check_view(code, &report),
                "{name} document {i}: {response} vs {report}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 7, "{compared}");
}

#[tokio::test]
async fn captured_reviews_get_the_same_findings_online_and_offline() {
    let server = Server::start(Policy::default()).await;
    let mut compared = 0;
    for entry in std::fs::read_dir(fixture("admission-reviews")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let review = captured_review(name);
        let response = server.review("/validate", &review).await;
        let (code, report) = check(&serde_json::to_string(&review["request"]["object"]).unwrap());
        assert_eq!(
            webhook_view(&response),
            check_view(code, &report),
            "{name}: {response} vs {report}"
        );
        compared += 1;
    }
    assert_eq!(compared, 7);
}

#[tokio::test]
async fn an_unreadable_object_is_refused_on_both_sides() {
    let server = Server::start(Policy::default()).await;
    let object = &seed_documents("06-balanced-unquoted-max-age.yaml")[0];
    let response = server.review("/validate", &review_for(object, "u")).await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 400);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("but annotation values must be strings: quote it as \"60\""),
        "{message}"
    );
    let (code, report) = check(&serde_json::to_string(object).unwrap());
    assert_eq!(code, 2);
    assert_eq!(report["errors"].as_array().unwrap().len(), 1);
}

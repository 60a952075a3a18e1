//! The install manifests in `manifests/` agree with what the server serves and needs.

use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;

fn documents(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("manifests/base")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn webhook(kind: &str) -> Value {
    documents("webhooks.yaml")
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))["webhooks"][0]
        .clone()
}

#[test]
fn webhooks_speak_v1_without_side_effects() {
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let w = webhook(kind);
        assert_eq!(w["admissionReviewVersions"], json!(["v1"]), "{kind}");
        assert_eq!(
            w["sideEffects"], "None",
            "{kind}: dryRun requests must reach it"
        );
        assert!(w["timeoutSeconds"].as_u64().unwrap() <= 10);
    }
}

#[test]
fn mutating_fails_open_and_validating_enforces() {
    let m = webhook("MutatingWebhookConfiguration");
    assert_eq!(m["failurePolicy"], "Ignore");
    assert_eq!(m["reinvocationPolicy"], "IfNeeded");
    assert_eq!(m["clientConfig"]["service"]["path"], "/mutate");
    let v = webhook("ValidatingWebhookConfiguration");
    assert_eq!(v["failurePolicy"], "Fail");
    assert_eq!(v["clientConfig"]["service"]["path"], "/validate");
    let resources: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(resources, vec!["ingresses", "services"]);
}

#[test]
fn rbac_is_read_only() {
    let role = documents("rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(rule["verbs"], json!(["get", "list", "watch"]));
    }
}

#[test]
fn deployment_serves_what_the_service_and_probes_expect() {
    let docs = documents("deployment.yaml");
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"][0], "serve");
    assert_eq!(container["ports"][0]["containerPort"], 8443);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    let service = docs.iter().find(|d| d["kind"] == "Service").unwrap();
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
}

//! `sticky-guard audit` against a stand-in API server: the binary, a kubeconfig, real list calls.

mod common;

use common::apiserver::{ApiServer, Options};
use common::seed_documents;
use serde_json::Value;
use std::process::Command;

/// A kubeconfig for `url` with no credentials.
fn kubeconfig(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {url}\n\
             users:\n- name: nobody\n  user: {{}}\ncontexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: nobody\n\
             current-context: stand-in\n"
        ),
    )
    .unwrap();
    path
}

async fn audit(kubeconfig: std::path::PathBuf, args: &[&str]) -> (i32, Value) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
            .arg("audit")
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

fn rules_of(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["rule"].as_str().unwrap(),
                f["kind"].as_str().unwrap(),
                f["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn audit_reports_what_already_runs() {
    let api = ApiServer::start(Options {
        backend_configs_crd: true,
        ..Options::default()
    })
    .await;
    for name in [
        "01-regex-path-missing-cookie-path.yaml",
        "02-externalname-proxy.yaml",
        "05-gke-backendconfig-neg.yaml",
    ] {
        for document in seed_documents(name) {
            api.apply(document);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &api.url);
    let (code, report) = audit(config.clone(), &["--output", "json"]).await;
    assert_eq!(code, 1, "{report}");
    let mut found = rules_of(&report);
    found.sort();
    assert_eq!(
        found,
        vec![
            // Both sticky Ingresses on example.com use cookie lbsticky for different upstreams,
            // on overlapping paths (`/` and `/mysite`): one finding on each.
            "conflicting-cookie-settings Ingress mysite",
            "conflicting-cookie-settings Ingress mysite",
            "cookie-path-for-regex Ingress mysite",
            "externalname-backend Ingress mysite",
            "externalname-under-sticky-ingress Service mysvc-proxy",
        ]
    );
    assert_eq!(report["findings"][0]["file"], "cluster");

    // The GKE rule reads the BackendConfig listed through discovery.
    let mut service = seed_documents("05-gke-backendconfig-neg.yaml")[1].clone();
    service["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("cloud.google.com/neg");
    service["spec"]["type"] = Value::from("NodePort");
    api.apply(service);
    let (_, report) = audit(config.clone(), &["--output", "json"]).await;
    assert!(
        rules_of(&report)
            .contains(&"generated-cookie-without-neg Service neg-demo-svc".to_string())
    );

    // A sticky Ingress whose Service is not in the cluster: a warning (the cluster is complete).
    let mut orphan = seed_documents("02-externalname-proxy.yaml")[1].clone();
    orphan["metadata"]["name"] = Value::from("orphan");
    orphan["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] =
        Value::from("nowhere");
    api.apply(orphan);
    let (_, report) = audit(config, &["--output", "json"]).await;
    let orphan_finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "orphan")
        .expect("orphan finding");
    assert_eq!(orphan_finding["level"], "warn");
    assert!(
        orphan_finding["message"]
            .as_str()
            .unwrap()
            .contains("does not exist yet")
    );
}

#[tokio::test]
async fn audit_without_a_cluster_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
            .args(["audit", "--timeout-seconds", "5"])
            .env("KUBECONFIG", dir.path().join("missing"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("HOME", "/nonexistent")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
}

/// `audit -o openreports` and `-o policyreport`: one report per object with findings, as a YAML
/// stream, naming the object by its uid and resourceVersion; the exit code is `check`'s.
#[tokio::test]
async fn audit_prints_policy_reports() {
    let api = ApiServer::start(Options::default()).await;
    for document in seed_documents("01-regex-path-missing-cookie-path.yaml") {
        api.apply(document);
    }
    let stored = api
        .get("Ingress", "myapp", "mysite")
        .expect("seed 01's Ingress is stored");
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &api.url);
    for (format, api_version, kind) in [
        ("openreports", "openreports.io/v1alpha1", "Report"),
        ("policyreport", "wgpolicyk8s.io/v1alpha2", "PolicyReport"),
    ] {
        let config = config.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
                .args(["audit", "-o", format])
                .env("KUBECONFIG", config)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("---\n"), "{text}");
        let reports: Vec<Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(reports.len(), 1, "{text}");
        let report = &reports[0];
        let uid = stored["metadata"]["uid"].as_str().unwrap();
        let reference = serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "namespace": stored["metadata"]["namespace"], "name": stored["metadata"]["name"],
            "uid": uid, "resourceVersion": stored["metadata"]["resourceVersion"]});
        assert_eq!(report["apiVersion"], api_version);
        assert_eq!(report["kind"], kind);
        assert_eq!(report["metadata"]["name"], format!("sticky-guard-{uid}"));
        assert_eq!(
            report["metadata"]["namespace"],
            stored["metadata"]["namespace"]
        );
        assert_eq!(report["scope"], reference);
        assert_eq!(
            report["summary"],
            serde_json::json!({"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0})
        );
        let result = &report["results"][0];
        assert_eq!(result["rule"], "cookie-path-for-regex");
        assert_eq!(result["result"], "fail");
        assert_eq!(result["severity"], "high");
        assert_eq!(result["policy"], "sticky-guard");
        assert_eq!(result["resources"][0], reference);
    }
}

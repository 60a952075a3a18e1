//! The Gateway API family end to end: `check` and `fix` on manifests written from the
//! implementations' docs (`tests/data/gateway-api/`, sources in its README), and parity of the
//! webhook (`/validate` and `/mutate`, single-object mode) with `check` on every object.

mod common;

use common::{Server, review_for};
use serde_json::Value;
use std::path::PathBuf;
use sticky_guard::policy::Policy;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gateway-api")
        .join(name)
}

fn documents(name: &str) -> Vec<Value> {
    common::gateway_data(name)
}

/// `check -o json` on `args`: exit code and report.
fn check(args: &[&str], stdin: Option<&str>) -> (i32, Value) {
    let mut all = vec!["check", "--output", "json"];
    all.extend_from_slice(args);
    let out = common::run_binary(&all, stdin);
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// `(rule, level, object)` of each finding.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                format!(
                    "{} {}/{}",
                    f["kind"].as_str().unwrap(),
                    f["namespace"].as_str().unwrap_or(""),
                    f["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

/// `(rule, level, object)` as expected.
type Expected = (&'static str, &'static str, &'static str);

fn owned(items: &[Expected]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn check_gives_each_file_its_verdict() {
    let cases: &[(&str, i32, &[Expected])] = &[
        (
            "envoy-gateway-regex.yaml",
            1,
            &[(
                "gateway-session-persistence-regex-path",
                "deny",
                "HTTPRoute default/cookie",
            )],
        ),
        (
            "nginx-gateway-fabric-regex.yaml",
            0,
            &[(
                "gateway-session-persistence-regex-path",
                "warn",
                "HTTPRoute default/coffee",
            )],
        ),
        (
            "externalname-backend.yaml",
            1,
            // Both sides: the Service (new in this bundle) and the route.
            &[
                (
                    "gateway-externalname-backend",
                    "deny",
                    "Service default/service-externalname",
                ),
                (
                    "gateway-externalname-backend",
                    "deny",
                    "HTTPRoute default/httproute-1",
                ),
            ],
        ),
        (
            "dotted-backend.yaml",
            1,
            &[
                (
                    "gateway-dotted-backend-name",
                    "deny",
                    "HTTPRoute site-ns/home",
                ),
                (
                    "gateway-dotted-backend-name",
                    "deny",
                    "GRPCRoute store-ns/store",
                ),
            ],
        ),
        (
            "cross-namespace.yaml",
            0,
            &[(
                "gateway-cross-namespace-without-referencegrant",
                "warn",
                "HTTPRoute foo/foo-baz",
            )],
        ),
        ("clean.yaml", 0, &[]),
    ];
    for (file, code, expected) in cases {
        let path = data(file);
        let (exit, report) = check(&[path.to_str().unwrap()], None);
        assert_eq!(exit, *code, "{file}: {report}");
        assert_eq!(findings(&report), owned(expected), "{file}");
    }
    // Without its Gateway and GatewayClass the Envoy Gateway route is only warned about: the
    // implementation is not known.
    let route = documents("envoy-gateway-regex.yaml").pop().unwrap();
    let (exit, report) = check(&["-"], Some(&serde_json::to_string(&route).unwrap()));
    assert_eq!(exit, 0);
    assert_eq!(
        report["findings"][0]["message"],
        "cookie Path `/mysite(` misses these requests: use PathPrefix `/mysite`"
    );
}

#[test]
fn fix_rewrites_only_the_own_namespace_dotted_name() {
    let path = data("dotted-backend.yaml");
    let before = std::fs::read_to_string(&path).unwrap();
    let out = common::run_binary(&["fix", path.to_str().unwrap()], None);
    let after = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        after,
        before.replace("- name: \"store.store-ns.svc\"", "- name: \"store\"")
    );
    // The other namespace's name is left for the user (and still denied).
    assert_eq!(out.status.code(), Some(1));
}

/// The webhook (no cluster view) and `check` on the same single object agree: allowed, rule
/// IDs and warnings; the mutating webhook's patch is the fix `fix` makes.
#[tokio::test]
async fn webhook_and_check_agree_on_every_gateway_api_object() {
    let server = Server::start(Policy::default()).await;
    let mut compared = 0;
    for entry in std::fs::read_dir(data("")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        for (i, object) in documents(&name).iter().enumerate() {
            let response = server
                .review("/validate", &review_for(object, &format!("{name}-{i}")))
                .await;
            let (code, report) = check(&["-"], Some(&serde_json::to_string(object).unwrap()));
            let rules: Vec<String> = findings(&report).into_iter().map(|f| f.0).collect();
            let webhook_rules = response["auditAnnotations"]["rules"]
                .as_str()
                .filter(|r| *r != "none")
                .map_or(Vec::new(), |r| r.split(',').map(String::from).collect());
            let mut unique = rules.clone();
            unique.dedup();
            assert_eq!(response["allowed"], code == 0, "{name}#{i}: {response}");
            assert_eq!(webhook_rules, unique, "{name}#{i}: {response}");
            let warnings = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["level"] == "warn")
                .count();
            assert_eq!(
                response["warnings"].as_array().map_or(0, Vec::len),
                warnings,
                "{name}#{i}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 16, "every document of tests/data/gateway-api");

    // The mutating webhook patches the own-namespace name exactly as `fix` does.
    let grpc = &documents("dotted-backend.yaml")[1];
    let response = server.review("/mutate", &review_for(grpc, "m")).await;
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(
        common::decoded_patch(&response),
        Some(serde_json::json!([
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/name", "value": "store"}
        ]))
    );
    let http = &documents("dotted-backend.yaml")[0];
    let response = server.review("/mutate", &review_for(http, "n")).await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .as_str()
            .unwrap()
            .contains("write `name: store` and `namespace: store-ns`"),
        "{response}"
    );
}

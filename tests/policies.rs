//! The exported ValidatingAdmissionPolicies (`sticky-guard export policies`) agree with the
//! engine: each exported validation, evaluated with a CEL interpreter (the `cel` crate) the way
//! kube-apiserver evaluates it, allows exactly the objects on which its rule does not fire, on
//! every fixture object (seed scenarios, real-world manifests, captured reviews,
//! tests/data/gateway-api, and variants), and its messageExpression names what the engine's
//! message names. The committed manifests/policies/ is the generator's output, and it decodes
//! with the k8s-openapi types of `admissionregistration.k8s.io/v1`.

mod common;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use serde_json::{Value, json};
use sticky_guard::policies::{self, Export};
use sticky_guard::policy::Policy;
use sticky_guard::rules::{self, Context, Phase};

use common::yaml_values as yaml_documents;

/// Every object the fixtures hold, `List`s unpacked.
fn fixture_objects() -> Vec<Value> {
    let mut documents = Vec::new();
    for dir in ["seed-scenarios", "real-world"] {
        for path in common::fixture_yaml_files(dir) {
            documents.extend(yaml_documents(&std::fs::read_to_string(path).unwrap()));
        }
    }
    for entry in std::fs::read_dir(common::fixture("admission-reviews")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            documents.push(common::captured_review(&name)["request"]["object"].clone());
        }
    }
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gateway-api");
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            documents.extend(yaml_documents(&std::fs::read_to_string(path).unwrap()));
        }
    }
    documents
        .into_iter()
        .flat_map(|d| match d["kind"].as_str() {
            Some("List") => d["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![d],
        })
        .collect()
}

/// Variants the fixtures lack: each backend position, names invalid in each way, other kinds.
fn variants() -> Vec<Value> {
    let ingress = |backend: Value, default: Option<Value>, class: Option<&str>| {
        let mut value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "v", "namespace": "app"},
            "spec": {"rules": [{"host": "a.example", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "ok", "port": {"number": 80}}}},
                {"path": "/b", "pathType": "Prefix", "backend": backend}]}}]}});
        if let Some(default) = default {
            value["spec"]["defaultBackend"] = default;
        }
        if let Some(class) = class {
            value["spec"]["ingressClassName"] = json!(class);
        }
        value
    };
    let service = |name: &str| json!({"service": {"name": name, "port": {"number": 80}}});
    let resource =
        json!({"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}});
    let mut out = Vec::new();
    for name in [
        "web.other",
        "web.app.svc.cluster.local",
        "MySvc",
        "1web",
        "api.example.com",
        "web",
    ] {
        out.push(ingress(service(name), None, None));
        out.push(ingress(service("web"), Some(service(name)), None));
        out.push(ingress(service(name), None, Some("gce")));
    }
    out.push(ingress(resource, None, None));
    let mut annotated = ingress(service("web.other"), None, None);
    annotated["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "gce"});
    out.push(annotated);
    let route = |kind: &str, backend: Value| {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
            "metadata": {"name": "r", "namespace": "app"},
            "spec": {"rules": [{"backendRefs": [{"name": "ok", "port": 80}]}, {"backendRefs": [backend]}, {}]}})
    };
    for kind in ["HTTPRoute", "GRPCRoute"] {
        out.push(route(kind, json!({"name": "web.other.svc", "port": 80})));
        out.push(route(kind, json!({"name": "web", "port": 80})));
        out.push(route(
            kind,
            json!({"group": "", "kind": "Service", "name": "web.other", "port": 80}),
        ));
        out.push(route(
            kind,
            json!({"group": "gateway.envoyproxy.io", "kind": "Backend", "name": "b.example"}),
        ));
    }
    out
}

fn cel_eval(expression: &str, object: &Value) -> cel::Value {
    let program = cel::Program::compile(expression)
        .unwrap_or_else(|e| panic!("the exported expression is valid CEL: {e}\n{expression}"));
    let mut context = cel::Context::default();
    context.add_variable("object", object.clone()).unwrap();
    context.add_variable("oldObject", Value::Null).unwrap();
    program
        .execute(&context)
        .unwrap_or_else(|e| panic!("{expression}\non {object}: {e:?}"))
}

fn cel_bool(expression: &str, object: &Value) -> bool {
    match cel_eval(expression, object) {
        cel::Value::Bool(b) => b,
        other => panic!("{expression} gives {other:?} on {object}"),
    }
}

/// The exported policies, as the default policy writes them: (rule ID, policy object).
fn exported() -> Vec<(String, Value)> {
    policies::validating_policies(&Policy::default())
        .into_iter()
        .filter(|d| d["kind"] == "ValidatingAdmissionPolicy")
        .map(|d| {
            let id = d["metadata"]["name"]
                .as_str()
                .unwrap()
                .trim_start_matches("sticky-guard.")
                .to_string();
            (id, d)
        })
        .collect()
}

#[test]
fn exported_validations_agree_with_the_engine_on_every_fixture_object() {
    let policy = Policy::default();
    let exported = exported();
    assert_eq!(exported.len(), 2);
    let mut compared = 0;
    let mut denied = 0;
    for object in fixture_objects().into_iter().chain(variants()) {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        // A policy sees the served version (the API server converts legacy Ingresses first).
        if !matches!(
            api_version,
            "networking.k8s.io/v1" | "gateway.networking.k8s.io/v1"
        ) {
            continue;
        }
        let Ok(Some(decoded)) = sticky_guard::objects::decode(&object) else {
            continue;
        };
        let findings = rules::evaluate(&decoded, Phase::Validating, &Context::single(&policy));
        for (id, vap) in &exported {
            let rule = rules::find(id).unwrap();
            if !rule.judges(decoded.kind()) {
                continue;
            }
            let spec = &vap["spec"];
            let applies = spec["matchConditions"].as_array().is_none_or(|c| {
                c.iter()
                    .all(|c| cel_bool(c["expression"].as_str().unwrap(), &object))
            });
            let validation = &spec["validations"][0];
            let allowed = !applies || cel_bool(validation["expression"].as_str().unwrap(), &object);
            let fired: Vec<_> = findings.iter().filter(|f| f.rule == id.as_str()).collect();
            assert_eq!(allowed, fired.is_empty(), "{id} on {object}: {fired:?}");
            compared += 1;
            if !allowed {
                denied += 1;
                let message =
                    match cel_eval(validation["messageExpression"].as_str().unwrap(), &object) {
                        cel::Value::String(s) => s.to_string(),
                        other => panic!("{other:?}"),
                    };
                // The engine's first finding names the backend in backticks; so must the policy.
                let named = fired[0].message.split('`').nth(1).unwrap();
                assert!(
                    message.contains(&format!("`{named}`")),
                    "{id}: {message} vs {}",
                    fired[0].message
                );
            }
        }
    }
    assert!(compared >= 50, "{compared}");
    assert!(denied >= 12, "{denied}");
}

#[test]
fn every_rule_is_listed_and_view_rules_are_not_exported() {
    for rule in rules::CATALOGUE {
        match policies::export_of(rule) {
            Export::Validation(v) => {
                assert!(!rule.reads.needs_view, "{}", rule.id);
                assert!(v.kinds.iter().all(|k| rule.judges(*k)), "{}", rule.id);
            }
            Export::No(reason) => {
                assert!(!reason.is_empty() && reason != "not listed", "{}", rule.id)
            }
        }
    }
}

#[test]
fn committed_policies_are_the_generator_output_and_decode() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/manifests/policies/policies.yaml"
    );
    let committed = std::fs::read_to_string(path).unwrap();
    let out = common::run_binary(&["export", "policies"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed,
        "regenerate with `sticky-guard export policies > manifests/policies/policies.yaml`"
    );
    let mut kinds = Vec::new();
    for document in yaml_documents(&committed) {
        match document["kind"].as_str().unwrap() {
            "ValidatingAdmissionPolicy" => {
                let p: ValidatingAdmissionPolicy = serde_json::from_value(document).unwrap();
                assert!(
                    p.spec.unwrap().validations.unwrap()[0]
                        .message_expression
                        .is_some()
                );
                kinds.push("policy");
            }
            "ValidatingAdmissionPolicyBinding" => {
                let b: ValidatingAdmissionPolicyBinding = serde_json::from_value(document).unwrap();
                assert_eq!(
                    b.spec.unwrap().validation_actions,
                    Some(vec!["Deny".to_string()])
                );
                kinds.push("binding");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(kinds, ["policy", "binding", "policy", "binding"]);

    // --output-dir: one file per rule, the same documents.
    let dir = tempfile::tempdir().unwrap();
    let out = common::run_binary(
        &[
            "export",
            "policies",
            "--output-dir",
            dir.path().to_str().unwrap(),
            "--rule",
            "cross-namespace-backend=warn",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "sticky-guard.cross-namespace-backend.yaml",
            "sticky-guard.gateway-dotted-backend-name.yaml"
        ]
    );
    let text =
        std::fs::read_to_string(dir.path().join("sticky-guard.cross-namespace-backend.yaml"))
            .unwrap();
    let binding = &yaml_documents(&text)[1];
    assert_eq!(
        binding["spec"]["validationActions"],
        json!(["Warn", "Audit"])
    );
}

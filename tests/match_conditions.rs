//! The Service webhook's `matchConditions`, generated from the catalogue, evaluated with a CEL
//! interpreter the way kube-apiserver evaluates them: true for every Service write on which a
//! Service rule can fire (whatever else the cluster holds), false for a plain ClusterIP Service,
//! which must never reach sticky-guard.

mod common;

use serde::Deserialize;
use serde_json::{Value, json};
use sticky_guard::objects::kinds::Kind;
use sticky_guard::objects::{self, Object};
use sticky_guard::policy::Policy;
use sticky_guard::rules::{self, Context, Phase};
use sticky_guard::view::offline::OfflineView;

fn condition() -> cel::Program {
    let expression = rules::match_condition(Kind::Service).expect("Service rules declare one");
    cel::Program::compile(&expression).expect("the generated expression is valid CEL")
}

fn holds(program: &cel::Program, object: &Value, old: Option<&Value>) -> bool {
    let mut context = cel::Context::default();
    context.add_variable("object", object.clone()).unwrap();
    context
        .add_variable("oldObject", old.cloned().unwrap_or(Value::Null))
        .unwrap();
    match program.execute(&context) {
        Ok(cel::Value::Bool(b)) => b,
        other => panic!("the condition must evaluate to a bool on {object}: {other:?}"),
    }
}

fn yaml_documents(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    // Stop at the first document that does not parse: the rest of that stream is unreliable.
    serde_norway::Deserializer::from_str(&text)
        .map_while(|doc| Value::deserialize(doc).ok())
        .filter(|v| !v.is_null())
        .collect()
}

/// Every Service in the fixtures (seed scenarios, real-world manifests, captured reviews), plus
/// variants that exercise each disjunct.
fn services() -> Vec<Value> {
    let mut documents = Vec::new();
    for dir in ["seed-scenarios", "real-world"] {
        for path in common::fixture_yaml_files(dir) {
            documents.extend(yaml_documents(&path));
        }
    }
    for review in [
        "service-create-clusterip.json",
        "service-create-externalname-proxy.json",
    ] {
        documents.push(common::captured_review(review)["request"]["object"].clone());
    }
    let mut services: Vec<Value> = documents
        .into_iter()
        .flat_map(|d| match d["kind"].as_str() {
            Some("List") => d["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![d],
        })
        .filter(|d| d["kind"] == "Service")
        .collect();
    assert!(services.len() >= 5, "fixtures hold Services");
    let base = json!({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "web", "namespace": "shop"},
                      "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let mut external = base.clone();
    external["spec"] =
        json!({"type": "ExternalName", "externalName": "web.other.svc.cluster.local"});
    let mut gke = base.clone();
    gke["metadata"]["annotations"] =
        json!({"cloud.google.com/backend-config": "{\"default\": \"web-bc\"}"});
    let mut gke_beta = base.clone();
    gke_beta["metadata"]["annotations"] =
        json!({"beta.cloud.google.com/backend-config": "{\"ports\": {\"80\": \"web-bc\"}}"});
    let mut other_annotations = base.clone();
    other_annotations["metadata"]["annotations"] = json!({"team": "shop"});
    let mut load_balancer = base.clone();
    load_balancer["spec"]["type"] = json!("LoadBalancer");
    let mut client_ip = base.clone();
    client_ip["spec"]["sessionAffinity"] = json!("ClientIP");
    let mut no_affinity = base.clone();
    no_affinity["spec"]["sessionAffinity"] = json!("None");
    // Traefik: sticky cookie on an ExternalName Service, with nativelb, with a bad value, and
    // Traefik annotations that are not about stickiness.
    let mut traefik_external = base.clone();
    traefik_external["spec"] = json!({"type": "ExternalName", "externalName": "web.other"});
    traefik_external["metadata"]["annotations"] =
        json!({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"});
    let mut traefik_native = base.clone();
    traefik_native["metadata"]["annotations"] = json!({
        "traefik.ingress.kubernetes.io/service.nativelb": "true",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.name": "route"});
    let mut traefik_value = base.clone();
    traefik_value["metadata"]["annotations"] =
        json!({"traefik.ingress.kubernetes.io/service.sticky.cookie.maxage": "1h"});
    let mut traefik_other = base.clone();
    traefik_other["metadata"]["annotations"] =
        json!({"traefik.ingress.kubernetes.io/service.passhostheader": "true"});
    services.extend([
        base,
        external,
        gke,
        gke_beta,
        other_annotations,
        load_balancer,
        client_ip,
        no_affinity,
        traefik_external,
        traefik_native,
        traefik_value,
        traefik_other,
    ]);
    services
}

/// A cluster in which every Service rule that can fire on `service` does: a sticky Ingress and
/// a plain (not sticky) one routing to it, and a GENERATED_COOKIE BackendConfig (with an
/// out-of-range TTL) under every name its annotations mention.
fn hostile_view(service: &Value) -> OfflineView {
    let namespace = service["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let name = service["metadata"]["name"].as_str().unwrap_or("");
    let mut view = OfflineView::complete();
    let ingress = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "sticky", "namespace": namespace,
                     "annotations": {"nginx.ingress.kubernetes.io/affinity": "cookie"}},
        "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": name, "port": {"number": 80}}}},
    });
    view.add(&objects::decode(&ingress).unwrap().unwrap());
    let plain = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "plain", "namespace": namespace},
        "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": name, "port": {"number": 80}}}},
    });
    view.add(&objects::decode(&plain).unwrap().unwrap());
    let mut names = Vec::new();
    if let Some(annotations) = service["metadata"]["annotations"].as_object() {
        for value in annotations.values().filter_map(Value::as_str) {
            if let Ok(parsed) = serde_json::from_str::<Value>(value) {
                collect_strings(&parsed, &mut names);
            }
        }
    }
    for config in names {
        let config = json!({
            "apiVersion": "cloud.google.com/v1", "kind": "BackendConfig",
            "metadata": {"name": config, "namespace": namespace},
            "spec": {"sessionAffinity": {"affinityType": "GENERATED_COOKIE", "affinityCookieTtlSec": 999999}},
        });
        view.add(&objects::decode(&config).unwrap().unwrap());
    }
    view
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[test]
fn the_condition_holds_whenever_a_service_rule_fires() {
    let program = condition();
    let policy = Policy::default();
    let (mut fired, mut skipped) = (0, 0);
    for service in services() {
        let Ok(Some(object @ Object::Service(_))) = objects::decode(&service) else {
            continue;
        };
        let view = hostile_view(&service);
        let mut plain = service.clone();
        plain["spec"] = json!({"type": "ClusterIP", "ports": [{"port": 80}]});
        plain["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        let olds = [None, Some(plain), Some(service.clone())];
        for old in &olds {
            let old_object = old.as_ref().map(|o| objects::decode(o).unwrap().unwrap());
            let context = Context {
                policy: &policy,
                view: &view,
                old: old_object.as_ref(),
            };
            let findings = rules::evaluate(&object, Phase::Validating, &context);
            let condition = holds(&program, &service, old.as_ref());
            if findings.is_empty() {
                skipped += usize::from(!condition);
            } else {
                fired += 1;
                assert!(
                    condition,
                    "{findings:?} on {service} (old: {old:?}), but the API server would not call sticky-guard"
                );
            }
        }
    }
    assert!(fired >= 4, "rules fired in {fired} cases");
    assert!(skipped >= 4, "the condition spared {skipped} writes");
}

#[test]
fn a_plain_clusterip_service_never_reaches_sticky_guard() {
    let program = condition();
    let clusterip =
        common::captured_review("service-create-clusterip.json")["request"]["object"].clone();
    assert_eq!(clusterip["spec"]["type"], "ClusterIP");
    assert!(!holds(&program, &clusterip, None));
    assert!(!holds(&program, &clusterip, Some(&clusterip)));
    // Neither does an ExternalName Service that already was one (UPDATE).
    let external =
        common::captured_review("service-create-externalname-proxy.json")["request"]["object"]
            .clone();
    assert!(holds(&program, &external, None));
    assert!(!holds(&program, &external, Some(&external)));
}

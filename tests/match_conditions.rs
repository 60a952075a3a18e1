//! The webhooks' `matchConditions`, generated from the catalogue (`rules::condition`), evaluated
//! with a CEL interpreter the way kube-apiserver evaluates them before it calls a webhook.
//!
//! For every Ingress, Service, HTTPRoute and GRPCRoute of the fixtures (seed scenarios,
//! real-world manifests, captured reviews, Gateway API data) and variants that exercise every
//! rule, on CREATE and UPDATE, with no cluster view, an empty complete one and hostile ones (in
//! which every rule that reads other objects fires), under the default policy and another:
//! - a finding of a rule whose action is `deny` means the failing-closed `.validate` webhook is
//!   called; a `warn` rule's finding, that `.validate` or the failing-open `.warn` one is;
//! - `.validate` and `.warn` never both are;
//! - a finding at `/mutate` means the mutating webhook is called;
//! - the conditions evaluate to a bool on every object (an error would be decided by
//!   failurePolicy).
//!
//! Mutation: each rule alone (every other rule off), whose disjunct is then the whole
//! condition, must fire in some case, so dropping its disjunct fails the check. (Under the
//! default policy a disjunct may be implied by another, and dropping it changes nothing.)

mod common;

use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use sticky_guard::objects::kinds::Kind;
use sticky_guard::objects::{self, Object};
use sticky_guard::policy::{Action, Policy};
use sticky_guard::rules::condition::{Answers, WEBHOOKS, Webhook, any_of, expression, rules_of};
use sticky_guard::rules::{self, CATALOGUE, Context, Level, Phase, Rule};
use sticky_guard::view::offline::OfflineView;

fn compile(expression: &str) -> cel::Program {
    cel::Program::compile(expression)
        .unwrap_or_else(|e| panic!("the generated expression is not valid CEL: {e}\n{expression}"))
}

/// Evaluates `program` on `object` (and `oldObject`): a bool, or a panic naming the object.
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

fn kind_of(value: &Value) -> Option<Kind> {
    match value["kind"].as_str()? {
        "Ingress" => Some(Kind::Ingress),
        "Service" => Some(Kind::Service),
        "HTTPRoute" => Some(Kind::HttpRoute),
        "GRPCRoute" => Some(Kind::GrpcRoute),
        _ => None,
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

fn namespace(value: &Value) -> &str {
    value["metadata"]["namespace"].as_str().unwrap_or("default")
}

fn ingress(
    annotations: Value,
    class: Option<&str>,
    paths: &[(&str, &str)],
    backend: &str,
) -> Value {
    let paths: Vec<Value> = paths
        .iter()
        .map(|(path, path_type)| {
            json!({"path": path, "pathType": path_type,
                   "backend": {"service": {"name": backend, "port": {"number": 80}}}})
        })
        .collect();
    let mut value = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": paths}}]},
    });
    if let Some(class) = class {
        value["spec"]["ingressClassName"] = json!(class);
    }
    value
}

fn route(kind: &str, rules: Value) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"parentRefs": [{"name": "eg"}], "rules": rules},
    })
}

/// Objects that exercise each rule's condition (and some that must be spared).
fn variants() -> Vec<Value> {
    const P: &str = "nginx.ingress.kubernetes.io";
    let a = |pairs: &[(&str, &str)]| -> Value {
        pairs
            .iter()
            .map(|(k, v)| (format!("{P}/{k}"), json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let literal = [("/", "Prefix")];
    let regex = [("/api(/|$)(.*)", "ImplementationSpecific")];
    let mut out = vec![
        ingress(json!({}), Some("nginx"), &literal, "web"),
        ingress(json!({}), None, &literal, "web"),
        ingress(a(&[("affinity", "cookie")]), Some("nginx"), &regex, "web"),
        ingress(
            a(&[("affinity", "cookie"), ("use-regex", "true")]),
            Some("nginx"),
            &regex,
            "web",
        ),
        ingress(
            a(&[("affinity", "cookie"), ("use-regex", "true")]),
            None,
            &regex,
            "web",
        ),
        ingress(
            a(&[("affinity", "cookie"), ("session-cookie-path", "/api(.*)")]),
            Some("nginx"),
            &regex,
            "web",
        ),
        ingress(
            a(&[("affinity", "cookie"), ("session-cookie-path", "/other")]),
            Some("nginx"),
            &[("/api", "Prefix")],
            "web",
        ),
        ingress(
            a(&[("affinity", "cookie"), ("service-upstream", "true")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("affinity", "cookie"), ("ssl-passthrough", "true")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[
                ("affinity", "cookie"),
                ("upstream-hash-by", "$remote_addr"),
                ("load-balance", "ewma"),
            ]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("affinity", "cookie"), ("session-cookie-samesite", "none")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("affinity", "Cookie"), ("affinity-mode", "sticky")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("session-cookie-name", "route")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("affinity-canary-behavior", "legacy")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("session-cookie-hash", "sha1"), ("session-cookie-nam", "x")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            a(&[("canary", "true"), ("affinity", "cookie")]),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(a(&[("use-regex", "true")]), Some("nginx"), &literal, "web"),
        ingress(
            a(&[("rewrite-target", "/$2")]),
            Some("nginx"),
            &regex,
            "web",
        ),
        ingress(json!({}), Some("nginx"), &regex, "web"),
        ingress(json!({}), Some("nginx"), &[("/api/(.*)", "Prefix")], "web"),
        ingress(json!({}), Some("nginx"), &[("/api.v1", "Exact")], "web"),
        ingress(
            json!({}),
            Some("nginx"),
            &literal,
            "web.other.svc.cluster.local",
        ),
        ingress(
            json!({}),
            Some("nginx"),
            &literal,
            "web.shop.svc.cluster.local",
        ),
        ingress(json!({}), Some("nginx"), &literal, "Web_Service"),
        ingress(json!({}), Some("traefik"), &literal, "web"),
        ingress(json!({}), Some("other"), &literal, "web"),
        ingress(a(&[("affinity", "cookie")]), Some("other"), &literal, "web"),
        ingress(a(&[("affinity", "cookie")]), Some("gce"), &literal, "web"),
        ingress(
            json!({"ingress.kubernetes.io/affinity": "cookie"}),
            Some("gce"),
            &literal,
            "web",
        ),
        ingress(
            json!({"nginx.org/sticky": "x", "nginx.ingress.kubernetes.io/affinity": "cookie"}),
            Some("nginx"),
            &literal,
            "web",
        ),
        ingress(
            json!({"kubernetes.io/ingress.class": "nginx", "example.org/session-cookie-name": "x"}),
            None,
            &literal,
            "web",
        ),
        ingress(
            json!({"kubernetes.io/ingress.class": "other"}),
            None,
            &regex,
            "web",
        ),
    ];
    // The default backend, and v1beta1 field names in a v1 Ingress.
    let mut default_backend = ingress(a(&[("affinity", "cookie")]), Some("nginx"), &[], "web");
    default_backend["spec"] = json!({"ingressClassName": "nginx",
        "defaultBackend": {"service": {"name": "web.other", "port": {"number": 80}}}});
    out.push(default_backend);
    let mut legacy_fields = ingress(json!({}), Some("nginx"), &literal, "web");
    legacy_fields["spec"]["rules"][0]["http"]["paths"][0]["backend"] =
        json!({"serviceName": "web", "servicePort": 80});
    out.push(legacy_fields);
    let mut legacy_default = ingress(json!({}), Some("nginx"), &literal, "web");
    legacy_default["spec"]["backend"] = json!({"serviceName": "web", "servicePort": 80});
    out.push(legacy_default);
    let mut beta = ingress(json!({}), Some("nginx"), &literal, "web");
    beta["apiVersion"] = json!("networking.k8s.io/v1beta1");
    out.push(beta);

    // Routes.
    let backend = |name: &str| json!({"name": name, "port": 80});
    let persistence = json!({"sessionName": "route", "type": "Cookie"});
    for kind in ["HTTPRoute", "GRPCRoute"] {
        out.push(route(kind, json!([{"backendRefs": [backend("web")]}])));
        out.push(route(
            kind,
            json!([{"backendRefs": [backend("web.other.svc.cluster.local")]}]),
        ));
        out.push(route(
            kind,
            json!([{"backendRefs": [backend("web.shop.svc.cluster.local")]}]),
        ));
        out.push(route(
            kind,
            json!([{"backendRefs": [backend("web")], "sessionPersistence": persistence}]),
        ));
        out.push(route(
            kind,
            json!([{"backendRefs": [{"name": "web", "namespace": "other", "port": 80}]}]),
        ));
        out.push(route(
            kind,
            json!([{"backendRefs": [{"name": "web", "namespace": "shop", "port": 80}]}]),
        ));
    }
    out.push(route(
        "HTTPRoute",
        json!([{
        "matches": [{"path": {"type": "RegularExpression", "value": "/api(/|$)(.*)"}}],
        "sessionPersistence": persistence, "backendRefs": [backend("web")]}]),
    ));
    out.push(route(
        "HTTPRoute",
        json!([{
        "matches": [{"path": {"type": "RegularExpression", "value": "/api(/|$)(.*)"}}],
        "backendRefs": [backend("web")]}]),
    ));
    out.push(route(
        "HTTPRoute",
        json!([{
        "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
        "sessionPersistence": persistence, "backendRefs": [backend("web")]}]),
    ));

    // Services.
    let service = json!({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "web", "namespace": "shop"},
                         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let with = |spec: Value, annotations: Value| {
        let mut s = service.clone();
        if !spec.is_null() {
            s["spec"] = spec;
        }
        s["metadata"]["annotations"] = annotations;
        s
    };
    let external = json!({"type": "ExternalName", "externalName": "web.other.svc.cluster.local"});
    out.extend([
        service.clone(),
        with(external.clone(), json!({})),
        with(Value::Null, json!({"cloud.google.com/backend-config": "{\"default\": \"web-bc\"}"})),
        with(Value::Null, json!({"beta.cloud.google.com/backend-config": "{\"ports\": {\"80\": \"web-bc\"}}"})),
        with(Value::Null, json!({"team": "shop"})),
        with(json!({"selector": {"app": "web"}, "sessionAffinity": "ClientIP"}), json!({})),
        with(json!({"type": "LoadBalancer", "selector": {"app": "web"}}), json!({})),
        with(external.clone(), json!({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"})),
        with(external, json!({"traefik.ingress.kubernetes.io/service.sticky.cookie.other": "x"})),
        with(Value::Null, json!({"traefik.ingress.kubernetes.io/service.nativelb": "true",
                                 "traefik.ingress.kubernetes.io/service.sticky.cookie.name": "route"})),
        with(Value::Null, json!({"traefik.ingress.kubernetes.io/service.sticky.cookie.maxage": "1h"})),
        with(Value::Null, json!({"traefik.ingress.kubernetes.io/service.passhostheader": "true"})),
    ]);
    out
}

/// Every judged object of the fixtures, then the variants.
fn corpus() -> Vec<Value> {
    let mut documents = Vec::new();
    for dir in ["seed-scenarios", "real-world"] {
        for path in common::fixture_yaml_files(dir) {
            documents.extend(yaml_documents(&path));
        }
    }
    let reviews = common::fixture("admission-reviews");
    for entry in std::fs::read_dir(reviews).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let review: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            for field in ["object", "oldObject"] {
                documents.push(review["request"][field].clone());
            }
        }
    }
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gateway-api");
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            documents.extend(yaml_documents(&path));
        }
    }
    documents.extend(variants());
    // Every rule's declared examples.
    for rule in CATALOGUE {
        for text in [rule.examples.fires, rule.examples.passes] {
            documents.extend(
                serde_norway::Deserializer::from_str(text)
                    .map_while(|doc| Value::deserialize(doc).ok()),
            );
        }
    }
    documents
        .into_iter()
        .flat_map(|d| match d["kind"].as_str() {
            Some("List") => d["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![d],
        })
        .filter(|d| kind_of(d).is_some())
        .collect()
}

fn decode(value: &Value) -> Object {
    objects::decode(value)
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .unwrap_or_else(|| panic!("{value}: not judged"))
}

/// The names of the Services an object routes to, with their namespaces.
fn backends(value: &Value) -> Vec<(String, String)> {
    let own = namespace(value).to_string();
    let mut out = Vec::new();
    let mut push = |name: &Value, ns: Option<&str>| {
        if let Some(name) = name.as_str() {
            out.push((ns.unwrap_or(&own).to_string(), name.to_string()));
        }
    };
    push(&value["spec"]["defaultBackend"]["service"]["name"], None);
    for rule in value["spec"]["rules"].as_array().into_iter().flatten() {
        for path in rule["http"]["paths"].as_array().into_iter().flatten() {
            push(&path["backend"]["service"]["name"], None);
        }
        for backend in rule["backendRefs"].as_array().into_iter().flatten() {
            push(&backend["name"], backend["namespace"].as_str());
        }
    }
    out
}

fn hosts(value: &Value) -> Vec<String> {
    let mut out = vec![String::new()];
    for rule in value["spec"]["rules"].as_array().into_iter().flatten() {
        if let Some(host) = rule["host"].as_str() {
            out.push(host.to_string());
        }
    }
    out
}

fn add(view: &mut OfflineView, value: Value) {
    if let Ok(Some(object)) = objects::decode(&value) {
        view.add(&object);
    }
}

/// Cluster views in which the rules that read other objects fire on `value`: its backend
/// Services ExternalName with Traefik sticky cookies (`external`), or with endpoints,
/// ClientIP affinity and Traefik's nativelb (`endpoints`); on each of its hosts, an Ingress
/// that turns regex mode on and sticky Ingresses with other cookie settings on the same
/// Services and paths; Gateways of Envoy Gateway for its parents; for a Service, sticky
/// Ingresses and routes in front of it and the BackendConfigs it names.
fn hostile_views(value: &Value, policy: &Policy) -> Vec<(&'static str, OfflineView)> {
    let prefix = &policy.annotation_prefix;
    let class = value["spec"]["ingressClassName"].as_str();
    let mut views = Vec::new();
    for shape in ["external", "endpoints"] {
        let mut view = OfflineView::complete();
        for (ns, name) in backends(value) {
            let mut annotations = json!({
                "traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
                "traefik.ingress.kubernetes.io/service.nativelb": "true",
            });
            let spec = if shape == "external" {
                annotations
                    .as_object_mut()
                    .unwrap()
                    .remove("traefik.ingress.kubernetes.io/service.nativelb");
                json!({"type": "ExternalName", "externalName": "web.elsewhere.svc.cluster.local"})
            } else {
                json!({"selector": {"app": name}, "sessionAffinity": "ClientIP", "ports": [{"port": 80}]})
            };
            add(
                &mut view,
                json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "annotations": annotations}, "spec": spec}),
            );
        }
        let ns = namespace(value);
        let (service, port) = backends(value)
            .first()
            .map(|(_, n)| (n.clone(), 80))
            .unwrap_or(("web".into(), 80));
        for (i, host) in hosts(value).iter().enumerate() {
            let rule = |path: &str| {
                let mut r = json!({"http": {"paths": [{"path": path, "pathType": "ImplementationSpecific",
                    "backend": {"service": {"name": service, "port": {"number": port}}}}]}});
                if !host.is_empty() {
                    r["host"] = json!(host);
                }
                r
            };
            let other = |name: String, annotations: Value, path: &str| {
                let mut o = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": {"name": name, "namespace": ns, "annotations": annotations},
                    "spec": {"rules": [rule(path)]}});
                if let Some(class) = class {
                    o["spec"]["ingressClassName"] = json!(class);
                }
                o
            };
            add(
                &mut view,
                other(
                    format!("turner-{i}"),
                    json!({format!("{prefix}/use-regex"): "true"}),
                    "/turn",
                ),
            );
            add(
                &mut view,
                other(
                    format!("sticky-{i}"),
                    json!({
                        format!("{prefix}/affinity"): "cookie",
                        format!("{prefix}/session-cookie-name"): "other",
                        format!("{prefix}/session-cookie-path"): "/elsewhere",
                    }),
                    "/",
                ),
            );
            add(
                &mut view,
                other(
                    format!("regex-{i}"),
                    json!({
                        format!("{prefix}/affinity"): "cookie",
                    }),
                    "/api(/|$)(.*)",
                ),
            );
        }
        for parent in value["spec"]["parentRefs"].as_array().into_iter().flatten() {
            let parent_ns = parent["namespace"].as_str().unwrap_or(ns);
            add(
                &mut view,
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": parent["name"], "namespace": parent_ns},
                "spec": {"gatewayClassName": "eg", "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}),
            );
        }
        add(
            &mut view,
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "eg"}, "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}}),
        );
        if value["kind"] == "Service" {
            let name = value["metadata"]["name"].as_str().unwrap_or("");
            for (i, class) in [Some("nginx"), None, Some("traefik")]
                .into_iter()
                .enumerate()
            {
                for annotations in [json!({format!("{prefix}/affinity"): "cookie"}), json!({})] {
                    let mut front = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "metadata": {"name": format!("front-{i}-{}", annotations.as_object().map_or(0, |a| a.len())),
                                     "namespace": ns, "annotations": annotations},
                        "spec": {"defaultBackend": {"service": {"name": name, "port": {"number": 80}}}}});
                    if let Some(class) = class {
                        front["spec"]["ingressClassName"] = json!(class);
                    }
                    add(&mut view, front);
                }
            }
            add(
                &mut view,
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "sticky-route", "namespace": ns},
                "spec": {"rules": [{"sessionPersistence": {"sessionName": "s"}, "backendRefs": [{"name": name, "port": 80}]}]}}),
            );
            let mut names = Vec::new();
            for text in value["metadata"]["annotations"]
                .as_object()
                .into_iter()
                .flat_map(|a| a.values())
            {
                if let Some(parsed) = text
                    .as_str()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                {
                    collect_strings(&parsed, &mut names);
                }
            }
            for config in names {
                add(
                    &mut view,
                    json!({"apiVersion": "cloud.google.com/v1", "kind": "BackendConfig",
                    "metadata": {"name": config, "namespace": ns},
                    "spec": {"sessionAffinity": {"affinityType": "GENERATED_COOKIE", "affinityCookieTtlSec": 999999}}}),
                );
            }
        }
        views.push((shape, view));
    }
    views
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// `value` under another policy: another annotation prefix and ingress class.
fn translated(value: &Value) -> Value {
    let text = value
        .to_string()
        .replace("nginx.ingress.kubernetes.io/", "example.com/")
        .replace(
            "\"ingressClassName\":\"nginx\"",
            "\"ingressClassName\":\"web\"",
        );
    serde_json::from_str(&text).unwrap()
}

/// The policy a rule's examples are judged under ([`sticky_guard::rules::Examples::policy`]).
fn example_policy(rule: &Rule) -> Policy {
    Policy::from_yaml(rule.examples.policy, rule.id, &sticky_guard::rules::ids()).unwrap()
}

/// Traefik's NGINX provider serves class nginx: its rule fires, ingress-nginx's do not.
#[test]
fn conditions_hold_when_traefiks_nginx_provider_serves_the_class() {
    let policy = Policy::from_yaml(
        "servedBy:\n  nginx: traefik-ingress-nginx\n",
        "t",
        &sticky_guard::rules::ids(),
    )
    .unwrap();
    let (fired, _) = check(&policy, false);
    assert!(fired >= 100, "rules fired in {fired} cases");
}

fn other_policy() -> Policy {
    Policy {
        annotation_prefix: "example.com".into(),
        ingress_classes: vec!["web".into()],
        ..Policy::default()
    }
}

/// One write and what the rules make of it.
struct Case {
    what: String,
    kind: Kind,
    object: Value,
    old: Option<Value>,
    /// `(rule, level)` of each finding at `/validate`.
    validating: Vec<(&'static str, Level)>,
    /// The rules that find something at `/mutate`.
    mutating: Vec<&'static str>,
}

fn cases(policy: &Policy, translate: bool) -> Vec<Case> {
    let mut out = Vec::new();
    for original in corpus() {
        let value = if translate {
            translated(&original)
        } else {
            original
        };
        let kind = kind_of(&value).unwrap();
        let Ok(Some(object)) = objects::decode(&value) else {
            continue;
        };
        let mut plain = value.clone();
        if let Some(meta) = plain["metadata"].as_object_mut() {
            meta.remove("annotations");
        }
        if kind == Kind::Service {
            plain["spec"] = json!({"type": "ClusterIP", "ports": [{"port": 80}]});
        }
        let mut views: Vec<(&str, Option<OfflineView>)> =
            vec![("none", None), ("empty", Some(OfflineView::complete()))];
        views.extend(
            hostile_views(&value, policy)
                .into_iter()
                .map(|(n, v)| (n, Some(v))),
        );
        for old in [None, Some(plain), Some(value.clone())] {
            let old_object = old.as_ref().and_then(|o| objects::decode(o).ok().flatten());
            for (name, view) in &views {
                let mut context = Context::single(policy);
                if let Some(view) = view {
                    context.view = view;
                }
                context.old = old_object.as_ref();
                let validating = rules::evaluate(&object, Phase::Validating, &context)
                    .into_iter()
                    .map(|f| (f.rule, f.level))
                    .collect();
                let mutating = rules::evaluate(&object, Phase::Mutating, &context)
                    .into_iter()
                    .map(|f| f.rule)
                    .collect();
                out.push(Case {
                    what: format!("view {name}, old {}", old.is_some()),
                    kind,
                    object: value.clone(),
                    old: old.clone(),
                    validating,
                    mutating,
                });
            }
        }
    }
    out
}

/// The compiled condition of each webhook.
type Programs = BTreeMap<&'static str, cel::Program>;

fn programs(policy: &Policy) -> Programs {
    WEBHOOKS
        .iter()
        .map(|w| (w.name, compile(&expression(w, policy))))
        .collect()
}

/// The webhook of `kind` that answers for `answers` (Services have no mutating webhook).
fn webhook(kind: Kind, answers: Answers) -> Option<&'static Webhook> {
    WEBHOOKS
        .iter()
        .find(|w| w.answers == answers && w.kinds.contains(&kind))
}

/// What is wrong with `case` under these conditions, if anything.
fn violation(case: &Case, policy: &Policy, programs: &Programs) -> Option<String> {
    let called = |answers| {
        webhook(case.kind, answers)
            .is_some_and(|w| holds(&programs[w.name], &case.object, case.old.as_ref()))
    };
    let (validate, warn, mutate) = (
        called(Answers::Denials),
        called(Answers::Warnings),
        called(Answers::Mutations),
    );
    if validate && warn {
        return Some("both .validate and .warn are called".into());
    }
    // A rule's findings do not depend on the other rules' actions: the cases computed under
    // one policy serve for another that only turns rules off.
    let on = |rule: &str| {
        let rule_of = rules::find(rule).unwrap();
        policy.action(rule, rule_of.default_action)
    };
    for (rule, level) in case.validating.iter().filter(|(r, _)| on(r) != Action::Off) {
        let action = on(rule);
        if (action == Action::Deny || *level == Level::Deny) && !validate {
            return Some(format!(
                "{rule} ({level:?}) fires, but .validate is not called"
            ));
        }
        if !validate && !warn {
            return Some(format!(
                "{rule} ({level:?}) fires, but no validating webhook is called"
            ));
        }
    }
    if case.mutating.iter().any(|r| on(r) != Action::Off) && !mutate {
        return Some("a rule fires at /mutate, but the mutating webhook is not called".into());
    }
    None
}

fn check(policy: &Policy, translate: bool) -> (usize, usize) {
    let programs = programs(policy);
    let (mut fired, mut spared) = (0, 0);
    for case in cases(policy, translate) {
        if let Some(problem) = violation(&case, policy, &programs) {
            panic!(
                "{problem}: {} ({}, old {:?})\nfindings {:?}",
                case.object, case.what, case.old, case.validating
            );
        }
        // Each rule's own condition holds whenever it fires, as well.
        for (rule, _) in &case.validating {
            let own = compile(&(rules::find(rule).unwrap().match_condition)(policy));
            assert!(
                holds(&own, &case.object, case.old.as_ref()),
                "{rule} fires on {} ({}), but its condition is false",
                case.object,
                case.what
            );
        }
        if case.validating.is_empty() {
            let validate = &programs[webhook(case.kind, Answers::Denials).unwrap().name];
            let warn = &programs[webhook(case.kind, Answers::Warnings).unwrap().name];
            spared += usize::from(
                !holds(validate, &case.object, case.old.as_ref())
                    && !holds(warn, &case.object, case.old.as_ref()),
            );
        } else {
            fired += 1;
        }
    }
    (fired, spared)
}

#[test]
fn the_conditions_hold_whenever_a_rule_fires_under_the_default_policy() {
    let (fired, spared) = check(&Policy::default(), false);
    assert!(fired >= 200, "rules fired in {fired} cases");
    assert!(spared >= 100, "the conditions spared {spared} writes");
}

#[test]
fn the_conditions_hold_whenever_a_rule_fires_under_another_prefix_and_class() {
    let (fired, spared) = check(&other_policy(), true);
    assert!(fired >= 200, "rules fired in {fired} cases");
    assert!(spared >= 100, "the conditions spared {spared} writes");
}

/// Each rule alone (every other rule off) fires in some case, where its disjunct is the whole
/// condition of its webhooks: with the disjunct dropped, [`violation`] reports that case.
#[test]
fn dropping_any_rules_disjunct_fails_the_check() {
    let default_cases = cases(&Policy::default(), false);
    for rule in CATALOGUE {
        // The policy its examples are judged under (Traefik's NGINX provider serving class
        // nginx, for the rule about it).
        let mut policy = example_policy(rule);
        let own_cases;
        let all = if policy == Policy::default() {
            &default_cases
        } else {
            own_cases = cases(&policy, false);
            &own_cases
        };
        for other in CATALOGUE.iter().filter(|r| r.id != rule.id) {
            policy.actions.insert(other.id.to_string(), Action::Off);
        }
        let whole = programs(&policy);
        let judged: Vec<&Case> = all.iter().filter(|c| rule.judges(c.kind)).collect();
        let firing: Vec<&Case> = judged
            .iter()
            .copied()
            .filter(|c| {
                c.validating.iter().any(|(r, _)| *r == rule.id) || c.mutating.contains(&rule.id)
            })
            .collect();
        assert!(
            judged
                .iter()
                .all(|c| violation(c, &policy, &whole).is_none()),
            "{}: the whole condition must pass",
            rule.id
        );
        // Each webhook that carries the rule's disjunct, with the disjunct dropped.
        let carrying = WEBHOOKS
            .iter()
            .filter(|w| rules_of(w, &policy).iter().any(|r| r.id == rule.id));
        let mut count = 0;
        for webhook in carrying {
            count += 1;
            let rest: Vec<&Rule> = rules_of(webhook, &policy)
                .into_iter()
                .filter(|r| r.id != rule.id)
                .collect();
            let reduced = match webhook.answers {
                Answers::Warnings => format!("!(false) && ({})", any_of(&rest, &policy)),
                _ => any_of(&rest, &policy),
            };
            let mut dropped = programs(&policy);
            dropped.insert(webhook.name, compile(&reduced));
            assert!(
                firing
                    .iter()
                    .any(|c| violation(c, &policy, &dropped).is_some()),
                "{}: dropping its disjunct from {} goes unnoticed: no case makes it fire there",
                rule.id,
                webhook.name
            );
        }
        assert!(count >= 1, "{} is in no webhook's condition", rule.id);
    }
}

/// The writes of the issue: a plain Ingress and a plain HTTPRoute reach no failing-closed
/// webhook (and no mutating one); a sticky Ingress with a regex path and no cookie path, and
/// an HTTPRoute with session persistence on a RegularExpression match, reach `.validate`.
#[test]
fn plain_writes_reach_no_failing_closed_webhook_and_sticky_ones_do() {
    let policy = Policy::default();
    let programs = programs(&policy);
    let called = |kind: Kind, answers, object: &Value| {
        holds(
            &programs[webhook(kind, answers).unwrap().name],
            object,
            None,
        )
    };
    let plain = ingress(json!({}), Some("nginx"), &[("/", "Prefix")], "web");
    assert!(!called(Kind::Ingress, Answers::Denials, &plain));
    assert!(!called(Kind::Ingress, Answers::Mutations, &plain));
    let plain_route = route(
        "HTTPRoute",
        json!([{"backendRefs": [{"name": "web", "port": 80}]}]),
    );
    for answers in [Answers::Denials, Answers::Warnings, Answers::Mutations] {
        assert!(
            !called(Kind::HttpRoute, answers, &plain_route),
            "{answers:?}"
        );
    }
    let sticky = ingress(
        json!({"nginx.ingress.kubernetes.io/affinity": "cookie", "nginx.ingress.kubernetes.io/use-regex": "true"}),
        Some("nginx"),
        &[("/api(/|$)(.*)", "ImplementationSpecific")],
        "web",
    );
    assert!(called(Kind::Ingress, Answers::Denials, &sticky));
    assert!(called(Kind::Ingress, Answers::Mutations, &sticky));
    assert!(!called(Kind::Ingress, Answers::Warnings, &sticky));
    let regex_route = route(
        "HTTPRoute",
        json!([{
        "matches": [{"path": {"type": "RegularExpression", "value": "/api(/|$)(.*)"}}],
        "sessionPersistence": {"sessionName": "route"}, "backendRefs": [{"name": "web", "port": 80}]}]),
    );
    assert!(called(Kind::HttpRoute, Answers::Denials, &regex_route));
    // A Service: a plain ClusterIP one reaches nothing; one becoming ExternalName fails closed.
    let clusterip =
        common::captured_review("service-create-clusterip.json")["request"]["object"].clone();
    assert!(!called(Kind::Service, Answers::Denials, &clusterip));
    assert!(!called(Kind::Service, Answers::Warnings, &clusterip));
    let external =
        common::captured_review("service-create-externalname-proxy.json")["request"]["object"]
            .clone();
    assert!(called(Kind::Service, Answers::Denials, &external));
    let program = &programs[webhook(Kind::Service, Answers::Denials).unwrap().name];
    assert!(
        !holds(program, &external, Some(&external)),
        "it already was ExternalName"
    );
    let _ = decode(&plain);
}

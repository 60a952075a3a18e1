//! The exported admission policies (`sticky-guard export policies`) agree with the engine.
//!
//! The API server's order is modelled: mutating admission (every exported
//! MutatingAdmissionPolicy), then its own validation of the object (the fields the policies
//! read: [`apiserver_validation`]), then validating admission; an object the API server refuses
//! never reaches a ValidatingAdmissionPolicy. Each exported ValidatingAdmissionPolicy, evaluated
//! with a CEL interpreter (the `cel` crate, with only what Kubernetes' CEL has: the standard
//! library, the extended strings library and, for mutations, the `JSONPatch` type) the way
//! kube-apiserver evaluates it (matchConditions, then variables, then validations), allows
//! exactly the objects on which its rule does not fire, on every fixture object (seed scenarios, real-world manifests, captured reviews,
//! tests/data/gateway-api, and variants), and its messageExpression names what the engine's
//! message names. Each MutatingAdmissionPolicy gives exactly the engine's JSONPatch for that
//! rule, or none where its documented domain ends (the webhook's part), and the object it
//! patches then passes the validating policy. The committed manifests/policies/ is the
//! generator's output, and every `--api` decodes with the k8s-openapi types of Kubernetes 1.36.

mod common;

use cel::objects::Key;
use k8s_openapi::api::admissionregistration::{v1, v1alpha1, v1beta1};
use serde_json::{Value, json};
use std::sync::Arc;
use sticky_guard::policies::{self, Export, MutatingApi};
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

/// An Ingress in namespace `app` with these annotations and `(host, paths)` rules.
fn ingress(annotations: Value, rules: &[(Option<&str>, &[&str])]) -> Value {
    let rules: Vec<Value> = rules
        .iter()
        .map(|(host, paths)| {
            let paths: Vec<Value> = paths
                .iter()
                .map(|p| {
                    let mut path = json!({"pathType": "ImplementationSpecific",
                        "backend": {"service": {"name": "web", "port": {"number": 80}}}});
                    if !p.is_empty() {
                        path["path"] = json!(p);
                    }
                    path
                })
                .collect();
            let mut rule = json!({"http": {"paths": paths}});
            if let Some(host) = host {
                rule["host"] = json!(host);
            }
            rule
        })
        .collect();
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "v", "namespace": "app", "annotations": annotations},
        "spec": {"rules": rules}})
}

/// Variants the fixtures lack: each backend position, names invalid in each way, other kinds;
/// sticky regex Ingresses of every shape the mutation derives and of shapes beyond it; cookie
/// paths literal and not; annotations as the controller reads them (trimmed, ParseBool).
fn variants() -> Vec<Value> {
    let backend_ingress = |backend: Value, default: Option<Value>, class: Option<&str>| {
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
        out.push(backend_ingress(service(name), None, None));
        out.push(backend_ingress(service("web"), Some(service(name)), None));
        out.push(backend_ingress(service(name), None, Some("gce")));
    }
    out.push(backend_ingress(resource, None, None));
    let mut annotated = backend_ingress(service("web.other"), None, None);
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

    // cookie-path-for-regex: shapes of paths.
    let sticky = json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
        "nginx.ingress.kubernetes.io/use-regex": "true"});
    let path_sets: &[&[&str]] = &[
        &["/mysite(/|$)(.*)"],
        &["/a/b(/|$)(.*)", "/a/c(/|$)(.*)"],
        &["/api(/|$)(.*)", "/web(/|$)(.*)"],
        &["/a/b/c/d(/|$)(.*)", "/a/b/c/e(/|$)(.*)"],
        &["/a/b/c/d/e(/|$)(.*)", "/a/x(/|$)(.*)"],
        &["/a/b/c/d/e(/|$)(.*)", "/a/b/x(/|$)(.*)"],
        &["/shop/(.*)", "/shop/cart/.+"],
        &["/api/v[0-9]+/users"],
        &["/(.*)"],
        &["/app", "/app/(.*)"],
        &["/shop/(cart|checkout)"],
        &["", "/x(/|$)(.*)"],
        &["/a(/|$)(.*)", "/"],
        &["/a.b(/|$)(.*)"],
        &["^/a(/|$)(.*)"],
        &["/x/y(/|$)", "/x/y/z(/|$).*"],
        &["/x/y(/|$)", "/x/yz(/|$)"],
    ];
    for paths in path_sets {
        out.push(ingress(sticky.clone(), &[(Some("a.example"), paths)]));
    }
    // Two hosts: the paths of both count, regex mode per host.
    out.push(ingress(
        sticky.clone(),
        &[
            (Some("a.example"), &["/a/x(/|$)(.*)"]),
            (Some("b.example"), &["/a/y(/|$)(.*)"]),
        ],
    ));
    let with = |extra: Value| {
        let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
        for (k, v) in extra.as_object().unwrap() {
            annotations[k] = v.clone();
        }
        annotations
    };
    let regex_paths: &[&str] = &["/mysite(/|$)(.*)"];
    for extra in [
        json!({"nginx.ingress.kubernetes.io/use-regex": "True"}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "1"}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "yes"}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "false"}),
        json!({"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
        json!({"nginx.ingress.kubernetes.io/rewrite-target": "/a b"}),
        json!({}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "true",
               "nginx.ingress.kubernetes.io/affinity": " cookie "}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "true",
               "nginx.ingress.kubernetes.io/affinity": "cookie\n"}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "true",
               "nginx.ingress.kubernetes.io/affinity": "Cookie"}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "true",
               "nginx.ingress.kubernetes.io/canary": "true"}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "true",
               "nginx.ingress.kubernetes.io/session-cookie-path": ""}),
        json!({"nginx.ingress.kubernetes.io/use-regex": "true",
               "nginx.ingress.kubernetes.io/session-cookie-path": "/mysite"}),
    ] {
        out.push(ingress(with(extra), &[(None, regex_paths)]));
    }
    // rewrite-target turns regex mode on only for a host with a path that differs from it.
    let rewrite = with(json!({"nginx.ingress.kubernetes.io/rewrite-target": "/b"}));
    out.push(ingress(
        rewrite.clone(),
        &[
            (Some("a.example"), &["/b"]),
            (Some("b.example"), &["/m(/|$)(.*)"]),
        ],
    ));
    out.push(ingress(
        rewrite.clone(),
        &[(Some("a.example"), &["/b", "/m(/|$)(.*)"])],
    ));
    let mut other_class = ingress(sticky.clone(), &[(None, regex_paths)]);
    other_class["spec"]["ingressClassName"] = json!("traefik");
    out.push(other_class);

    // cookie-path-not-literal: values as written and as the controller trims them.
    for cookie_path in [
        "/mysite",
        " /app",
        "/my site",
        "mysite",
        "/a?b",
        "/a+b",
        "/a(/|$)",
        "/a\nb",
        "   ",
        "/é",
        "/a,b&c=d:e~f",
        "/a\t",
    ] {
        for affinity in ["cookie", "none"] {
            out.push(ingress(
                json!({"nginx.ingress.kubernetes.io/affinity": affinity,
                       "nginx.ingress.kubernetes.io/session-cookie-path": cookie_path}),
                &[(None, &["/app"])],
            ));
        }
    }
    // service-upstream, ssl-passthrough: ParseBool on sticky Ingresses; canary affinity.
    for (flag, value) in [
        ("service-upstream", "true"),
        ("service-upstream", "True"),
        ("service-upstream", "yes"),
        ("ssl-passthrough", "1"),
        ("ssl-passthrough", "true"),
        ("ssl-passthrough", "false"),
    ] {
        for affinity in ["cookie", ""] {
            out.push(ingress(
                json!({"nginx.ingress.kubernetes.io/affinity": affinity,
                       format!("nginx.ingress.kubernetes.io/{flag}"): value}),
                &[(None, &["/"])],
            ));
        }
    }
    for extra in [
        json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
        json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
               "nginx.ingress.kubernetes.io/session-cookie-name": "s",
               "nginx.ingress.kubernetes.io/affinity-canary-behavior": "legacy"}),
        json!({"nginx.ingress.kubernetes.io/affinity-canary-behavior": "legacy"}),
        json!({"nginx.ingress.kubernetes.io/session-cookie-name": ""}),
        json!({"nginx.ingress.kubernetes.io/affinity-mode": "persistent",
               "example.com/affinity": "cookie"}),
    ] {
        for canary in ["true", "no"] {
            let mut annotations = extra.clone();
            annotations["nginx.ingress.kubernetes.io/canary"] = json!(canary);
            out.push(ingress(annotations, &[(None, &["/"])]));
        }
    }
    out
}

/// The CEL environment of Kubernetes' admission policies, as far as the exported CEL uses it.
fn environment() -> Arc<cel::Env> {
    use cel::common::types::{CelString, STRING_TYPE};
    let mut env = cel::Env::stdlib();
    env.add_extension(cel::extensions::strings).unwrap();
    env.add_type(
        cel::StructDef::new("JSONPatch".into())
            .add_field("op".into(), STRING_TYPE)
            .add_field("path".into(), STRING_TYPE)
            // A field with a default takes a value of any type (the `dyn` of Kubernetes'
            // declaration); StructDef type-checks the others.
            .add_field_with_default("value".into(), Box::new(CelString::from(""))),
    )
    .unwrap();
    Arc::new(env)
}

/// Evaluates `expression` on `object` with `variables` (a CEL map) bound.
fn cel_eval(
    env: &Arc<cel::Env>,
    expression: &str,
    object: &Value,
    variables: &cel::Value,
) -> cel::Value {
    let program = env
        .compile(expression)
        .unwrap_or_else(|e| panic!("the exported expression is valid CEL: {e}\n{expression}"));
    let mut context = cel::Context::with_env(env.clone());
    context.add_variable("object", object.clone()).unwrap();
    context.add_variable("oldObject", Value::Null).unwrap();
    context.add_variable_from_value("variables", variables.clone());
    program
        .execute(&context)
        .unwrap_or_else(|e| panic!("{expression}\non {object}: {e:?}"))
}

fn cel_bool(env: &Arc<cel::Env>, expression: &str, object: &Value, variables: &cel::Value) -> bool {
    match cel_eval(env, expression, object, variables) {
        cel::Value::Bool(b) => b,
        other => panic!("{expression} gives {other:?} on {object}"),
    }
}

/// `spec.variables`, each evaluated in order (eagerly: each must evaluate on every object, where
/// the API server evaluates only those used), as the CEL map `variables`.
fn bind_variables(env: &Arc<cel::Env>, spec: &Value, object: &Value) -> cel::Value {
    let mut bound = std::collections::HashMap::new();
    for variable in spec["variables"].as_array().into_iter().flatten() {
        let so_far = cel::Value::Map(cel::objects::Map {
            map: Arc::new(bound.clone()),
        });
        let value = cel_eval(
            env,
            variable["expression"].as_str().unwrap(),
            object,
            &so_far,
        );
        bound.insert(
            Key::String(Arc::new(variable["name"].as_str().unwrap().to_string())),
            value,
        );
    }
    cel::Value::Map(cel::objects::Map {
        map: Arc::new(bound),
    })
}

/// Whether the policy's matchConditions all hold.
fn applies(env: &Arc<cel::Env>, spec: &Value, object: &Value) -> bool {
    let none = bind_variables(env, &json!({}), object);
    spec["matchConditions"].as_array().is_none_or(|c| {
        c.iter()
            .all(|c| cel_bool(env, c["expression"].as_str().unwrap(), object, &none))
    })
}

/// A CEL value (maps, lists, strings, numbers, booleans, null) as JSON.
fn to_json(value: &cel::Value) -> Value {
    match value {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => json!(b),
        cel::Value::Int(i) => json!(i),
        cel::Value::UInt(u) => json!(u),
        cel::Value::Float(f) => json!(f),
        cel::Value::String(s) => json!(s.as_str()),
        cel::Value::List(items) => items.iter().map(to_json).collect(),
        cel::Value::Map(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map.map.iter() {
                let Key::String(key) = key else {
                    panic!("non-string key {key:?}")
                };
                out.insert(key.to_string(), to_json(value));
            }
            Value::Object(out)
        }
        other => panic!("no JSON for {other:?}"),
    }
}

/// Kubernetes' evaluation of a MutatingAdmissionPolicy with one JSONPatch mutation: the patch
/// (empty when it does not apply), as JSON operations.
fn map_patch(env: &Arc<cel::Env>, map: &Value, object: &Value) -> Vec<Value> {
    let spec = &map["spec"];
    if !applies(env, spec, object) {
        return Vec::new();
    }
    let variables = bind_variables(env, spec, object);
    let expression = spec["mutations"][0]["jsonPatch"]["expression"]
        .as_str()
        .unwrap();
    // Read the JSONPatch values out field by field, as the API server does.
    let fields = format!("({expression}).map(x, {{'op': x.op, 'path': x.path, 'value': x.value}})");
    match to_json(&cel_eval(env, &fields, object, &variables)) {
        Value::Array(ops) => ops,
        other => panic!("{other}"),
    }
}

/// The verdict of a ValidatingAdmissionPolicy on `object`: `None` when allowed, else the
/// message of the first failing validation.
fn vap_verdict(env: &Arc<cel::Env>, vap: &Value, object: &Value) -> Option<String> {
    let spec = &vap["spec"];
    if !applies(env, spec, object) {
        return None;
    }
    let variables = bind_variables(env, spec, object);
    spec["validations"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|v| {
            if cel_bool(env, v["expression"].as_str().unwrap(), object, &variables) {
                return None;
            }
            match cel_eval(
                env,
                v["messageExpression"].as_str().unwrap(),
                object,
                &variables,
            ) {
                cel::Value::String(s) => Some(s.to_string()),
                other => panic!("{other:?}"),
            }
        })
}

/// kube-apiserver's own validation of an Ingress, for the fields the exported policies read, as
/// `pkg/apis/networking/validation/validation.go` (kubernetes/kubernetes) writes it; it runs
/// after mutating and before validating admission. `None` when the object passes, else the
/// first error.
///
/// - `validateHTTPIngressRuleValue`: a rule's `http.paths` is not empty;
/// - `validateHTTPIngressPath`: `pathType` is required and one of `Exact`, `Prefix`,
///   `ImplementationSpecific`; for `Exact` and `Prefix` the path is absolute, holds none of
///   `invalidPathSequences` (`//`, `/./`, `/../`, `%2f`, `%2F`) and ends with none of
///   `invalidPathSuffixes` (`/..`, `/.`); for `ImplementationSpecific` a non-empty path is
///   absolute;
/// - `validateIngressBackend` (for `spec.defaultBackend` and every path): a Service backend's
///   name is a DNS-1035 label (`ValidateServiceName`), and it has a port name or number.
///
/// Gateway API routes are custom resources: their schema does not make `backendRefs[].name` a
/// DNS label (a dotted name is stored), so nothing is refused here for them.
fn apiserver_validation(object: &Value) -> Option<String> {
    if object["kind"] != "Ingress" {
        return None;
    }
    let backend = |backend: &Value, at: &str| -> Option<String> {
        let service = backend.get("service")?;
        let name = service["name"].as_str().unwrap_or_default();
        if !sticky_guard::objects::is_dns1035_label(name) {
            return Some(format!("{at}.service.name: Invalid value: {name:?}"));
        }
        let port = &service["port"];
        (port.get("name").is_none() && port.get("number").is_none())
            .then(|| format!("{at}: Required value: port name or number is required"))
    };
    if let Some(default) = object["spec"].get("defaultBackend")
        && let Some(error) = backend(default, "spec.defaultBackend")
    {
        return Some(error);
    }
    for (r, rule) in object["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(http) = rule.get("http") else {
            continue;
        };
        let paths = http["paths"].as_array().cloned().unwrap_or_default();
        if paths.is_empty() {
            return Some(format!("spec.rules[{r}].http.paths: Required value"));
        }
        for (p, path) in paths.iter().enumerate() {
            let at = format!("spec.rules[{r}].http.paths[{p}]");
            let value = path["path"].as_str().unwrap_or_default();
            match path["pathType"].as_str() {
                None => return Some(format!("{at}.pathType: Required value")),
                Some("Exact" | "Prefix") => {
                    if !value.starts_with('/') {
                        return Some(format!("{at}.path: must be an absolute path"));
                    }
                    if ["//", "/./", "/../", "%2f", "%2F"]
                        .iter()
                        .any(|s| value.contains(s))
                        || ["/..", "/."].iter().any(|s| value.ends_with(s))
                    {
                        return Some(format!("{at}.path: Invalid value: {value:?}"));
                    }
                }
                Some("ImplementationSpecific") => {
                    if !value.is_empty() && !value.starts_with('/') {
                        return Some(format!("{at}.path: must be an absolute path"));
                    }
                }
                Some(other) => return Some(format!("{at}.pathType: Unsupported value: {other}")),
            }
            if let Some(error) = backend(&path["backend"], &format!("{at}.backend")) {
                return Some(error);
            }
        }
    }
    None
}

/// The object as the API server stores or refuses it after mutating admission: every exported
/// MutatingAdmissionPolicy applied in order (`Ok`), then the API server's validation (`Err` with
/// its first error: no validating policy sees the object).
fn after_mutation_and_validation(
    env: &Arc<cel::Env>,
    exported: &[(String, String, Value)],
    object: &Value,
) -> Result<Value, String> {
    let mut object = object.clone();
    for (_, _, map) in exported
        .iter()
        .filter(|(_, kind, _)| kind == "MutatingAdmissionPolicy")
    {
        let ops = map_patch(env, map, &object);
        if !ops.is_empty() {
            let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
            json_patch::patch(&mut object, &patch).unwrap();
        }
    }
    match apiserver_validation(&object) {
        Some(error) => Err(error),
        None => Ok(object),
    }
}

#[test]
fn the_apiserver_validation_model_refuses_what_the_apiserver_refuses() {
    let valid = ingress(json!({}), &[(Some("a.example"), &["/a", "/b(/|$)(.*)"])]);
    assert_eq!(apiserver_validation(&valid), None);
    let mut dotted = valid.clone();
    dotted["spec"]["rules"][0]["http"]["paths"][1]["backend"]["service"]["name"] =
        json!("web.other.svc.cluster.local");
    assert!(
        apiserver_validation(&dotted)
            .unwrap()
            .contains("paths[1].backend.service.name")
    );
    let mut default = valid.clone();
    default["spec"]["defaultBackend"] = json!({"service": {"name": "Web", "port": {"number": 80}}});
    assert!(
        apiserver_validation(&default)
            .unwrap()
            .starts_with("spec.defaultBackend")
    );
    for (path_type, path, refused) in [
        ("Prefix", "a", true),
        ("Prefix", "/a//b", true),
        ("Exact", "/a/..", true),
        ("Prefix", "/a%2Fb", true),
        ("ImplementationSpecific", "a(.*)", true),
        ("ImplementationSpecific", "", false),
        ("ImplementationSpecific", "/a/(.*)", false),
        ("Prefix", "/a.b", false),
        ("Regex", "/a", true),
    ] {
        let mut object = valid.clone();
        object["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!(path_type);
        object["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!(path);
        assert_eq!(
            apiserver_validation(&object).is_some(),
            refused,
            "{path_type} {path:?}"
        );
    }
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r"}, "spec": {"rules": [{"backendRefs": [{"name": "web.other"}]}]}});
    assert_eq!(apiserver_validation(&route), None);
}

/// No dead policy: every exported ValidatingAdmissionPolicy denies at least one fixture object
/// that the API server lets through to validating admission (after the mutating policies), and
/// every MutatingAdmissionPolicy patches at least one.
#[test]
fn no_exported_policy_is_dead() {
    let env = environment();
    let exported = exported();
    let mut denied = std::collections::BTreeMap::<&str, usize>::new();
    let mut patched = std::collections::BTreeMap::<&str, usize>::new();
    for (object, _) in judged_objects() {
        for (id, kind, policy) in &exported {
            if kind == "MutatingAdmissionPolicy" && !map_patch(&env, policy, &object).is_empty() {
                *patched.entry(id).or_default() += 1;
            }
        }
        let Ok(stored) = after_mutation_and_validation(&env, &exported, &object) else {
            continue;
        };
        for (id, kind, vap) in &exported {
            if kind == "ValidatingAdmissionPolicy" && vap_verdict(&env, vap, &stored).is_some() {
                *denied.entry(id).or_default() += 1;
            }
        }
    }
    for (id, kind, _) in &exported {
        let counts = if kind == "ValidatingAdmissionPolicy" {
            &denied
        } else {
            &patched
        };
        assert!(
            counts.get(id.as_str()).copied().unwrap_or(0) > 0,
            "the {kind} of {id} never acts on an object the API server lets through: \
             {denied:?} {patched:?}"
        );
    }
}

/// The exported policies as the default policy writes them: (rule ID, kind, policy object).
fn exported() -> Vec<(String, String, Value)> {
    policies::policies(&Policy::default(), MutatingApi::V1)
        .into_iter()
        .flat_map(|f| f.documents)
        .filter(|d| d["kind"].as_str().is_some_and(|k| k.ends_with("Policy")))
        .map(|d| {
            let id = d["metadata"]["name"]
                .as_str()
                .unwrap()
                .trim_start_matches("sticky-guard.")
                .to_string();
            (id, d["kind"].as_str().unwrap().to_string(), d)
        })
        .collect()
}

/// The objects a policy sees: the served versions (the API server converts legacy Ingresses
/// first), decoded by the engine.
fn judged_objects() -> Vec<(Value, sticky_guard::objects::Object)> {
    fixture_objects()
        .into_iter()
        .chain(variants())
        .filter(|o| {
            matches!(
                o["apiVersion"].as_str(),
                Some("networking.k8s.io/v1" | "gateway.networking.k8s.io/v1")
            )
        })
        .filter_map(|o| match sticky_guard::objects::decode(&o) {
            Ok(Some(decoded)) => Some((o, decoded)),
            _ => None,
        })
        .collect()
}

#[test]
fn exported_validations_agree_with_the_engine_on_every_fixture_object() {
    let env = environment();
    let policy = Policy::default();
    let exported = exported();
    let validating: Vec<_> = exported
        .iter()
        .filter(|(_, kind, _)| kind == "ValidatingAdmissionPolicy")
        .collect();
    assert_eq!(validating.len(), 6);
    let mut compared = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    for (object, _) in judged_objects() {
        // The API server's order: mutating policies, its own validation, validating policies.
        // The engine judges what the validating policies see (the webhook's validating phase
        // also comes after mutation).
        let Ok(object) = after_mutation_and_validation(&env, &exported, &object) else {
            continue;
        };
        let Ok(Some(decoded)) = sticky_guard::objects::decode(&object) else {
            continue;
        };
        let findings = rules::evaluate(&decoded, Phase::Validating, &Context::single(&policy));
        for (id, _, vap) in &validating {
            let rule = rules::find(id).unwrap();
            if !rule.judges(decoded.kind()) {
                continue;
            }
            let verdict = vap_verdict(&env, vap, &object);
            let fired: Vec<_> = findings.iter().filter(|f| f.rule == id.as_str()).collect();
            assert_eq!(
                verdict.is_none(),
                fired.is_empty(),
                "{id} on {object}: {fired:?}"
            );
            let counts = compared.entry(id).or_default();
            counts.0 += 1;
            if let Some(message) = verdict {
                counts.1 += 1;
                // The engine's first finding names the value in backticks; so must the policy.
                // A message naming nothing is the engine's, word for word.
                match fired[0].message.split('`').nth(1) {
                    // Line breaks escaped: the API server drops a message holding one.
                    Some(named) => assert!(
                        !message.contains(['\n', '\r'])
                            && message.contains(&format!(
                                "`{}`",
                                named
                                    .replace('\\', "\\\\")
                                    .replace('\n', "\\n")
                                    .replace('\r', "\\r")
                                    .replace('\t', "\\t")
                            )),
                        "{id}: {message} vs {}",
                        fired[0].message
                    ),
                    None => assert_eq!(message, fired[0].message, "{id}"),
                }
            }
        }
    }
    for (id, (seen, denied)) in &compared {
        assert!(
            *seen >= 12 && *denied >= 2,
            "{id}: {seen} compared, {denied} denied"
        );
    }
    assert_eq!(compared.len(), 6, "{compared:?}");
}

/// The cookie path the mutation can derive for these paths: the first path's derivation and its
/// three nearest ancestors, and `/`.
fn mutation_candidates(paths: &[&str]) -> Vec<String> {
    let mut candidates = vec![sticky_guard::cookie_path::derive(paths.first().copied()).path];
    for _ in 0..3 {
        let last = candidates.last().unwrap().clone();
        candidates.push(match last.rfind('/') {
            Some(i) if i > 0 => last[..i].to_string(),
            _ => "/".to_string(),
        });
    }
    candidates.push("/".into());
    candidates
}

#[test]
fn the_mutation_gives_the_engine_patch_where_it_derives_and_none_elsewhere() {
    let env = environment();
    let policy = Policy::default();
    let exported = exported();
    let (id, _, map) = exported
        .iter()
        .find(|(id, kind, _)| kind == "MutatingAdmissionPolicy" && id == "cookie-path-for-regex")
        .unwrap();
    let vap = &exported
        .iter()
        .find(|(i, kind, _)| i == id && kind == "ValidatingAdmissionPolicy")
        .unwrap()
        .2;
    let shape = regex::Regex::new(&policies::nginx::derivable_path()).unwrap();
    let (mut patched, mut left_to_webhook) = (0, 0);
    for (object, decoded) in judged_objects() {
        if decoded.kind() != sticky_guard::objects::kinds::Kind::Ingress {
            continue;
        }
        let fixes: Vec<_> = rules::evaluate(&decoded, Phase::Mutating, &Context::single(&policy))
            .into_iter()
            .filter(|f| f.rule == id.as_str())
            .filter_map(|f| f.fix)
            .collect();
        let existing: Option<std::collections::BTreeMap<String, String>> = object
            .pointer("/metadata/annotations")
            .map(|a| serde_json::from_value(a.clone()).unwrap());
        let engine = serde_json::to_value(rules::json_patch(&fixes, existing.as_ref())).unwrap();
        let ops = map_patch(&env, map, &object);
        if !ops.is_empty() {
            assert_eq!(Value::Array(ops.clone()), engine, "on {object}");
            patched += 1;
            // Mutation runs before validation: the patched object passes the validating policy.
            let mut after = object.clone();
            let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
            json_patch::patch(&mut after, &patch).unwrap();
            assert_eq!(
                vap_verdict(&env, vap, &after),
                None,
                "after the patch: {after}"
            );
            continue;
        }
        if engine == json!([]) {
            continue;
        }
        // The engine fixes what the mutation leaves: only beyond the documented domain.
        let paths: Vec<String> = match &decoded {
            sticky_guard::objects::Object::Ingress(i) => {
                i.paths().iter().map(|p| p.path.to_string()).collect()
            }
            _ => unreachable!(),
        };
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let derived = &fixes
            .iter()
            .find_map(|f| match f {
                rules::Fix::SetAnnotation { value, .. } => Some(value.clone()),
                _ => None,
            })
            .unwrap();
        let shaped = object["spec"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["http"]["paths"].as_array().cloned().unwrap_or_default())
            .all(|p| shape.is_match(p["path"].as_str().unwrap_or("/")));
        assert!(
            !shaped || !mutation_candidates(&paths).contains(derived),
            "the mutation should have derived {derived} for {paths:?}"
        );
        left_to_webhook += 1;
    }
    assert!(patched >= 10, "{patched} patched");
    assert!(
        left_to_webhook >= 4,
        "{left_to_webhook} left to the webhook"
    );
}

/// The engine's JSONPatch for one rule's fixes on `object` (mutating phase, single object).
fn engine_patch(object: &Value, rule: &str) -> Value {
    let policy = Policy::default();
    let decoded = sticky_guard::objects::decode(object).unwrap().unwrap();
    let fixes: Vec<_> = rules::evaluate(&decoded, Phase::Mutating, &Context::single(&policy))
        .into_iter()
        .filter(|f| f.rule == rule)
        .filter_map(|f| f.fix)
        .collect();
    let existing: Option<std::collections::BTreeMap<String, String>> = object
        .pointer("/metadata/annotations")
        .map(|a| serde_json::from_value(a.clone()).unwrap());
    serde_json::to_value(rules::json_patch(&fixes, existing.as_ref())).unwrap()
}

/// The dotted-name mutation gives exactly the webhook's JSONPatch (`replace` of each name of the
/// Ingress's own namespace by the bare name) on every Ingress fixture and variant, and nothing
/// for names of other namespaces, which the API server then refuses.
#[test]
fn the_dotted_name_mutation_gives_the_engine_patch() {
    let env = environment();
    let exported = exported();
    let (_, _, map) = exported
        .iter()
        .find(|(id, kind, _)| kind == "MutatingAdmissionPolicy" && id == "cross-namespace-backend")
        .unwrap();
    let mut objects: Vec<Value> = judged_objects()
        .into_iter()
        .map(|(object, _)| object)
        .filter(|o| o["kind"] == "Ingress")
        .collect();
    // Every name form, in each backend position, own namespace and another.
    let seed = yaml_documents(
        &std::fs::read_to_string(common::fixture(
            "seed-scenarios/03-dotted-service-name.yaml",
        ))
        .unwrap(),
    )
    .into_iter()
    .find(|d| d["kind"] == "Ingress")
    .unwrap();
    for name in [
        "mysvc.ingress-shared",
        "mysvc.ingress-shared.svc",
        "mysvc.ingress-shared.svc.cluster.local",
        "mysvc.ingress-shared.svc.cluster.local.",
        "mysvc.ingress-shared.svc.corp.local",
        "mysvc.otherns.svc.cluster.local",
        "MySvc.ingress-shared",
        "mysvc",
    ] {
        let mut object = seed.clone();
        object["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!(name);
        objects.push(object.clone());
        object["spec"]["defaultBackend"] =
            json!({"service": {"name": name, "port": {"number": 80}}});
        objects.push(object);
    }
    let (mut patched, mut compared) = (0, 0);
    for object in &objects {
        let ops = map_patch(&env, map, object);
        assert_eq!(
            Value::Array(ops.clone()),
            engine_patch(object, "cross-namespace-backend"),
            "on {object}"
        );
        compared += 1;
        patched += usize::from(!ops.is_empty());
    }
    assert!(
        compared >= 40 && patched >= 8,
        "{compared} compared, {patched} patched"
    );

    // Seed 03 itself names another namespace: left alone, and the API server refuses it.
    let ops = map_patch(&env, map, &seed);
    assert!(ops.is_empty());
    assert!(apiserver_validation(&seed).is_some());
    // The same Ingress naming its own namespace is rewritten to the bare name and stored.
    let mut own = seed.clone();
    own["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] =
        json!("mysvc.ingress-shared.svc.cluster.local");
    assert_eq!(
        Value::Array(map_patch(&env, map, &own)),
        json!([{"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/name",
                "value": "mysvc"}])
    );
    let stored = after_mutation_and_validation(&env, &exported, &own).unwrap();
    assert_eq!(
        stored["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "mysvc"
    );
}

#[test]
fn every_rule_is_listed_and_view_rules_are_not_exported() {
    for rule in rules::CATALOGUE {
        match policies::export_of(rule) {
            Export::Cel(build) => {
                assert!(!rule.reads.needs_view, "{}", rule.id);
                let cel = build(&Policy::default());
                assert!(cel.kinds.iter().all(|k| rule.judges(*k)), "{}", rule.id);
            }
            Export::No(reason) => {
                assert!(!reason.is_empty() && reason != "not listed", "{}", rule.id)
            }
        }
    }
}

/// `document` decodes as `T` and serializes back to itself: no field the type lacks.
fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(document: &Value) {
    let decoded: T =
        serde_json::from_value(document.clone()).unwrap_or_else(|e| panic!("{e}: {document}"));
    assert_eq!(&serde_json::to_value(decoded).unwrap(), document);
}

#[test]
fn every_api_decodes_with_the_kubernetes_types() {
    for (api, expected) in [
        ("v1", "v1"),
        ("v1beta1", "v1beta1"),
        ("v1alpha1", "v1alpha1"),
    ] {
        let out = common::run_binary(&["export", "policies", "--api", api], None);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut kinds = Vec::new();
        for document in yaml_documents(&text) {
            let kind = document["kind"].as_str().unwrap().to_string();
            let version = document["apiVersion"].as_str().unwrap().to_string();
            match (kind.as_str(), version.as_str()) {
                ("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1") => {
                    round_trips::<v1::ValidatingAdmissionPolicy>(&document)
                }
                ("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1") => {
                    round_trips::<v1::ValidatingAdmissionPolicyBinding>(&document)
                }
                ("MutatingAdmissionPolicy", v) => {
                    assert_eq!(v, format!("admissionregistration.k8s.io/{expected}"));
                    match api {
                        "v1" => round_trips::<v1::MutatingAdmissionPolicy>(&document),
                        "v1beta1" => round_trips::<v1beta1::MutatingAdmissionPolicy>(&document),
                        _ => round_trips::<v1alpha1::MutatingAdmissionPolicy>(&document),
                    }
                }
                ("MutatingAdmissionPolicyBinding", v) => {
                    assert_eq!(v, format!("admissionregistration.k8s.io/{expected}"));
                    match api {
                        "v1" => round_trips::<v1::MutatingAdmissionPolicyBinding>(&document),
                        "v1beta1" => {
                            round_trips::<v1beta1::MutatingAdmissionPolicyBinding>(&document)
                        }
                        _ => round_trips::<v1alpha1::MutatingAdmissionPolicyBinding>(&document),
                    }
                }
                other => panic!("{other:?}"),
            }
            kinds.push(kind);
        }
        assert_eq!(kinds.len(), 16, "{kinds:?}");
        assert_eq!(
            kinds
                .iter()
                .filter(|k| *k == "MutatingAdmissionPolicy")
                .count(),
            2
        );
        assert!(text.contains(&format!(
            "admissionregistration.k8s.io/{expected}, Kubernetes 1.3"
        )));
    }
    let out = common::run_binary(&["export", "policies", "--api", "v2"], None);
    assert_eq!(out.status.code(), Some(2));
}

/// Runs `export policies --output-dir <a new temporary folder> <extra>`, which must succeed.
fn export_to_dir(extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "export",
        "policies",
        "--output-dir",
        dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = common::run_binary(&args, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn committed_policies_are_the_generator_output() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/policies");
    let dir = export_to_dir(&[]);
    let files = |d: &std::path::Path| -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let generated = files(dir.path());
    assert_eq!(
        generated
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        [
            "sticky-guard.affinity-with-service-upstream.yaml",
            "sticky-guard.affinity-with-ssl-passthrough.yaml",
            "sticky-guard.canary-affinity.yaml",
            "sticky-guard.cookie-path-for-regex.mutating.yaml",
            "sticky-guard.cookie-path-for-regex.yaml",
            "sticky-guard.cookie-path-not-literal.yaml",
            "sticky-guard.cross-namespace-backend.mutating.yaml",
            "sticky-guard.gateway-dotted-backend-name.yaml",
        ]
    );
    assert_eq!(
        files(&committed),
        generated,
        "regenerate with `sticky-guard export policies --output-dir manifests/policies`"
    );

    // A warn action and the file split: the validating file holds no mutating policy.
    let dir = export_to_dir(&["--rule", "affinity-with-service-upstream=warn"]);
    let text = std::fs::read_to_string(
        dir.path()
            .join("sticky-guard.affinity-with-service-upstream.yaml"),
    )
    .unwrap();
    let documents = yaml_documents(&text);
    assert_eq!(documents.len(), 2);
    assert_eq!(
        documents[1]["spec"]["validationActions"],
        json!(["Warn", "Audit"])
    );
    assert!(!text.contains("MutatingAdmissionPolicy"));
}

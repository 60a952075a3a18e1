//! While no sticky-guard replica answers, the API server refuses only the writes a deny rule can
//! fire on (issue 21): `manifests/base/webhooks.yaml` is stored in the stand-in API server,
//! which runs the admission chain as kube-apiserver does (rules, namespaceSelector,
//! matchConditions in CEL, failurePolicy), and sticky-guard's Service resolves nowhere.
//!
//! - A plain Ingress (class nginx, no affinity or session annotation, a literal Prefix path, a
//!   backend Service of its own namespace) is created: it reaches no failing-closed webhook (the
//!   failing-open `.warn` one is tried and ignored).
//! - A plain HTTPRoute (no sessionPersistence, backendRefs in its own namespace) is created
//!   without any webhook being tried.
//! - A sticky Ingress with a regex path and no cookie path is refused.
//! - An HTTPRoute with session persistence on a RegularExpression match is refused.

mod common;

use common::apiserver::{ApiServer, CallOutcome, Options};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

async fn installed() -> ApiServer {
    let server = ApiServer::start(Options {
        gateway_api_crds: true,
        ..Options::default()
    })
    .await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/base/webhooks.yaml");
    for document in common::yaml_file(&path) {
        server.apply(document);
    }
    server
}

/// Creates `object` in namespace `shop` through the real `kube` client.
async fn create(server: &ApiServer, object: Value) -> kube::Result<DynamicObject> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or_default();
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let plural = match kind {
        "Ingress" => "ingresses",
        "HTTPRoute" => "httproutes",
        other => panic!("not a kind of this test: {other}"),
    };
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    let api: Api<DynamicObject> = Api::namespaced_with(server.client(), "shop", &resource);
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        api.create(&PostParams::default(), &object),
    )
    .await
    .expect("the create answers")
}

fn ingress(annotations: Value, path: &str, path_type: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": path, "pathType": path_type,
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    })
}

fn route(rule: Value) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"parentRefs": [{"name": "eg"}], "rules": [rule]},
    })
}

/// The refusal of a failing-closed webhook that cannot be called.
fn refused_by(result: kube::Result<DynamicObject>, webhook: &str) {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (500, "InternalError")
            );
            assert!(
                status.message.starts_with(&format!(
                    "Internal error occurred: failed calling webhook \"{webhook}\": failed to call webhook: "
                )),
                "{}",
                status.message
            );
        }
        other => panic!("expected a refusal by {webhook}, got {other:?}"),
    }
}

/// The webhooks the stand-in tried, with whether the call failed.
fn tried(server: &ApiServer) -> Vec<(String, bool)> {
    server
        .webhook_calls()
        .into_iter()
        .map(|call| {
            let failed = matches!(call.outcome, CallOutcome::Failed { .. });
            (call.webhook, failed)
        })
        .collect()
}

#[tokio::test]
async fn a_plain_ingress_is_created_while_sticky_guard_is_down() {
    let server = installed().await;
    let created = create(&server, ingress(json!({}), "/shop", "Prefix")).await;
    assert!(created.is_ok(), "{created:?}");
    assert!(server.get("Ingress", "shop", "web").is_some());
    // Only the failing-open warning webhook was tried (client-ip-affinity-behind-ingress may
    // warn about any Ingress of a judged class); its failure is ignored.
    assert_eq!(
        tried(&server),
        [("ingresses.warn.sticky-guard.dev".to_string(), true)]
    );
}

#[tokio::test]
async fn a_plain_httproute_is_created_without_any_webhook_call() {
    let server = installed().await;
    let created = create(
        &server,
        route(json!({"backendRefs": [{"name": "web", "port": 80}]})),
    )
    .await;
    assert!(created.is_ok(), "{created:?}");
    assert!(server.get("HTTPRoute", "shop", "web").is_some());
    assert_eq!(tried(&server), []);
}

#[tokio::test]
async fn a_sticky_regex_ingress_without_cookie_path_is_refused() {
    let server = installed().await;
    let sticky = ingress(
        json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
               "nginx.ingress.kubernetes.io/use-regex": "true"}),
        "/shop(/|$)(.*)",
        "ImplementationSpecific",
    );
    refused_by(
        create(&server, sticky).await,
        "ingresses.validate.sticky-guard.dev",
    );
    assert_eq!(server.get("Ingress", "shop", "web"), None);
    // The mutating webhook failed open first; the validating one failed closed.
    assert_eq!(
        tried(&server),
        [
            ("ingresses.mutate.sticky-guard.dev".to_string(), true),
            ("ingresses.validate.sticky-guard.dev".to_string(), true),
        ]
    );
}

#[tokio::test]
async fn an_httproute_with_session_persistence_on_a_regex_match_is_refused() {
    let server = installed().await;
    let sticky = route(json!({
        "matches": [{"path": {"type": "RegularExpression", "value": "/shop(/|$)(.*)"}}],
        "sessionPersistence": {"sessionName": "shop", "type": "Cookie"},
        "backendRefs": [{"name": "web", "port": 80}],
    }));
    refused_by(
        create(&server, sticky).await,
        "gateway-routes.validate.sticky-guard.dev",
    );
    assert_eq!(server.get("HTTPRoute", "shop", "web"), None);
    assert_eq!(
        tried(&server),
        [("gateway-routes.validate.sticky-guard.dev".to_string(), true)]
    );
}

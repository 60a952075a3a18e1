//! The stand-in API server's admission webhook chain (`tests/common/apiserver/admission.rs`),
//! driven by the real `kube` client (and raw HTTP where headers matter) against test-double
//! webhooks on 127.0.0.1: which webhooks are called (rules, namespace selector, CEL
//! `matchConditions`), what a denial, a failed call, a patch and a warning do to the write, and
//! the AdmissionReview the webhooks get.

mod common;

use common::apiserver::{ApiServer, CallOutcome, Options, WebhookCall};
use common::webhook_double::{
    Double, allow, closed_port, mutating, patch, reply, validating, webhook,
};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// Upper bound for anything we wait on, so that a bug fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(20);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

fn ingress(name: &str) -> Ingress {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {"ingressClassName": "nginx"},
    }))
    .unwrap()
}

fn annotated_ingress(name: &str, annotations: Value) -> Ingress {
    let mut ingress = serde_json::to_value(ingress(name)).unwrap();
    ingress["metadata"]["annotations"] = annotations;
    serde_json::from_value(ingress).unwrap()
}

fn ingresses(server: &ApiServer, namespace: &str) -> Api<Ingress> {
    Api::namespaced(server.client(), namespace)
}

async fn create(server: &ApiServer, namespace: &str, ingress: &Ingress) -> kube::Result<Ingress> {
    within(
        "create",
        ingresses(server, namespace).create(&PostParams::default(), ingress),
    )
    .await
}

/// The `code`, `reason` and `message` of the `kube::Error::Api` in `result`.
fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> (u16, String, String) {
    match result {
        Err(kube::Error::Api(status)) => {
            (status.code, status.reason.clone(), status.message.clone())
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn call(webhook: &str, configuration: &str, mutating: bool, outcome: CallOutcome) -> WebhookCall {
    WebhookCall {
        webhook: webhook.to_owned(),
        configuration: configuration.to_owned(),
        mutating,
        operation: "CREATE".to_owned(),
        resource: "ingresses".to_owned(),
        namespace: "default".to_owned(),
        name: "web".to_owned(),
        outcome,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_matching_webhook_is_called_and_its_denial_answered() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start(|review| {
        reply(
            review,
            json!({"allowed": false, "status": {"message": "ingresses are closed today"}}),
        )
    })
    .await;
    server.apply(validating(
        "closed",
        vec![webhook(
            "closed.test",
            &format!("{}/validate", double.url),
            json!({}),
        )],
    ));

    let (code, reason, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!((code, reason.as_str()), (400, ""));
    assert_eq!(
        message,
        "admission webhook \"closed.test\" denied the request: ingresses are closed today"
    );
    assert_eq!(server.get("Ingress", "default", "web"), None);
    assert_eq!(
        server.webhook_calls(),
        vec![call(
            "closed.test",
            "closed",
            false,
            CallOutcome::Denied {
                code: 400,
                message: message.clone()
            }
        )]
    );
    assert_eq!(server.webhooks_called(), vec!["closed.test"]);
    assert_eq!(
        server.count(
            "POST",
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            400
        ),
        1
    );

    // The AdmissionReview, as kube-apiserver sends it.
    assert_eq!(double.targets(), vec!["/validate?timeout=10s"]);
    let review = &double.reviews()[0];
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    let request = &review["request"];
    assert!(
        request["uid"].as_str().is_some_and(|uid| uid.len() == 36),
        "{request}"
    );
    let kind = json!({"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"});
    let resource = json!({"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"});
    assert_eq!(request["kind"], kind);
    assert_eq!(request["requestKind"], kind);
    assert_eq!(request["resource"], resource);
    assert_eq!(request["requestResource"], resource);
    assert_eq!(request["name"], "web");
    assert_eq!(request["namespace"], "default");
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(request["userInfo"]["username"], "kubernetes-admin");
    assert_eq!(request["dryRun"], false);
    assert_eq!(request["options"]["kind"], "CreateOptions");
    assert_eq!(request["object"]["metadata"]["name"], "web");
    assert_eq!(request["object"]["metadata"]["namespace"], "default");
    assert_eq!(request["object"]["kind"], "Ingress");
    assert_eq!(request["object"]["spec"]["ingressClassName"], "nginx");
    assert_eq!(request["oldObject"], Value::Null);

    // Not matched by the rules: a Service write never reaches it.
    let services: Api<Service> = Api::namespaced(server.client(), "default");
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
    }))
    .unwrap();
    within("service", services.create(&PostParams::default(), &service))
        .await
        .unwrap();
    assert_eq!(double.reviews().len(), 1);
    assert_eq!(server.webhook_calls().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_denial_keeps_the_webhooks_code_and_reason_and_names_the_webhook() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start(|review| {
        let status = match review["request"]["object"]["metadata"]["name"].as_str() {
            Some("coded") => json!({"code": 422, "reason": "Invalid", "message": "bad path"}),
            Some("low") => json!({"code": 200, "message": "not really"}),
            _ => json!({}),
        };
        reply(review, json!({"allowed": false, "status": status}))
    })
    .await;
    // Everything in every group, UPDATEs and DELETEs too: cluster-scoped writes (the
    // configurations themselves) are still never sent.
    server.apply(validating(
        "picky",
        vec![webhook(
            "picky.test",
            &double.url,
            json!({"rules": [{
                "apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"],
            }]}),
        )],
    ));

    let (code, reason, message) = api_error(create(&server, "default", &ingress("coded")).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "admission webhook \"picky.test\" denied the request: bad path"
    );
    let (code, reason, message) = api_error(create(&server, "default", &ingress("low")).await);
    assert_eq!((code, reason.as_str()), (400, ""));
    assert_eq!(
        message,
        "admission webhook \"picky.test\" denied the request: not really"
    );
    let (code, reason, message) = api_error(create(&server, "default", &ingress("bare")).await);
    assert_eq!((code, reason.as_str()), (400, ""));
    assert_eq!(
        message,
        "admission webhook \"picky.test\" denied the request without explanation"
    );

    let configurations: Api<kube::api::DynamicObject> = Api::all_with(
        server.client(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
            ),
            "validatingwebhookconfigurations",
        ),
    );
    let other: kube::api::DynamicObject =
        serde_json::from_value(validating("other", vec![])).unwrap();
    within(
        "configuration",
        configurations.create(&PostParams::default(), &other),
    )
    .await
    .unwrap();
    assert_eq!(double.reviews().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn a_false_match_condition_skips_the_webhook() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start(|review| {
        reply(
            review,
            json!({"allowed": false, "status": {"message": "no"}}),
        )
    })
    .await;
    server.apply(validating(
        "conditional",
        vec![
            webhook(
                "annotated.test",
                &double.url,
                json!({"matchConditions": [
                    {"name": "annotated", "expression":
                        "has(object.metadata.annotations) && 'deny' in object.metadata.annotations"},
                    {"name": "by-admin", "expression":
                        "request.userInfo.username == 'kubernetes-admin'"},
                ]}),
            ),
            // oldObject is null on CREATE: only updates reach this one.
            webhook(
                "updates.test",
                &double.url,
                json!({"matchConditions": [
                    {"name": "update", "expression": "oldObject != null && request.operation == 'UPDATE'"},
                ]}),
            ),
        ],
    ));

    let created = create(&server, "default", &ingress("web")).await.unwrap();
    assert_eq!(server.webhook_calls(), vec![]);
    assert!(double.reviews().is_empty());

    let denied = create(
        &server,
        "default",
        &annotated_ingress("other", json!({"deny": "yes"})),
    )
    .await;
    let (code, _, message) = api_error(denied);
    assert_eq!(code, 400);
    assert_eq!(
        message,
        "admission webhook \"annotated.test\" denied the request: no"
    );
    assert_eq!(server.webhooks_called(), vec!["annotated.test"]);

    // An update (a merge patch) is sent to the second webhook, with the old object.
    let patched = within(
        "patch",
        ingresses(&server, "default").patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ingressClassName": "other"}})),
        ),
    )
    .await;
    let (code, _, message) = api_error(patched);
    assert_eq!(code, 400);
    assert_eq!(
        message,
        "admission webhook \"updates.test\" denied the request: no"
    );
    assert_eq!(
        server.webhooks_called(),
        vec!["annotated.test", "updates.test"]
    );
    let review = double.reviews().pop().unwrap();
    assert_eq!(review["request"]["operation"], "UPDATE");
    assert_eq!(review["request"]["options"]["kind"], "UpdateOptions");
    assert_eq!(
        review["request"]["object"]["spec"]["ingressClassName"],
        "other"
    );
    assert_eq!(
        review["request"]["oldObject"]["spec"]["ingressClassName"],
        "nginx"
    );
    assert_eq!(
        server.get("Ingress", "default", "web"),
        Some(serde_json::to_value(&created).unwrap())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_erroring_match_condition_is_decided_by_the_failure_policy() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start(allow).await;
    let missing = "object.spec.missing == 'x'";
    let config = |policy: &str, conditions: Value| {
        validating(
            "erroring",
            vec![webhook(
                "erroring.test",
                &double.url,
                json!({"failurePolicy": policy, "matchConditions": conditions}),
            )],
        )
    };

    // Fail: refused without a call, 403 as kube-apiserver's `NewForbidden`.
    server.apply(config(
        "Fail",
        json!([{"name": "missing", "expression": missing}]),
    ));
    let (code, reason, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        format!(
            "ingresses.networking.k8s.io \"web\" is forbidden: expression '{missing}' resulted in \
             error: No such key: missing"
        )
    );
    // An expression that does not compile, or is not a bool, is an error too.
    server.apply(config(
        "Fail",
        json!([{"name": "number", "expression": "1 + 1"}]),
    ));
    let (code, _, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "ingresses.networking.k8s.io \"web\" is forbidden: expression '1 + 1' resulted in \
         error: it must evaluate to bool, not Int(2)"
    );
    server.apply(config(
        "Fail",
        json!([{"name": "broken", "expression": "object.("}]),
    ));
    let (code, _, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!(code, 403);
    assert!(
        message
            .starts_with("ingresses.networking.k8s.io \"web\" is forbidden: compilation error: "),
        "{message}"
    );
    // A false condition wins over an erroring one.
    server.apply(config(
        "Fail",
        json!([
            {"name": "missing", "expression": missing},
            {"name": "never", "expression": "false"},
        ]),
    ));
    create(&server, "default", &ingress("first")).await.unwrap();
    assert!(server.webhook_calls().is_empty());

    // Ignore: the webhook is skipped and the write goes through.
    server.apply(config(
        "Ignore",
        json!([{"name": "missing", "expression": missing}]),
    ));
    create(&server, "default", &ingress("web")).await.unwrap();
    assert!(server.get("Ingress", "default", "web").is_some());
    assert!(server.webhook_calls().is_empty());
    assert!(double.reviews().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_webhook_is_decided_by_the_failure_policy() {
    let server = ApiServer::start(Options::default()).await;
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/validate");
    let config = |policy: &str| {
        validating(
            "gone",
            vec![webhook("gone.test", &url, json!({"failurePolicy": policy}))],
        )
    };
    let cause = format!(
        "failed to call webhook: Post \"http://127.0.0.1:{port}/validate?timeout=10s\": dial tcp \
         127.0.0.1:{port}: connect: connection refused"
    );

    // failurePolicy unset is Fail.
    server.apply(validating(
        "gone",
        vec![webhook("gone.test", &url, json!({}))],
    ));
    let (code, reason, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!((code, reason.as_str()), (500, "InternalError"));
    assert_eq!(
        message,
        format!("Internal error occurred: failed calling webhook \"gone.test\": {cause}")
    );
    assert_eq!(server.get("Ingress", "default", "web"), None);
    assert_eq!(
        server.webhook_calls(),
        vec![call(
            "gone.test",
            "gone",
            false,
            CallOutcome::Failed {
                cause: cause.clone()
            }
        )]
    );
    server.apply(config("Fail"));
    let (code, _, _) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!(code, 500);

    server.apply(config("Ignore"));
    create(&server, "default", &ingress("web")).await.unwrap();
    assert!(server.get("Ingress", "default", "web").is_some());
    assert_eq!(server.webhook_calls().len(), 3);
    assert_eq!(
        server.webhook_calls()[2].outcome,
        CallOutcome::Failed { cause }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_service_is_unreachable_unless_routed() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start(|review| {
        reply(
            review,
            json!({"allowed": false, "status": {"message": "routed"}}),
        )
    })
    .await;
    server.apply(validating(
        "in-cluster",
        vec![webhook(
            "service.test",
            "",
            json!({
                "timeoutSeconds": 3,
                "clientConfig": {"url": null, "service": {
                    "namespace": "guard", "name": "guard", "path": "/validate", "port": 443,
                }},
            }),
        )],
    ));

    let (code, reason, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!((code, reason.as_str()), (500, "InternalError"));
    assert_eq!(
        message,
        "Internal error occurred: failed calling webhook \"service.test\": failed to call \
         webhook: Post \"https://guard.guard.svc:443/validate?timeout=3s\": service \"guard\" not \
         found"
    );
    // With the Service stored but nothing serving it.
    server.apply(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "guard", "namespace": "guard"},
    }));
    let (code, _, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!(code, 500);
    assert!(
        message.ends_with(
            "Post \"https://guard.guard.svc:443/validate?timeout=3s\": no endpoints available \
             for service \"guard\""
        ),
        "{message}"
    );

    server.route_service("guard", "guard", &double.url);
    let (code, _, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!(code, 400);
    assert_eq!(
        message,
        "admission webhook \"service.test\" denied the request: routed"
    );
    assert_eq!(double.targets(), vec!["/validate?timeout=3s"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_webhook_slower_than_its_timeout_is_a_failed_call() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start_slow(Duration::from_secs(5), allow).await;
    server.apply(validating(
        "slow",
        vec![webhook(
            "slow.test",
            &double.url,
            json!({"timeoutSeconds": 1}),
        )],
    ));
    let started = std::time::Instant::now();
    let (code, _, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, 500);
    assert_eq!(
        message,
        format!(
            "Internal error occurred: failed calling webhook \"slow.test\": failed to call \
             webhook: Post \"{}/?timeout=1s\": context deadline exceeded",
            double.url
        )
    );
    assert_eq!(double.reviews().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn an_invalid_answer_is_a_failed_call() {
    let server = ApiServer::start(Options::default()).await;
    let double =
        Double::start(
            |review| match review["request"]["object"]["metadata"]["name"].as_str() {
                Some("wrong-uid") => {
                    let (status, body) = allow(review);
                    (
                        status,
                        body.replace(review["request"]["uid"].as_str().unwrap(), "other"),
                    )
                }
                Some("no-response") => (
                    200,
                    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
                        .to_string(),
                ),
                Some("not-json") => (200, "<html>".to_owned()),
                Some("error") => (500, "boom".to_owned()),
                Some("validating-patch") => patch(review, json!([])),
                _ => allow(review),
            },
        )
        .await;
    server.apply(validating(
        "odd",
        vec![webhook("odd.test", &double.url, json!({}))],
    ));
    let failure = |name: &str| {
        let server = &server;
        let name = name.to_owned();
        async move {
            let (code, reason, message) =
                api_error(create(server, "default", &ingress(&name)).await);
            assert_eq!((code, reason.as_str()), (500, "InternalError"), "{name}");
            message
                .strip_prefix("Internal error occurred: failed calling webhook \"odd.test\": ")
                .unwrap_or_else(|| panic!("{message}"))
                .to_owned()
        }
    };

    let cause = failure("wrong-uid").await;
    let uid = double.reviews()[0]["request"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        cause,
        format!("received invalid webhook response: expected response.uid={uid:?}, got \"other\"")
    );
    assert_eq!(
        failure("no-response").await,
        "received invalid webhook response: webhook response was absent"
    );
    assert!(
        failure("not-json")
            .await
            .starts_with("failed to call webhook: couldn't get version/kind; json parse error: "),
    );
    assert_eq!(
        failure("error").await,
        "failed to call webhook: an error on the server (\"boom\") has prevented the request \
         from succeeding"
    );
    assert_eq!(
        failure("validating-patch").await,
        "received invalid webhook response: validating webhook may not return response.patch"
    );
    create(&server, "default", &ingress("fine")).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_mutating_patch_is_applied_seen_by_the_validating_webhooks_and_stored() {
    let server = ApiServer::start(Options::default()).await;
    let mutator = Double::start(|review| {
        let (status, body) = patch(
            review,
            json!([{"op": "add", "path": "/metadata/annotations",
                    "value": {"example.com/patched": "yes"}}]),
        );
        let mut body: Value = serde_json::from_str(&body).unwrap();
        body["response"]["warnings"] = json!(["patched the \"web\" Ingress"]);
        (status, body.to_string())
    })
    .await;
    let validator = Double::start(allow).await;
    server.apply(mutating(
        "mutate",
        vec![webhook(
            "mutate.test",
            &mutator.url,
            json!({"failurePolicy": "Fail"}),
        )],
    ));
    server.apply(validating(
        "validate",
        vec![webhook("validate.test", &validator.url, json!({}))],
    ));

    let created = create(&server, "default", &ingress("web")).await.unwrap();
    let annotations = json!({"example.com/patched": "yes"});
    let stored = server.get("Ingress", "default", "web").unwrap();
    assert_eq!(stored["metadata"]["annotations"], annotations);
    assert_eq!(serde_json::to_value(&created).unwrap(), stored);
    assert_eq!(
        mutator.reviews()[0]["request"]["object"]["metadata"]["annotations"],
        Value::Null
    );
    assert_eq!(
        validator.reviews()[0]["request"]["object"]["metadata"]["annotations"],
        annotations
    );
    assert_eq!(
        server.webhook_calls(),
        vec![
            call(
                "mutate.test",
                "mutate",
                true,
                CallOutcome::Allowed { patched: true }
            ),
            call(
                "validate.test",
                "validate",
                false,
                CallOutcome::Allowed { patched: false }
            ),
        ]
    );

    // The warnings come back as `Warning` headers, as kube-apiserver sends them.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = within(
        "raw create",
        reqwest::Client::new()
            .post(format!(
                "{}/apis/networking.k8s.io/v1/namespaces/default/ingresses",
                server.url
            ))
            .header("content-type", "application/json")
            .body(serde_json::to_string(&ingress("raw")).unwrap())
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let warnings: Vec<&str> = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert_eq!(warnings, vec!["299 - \"patched the \\\"web\\\" Ingress\""]);
    assert_eq!(
        server.get("Ingress", "default", "raw").unwrap()["metadata"]["annotations"],
        annotations
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_patch_that_does_not_apply_is_refused_whatever_the_failure_policy() {
    let server = ApiServer::start(Options::default()).await;
    let mutator =
        Double::start(|review| patch(review, json!([{"op": "remove", "path": "/spec/nothing"}])))
            .await;
    server.apply(mutating(
        "mutate",
        vec![webhook(
            "mutate.test",
            &mutator.url,
            json!({"failurePolicy": "Ignore"}),
        )],
    ));
    let (code, reason, message) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!((code, reason.as_str()), (500, "InternalError"));
    assert!(
        message.starts_with("Internal error occurred: "),
        "{message}"
    );
    assert_eq!(server.get("Ingress", "default", "web"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn an_if_needed_webhook_is_called_again_after_a_later_change() {
    let server = ApiServer::start(Options::default()).await;
    // Each adds its label when missing.
    let labeller = |label: &'static str| {
        move |review: &Value| {
            let labels = &review["request"]["object"]["metadata"]["labels"];
            if labels[label].is_string() {
                allow(review)
            } else if labels.is_object() {
                patch(
                    review,
                    json!([{"op": "add", "path": format!("/metadata/labels/{label}"), "value": "1"}]),
                )
            } else {
                patch(
                    review,
                    json!([{"op": "add", "path": "/metadata/labels", "value": {label: "1"}}]),
                )
            }
        }
    };
    let first = Double::start(labeller("a")).await;
    let second = Double::start(labeller("b")).await;
    server.apply(mutating(
        "a",
        vec![webhook(
            "a.test",
            &first.url,
            json!({"reinvocationPolicy": "IfNeeded"}),
        )],
    ));
    server.apply(mutating(
        "b",
        vec![webhook("b.test", &second.url, json!({}))],
    ));

    create(&server, "default", &ingress("web")).await.unwrap();
    assert_eq!(server.webhooks_called(), vec!["a.test", "b.test", "a.test"]);
    assert_eq!(
        server.get("Ingress", "default", "web").unwrap()["metadata"]["labels"],
        json!({"a": "1", "b": "1"})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_namespace_selector_not_in_excludes_a_namespace() {
    let server = ApiServer::start(Options::default()).await;
    let double = Double::start(|review| {
        reply(
            review,
            json!({"allowed": false, "status": {"message": "no"}}),
        )
    })
    .await;
    let selector = json!({"namespaceSelector": {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "guard"],
    }]}});
    server.apply(validating(
        "selective",
        vec![webhook("selective.test", &double.url, selector)],
    ));

    for namespace in ["kube-system", "guard"] {
        create(&server, namespace, &ingress("web")).await.unwrap();
    }
    assert!(server.webhook_calls().is_empty());
    let (code, _, _) = api_error(create(&server, "default", &ingress("web")).await);
    assert_eq!(code, 400);
    assert_eq!(server.webhooks_called(), vec!["selective.test"]);

    // matchLabels and In select by the same label; an unknown operator refuses the write.
    server.apply(validating(
        "selective",
        vec![webhook(
            "selective.test",
            &double.url,
            json!({"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": "team"},
                "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team"]}],
            }}),
        )],
    ));
    create(&server, "default", &ingress("other")).await.unwrap();
    let (code, _, _) = api_error(create(&server, "team", &ingress("web")).await);
    assert_eq!(code, 400);
    server.apply(validating(
        "selective",
        vec![webhook(
            "selective.test",
            &double.url,
            json!({"namespaceSelector": {"matchExpressions": [{"key": "x", "operator": "Near"}]}}),
        )],
    ));
    let (code, _, message) = api_error(create(&server, "default", &ingress("third")).await);
    assert_eq!(code, 500);
    assert_eq!(
        message,
        "Internal error occurred: \"Near\" is not a valid label selector operator"
    );
    server.shutdown().await;
}

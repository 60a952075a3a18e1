//! The real HTTPS server, a client that trusts only a freshly generated CA, and AdmissionReview
//! requests captured from a real kube-apiserver (`../shared/fixtures/admission-reviews`).

mod common;

use common::{Server, captured_review, decoded_patch, review_for, seed_documents};
use serde_json::{Value, json};
use sticky_guard::policy::Policy;

const COOKIE_PATH_POINTER: &str =
    "/metadata/annotations/nginx.ingress.kubernetes.io~1session-cookie-path";

/// Applies a JSON Patch to a review's object, as the API server does after mutation.
fn apply(review: &mut Value, patch: &Value) {
    let patch: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
    json_patch::patch(&mut review["request"]["object"], &patch).unwrap();
}

#[tokio::test]
async fn mutate_patches_regex_path_once_and_is_idempotent() {
    let server = Server::start(Policy::default()).await;
    let mut review = captured_review("ingress-create-sticky-regex-path.json");

    let response = server.review("/mutate", &review).await;
    assert_eq!(response["uid"], "f28a87bc-3386-46a9-be8c-bb94e2d69e28");
    assert_eq!(response["allowed"], true);
    assert!(response.get("status").is_none());
    let patch = decoded_patch(&response).expect("a patch");
    assert_eq!(
        patch,
        json!([{"op": "add", "path": COOKIE_PATH_POINTER, "value": "/mysite"}])
    );
    assert_eq!(
        response["warnings"],
        json!([
            "cookie-path-for-regex: sticky-guard set nginx.ingress.kubernetes.io/session-cookie-path: /mysite"
        ])
    );
    assert_eq!(
        response["auditAnnotations"]["rules"],
        "cookie-path-for-regex"
    );

    // The API server applies the patch and, with reinvocation, may ask again: no second patch.
    apply(&mut review, &patch);
    assert_eq!(
        review["request"]["object"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-path"],
        "/mysite"
    );
    let again = server.review("/mutate", &review).await;
    assert_eq!(again["allowed"], true);
    assert!(again.get("patch").is_none(), "{again}");
    assert!(again.get("patchType").is_none());
    assert!(again.get("warnings").is_none());

    // And the validating webhook admits the patched object without a word.
    let validated = server.review("/validate", &review).await;
    assert_eq!(validated["allowed"], true);
    assert!(validated.get("warnings").is_none());
    server.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn validate_denies_the_unpatched_object() {
    let server = Server::start(Policy::default()).await;
    let review = captured_review("ingress-create-sticky-regex-path.json");
    let response = server.review("/validate", &review).await;
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    assert_eq!(response["status"]["reason"], "Forbidden");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("sticky-guard denied Ingress myapp/mysite: [cookie-path-for-regex]")
    );
    assert!(message.contains("nginx.ingress.kubernetes.io/session-cookie-path: \"/mysite\""));
    assert!(response.get("patch").is_none());
}

#[tokio::test]
async fn mutate_denies_the_dotted_backend_with_a_message_that_says_where_to_go() {
    let server = Server::start(Policy::default()).await;
    let review = captured_review("ingress-update-dotted-backend.json");
    let response = server.review("/mutate", &review).await;
    assert_eq!(response["uid"], "98c7694f-e999-4a69-8883-46ab30440cd3");
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.contains("namespace `otherns`"), "{message}");
    assert!(message.contains("Service `mysvc`"), "{message}");
    assert!(
        message.contains("[cross-namespace-backend] spec.rules[0].http.paths[0].backend.service.name: backend `mysvc.otherns.svc.cluster.local`"),
        "{message}"
    );
    assert!(response.get("patch").is_none());
}

#[tokio::test]
async fn dry_run_gets_the_same_answer() {
    let server = Server::start(Policy::default()).await;
    let dry = captured_review("ingress-create-dryrun.json");
    assert_eq!(dry["request"]["dryRun"], true);
    let mut wet = dry.clone();
    wet["request"]["dryRun"] = json!(false);
    wet["request"]["options"]
        .as_object_mut()
        .unwrap()
        .remove("dryRun");
    for path in ["/mutate", "/validate"] {
        let a = server.review(path, &dry).await;
        let b = server.review(path, &wet).await;
        assert_eq!(a, b, "{path}");
    }
    let mutated = server.review("/mutate", &dry).await;
    assert_eq!(
        decoded_patch(&mutated),
        Some(json!([{"op": "add", "path": COOKIE_PATH_POINTER, "value": "/mysite"}]))
    );
}

#[tokio::test]
async fn services_and_unrelated_updates_are_allowed_untouched() {
    let server = Server::start(Policy::default()).await;
    for name in [
        "service-create-clusterip.json",
        "service-create-externalname-proxy.json",
        "ingress-create-sticky-externalname-backend.json",
    ] {
        for path in ["/mutate", "/validate"] {
            let response = server.review(path, &captured_review(name)).await;
            assert_eq!(response["allowed"], true, "{name} {path}");
            assert!(response.get("patch").is_none(), "{name} {path}");
        }
    }
    // `kubectl annotate` on the (unpatched) scenario-01 Ingress: the mutating webhook patches it.
    let response = server
        .review_captured("/mutate", "ingress-update-annotate.json")
        .await;
    assert_eq!(
        decoded_patch(&response),
        Some(json!([{"op": "add", "path": COOKIE_PATH_POINTER, "value": "/mysite"}]))
    );
}

#[tokio::test]
async fn seed_scenarios_through_the_webhook() {
    let server = Server::start(Policy::default()).await;
    // 01: exactly one patch operation.
    let ingress01 = &seed_documents("01-regex-path-missing-cookie-path.yaml")[0];
    let response = server.review("/mutate", &review_for(ingress01, "u1")).await;
    assert_eq!(response["uid"], "u1");
    assert_eq!(
        decoded_patch(&response),
        Some(json!([{"op": "add", "path": COOKIE_PATH_POINTER, "value": "/mysite"}]))
    );
    // 03: denied.
    let ingress03 = &seed_documents("03-dotted-service-name.yaml")[0];
    let response = server.review("/mutate", &review_for(ingress03, "u3")).await;
    assert_eq!(response["allowed"], false);
    // 07: allowed, no patch, in both webhooks.
    let ingress07 = &seed_documents("07-plain-ingress-v1beta1.yaml")[0];
    for path in ["/mutate", "/validate"] {
        let response = server.review(path, &review_for(ingress07, "u7")).await;
        assert_eq!(response["allowed"], true);
        assert!(response.get("patch").is_none());
        assert!(response.get("warnings").is_none());
    }
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let server = Server::start(Policy::default()).await;
    let (status, body) = server.post_raw("/mutate", b"{not json".to_vec()).await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("request body is not an AdmissionReview"),
        "{body}"
    );

    let mut v1beta1 = captured_review("service-create-clusterip.json");
    v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let (status, body) = server
        .post_raw("/validate", serde_json::to_vec(&v1beta1).unwrap())
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("admissionReviewVersions"), "{body}");

    // Scenario 06's number-valued annotation (kubectl refuses it; a hand-made request may not).
    let ingress06 = &seed_documents("06-balanced-unquoted-max-age.yaml")[0];
    let response = server.review("/mutate", &review_for(ingress06, "u6")).await;
    assert_eq!(response["uid"], "u6");
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 400);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "metadata.annotations[\"nginx.ingress.kubernetes.io/session-cookie-max-age\"] is a number"
        ),
        "{message}"
    );

    // An unknown Ingress version inside a good review: refused with the uid echoed.
    let mut unknown = review_for(&seed_documents("03-dotted-service-name.yaml")[0], "u9");
    unknown["request"]["object"]["apiVersion"] = json!("networking.k8s.io/v2");
    let response = server.review("/validate", &unknown).await;
    assert_eq!(response["uid"], "u9");
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 400);

    // Bodies over the limit: 413, and the server keeps serving.
    let huge = vec![b' '; sticky_guard::admission::http::DEFAULT_MAX_BODY_BYTES + 1];
    let (status, _) = server.post_raw("/mutate", huge).await;
    assert_eq!(status, 413);
    let response = server
        .review_captured("/validate", "service-create-clusterip.json")
        .await;
    assert_eq!(response["allowed"], true);
}

#[tokio::test]
async fn health_endpoints_and_unknown_routes() {
    let server = Server::start(Policy::default()).await;
    for path in ["/healthz", "/readyz"] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let response = server
        .client
        .get(format!("{}/mutate", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let server = Server::start(Policy::default()).await;
    let other = sticky_guard::tls::dev::generate(&["localhost".into()], 1).unwrap();
    let stranger = common::client_trusting(&other.ca_pem);
    let result = stranger
        .get(format!("{}/healthz", server.base))
        .send()
        .await;
    assert!(result.is_err(), "TLS must fail against a foreign CA");
}

#[tokio::test]
async fn legacy_ingress_gets_ignored_annotation_warnings() {
    let server = Server::start(Policy::default()).await;
    let ingress04 = &seed_documents("04-legacy-v1beta1-sticky.yaml")[0];
    let response = server
        .review("/validate", &review_for(ingress04, "u4"))
        .await;
    assert_eq!(response["allowed"], true);
    assert_eq!(
        response["warnings"],
        json!([
            "ignored-annotation: 3 annotations under ingress.kubernetes.io/ ignored (not sticky): use nginx.ingress.kubernetes.io",
            "ignored-annotation: session-cookie-hash was removed in ingress-nginx 0.24.0 and is ignored: delete it"
        ])
    );
    assert_eq!(response["auditAnnotations"]["rules"], "ignored-annotation");
    let mutated = server.review("/mutate", &review_for(ingress04, "u4")).await;
    assert!(mutated.get("patch").is_none());
    assert!(
        mutated.get("warnings").is_none(),
        "warnings come from /validate only"
    );
}

#[tokio::test]
async fn rule_actions_change_the_verdict() {
    let review = captured_review("ingress-create-sticky-regex-path.json");
    let dotted = captured_review("ingress-update-dotted-backend.json");

    let mut warn = Policy::default();
    for id in ["cookie-path-for-regex", "cross-namespace-backend"] {
        warn.actions
            .insert(id.into(), sticky_guard::policy::Action::Warn);
    }
    let server = Server::start(warn).await;
    let validated = server.review("/validate", &review).await;
    assert_eq!(validated["allowed"], true);
    assert_eq!(validated["warnings"].as_array().unwrap().len(), 1);
    assert!(
        validated["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("cookie-path-for-regex: cookie affinity is on")
    );
    // warn still patches in the mutating webhook.
    assert!(decoded_patch(&server.review("/mutate", &review).await).is_some());
    let dotted_response = server.review("/mutate", &dotted).await;
    assert_eq!(dotted_response["allowed"], true);
    assert!(
        dotted_response["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("cross-namespace-backend: backend `mysvc.otherns")
    );
    server.running.shutdown().await.unwrap();

    let mut off = Policy::default();
    for id in ["cookie-path-for-regex", "cross-namespace-backend"] {
        off.actions
            .insert(id.into(), sticky_guard::policy::Action::Off);
    }
    let server = Server::start(off).await;
    for (path, r) in [
        ("/mutate", &review),
        ("/validate", &review),
        ("/mutate", &dotted),
    ] {
        let response = server.review(path, r).await;
        assert_eq!(response["allowed"], true);
        assert!(response.get("patch").is_none());
        assert!(response.get("warnings").is_none());
        assert_eq!(response["auditAnnotations"]["rules"], "none");
    }
}

#[tokio::test]
async fn every_warning_is_at_most_120_characters() {
    let server = Server::start(Policy::default()).await;
    let mut seen = 0;
    let mut objects: Vec<Value> = Vec::new();
    for name in [
        "01-regex-path-missing-cookie-path.yaml",
        "04-legacy-v1beta1-sticky.yaml",
    ] {
        objects.extend(seed_documents(name));
    }
    let mut long = seed_documents("01-regex-path-missing-cookie-path.yaml")[0].clone();
    long["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-name"] =
        json!("a cookie name with spaces that goes on and on and on for quite a while longer");
    long["spec"]["rules"][0]["http"]["paths"][0]["path"] =
        json!(format!("/{}(?=x)", "y".repeat(200)));
    objects.push(long);
    for (i, object) in objects.iter().enumerate() {
        for path in ["/mutate", "/validate"] {
            let response = server
                .review(path, &review_for(object, &i.to_string()))
                .await;
            for w in response["warnings"].as_array().into_iter().flatten() {
                assert!(w.as_str().unwrap().chars().count() <= 120, "{w}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 4, "{seen}");
}

#[tokio::test]
async fn a_rotated_certificate_is_served_to_new_connections() {
    let server = Server::start(Policy::default()).await;
    let rotated = sticky_guard::tls::dev::generate(&["localhost".into()], 1).unwrap();
    let new_client = common::client_trusting(&rotated.ca_pem);
    let url = format!("{}/healthz", server.base);
    assert!(
        new_client.get(&url).send().await.is_err(),
        "not yet rotated"
    );
    server.running.tls_reloader().reload(
        sticky_guard::tls::server_config(
            rotated.cert_pem.as_bytes(),
            rotated.key_pem.as_bytes(),
            Default::default(),
        )
        .unwrap(),
    );
    let response = new_client.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

/// `--tls-min-version 1.3`: a client that offers only TLS 1.2 is refused in the handshake; a
/// TLS 1.3 client is served.
#[tokio::test]
async fn tls_min_version_1_3_refuses_tls_1_2_clients() {
    let server = Server::start_limited(
        Policy::default(),
        sticky_guard::view::ViewSource::Off("tests".into()),
        sticky_guard::tls::MinVersion::Tls13,
        Default::default(),
    )
    .await;
    let url = format!("{}/healthz", server.base);
    let tls12 = common::client_speaking(&server.ca_pem, None, &[&rustls::version::TLS12]);
    let error = tls12.get(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    let tls13 = common::client_speaking(&server.ca_pem, None, &[&rustls::version::TLS13]);
    assert_eq!(tls13.get(&url).send().await.unwrap().status(), 200);
}

/// A suppression annotation is ignored under the default policy (a deny still denies, and a
/// warning says the annotation was ignored), and honoured when the policy lists the rule as
/// suppressible (admitted, nothing patched, a warning with the reason).
#[tokio::test]
async fn suppressions_are_honoured_only_for_suppressible_rules() {
    let mut review = captured_review("ingress-create-sticky-regex-path.json");
    review["request"]["object"]["metadata"]["annotations"]["ignore-check.sticky-guard.dev/cookie-path-for-regex"] =
        json!("the app sets its own path");

    let server = Server::start(Policy::default()).await;
    let validated = server.review("/validate", &review).await;
    assert_eq!(validated["allowed"], false, "{validated}");
    assert!(
        validated["status"]["message"]
            .as_str()
            .unwrap()
            .contains("[cookie-path-for-regex]")
    );
    assert_eq!(
        validated["warnings"],
        json!([
            "cookie-path-for-regex: ignore-check annotation ignored: the policy does not list the \
             rule as suppressible"
        ])
    );
    let mutated = server.review("/mutate", &review).await;
    assert!(
        decoded_patch(&mutated).is_some(),
        "still patched: {mutated}"
    );
    server.running.shutdown().await.unwrap();

    let policy = Policy {
        suppressible: vec!["cookie-path-for-regex".into()],
        ..Policy::default()
    };
    let server = Server::start(policy).await;
    for path in ["/mutate", "/validate"] {
        let response = server.review(path, &review).await;
        assert_eq!(response["allowed"], true, "{path}: {response}");
        assert!(response.get("patch").is_none(), "{path}: {response}");
        assert_eq!(
            response["warnings"],
            json!([
                "cookie-path-for-regex: suppressed (ignore-check annotation): the app sets its own \
                 path"
            ]),
            "{path}"
        );
        assert_eq!(response["auditAnnotations"]["rules"], "none", "{path}");
    }
    // Only the named rule: the same Ingress under another suppression is still denied.
    let mut other = captured_review("ingress-create-sticky-regex-path.json");
    other["request"]["object"]["metadata"]["annotations"]["ignore-check.sticky-guard.dev/canary-affinity"] =
        json!("not this one");
    let validated = server.review("/validate", &other).await;
    assert_eq!(validated["allowed"], false, "{validated}");
    server.running.shutdown().await.unwrap();
}

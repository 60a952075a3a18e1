//! The live cluster view: the real kube client, watcher and reflector against a stand-in API
//! server on 127.0.0.1 (`common::apiserver`), behind the real HTTPS webhook.

mod common;

use common::apiserver::{ApiServer, Options};
use common::{Server, captured_review, decoded_patch, seed_documents};
use serde_json::{Value, json};
use std::time::Duration;
use sticky_guard::policy::Policy;
use sticky_guard::view::ViewSource;
use sticky_guard::view::live::LiveView;

const WAIT: Duration = Duration::from_secs(10);

/// A live view on `api`, synced.
async fn live_view(api: &ApiServer) -> LiveView {
    let view = LiveView::start(api.client());
    tokio::time::timeout(WAIT, view.wait_until_synced())
        .await
        .expect("caches sync");
    view
}

/// The webhook with a live view on `api`.
async fn webhook(api: &ApiServer) -> (Server, LiveView) {
    let view = live_view(api).await;
    let server =
        Server::start_with(Policy::default(), ViewSource::Live(Box::new(view.clone()))).await;
    (server, view)
}

/// Polls `condition` until it holds (the watch delivers asynchronously).
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the view's Ingress index lists `name` as a user of Service `namespace/service`.
fn indexed(view: &LiveView, namespace: &str, service: &str, name: &str) -> bool {
    use sticky_guard::view::ClusterView;
    let cached = view.cached();
    let view: &dyn ClusterView = &cached;
    view.ingresses_with_backend(namespace, service)
        .ingresses()
        .any(|i| i.meta.name.as_deref() == Some(name))
}

/// Whether the view's Service cache holds `namespace/name`.
fn has_service(view: &LiveView, namespace: &str, name: &str) -> bool {
    use sticky_guard::view::{ClusterView, Lookup};
    let cached = view.cached();
    let view: &dyn ClusterView = &cached;
    matches!(view.service(namespace, name), Lookup::Found(_))
}

fn review_object(name: &str) -> Value {
    captured_review(name)["request"]["object"].clone()
}

#[tokio::test]
async fn externalname_proxy_service_first_then_ingress() {
    let api = ApiServer::start(Options::default()).await;
    api.apply(review_object("service-create-externalname-proxy.json"));
    let (server, _view) = webhook(&api).await;
    let response = server
        .review_captured(
            "/validate",
            "ingress-create-sticky-externalname-backend.json",
        )
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert_eq!(response["status"]["code"], 403);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.contains("[externalname-backend]"), "{message}");
    assert!(message.contains("put this Ingress in namespace `otherns`, next to Service `mysvc`"));
}

#[tokio::test]
async fn externalname_proxy_ingress_first_then_service() {
    let api = ApiServer::start(Options::default()).await;
    let (server, view) = webhook(&api).await;
    // The Ingress comes first: its Service does not exist yet, which is a warning, not a denial.
    let ingress_review = captured_review("ingress-create-sticky-externalname-backend.json");
    let response = server.review("/validate", &ingress_review).await;
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(
        response["warnings"],
        json!([
            "externalname-backend: create backend Service `mysvc-proxy` with a selector, not as ExternalName: it does not exist yet"
        ])
    );
    api.apply(ingress_review["request"]["object"].clone());
    eventually("the Ingress in the index", || {
        indexed(&view, "ingress-shared", "mysvc-proxy", "mysite")
    })
    .await;
    // Then the ExternalName Service is denied.
    let response = server
        .review_captured("/validate", "service-create-externalname-proxy.json")
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("[externalname-under-sticky-ingress] spec.type: Service `mysvc-proxy` would be type ExternalName"),
        "{message}"
    );
    assert!(message.contains("sticky Ingress ingress-shared/mysite routes to it"));
}

#[tokio::test]
async fn service_changed_to_externalname_under_a_sticky_ingress() {
    let api = ApiServer::start(Options::default()).await;
    let documents = seed_documents("01-regex-path-missing-cookie-path.yaml");
    let (ingress, service) = (documents[0].clone(), documents[1].clone());
    api.apply(ingress);
    api.apply(service.clone());
    let (server, _view) = webhook(&api).await;

    let mut changed = service.clone();
    changed["spec"] =
        json!({"type": "ExternalName", "externalName": "mysvc.otherns.svc.cluster.local"});
    let mut review = common::review_for(&changed, "update-1");
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["oldObject"] = service.clone();
    let response = server.review("/validate", &review).await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .as_str()
            .unwrap()
            .contains("sticky Ingress myapp/mysite routes to it")
    );

    // Unchanged ClusterIP update: allowed.
    let mut same = common::review_for(&service, "update-2");
    same["request"]["operation"] = json!("UPDATE");
    same["request"]["oldObject"] = service;
    assert_eq!(server.review("/validate", &same).await["allowed"], true);
}

#[tokio::test]
async fn a_backend_service_missing_from_the_cache_is_fetched_live() {
    let api = ApiServer::start(Options::default()).await;
    let (server, view) = webhook(&api).await;
    // In the API, but not (yet) delivered by list/watch.
    api.apply_hidden(review_object("service-create-externalname-proxy.json"));
    assert!(!has_service(&view, "ingress-shared", "mysvc-proxy"));
    let response = server
        .review_captured(
            "/validate",
            "ingress-create-sticky-externalname-backend.json",
        )
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        api.requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/ingress-shared/services/mysvc-proxy")),
        "{:?}",
        api.requests()
    );
    // The mutating webhook does not need Services: no live GET for it.
    let before = api.requests().len();
    server
        .review_captured("/mutate", "ingress-create-sticky-externalname-backend.json")
        .await;
    assert_eq!(api.requests().len(), before);
}

#[tokio::test]
async fn regex_mode_set_by_another_ingress_on_the_same_host() {
    let api = ApiServer::start(Options::default()).await;
    api.apply(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "api", "namespace": "other-team",
                     "annotations": {"nginx.ingress.kubernetes.io/use-regex": "true"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/api/v[0-9]+", "pathType": "ImplementationSpecific",
             "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}
    }));
    let (server, _view) = webhook(&api).await;
    let mut sticky = seed_documents("01-regex-path-missing-cookie-path.yaml")[0].clone();
    let annotations = sticky["metadata"]["annotations"].as_object_mut().unwrap();
    annotations.remove("nginx.ingress.kubernetes.io/use-regex");
    annotations.remove("nginx.ingress.kubernetes.io/rewrite-target");
    let response = server
        .review("/mutate", &common::review_for(&sticky, "u"))
        .await;
    assert_eq!(
        decoded_patch(&response),
        Some(json!([{"op": "add",
            "path": "/metadata/annotations/nginx.ingress.kubernetes.io~1session-cookie-path",
            "value": "/mysite"}]))
    );
    // On another host the same Ingress is left alone.
    sticky["spec"]["rules"][0]["host"] = json!("elsewhere.example.com");
    let response = server
        .review("/mutate", &common::review_for(&sticky, "u"))
        .await;
    assert!(response.get("patch").is_none(), "{response}");
}

#[tokio::test]
async fn watch_restart_after_410_gone_keeps_every_object() {
    let api = ApiServer::start(Options::default()).await;
    api.apply(review_object("service-create-clusterip.json"));
    api.apply(review_object("ingress-create-sticky-regex-path.json"));
    let view = live_view(&api).await;
    // The caches are synced once listed; expire the watches only once they are open.
    eventually("open watches", || {
        api.open_watches("services") > 0 && api.open_watches("ingresses") > 0
    })
    .await;
    let lists_before = api.list_count("services");
    api.bookmark();
    api.expire_watches();
    api.apply(review_object("service-create-externalname-proxy.json"));
    api.apply(review_object(
        "ingress-create-sticky-externalname-backend.json",
    ));
    eventually("a re-list after 410 Gone", || {
        api.list_count("services") > lists_before
    })
    .await;
    eventually("objects from before and after the 410", || {
        has_service(&view, "myapp", "mysvc")
            && has_service(&view, "ingress-shared", "mysvc-proxy")
            && indexed(&view, "myapp", "mysvc", "mysite")
            && indexed(&view, "ingress-shared", "mysvc-proxy", "mysite")
    })
    .await;
    assert!(view.readiness().ready);
    // Deletions still arrive after the restart.
    api.delete("Service", "myapp", "mysvc");
    eventually("the deletion", || !has_service(&view, "myapp", "mysvc")).await;
}

#[tokio::test]
async fn readyz_waits_for_the_caches_and_reports_them() {
    let api = ApiServer::start(Options {
        backend_configs_crd: true,
        ..Options::default()
    })
    .await;
    let (server, _view) = webhook(&api).await;
    let (status, body) = server.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"ready": true, "clusterView": "live", "detail": "watch caches synced",
               "caches": {"backendconfigs": "synced", "gatewayclasses": "not installed",
                          "gateways": "not installed", "grpcroutes": "not installed",
                          "httproutes": "not installed", "ingressclasses": "synced",
                          "ingresses": "synced", "referencegrants": "not installed",
                          "services": "synced"},
               "certificate": "loaded", "shuttingDown": false, "reports": "off"})
    );

    // A cluster that never answers: not ready, and says why.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let config = kube::Config::new(url.parse().unwrap());
    let view = LiveView::start(kube::Client::try_from(config).unwrap());
    let server = Server::start_with(Policy::default(), ViewSource::Live(Box::new(view))).await;
    let (status, body) = server.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["ready"], false);
    assert_eq!(body["caches"]["services"], "syncing");
    // The webhook still answers, with the single-object rules.
    let response = server
        .review_captured("/mutate", "ingress-create-sticky-regex-path.json")
        .await;
    assert!(decoded_patch(&response).is_some());

    // No cluster at all: ready, in single-object mode, and it says so.
    let server = Server::start(Policy::default()).await;
    let (status, body) = server.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["ready"], true);
    assert_eq!(body["clusterView"], "off");
}

#[tokio::test]
async fn gke_backendconfig_is_read_when_the_crd_is_installed() {
    let api = ApiServer::start(Options {
        backend_configs_crd: true,
        ..Options::default()
    })
    .await;
    let documents = seed_documents("05-gke-backendconfig-neg.yaml");
    api.apply(documents[0].clone()); // BackendConfig
    let (server, _view) = webhook(&api).await;
    let mut service = documents[1].clone();
    let response = server
        .review("/validate", &common::review_for(&service, "s"))
        .await;
    assert!(response.get("warnings").is_none(), "{response}");
    service["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("cloud.google.com/neg");
    // A ClusterIP Service gets NEGs by default (GKE 1.17+); a NodePort Service does not.
    service["spec"]["type"] = Value::from("NodePort");
    let response = server
        .review("/validate", &common::review_for(&service, "s"))
        .await;
    assert_eq!(response["allowed"], true);
    assert!(
        response["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("generated-cookie-without-neg: add cloud.google.com/neg: '{\"ingress\": true}': GENERATED_COOKIE needs NEGs"),
        "{response}"
    );
}

#[tokio::test]
async fn concurrent_lookups_of_a_missing_backend_make_one_api_call_and_not_found_is_remembered() {
    let api = ApiServer::start(Options::default()).await;
    api.set_get_delay(Duration::from_millis(300));
    let view = LiveView::start(api.client()).remember_absent_for(Duration::from_millis(800));
    tokio::time::timeout(WAIT, view.wait_until_synced())
        .await
        .expect("caches sync");
    let server =
        Server::start_with(Policy::default(), ViewSource::Live(Box::new(view.clone()))).await;
    let review = captured_review("ingress-create-sticky-regex-path.json");
    let get = "/api/v1/namespaces/myapp/services/mysvc";

    // Eight reviews at once, each needing the backend `mysvc` that neither cache nor API has.
    let answers =
        futures::future::join_all((0..8).map(|_| server.review("/validate", &review))).await;
    for answer in &answers {
        assert_eq!(answer["allowed"], false, "{answer}");
        assert!(
            answer["warnings"]
                .to_string()
                .contains("externalname-backend"),
            "the missing Service is reported: {answer}"
        );
    }
    assert_eq!(
        api.count("GET", get, 404),
        1,
        "one API call for eight reviews"
    );
    let lookups: std::collections::BTreeMap<_, _> = view.live_lookups().into_iter().collect();
    assert_eq!((lookups["absent"], lookups["coalesced"]), (1, 7));

    // Within the TTL the "not found" is remembered; after it, the API is asked again.
    server.review("/validate", &review).await;
    assert_eq!(api.count("GET", get, 404), 1);
    let lookups: std::collections::BTreeMap<_, _> = view.live_lookups().into_iter().collect();
    assert_eq!(lookups["remembered"], 1);
    tokio::time::sleep(Duration::from_millis(900)).await;
    server.review("/validate", &review).await;
    assert_eq!(api.count("GET", get, 404), 2);
}

/// The HTTPRoutes the view's index lists as users of Service `namespace/service`.
fn routes_to(view: &LiveView, namespace: &str, service: &str) -> Vec<String> {
    use sticky_guard::objects::kinds::{IndexKey, Kind};
    use sticky_guard::view::ClusterView;
    let cached = view.cached();
    let key = IndexKey::Backend {
        namespace: namespace.into(),
        service: service.into(),
    };
    let mut names: Vec<String> = cached
        .find(Kind::HttpRoute, &key)
        .objects
        .iter()
        .filter_map(|o| o.meta().name.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn gateway_api_kinds_are_watched_when_their_crds_are_installed() {
    let api = ApiServer::start(Options {
        gateway_api_crds: true,
        ..Options::default()
    })
    .await;
    // Envoy Gateway's GatewayClass (cluster-scoped) and Gateway, and an HTTPRoute, before the
    // view starts: the initial list fills the caches.
    let envoy = common::gateway_data("envoy-gateway-regex.yaml");
    api.apply(envoy[0].clone());
    api.apply(envoy[1].clone());
    let cross = common::gateway_data("cross-namespace.yaml");
    api.apply(cross[0].clone());
    let (server, view) = webhook(&api).await;
    let (status, body) = server.get_json("/readyz").await;
    assert_eq!(status, 200);
    for cache in [
        "httproutes",
        "grpcroutes",
        "gateways",
        "gatewayclasses",
        "referencegrants",
    ] {
        assert_eq!(body["caches"][cache], "synced", "{cache}: {body}");
    }
    assert_eq!(routes_to(&view, "bar", "bar"), ["foo"]);

    // The watched Gateway and GatewayClass say Envoy Gateway serves the route: denied, with
    // the cookie Path it sets (single-object mode only warns).
    let response = server
        .review("/validate", &common::review_for(&envoy[2], "eg"))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .as_str()
            .unwrap()
            .contains("Envoy Gateway sets the session cookie's Path to `/mysite(`"),
        "{response}"
    );

    // HTTPRoute watch events: an added route is indexed by its backend, a deleted one leaves.
    api.apply(cross[1].clone());
    eventually("the added HTTPRoute", || {
        routes_to(&view, "bar", "baz") == ["foo-baz"]
    })
    .await;
    api.delete("HTTPRoute", "foo", "foo");
    eventually("the deleted HTTPRoute", || {
        routes_to(&view, "bar", "bar").is_empty()
    })
    .await;

    // No ReferenceGrant in `bar` (a synced, empty cache): the cross-namespace route is warned
    // about; once a grant arrives through the watch, it is not.
    let route = &cross[1];
    let warned = |response: &Value| {
        response["warnings"]
            .to_string()
            .contains("gateway-cross-namespace-without-referencegrant")
    };
    let response = server
        .review("/validate", &common::review_for(route, "x1"))
        .await;
    assert_eq!(response["allowed"], true);
    assert!(warned(&response), "{response}");
    let mut grant = cross[2].clone();
    grant["apiVersion"] = json!("gateway.networking.k8s.io/v1");
    grant["spec"]["to"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    api.apply(grant);
    let mut answered = json!(null);
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        answered = server
            .review("/validate", &common::review_for(route, "x2"))
            .await;
        if !warned(&answered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!warned(&answered), "the grant is seen: {answered}");

    // An ExternalName Service behind a sticky route, seen through the Service watch.
    let external = common::gateway_data("externalname-backend.yaml");
    api.apply(external[0].clone());
    eventually("the Service", || {
        has_service(&view, "default", "service-externalname")
    })
    .await;
    let response = server
        .review("/validate", &common::review_for(&external[1], "x3"))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["auditAnnotations"]["rules"]
            .as_str()
            .unwrap()
            .contains("gateway-externalname-backend"),
        "{response}"
    );

    // The other side, read through the HTTPRoute watch's backend index: with the sticky route
    // in the cluster, making its Service ExternalName is denied.
    api.apply(external[1].clone());
    eventually("the sticky HTTPRoute", || {
        routes_to(&view, "default", "service-externalname") == ["httproute-1"]
    })
    .await;
    let response = server
        .review("/validate", &common::review_for(&external[0], "x4"))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .as_str()
            .unwrap()
            .contains("but HTTPRoute default/httproute-1 send it sessions to pin"),
        "{response}"
    );
}

/// Whether the view's IngressClass cache holds `name` with `controller`.
fn ingress_class_controller(view: &LiveView, name: &str) -> Option<String> {
    use sticky_guard::view::{ClusterView, Lookup};
    let cached = view.cached();
    let view: &dyn ClusterView = &cached;
    match view.get(sticky_guard::objects::kinds::Kind::IngressClass, "", name) {
        Lookup::Found(object) => object.as_ingress_class()?.controller.clone(),
        _ => None,
    }
}

/// The live view watches IngressClasses (cluster-scoped): which controller serves class
/// `nginx` decides which rules judge its Ingresses, and a change to the class reaches the next
/// review.
#[tokio::test]
async fn ingress_classes_are_watched_and_decide_which_rules_run() {
    let api = ApiServer::start(Options::default()).await;
    // F5 NGINX Ingress Controller's class (nginx/kubernetes-ingress v5.5.4
    // deployments/common/ingress-class.yaml), before the view starts.
    api.apply(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "nginx"}, "spec": {"controller": "nginx.org/ingress-controller"}}),
    );
    let (server, view) = webhook(&api).await;
    let (_, body) = server.get_json("/readyz").await;
    assert_eq!(body["caches"]["ingressclasses"], "synced", "{body}");
    assert_eq!(
        ingress_class_controller(&view, "nginx").as_deref(),
        Some("nginx.org/ingress-controller")
    );
    // A sticky Ingress with a regex path and no session-cookie-path: under ingress-nginx a
    // deny (seed 01); under F5's controller the affinity annotations do nothing.
    let ingress = seed_documents("01-regex-path-missing-cookie-path.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Ingress")
        .expect("seed 01 has an Ingress");
    let class = ingress
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str);
    assert_eq!(class, Some("nginx"));
    let response = server
        .review("/validate", &common::review_for(&ingress, "f5"))
        .await;
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = response["warnings"].to_string();
    assert!(
        warnings.contains(
            "affinity-annotations-on-other-controller: F5 NGINX Ingress ignores these; use \
             nginx.org/sticky-cookie-services"
        ),
        "{response}"
    );
    assert!(!warnings.contains("cookie-path-for-regex"), "{response}");

    // The class is replaced by ingress-nginx's (IngressClass `spec.controller` is immutable,
    // so it is deleted and created again): the same Ingress is refused.
    api.delete("IngressClass", "", "nginx");
    eventually("the deleted IngressClass", || {
        ingress_class_controller(&view, "nginx").is_none()
    })
    .await;
    api.apply(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
    );
    eventually("the new IngressClass", || {
        ingress_class_controller(&view, "nginx").as_deref() == Some("k8s.io/ingress-nginx")
    })
    .await;
    let response = server
        .review("/validate", &common::review_for(&ingress, "nginx"))
        .await;
    assert_eq!(response["allowed"], false, "{response}");
    assert!(
        response["status"]["message"]
            .to_string()
            .contains("cookie-path-for-regex"),
        "{response}"
    );
}

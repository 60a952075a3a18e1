//! Self-test of the stand-in API server (`tests/common/apiserver.rs`), driven by the real `kube`
//! client: lists, gets, watches, reflectors, 410 recovery and discovery.

mod common;

use common::apiserver::{ApiServer, Options};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DynamicObject, ListParams, ResourceExt, WatchEvent, WatchParams};
use kube::discovery::{self, Discovery, Scope};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// Upper bound for anything we wait on, so that a bug fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Polls `check` until it holds (or fails the test after [`WAIT`]).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn service(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"port": 80}]},
    })
}

fn ingress(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ingressClassName": "nginx"},
    })
}

fn backend_config(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "cloud.google.com/v1",
        "kind": "BackendConfig",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sessionAffinity": {"affinityType": "GENERATED_COOKIE"}},
    })
}

/// `namespace/name` of every object in a reflector store, sorted.
fn keys<K: kube::Resource + Clone>(store: &Store<K>) -> Vec<String>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let mut keys: Vec<String> = store
        .state()
        .iter()
        .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn list_get_and_hidden_objects() {
    let server = ApiServer::start(Options::default()).await;
    server.apply(service("a", "one"));
    server.apply(service("b", "two"));
    let mut unnamespaced = service("", "three");
    unnamespaced["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    server.apply(unnamespaced);
    server.apply_hidden(service("a", "secret"));
    server.apply(ingress("a", "web"));
    let client = server.client();

    let all: Api<Service> = Api::all(client.clone());
    let list = within("list", all.list(&ListParams::default()))
        .await
        .unwrap();
    let names: Vec<String> = list
        .iter()
        .map(|s| format!("{}/{}", s.namespace().unwrap(), s.name_any()))
        .collect();
    assert_eq!(names, ["a/one", "b/two", "default/three"]);
    // The list carries the global resource version; the objects got uid/creationTimestamp.
    assert_eq!(
        list.metadata.resource_version.as_deref(),
        Some(server.resource_version().to_string().as_str())
    );
    let first = &list.items[0];
    assert!(first.metadata.uid.is_some());
    assert!(first.metadata.creation_timestamp.is_some());

    // Paging with limit + continue.
    let page1 = within("page 1", all.list(&ListParams::default().limit(2)))
        .await
        .unwrap();
    assert_eq!(page1.items.len(), 2);
    let token = page1.metadata.continue_.clone().expect("a continue token");
    let page2 = within(
        "page 2",
        all.list(&ListParams::default().limit(2).continue_token(&token)),
    )
    .await
    .unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].name_any(), "three");
    assert!(page2.metadata.continue_.as_deref().unwrap_or("").is_empty());
    assert_eq!(
        page1.metadata.resource_version,
        page2.metadata.resource_version
    );

    // Get by name: missing is Ok(None), hidden is found but was not listed.
    let in_a: Api<Service> = Api::namespaced(client.clone(), "a");
    assert!(
        within("get missing", in_a.get_opt("missing"))
            .await
            .unwrap()
            .is_none()
    );
    let secret = within("get hidden", in_a.get_opt("secret"))
        .await
        .unwrap()
        .expect("hidden object visible by name");
    assert_eq!(secret.name_any(), "secret");
    assert!(
        within("get one", in_a.get_opt("one"))
            .await
            .unwrap()
            .is_some()
    );

    // Ingresses live under networking.k8s.io.
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "a");
    let listed = within("list ingresses", ingresses.list(&ListParams::default()))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(
        within("get missing ingress", ingresses.get_opt("nope"))
            .await
            .unwrap()
            .is_none()
    );

    // Label and field selectors (the simple subset).
    let mut labelled = service("a", "labelled");
    labelled["metadata"]["labels"] = json!({"app": "x"});
    server.apply(labelled);
    let selected = within(
        "label selector",
        all.list(&ListParams::default().labels("app=x")),
    )
    .await
    .unwrap();
    assert_eq!(selected.items.len(), 1);
    let by_name = within(
        "field selector",
        all.list(&ListParams::default().fields("metadata.name=two")),
    )
    .await
    .unwrap();
    assert_eq!(by_name.items[0].name_any(), "two");

    assert_eq!(server.list_count("services"), 5);
    assert_eq!(server.list_count("ingresses"), 1);
    let requests = server.requests();
    assert!(
        requests.contains(&"GET /api/v1/namespaces/a/services/missing".to_owned()),
        "{requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /apis/networking.k8s.io/v1/namespaces/a/ingresses?")),
        "{requests:#?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn reflector_follows_changes_bookmarks_and_expiry() {
    let server = ApiServer::start(Options::default()).await;
    server.apply(service("a", "before"));
    server.apply_hidden(service("a", "hidden"));
    let api: Api<Service> = Api::all(server.client());
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()));
    let task = tokio::spawn(stream.default_backoff().for_each(|_| async {}));

    within("store ready", store.wait_until_ready())
        .await
        .unwrap();
    assert_eq!(keys(&store), ["a/before"]);

    // ADDED
    server.apply(service("b", "added"));
    eventually("ADDED reaches the store", || {
        keys(&store) == ["a/before", "b/added"]
    })
    .await;

    // MODIFIED
    let mut modified = service("b", "added");
    modified["metadata"]["labels"] = json!({"changed": "yes"});
    server.apply(modified);
    eventually("MODIFIED reaches the store", || {
        store
            .state()
            .iter()
            .any(|s| s.name_any() == "added" && s.labels().get("changed").is_some())
    })
    .await;

    // DELETED
    server.delete("Service", "a", "before");
    eventually("DELETED reaches the store", || keys(&store) == ["b/added"]).await;

    // A bookmark does not disturb the watch: later changes still arrive, without a re-list.
    let lists = server.list_count("services");
    server.bookmark();
    server.apply(service("c", "after-bookmark"));
    eventually("change after bookmark", || {
        keys(&store) == ["b/added", "c/after-bookmark"]
    })
    .await;
    assert_eq!(server.list_count("services"), lists);

    // 410 Gone: the watcher re-lists and the store still has everything.
    server.expire_watches();
    server.apply(service("d", "after-expiry"));
    eventually("re-list after 410", || {
        server.list_count("services") > lists
    })
    .await;
    eventually("store complete after 410", || {
        keys(&store) == ["b/added", "c/after-bookmark", "d/after-expiry"]
    })
    .await;
    // And the watch is re-established: further changes keep flowing.
    eventually("watch re-opened", || server.open_watches("services") == 1).await;
    server.apply(service("e", "later"));
    eventually("change after re-watch", || {
        keys(&store).contains(&"e/later".to_owned())
    })
    .await;

    let requests = server.requests();
    let watches: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("watch=true"))
        .collect();
    assert!(watches.len() >= 2, "{requests:#?}");
    assert!(
        watches
            .iter()
            .all(|r| r.contains("allowWatchBookmarks=true")),
        "{watches:#?}"
    );
    task.abort();
    server.shutdown().await;
}

#[tokio::test]
async fn raw_watch_replays_expires_and_ends_on_shutdown() {
    let server = ApiServer::start(Options::default()).await;
    server.apply(service("a", "one"));
    let api: Api<Service> = Api::namespaced(server.client(), "a");
    let rv = within("list", api.list(&ListParams::default()))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    // Changes made before the watch starts are replayed from the log.
    server.apply(service("a", "two"));
    server.apply(service("other", "ignored")); // another namespace: not in this watch
    let mut events = within("watch", api.watch(&WatchParams::default(), &rv))
        .await
        .unwrap()
        .boxed();
    match within("replayed event", events.try_next()).await.unwrap() {
        Some(WatchEvent::Added(s)) => assert_eq!(s.name_any(), "two"),
        other => panic!("expected ADDED two, got {other:?}"),
    }
    server.bookmark();
    match within("bookmark", events.try_next()).await.unwrap() {
        Some(WatchEvent::Bookmark(b)) => {
            assert_eq!(
                b.metadata.resource_version,
                server.resource_version().to_string()
            );
            assert_eq!(b.types.kind, "Service");
        }
        other => panic!("expected BOOKMARK, got {other:?}"),
    }
    server.delete("Service", "a", "one");
    match within("deleted", events.try_next()).await.unwrap() {
        Some(WatchEvent::Deleted(s)) => {
            assert_eq!(s.name_any(), "one");
            assert_eq!(
                s.resource_version(),
                Some(server.resource_version().to_string())
            );
        }
        other => panic!("expected DELETED, got {other:?}"),
    }

    // expire_watches: a 410 ERROR event, then the stream ends.
    server.expire_watches();
    match within("410", events.try_next()).await.unwrap() {
        Some(WatchEvent::Error(status)) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
            assert!(status.message.starts_with("too old resource version: "));
        }
        other => panic!("expected ERROR 410, got {other:?}"),
    }
    assert!(within("end", events.try_next()).await.unwrap().is_none());

    // Re-watching from the old version is refused the same way ...
    let mut events = within("re-watch", api.watch(&WatchParams::default(), &rv))
        .await
        .unwrap()
        .boxed();
    assert!(matches!(
        within("410 again", events.try_next()).await.unwrap(),
        Some(WatchEvent::Error(status)) if status.code == 410
    ));
    // ... while the current version is accepted, and shutdown ends the stream.
    let current = server.resource_version().to_string();
    let mut events = within(
        "watch current",
        api.watch(&WatchParams::default(), &current),
    )
    .await
    .unwrap()
    .boxed();
    server.apply(service("a", "three"));
    assert!(matches!(
        within("live event", events.try_next()).await.unwrap(),
        Some(WatchEvent::Added(s)) if s.name_any() == "three"
    ));
    assert_eq!(server.open_watches("services"), 1);
    within("shutdown", server.shutdown()).await;
    let end = within("stream ends on shutdown", events.next()).await;
    assert!(!matches!(end, Some(Ok(_))), "{end:?}");
}

#[tokio::test]
async fn discovery_and_dynamic_reflector_with_crd() {
    let server = ApiServer::start(Options {
        backend_configs_crd: true,
    })
    .await;
    server.apply(backend_config("a", "cookie"));
    let client = server.client();

    let group = within("group", discovery::group(&client, "cloud.google.com"))
        .await
        .unwrap();
    let (resource, caps) = group
        .recommended_kind("BackendConfig")
        .expect("BackendConfig discovered");
    assert_eq!(resource.plural, "backendconfigs");
    assert_eq!(resource.api_version, "cloud.google.com/v1");
    assert_eq!(caps.scope, Scope::Namespaced);

    // Full discovery, classic and aggregated, and the core group.
    let full = within("discovery", Discovery::new(client.clone()).run())
        .await
        .unwrap();
    assert!(full.has_group("cloud.google.com"));
    assert!(full.has_group("networking.k8s.io"));
    assert!(full.has_group(""));
    let aggregated = within(
        "aggregated discovery",
        Discovery::new(client.clone()).run_aggregated(),
    )
    .await
    .unwrap();
    assert!(aggregated.has_group("cloud.google.com"));
    let core = within("core group", discovery::group(&client, ""))
        .await
        .unwrap();
    assert!(core.recommended_kind("Service").is_some());
    let version = within("version", client.apiserver_version()).await.unwrap();
    assert_eq!(version.major, "1");

    // A reflector on DynamicObject via the discovered ApiResource.
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let writer = reflector::store::Writer::new(resource.clone());
    let store = writer.as_reader();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()));
    let task = tokio::spawn(stream.default_backoff().for_each(|_| async {}));
    within("dynamic store ready", store.wait_until_ready())
        .await
        .unwrap();
    assert_eq!(keys(&store), ["a/cookie"]);
    server.apply(backend_config("b", "other"));
    eventually("dynamic ADDED", || keys(&store) == ["a/cookie", "b/other"]).await;
    let cookie = store
        .state()
        .into_iter()
        .find(|o| o.name_any() == "cookie")
        .unwrap();
    assert_eq!(
        cookie.data["spec"]["sessionAffinity"]["affinityType"],
        "GENERATED_COOKIE"
    );
    task.abort();
    server.shutdown().await;
}

#[tokio::test]
async fn backend_configs_absent_without_crd() {
    let server = ApiServer::start(Options::default()).await;
    let client = server.client();
    assert!(
        within("group", discovery::group(&client, "cloud.google.com"))
            .await
            .is_err()
    );
    let full = within("discovery", Discovery::new(client.clone()).run())
        .await
        .unwrap();
    assert!(!full.has_group("cloud.google.com"));
    assert!(full.has_group("networking.k8s.io"));

    let resource = kube::discovery::ApiResource {
        group: "cloud.google.com".into(),
        version: "v1".into(),
        api_version: "cloud.google.com/v1".into(),
        kind: "BackendConfig".into(),
        plural: "backendconfigs".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client, "a", &resource);
    match within("list", api.list(&ListParams::default())).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404),
        other => panic!("expected 404, got {other:?}"),
    }
    assert!(within("get", api.get_opt("x")).await.unwrap().is_none());
    assert_eq!(server.list_count("backendconfigs"), 0);
}

#[tokio::test]
async fn errors_are_statuses() {
    let server = ApiServer::start(Options::default()).await;
    // reqwest is built without a bundled crypto provider; it needs one even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.url)).send();

    let response = within("unknown path", get("/nope")).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "NotFound");

    let response = within("missing", get("/api/v1/namespaces/a/services/x"))
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "services \"x\" not found");
    assert_eq!(body["details"], json!({"name": "x", "kind": "services"}));

    // POST on an object path is not a thing (creates go to the collection).
    let response = within(
        "post",
        http.post(format!("{}/api/v1/namespaces/a/services/x", server.url))
            .body("{}")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "MethodNotAllowed");

    let response = within(
        "bad rv",
        get("/api/v1/services?watch=true&resourceVersion=x"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        server.requests().last().map(String::as_str),
        Some("GET /api/v1/services?watch=true&resourceVersion=x")
    );
}

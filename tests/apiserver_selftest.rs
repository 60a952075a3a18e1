//! Self-test of the stand-in API server (`tests/common/apiserver.rs`), driven by the real `kube`
//! client: lists, gets, watches, reflectors, 410 recovery, discovery, and the writes (create,
//! replace, JSON and merge patches, delete) on Secrets and the cluster-scoped webhook
//! configurations; Leases, strategic merge patches, server-side apply and field ownership, the
//! policy-report CRDs, label selectors, and two `kube_lease_manager::LeaseManager`s electing a
//! leader.

mod common;

use common::apiserver::{ApiServer, Exchange, MAX_BODY_BYTES, Options};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    Preconditions, ResourceExt, WatchEvent, WatchParams,
};
use kube::core::GroupVersionKind;
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
        ..Options::default()
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

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// A Secret with one data key `tls.crt` holding `value`.
fn secret(name: &str, value: &str) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {"tls.crt": base64(value)},
    }))
    .unwrap()
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A webhook configuration (`kind` `MutatingWebhookConfiguration` or
/// `ValidatingWebhookConfiguration`) with one webhook whose caBundle is `ca`, base64-encoded.
fn webhook_configuration(kind: &str, name: &str, ca: &str) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ignored"},
        "webhooks": [{
            "name": "ingresses.sticky-guard.example.com",
            "clientConfig": {
                "service": {"namespace": "sticky-guard", "name": "sticky-guard", "path": "/validate"},
                "caBundle": base64(ca),
            },
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }],
    })
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

const SECRETS: &str = "/api/v1/namespaces/x/secrets";

#[tokio::test]
async fn create_is_409_when_taken_and_checks_the_body() {
    let server = ApiServer::start(Options::default()).await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), "x");
    let pp = PostParams::default();

    let created = within("create", secrets.create(&pp, &secret("tls", "one")))
        .await
        .unwrap();
    assert_eq!(created.name_any(), "tls");
    assert_eq!(created.namespace().as_deref(), Some("x"));
    assert_eq!(
        created.resource_version(),
        Some(server.resource_version().to_string())
    );
    assert!(created.uid().is_some());
    assert!(created.creation_timestamp().is_some());
    let stored = server.get("Secret", "x", "tls").expect("stored");
    assert_eq!(stored, serde_json::to_value(&created).unwrap());
    assert_eq!(stored["data"]["tls.crt"], base64("one"));

    // Taken: 409 AlreadyExists, and the stored object is untouched.
    let (code, reason, message) =
        api_error(within("create again", secrets.create(&pp, &secret("tls", "two"))).await);
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(message, "secrets \"tls\" already exists");
    assert_eq!(server.get("Secret", "x", "tls"), Some(stored));
    // Hidden objects count too.
    let mut hidden = serde_json::to_value(secret("hidden", "h")).unwrap();
    hidden["metadata"]["namespace"] = json!("x");
    server.apply_hidden(hidden);
    let (code, reason, _) =
        api_error(within("create hidden", secrets.create(&pp, &secret("hidden", "h"))).await);
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));

    // The body's namespace must agree with the path's.
    let mut elsewhere = secret("elsewhere", "e");
    elsewhere.metadata.namespace = Some("y".into());
    let (code, reason, _) =
        api_error(within("wrong namespace", secrets.create(&pp, &elsewhere)).await);
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(server.get("Secret", "y", "elsewhere"), None);
    assert_eq!(server.get("Secret", "x", "elsewhere"), None);

    // No name: 422; generateName: a fresh name.
    let mut nameless = secret("", "n");
    nameless.metadata.name = None;
    let (code, reason, message) =
        api_error(within("nameless", secrets.create(&pp, &nameless)).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "Secret \"\" is invalid: metadata.name: Required value: name or generateName is required"
    );
    nameless.metadata.generate_name = Some("gen-".into());
    let generated = within("generateName", secrets.create(&pp, &nameless))
        .await
        .unwrap();
    let name = generated.name_any();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    assert!(server.get("Secret", "x", &name).is_some());

    // A resourceVersion on create is refused, as kube-apiserver does.
    let mut versioned = secret("versioned", "v");
    versioned.metadata.resource_version = Some("1".into());
    let (code, _, message) = api_error(within("versioned", secrets.create(&pp, &versioned)).await);
    assert_eq!(code, 500);
    assert_eq!(
        message,
        "resourceVersion should not be set on objects to be created"
    );

    assert_eq!(server.count("POST", SECRETS, 201), 2);
    assert_eq!(server.count("POST", SECRETS, 409), 2);
    assert_eq!(server.count("POST", SECRETS, 400), 1);
    assert_eq!(server.count("POST", SECRETS, 422), 1);
    let writes = server.writes();
    assert_eq!(writes.len(), 7, "{writes:#?}");
    assert!(
        writes
            .iter()
            .all(|w| w.method == "POST" && w.path == SECRETS)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn replace_checks_the_resource_version() {
    let server = ApiServer::start(Options::default()).await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), "x");
    let pp = PostParams::default();
    let created = within("create", secrets.create(&pp, &secret("tls", "one")))
        .await
        .unwrap();
    let first_rv = created.resource_version().unwrap();

    // With the current resourceVersion: 200, a new resourceVersion, same uid and timestamp.
    let mut update = created.clone();
    update.data = secret("tls", "two").data;
    let replaced = within("replace", secrets.replace("tls", &pp, &update))
        .await
        .unwrap();
    let second_rv = replaced.resource_version().unwrap();
    assert_eq!(second_rv, server.resource_version().to_string());
    assert!(second_rv.parse::<u64>().unwrap() > first_rv.parse::<u64>().unwrap());
    assert_eq!(replaced.uid(), created.uid());
    assert_eq!(replaced.creation_timestamp(), created.creation_timestamp());
    assert_eq!(
        server.get("Secret", "x", "tls").unwrap()["data"]["tls.crt"],
        base64("two")
    );
    assert_eq!(server.count("PUT", &format!("{SECRETS}/tls"), 200), 1);

    // With the stale one: 409 Conflict, nothing changes.
    let mut stale = created.clone();
    stale.data = secret("tls", "three").data;
    let (code, reason, message) =
        api_error(within("stale replace", secrets.replace("tls", &pp, &stale)).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        "Operation cannot be fulfilled on secrets \"tls\": the object has been modified; please \
         apply your changes to the latest version and try again"
    );
    let stored = server.get("Secret", "x", "tls").unwrap();
    assert_eq!(stored["data"]["tls.crt"], base64("two"));
    assert_eq!(stored["metadata"]["resourceVersion"], json!(second_rv));

    // Without one: unconditional.
    stale.metadata.resource_version = None;
    let forced = within("unconditional replace", secrets.replace("tls", &pp, &stale))
        .await
        .unwrap();
    assert_ne!(forced.resource_version().unwrap(), second_rv);
    assert_eq!(
        server.get("Secret", "x", "tls").unwrap()["data"]["tls.crt"],
        base64("three")
    );

    // Absent: 404; a body naming another object: 400.
    let (code, reason, message) = api_error(
        within(
            "replace absent",
            secrets.replace("absent", &pp, &secret("absent", "a")),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(message, "secrets \"absent\" not found");
    let (code, reason, _) = api_error(
        within(
            "name mismatch",
            secrets.replace("tls", &pp, &secret("other", "o")),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(server.get("Secret", "x", "other"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn json_patch_with_a_resource_version_test() {
    let server = ApiServer::start(Options::default()).await;
    server.apply(webhook_configuration(
        "ValidatingWebhookConfiguration",
        "sticky-guard",
        "old CA",
    ));
    let stored = server
        .get("ValidatingWebhookConfiguration", "", "sticky-guard")
        .unwrap();
    assert_eq!(stored["metadata"].get("namespace"), None, "{stored}");
    let api: Api<ValidatingWebhookConfiguration> = Api::all(server.client());
    let before = within("get", api.get("sticky-guard")).await.unwrap();
    let rv = before.resource_version().unwrap();
    let ca_patch = |rv: &str, path: &str| {
        // kube takes its own json-patch version; let inference pick it.
        let operations = serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "replace", "path": path, "value": base64("new CA")},
        ]))
        .unwrap();
        Patch::Json::<()>(operations)
    };
    let pp = PatchParams::default();
    let path = "/webhooks/0/clientConfig/caBundle";

    let patched = within(
        "patch",
        api.patch("sticky-guard", &pp, &ca_patch(&rv, path)),
    )
    .await
    .unwrap();
    let ca = patched.webhooks.as_ref().unwrap()[0]
        .client_config
        .ca_bundle
        .clone();
    assert_eq!(ca, Some(ByteString(b"new CA".to_vec())));
    assert_eq!(patched.uid(), before.uid());
    assert_eq!(patched.name_any(), "sticky-guard");
    let new_rv = patched.resource_version().unwrap();
    assert_ne!(new_rv, rv);
    let stored = server
        .get("ValidatingWebhookConfiguration", "", "sticky-guard")
        .unwrap();
    assert_eq!(
        stored["webhooks"][0]["clientConfig"]["caBundle"],
        base64("new CA")
    );
    assert_eq!(stored["metadata"]["resourceVersion"], json!(new_rv));
    assert_eq!(stored["metadata"].get("namespace"), None);

    // The same patch again: its test op now fails, so nothing changes.
    server.apply(webhook_configuration(
        "ValidatingWebhookConfiguration",
        "sticky-guard",
        "rotated elsewhere",
    ));
    let (code, reason, _) = api_error(
        within(
            "stale patch",
            api.patch("sticky-guard", &pp, &ca_patch(&new_rv, path)),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let stored = server
        .get("ValidatingWebhookConfiguration", "", "sticky-guard")
        .unwrap();
    assert_eq!(
        stored["webhooks"][0]["clientConfig"]["caBundle"],
        base64("rotated elsewhere")
    );
    // A path that does not exist: 422 too; an absent object: 404.
    let current = stored["metadata"]["resourceVersion"].as_str().unwrap();
    let (code, reason, _) = api_error(
        within(
            "bad path",
            api.patch(
                "sticky-guard",
                &pp,
                &ca_patch(current, "/webhooks/3/clientConfig/caBundle"),
            ),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let (code, reason, message) =
        api_error(within("absent", api.patch("absent", &pp, &ca_patch(current, path))).await);
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(
        message,
        "validatingwebhookconfigurations.admissionregistration.k8s.io \"absent\" not found"
    );
    let object_path =
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/sticky-guard";
    assert_eq!(server.count("PATCH", object_path, 200), 1);
    assert_eq!(server.count("PATCH", object_path, 422), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn merge_patch_conflicts_and_unsupported_types() {
    let server = ApiServer::start(Options::default()).await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), "x");
    let created = within(
        "create",
        secrets.create(&PostParams::default(), &secret("tls", "one")),
    )
    .await
    .unwrap();
    let rv = created.resource_version().unwrap();
    let pp = PatchParams::default();

    // A current resourceVersion in the patch is fine; labels merge in, data keys merge.
    let patch = Patch::Merge(json!({
        "metadata": {"resourceVersion": rv, "labels": {"rotated": "yes"}},
        "data": {"tls.key": base64("key")},
    }));
    let patched = within("merge", secrets.patch("tls", &pp, &patch))
        .await
        .unwrap();
    assert_eq!(
        patched.labels().get("rotated").map(String::as_str),
        Some("yes")
    );
    assert_eq!(patched.uid(), created.uid());
    let new_rv = patched.resource_version().unwrap();
    assert_ne!(new_rv, rv);
    let stored = server.get("Secret", "x", "tls").unwrap();
    assert_eq!(
        stored["data"],
        json!({"tls.crt": base64("one"), "tls.key": base64("key")})
    );

    // The old one: 409 Conflict.
    let stale = Patch::Merge(json!({"metadata": {"resourceVersion": rv}, "data": null}));
    let (code, reason, message) =
        api_error(within("stale merge", secrets.patch("tls", &pp, &stale)).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message.starts_with("Operation cannot be fulfilled on secrets \"tls\""),
        "{message}"
    );
    assert_eq!(server.get("Secret", "x", "tls").unwrap(), stored);

    // Without one: unconditional; null removes a key.
    let remove = Patch::Merge(json!({"data": {"tls.key": null}}));
    within("merge without rv", secrets.patch("tls", &pp, &remove))
        .await
        .unwrap();
    assert_eq!(
        server.get("Secret", "x", "tls").unwrap()["data"],
        json!({"tls.crt": base64("one")})
    );

    // A strategic merge patch is served for a built-in kind, as a merge patch.
    let strategic = Patch::Strategic(json!({"metadata": {"labels": {"a": "b"}}}));
    within("strategic", secrets.patch("tls", &pp, &strategic))
        .await
        .unwrap();
    assert_eq!(
        server.get("Secret", "x", "tls").unwrap()["metadata"]["labels"],
        json!({"rotated": "yes", "a": "b"})
    );
    // Other types: 415.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .patch(format!("{}{SECRETS}/tls", server.url))
        .header("content-type", "application/xml")
        .body("<a/>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "UnsupportedMediaType");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_get_one_201_and_one_409() {
    let server = ApiServer::start(Options::default()).await;
    let first: Api<Secret> = Api::namespaced(server.client(), "x");
    let second: Api<Secret> = Api::namespaced(server.client(), "x");
    let pp = PostParams::default();
    for round in 0..20 {
        let name = format!("race-{round}");
        let (from_a, from_b) = (secret(&name, "from a"), secret(&name, "from b"));
        let (a, b) = within("racing creates", async {
            tokio::join!(first.create(&pp, &from_a), second.create(&pp, &from_b),)
        })
        .await;
        let winner = match (a, b) {
            (Ok(won), lost) | (lost, Ok(won)) => {
                let (code, reason, _) = api_error(lost);
                assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
                won
            }
            (a, b) => panic!("no create succeeded: {a:?} {b:?}"),
        };
        // The stored object is the winner's.
        let stored = server.get("Secret", "x", &name).unwrap();
        assert_eq!(stored, serde_json::to_value(&winner).unwrap());
    }
    assert_eq!(server.count("POST", SECRETS, 201), 20);
    assert_eq!(server.count("POST", SECRETS, 409), 20);
    server.shutdown().await;
}

#[tokio::test]
async fn watch_sees_writes_through_the_api() {
    let server = ApiServer::start(Options::default()).await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), "x");
    let rv = within("list", secrets.list(&ListParams::default()))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = within("watch", secrets.watch(&WatchParams::default(), &rv))
        .await
        .unwrap()
        .boxed();

    let pp = PostParams::default();
    let created = within("create", secrets.create(&pp, &secret("tls", "one")))
        .await
        .unwrap();
    match within("ADDED", events.try_next()).await.unwrap() {
        Some(WatchEvent::Added(s)) => assert_eq!(s, created),
        other => panic!("expected ADDED, got {other:?}"),
    }
    let mut update = created.clone();
    update.data = secret("tls", "two").data;
    let replaced = within("replace", secrets.replace("tls", &pp, &update))
        .await
        .unwrap();
    match within("MODIFIED", events.try_next()).await.unwrap() {
        Some(WatchEvent::Modified(s)) => {
            assert_eq!(s, replaced);
            assert_eq!(s.data, secret("tls", "two").data);
        }
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    let patch = Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}));
    let patched = within(
        "patch",
        secrets.patch("tls", &PatchParams::default(), &patch),
    )
    .await
    .unwrap();
    match within("MODIFIED by patch", events.try_next())
        .await
        .unwrap()
    {
        Some(WatchEvent::Modified(s)) => assert_eq!(s, patched),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    within("delete", secrets.delete("tls", &DeleteParams::default()))
        .await
        .unwrap();
    match within("DELETED", events.try_next()).await.unwrap() {
        Some(WatchEvent::Deleted(s)) => {
            assert_eq!(s.name_any(), "tls");
            assert_eq!(
                s.resource_version(),
                Some(server.resource_version().to_string())
            );
        }
        other => panic!("expected DELETED, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn cluster_scoped_get_list_watch_and_delete() {
    let server = ApiServer::start(Options::default()).await;
    let client = server.client();
    let api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let mut events = within("watch", api.watch(&WatchParams::default(), "0"))
        .await
        .unwrap()
        .boxed();
    server.apply(webhook_configuration(
        "MutatingWebhookConfiguration",
        "sticky-guard",
        "ca",
    ));
    match within("ADDED", events.try_next()).await.unwrap() {
        Some(WatchEvent::Added(m)) => {
            assert_eq!(m.name_any(), "sticky-guard");
            assert_eq!(m.namespace(), None);
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
    let got = within("get", api.get("sticky-guard")).await.unwrap();
    assert_eq!(got.namespace(), None);
    assert_eq!(
        got.webhooks.unwrap()[0].client_config.ca_bundle,
        Some(ByteString(b"ca".to_vec()))
    );
    let listed = within("list", api.list(&ListParams::default()))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    // A Validating one of the same name is another object.
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    assert!(
        within("get other kind", validating.get_opt("sticky-guard"))
            .await
            .unwrap()
            .is_none()
    );

    // Created through the API, with a namespace in the body that is dropped.
    let body: MutatingWebhookConfiguration = serde_json::from_value(webhook_configuration(
        "MutatingWebhookConfiguration",
        "second",
        "ca2",
    ))
    .unwrap();
    let created = within("create", api.create(&PostParams::default(), &body))
        .await
        .unwrap();
    assert_eq!(created.namespace(), None);
    assert!(matches!(
        within("ADDED second", events.try_next()).await.unwrap(),
        Some(WatchEvent::Added(m)) if m.name_any() == "second"
    ));

    // Delete: a stale precondition is 409; then a Success Status, DELETED, and 404 afterwards.
    let stale = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some("1".into()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let (code, reason, _) = api_error(within("stale delete", api.delete("second", &stale)).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    let status = within("delete", api.delete("second", &DeleteParams::default()))
        .await
        .unwrap()
        .right()
        .expect("a Status");
    assert!(status.is_success(), "{status:?}");
    assert_eq!(status.details.unwrap().uid, created.uid().unwrap());
    assert!(matches!(
        within("DELETED", events.try_next()).await.unwrap(),
        Some(WatchEvent::Deleted(m)) if m.name_any() == "second"
    ));
    assert!(
        within("get deleted", api.get_opt("second"))
            .await
            .unwrap()
            .is_none()
    );
    let (code, reason, _) = api_error(
        within(
            "delete again",
            api.delete("second", &DeleteParams::default()),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(
        server.get("MutatingWebhookConfiguration", "", "second"),
        None
    );

    // The helper deletes cluster-scoped objects whatever the namespace says.
    server.delete("MutatingWebhookConfiguration", "", "sticky-guard");
    assert_eq!(
        server.get("mutatingwebhookconfigurations", "any", "sticky-guard"),
        None
    );

    // There is no namespaced path for a cluster-scoped kind, nor a cluster path by name for a
    // namespaced one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    for path in [
        "/apis/admissionregistration.k8s.io/v1/namespaces/x/mutatingwebhookconfigurations",
        "/api/v1/secrets/tls",
    ] {
        let response = within(
            "wrong scope",
            http.get(format!("{}{path}", server.url)).send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn discovery_lists_the_new_kinds_and_verbs() {
    let server = ApiServer::start(Options::default()).await;
    let client = server.client();
    let group = within(
        "group",
        discovery::group(&client, "admissionregistration.k8s.io"),
    )
    .await
    .unwrap();
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let (resource, caps) = group.recommended_kind(kind).expect(kind);
        assert_eq!(resource.plural, kind.to_lowercase() + "s");
        assert_eq!(caps.scope, Scope::Cluster);
        assert!(caps.supports_operation("patch") && caps.supports_operation("create"));
    }
    let core = within("core group", discovery::group(&client, ""))
        .await
        .unwrap();
    let (resource, caps) = core.recommended_kind("Secret").expect("Secret");
    assert_eq!(resource.plural, "secrets");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.supports_operation("update") && caps.supports_operation("delete"));

    let aggregated = within(
        "aggregated discovery",
        Discovery::new(client.clone()).run_aggregated(),
    )
    .await
    .unwrap();
    let gvk = GroupVersionKind::gvk(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
    );
    let (_, caps) = aggregated.resolve_gvk(&gvk).expect("resolved");
    assert_eq!(caps.scope, Scope::Cluster);
    let (_, caps) = aggregated
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Secret"))
        .expect("Secret resolved");
    assert_eq!(caps.scope, Scope::Namespaced);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_write_bodies_and_refused_writes() {
    let server = ApiServer::start(Options::default()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.url);
    let send = |request: reqwest::RequestBuilder| async move {
        let response = within("request", request.send()).await.unwrap();
        let code = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["kind"], "Status", "{body}");
        (code, body["reason"].as_str().unwrap_or("").to_owned())
    };

    let cases = [
        ("not JSON", http.post(url(SECRETS)).body("nope")),
        ("an array", http.post(url(SECRETS)).body("[1]")),
        ("a string", http.post(url(SECRETS)).body("\"x\"")),
        (
            "JSON patch not an array",
            http.patch(url(&format!("{SECRETS}/tls")))
                .header("content-type", "application/json-patch+json")
                .body("{}"),
        ),
        (
            "dry run",
            http.post(url(&format!("{SECRETS}?dryRun=All")))
                .body(r#"{"metadata":{"name":"dry"}}"#),
        ),
    ];
    for (what, request) in cases {
        assert_eq!(
            send(request).await,
            (400, "BadRequest".to_owned()),
            "{what}"
        );
    }
    let huge = format!(
        r#"{{"metadata":{{"name":"huge"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    assert_eq!(
        send(http.post(url(SECRETS)).body(huge)).await,
        (413, "RequestEntityTooLarge".to_owned())
    );
    assert_eq!(
        send(http.put(url(SECRETS)).body("{}")).await,
        (405, "MethodNotAllowed".to_owned())
    );
    assert_eq!(
        send(http.delete(url(SECRETS))).await,
        (405, "MethodNotAllowed".to_owned())
    );
    // Creates need a namespace for a namespaced kind.
    assert_eq!(
        send(
            http.post(url("/api/v1/secrets"))
                .body(r#"{"metadata":{"name":"a"}}"#)
        )
        .await,
        (405, "MethodNotAllowed".to_owned())
    );
    // The kind in the body must be the path's.
    assert_eq!(
        send(
            http.post(url(SECRETS))
                .body(r#"{"kind":"ConfigMap","metadata":{"name":"a"}}"#)
        )
        .await,
        (400, "BadRequest".to_owned())
    );
    assert_eq!(server.get("Secret", "x", "huge"), None);
    assert_eq!(server.get("Secret", "x", "dry"), None);
    assert_eq!(server.get("Secret", "x", "a"), None);

    // Refused writes: 500, nothing stored; reads still work.
    let secrets: Api<Secret> = Api::namespaced(server.client(), "x");
    server.set_refuse_writes(true);
    let (code, reason, _) = api_error(
        within(
            "refused",
            secrets.create(&PostParams::default(), &secret("tls", "a")),
        )
        .await,
    );
    assert_eq!((code, reason.as_str()), (500, "InternalError"));
    assert_eq!(server.get("Secret", "x", "tls"), None);
    assert!(
        within("read", secrets.list(&ListParams::default()))
            .await
            .is_ok()
    );
    server.set_refuse_writes(false);
    within(
        "accepted",
        secrets.create(&PostParams::default(), &secret("tls", "a")),
    )
    .await
    .unwrap();
    let writes = server.writes();
    let last_two: Vec<(String, String, u16)> = writes[writes.len() - 2..]
        .iter()
        .map(
            |Exchange {
                 method,
                 path,
                 status,
                 ..
             }| (method.clone(), path.clone(), *status),
        )
        .collect();
    assert_eq!(
        last_two,
        [
            ("POST".to_owned(), SECRETS.to_owned(), 500),
            ("POST".to_owned(), SECRETS.to_owned(), 201)
        ]
    );
    assert!(writes.iter().all(|w| w.method != "GET"));
    assert!(
        server
            .exchanges()
            .iter()
            .any(|e| e.method == "GET" && e.status == 200)
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Leases, strategic merge patches, server-side apply, policy reports, leader election
// ---------------------------------------------------------------------------------------------

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/x/leases";

fn lease(name: &str, holder: &str) -> Lease {
    serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15},
    }))
    .unwrap()
}

/// An applied configuration of the Lease `leader` with `spec`.
fn applied_lease(spec: Value) -> Patch<Value> {
    Patch::Apply(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader"},
        "spec": spec,
    }))
}

/// `(manager, operation, fields)` of every ownership entry of the Lease `x/leader`.
fn owners(server: &ApiServer) -> Vec<(String, String, Vec<String>)> {
    server
        .managed_fields("Lease", "x", "leader")
        .into_iter()
        .map(|entry| (entry.manager, entry.operation, entry.fields))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[tokio::test]
async fn leases_crud_and_strategic_merge_patch() {
    let server = ApiServer::start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "x");

    let created = within(
        "create",
        leases.create(&PostParams::default(), &lease("leader", "a")),
    )
    .await
    .unwrap();
    assert_eq!(server.count("POST", LEASES, 201), 1);
    let got = within("get", leases.get("leader")).await.unwrap();
    assert_eq!(
        got.spec.as_ref().unwrap().holder_identity.as_deref(),
        Some("a")
    );
    let listed = within("list", leases.list(&ListParams::default()))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    let mut replacement = got.clone();
    replacement.spec.as_mut().unwrap().lease_transitions = Some(1);
    let replaced = within(
        "replace",
        leases.replace("leader", &PostParams::default(), &replacement),
    )
    .await
    .unwrap();
    assert_ne!(replaced.resource_version(), created.resource_version());

    // Strategic merge: maps merge, null deletes a key (as kube-lease-manager releases).
    let pp = PatchParams::default();
    let renew = Patch::Strategic(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "spec": {"renewTime": "2026-01-02T03:04:05.000000Z", "leaseDurationSeconds": 3},
    }));
    within("renew", leases.patch("leader", &pp, &renew))
        .await
        .unwrap();
    assert_eq!(
        server.get("Lease", "x", "leader").unwrap()["spec"],
        json!({
            "holderIdentity": "a",
            "leaseDurationSeconds": 3,
            "leaseTransitions": 1,
            "renewTime": "2026-01-02T03:04:05.000000Z",
        })
    );
    let release = Patch::Strategic(json!({
        "spec": {"holderIdentity": null, "renewTime": null, "leaseDurationSeconds": null},
    }));
    let released = within("release", leases.patch("leader", &pp, &release))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(released.spec.unwrap()).unwrap(),
        json!({"leaseTransitions": 1})
    );
    // A stale resourceVersion in a strategic merge patch: 409 as for the other patches.
    let stale = Patch::Strategic(json!({
        "metadata": {"resourceVersion": created.resource_version().unwrap()},
        "spec": {"holderIdentity": "b"},
    }));
    let (code, reason, _) = api_error(within("stale", leases.patch("leader", &pp, &stale)).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    // `force` is only for applies: 422 on PatchOptions.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .patch(format!("{}{LEASES}/leader?force=true", server.url))
        .header("content-type", "application/merge-patch+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for \
         non-apply patch"
    );

    within("delete", leases.delete("leader", &DeleteParams::default()))
        .await
        .unwrap();
    assert!(server.get("Lease", "x", "leader").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_removes_fields() {
    let server = ApiServer::start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "x");
    let by_a = PatchParams::apply("a");

    // Absent: created from the body, 201.
    let spec = json!({"holderIdentity": "a", "leaseDurationSeconds": 15});
    let created = within(
        "apply create",
        leases.patch("leader", &by_a, &applied_lease(spec)),
    )
    .await
    .unwrap();
    assert_eq!(server.count("PATCH", &format!("{LEASES}/leader"), 201), 1);
    assert!(created.metadata.uid.is_some());
    assert_eq!(
        owners(&server),
        vec![(
            "a".to_owned(),
            "Apply".to_owned(),
            strings(&[".spec.holderIdentity", ".spec.leaseDurationSeconds"])
        )]
    );

    // Present: merged in; a field applied before and omitted now is removed.
    let spec = json!({"holderIdentity": "a", "renewTime": "2026-01-02T03:04:05.000000Z"});
    within(
        "apply update",
        leases.patch("leader", &by_a, &applied_lease(spec)),
    )
    .await
    .unwrap();
    assert_eq!(server.count("PATCH", &format!("{LEASES}/leader"), 200), 1);
    assert_eq!(
        server.get("Lease", "x", "leader").unwrap()["spec"],
        json!({"holderIdentity": "a", "renewTime": "2026-01-02T03:04:05.000000Z"})
    );

    // A field someone else owns too stays when the applier drops it; the writer of a merge
    // patch (manager from `fieldManager`) owns what it changed as an Update.
    let merge = Patch::Merge(json!({"spec": {"leaseTransitions": 4}}));
    let by_b = PatchParams {
        field_manager: Some("b".to_owned()),
        ..PatchParams::default()
    };
    within("merge by b", leases.patch("leader", &by_b, &merge))
        .await
        .unwrap();
    within(
        "b applies the same holder",
        leases.patch(
            "leader",
            &PatchParams::apply("b"),
            &applied_lease(json!({"holderIdentity": "a"})),
        ),
    )
    .await
    .unwrap();
    within(
        "a drops holderIdentity",
        leases.patch(
            "leader",
            &by_a,
            &applied_lease(json!({"leaseTransitions": 4})),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        server.get("Lease", "x", "leader").unwrap()["spec"],
        json!({"holderIdentity": "a", "leaseTransitions": 4})
    );
    assert_eq!(
        owners(&server),
        vec![
            (
                "a".to_owned(),
                "Apply".to_owned(),
                strings(&[".spec.leaseTransitions"])
            ),
            (
                "b".to_owned(),
                "Update".to_owned(),
                strings(&[".spec.leaseTransitions"])
            ),
            (
                "b".to_owned(),
                "Apply".to_owned(),
                strings(&[".spec.holderIdentity"])
            ),
        ]
    );

    // A stale resourceVersion in the applied body: 409 (checked after the field conflicts, as
    // kube-apiserver does, so this applies a value nobody else would change).
    let stale = Patch::Apply(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "resourceVersion": created.resource_version().unwrap()},
        "spec": {"leaseTransitions": 4},
    }));
    let (code, reason, message) =
        api_error(within("stale apply", leases.patch("leader", &by_a, &stale)).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message
            .starts_with("Operation cannot be fulfilled on leases.coordination.k8s.io \"leader\""),
        "{message}"
    );

    // Bodies kube-apiserver refuses: 400.
    let wrong_kind = Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret", "spec": {}}));
    let (code, reason, message) =
        api_error(within("wrong kind", leases.patch("leader", &by_a, &wrong_kind)).await);
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(message, "invalid object type: /v1, Kind=Secret");
    let other_name = Patch::Apply(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "other"},
    }));
    let (code, _, message) =
        api_error(within("other name", leases.patch("leader", &by_a, &other_name)).await);
    assert_eq!(code, 400);
    assert_eq!(
        message,
        "the name of the object (other) does not match the name on the URL (leader)"
    );

    // Without a fieldManager (kube refuses to send that, so raw HTTP): 422 on PatchOptions.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .patch(format!("{}{LEASES}/leader", server.url))
        .header("content-type", "application/apply-patch+yaml")
        .body("apiVersion: coordination.k8s.io/v1\nkind: Lease\nspec:\n  leaseTransitions: 9\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "Invalid");
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for \
         apply patch"
    );
    // YAML bodies are read too (forced: b's update owns leaseTransitions as well).
    let response = reqwest::Client::new()
        .patch(format!(
            "{}{LEASES}/leader?fieldManager=a&force=true",
            server.url
        ))
        .header("content-type", "application/apply-patch+yaml")
        .body("apiVersion: coordination.k8s.io/v1\nkind: Lease\nspec:\n  leaseTransitions: 9\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        server.get("Lease", "x", "leader").unwrap()["spec"]["leaseTransitions"],
        9
    );
    server.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_conflicts_and_force() {
    let server = ApiServer::start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "x");
    let apply = |manager: &str, spec: Value| {
        let leases = leases.clone();
        let params = PatchParams::apply(manager);
        async move {
            within(
                "apply",
                leases.patch("leader", &params, &applied_lease(spec)),
            )
            .await
        }
    };
    apply(
        "one",
        json!({"holderIdentity": "one", "leaseDurationSeconds": 15}),
    )
    .await
    .unwrap();
    let before = server.get("Lease", "x", "leader").unwrap();

    // Another applier changing an owned field: 409 Conflict, kube-apiserver's message.
    let result = apply("other", json!({"holderIdentity": "other"})).await;
    let Err(kube::Error::Api(status)) = result else {
        panic!("expected a conflict, got {result:?}");
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"one\": .spec.holderIdentity"
    );
    let causes = &status.details.as_ref().expect("details").causes;
    let causes: Vec<(&str, &str, &str)> = causes
        .iter()
        .map(|c| (c.reason.as_str(), c.field.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(
        causes,
        [(
            "FieldManagerConflict",
            ".spec.holderIdentity",
            "conflict with \"one\""
        )]
    );
    assert_eq!(server.get("Lease", "x", "leader").unwrap(), before);
    // Two fields: the multi-conflict form.
    let (code, _, message) = api_error(
        apply(
            "other",
            json!({"holderIdentity": "x", "leaseDurationSeconds": 1}),
        )
        .await,
    );
    assert_eq!(code, 409);
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"one\":\n- .spec.holderIdentity\n- \
         .spec.leaseDurationSeconds"
    );

    // The same value: no conflict, shared ownership.
    apply("other", json!({"holderIdentity": "one"}))
        .await
        .unwrap();
    assert_eq!(
        owners(&server),
        vec![
            (
                "one".to_owned(),
                "Apply".to_owned(),
                strings(&[".spec.holderIdentity", ".spec.leaseDurationSeconds"])
            ),
            (
                "other".to_owned(),
                "Apply".to_owned(),
                strings(&[".spec.holderIdentity"])
            ),
        ]
    );

    // An update (merge patch) takes the fields it changes; an applier then conflicts with it,
    // named with its apiVersion as kube-apiserver does for Update entries.
    let by_updater = PatchParams {
        field_manager: Some("updater".to_owned()),
        ..PatchParams::default()
    };
    let merge = Patch::Merge(json!({"spec": {"holderIdentity": "updater"}}));
    within("merge", leases.patch("leader", &by_updater, &merge))
        .await
        .unwrap();
    let (code, reason, message) = api_error(apply("one", json!({"holderIdentity": "one"})).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"updater\" using coordination.k8s.io/v1: \
         .spec.holderIdentity"
    );

    // force=true: applied, and the field moves to the applier.
    let forced = within(
        "force",
        leases.patch(
            "leader",
            &PatchParams::apply("one").force(),
            &applied_lease(json!({"holderIdentity": "one", "leaseDurationSeconds": 15})),
        ),
    )
    .await
    .unwrap();
    assert_eq!(forced.spec.unwrap().holder_identity.as_deref(), Some("one"));
    assert_eq!(
        owners(&server),
        vec![(
            "one".to_owned(),
            "Apply".to_owned(),
            strings(&[".spec.holderIdentity", ".spec.leaseDurationSeconds"])
        )]
    );

    // Conflicts with several managers: grouped per manager, managers sorted.
    let merge = Patch::Merge(json!({"spec": {"leaseTransitions": 2}}));
    within("merge", leases.patch("leader", &by_updater, &merge))
        .await
        .unwrap();
    let (code, _, message) = api_error(
        apply(
            "other",
            json!({"holderIdentity": "z", "leaseDurationSeconds": 1, "leaseTransitions": 3}),
        )
        .await,
    );
    assert_eq!(code, 409);
    assert_eq!(
        message,
        "Apply failed with 3 conflicts: conflicts with \"one\":\n- .spec.holderIdentity\n- \
         .spec.leaseDurationSeconds\nconflicts with \"updater\" using coordination.k8s.io/v1:\n- \
         .spec.leaseTransitions"
    );

    // The test helpers write as an Update by ApiServer::HELPER_MANAGER.
    server.apply(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "leader", "namespace": "x"},
        "spec": {"holderIdentity": "helper", "leaseDurationSeconds": 15},
    }));
    let (code, _, message) = api_error(apply("one", json!({"holderIdentity": "one"})).await);
    assert_eq!(code, 409);
    assert_eq!(
        message,
        format!(
            "Apply failed with 1 conflict: conflict with {:?} using coordination.k8s.io/v1: \
             .spec.holderIdentity",
            ApiServer::HELPER_MANAGER
        )
    );
    server.shutdown().await;
}

fn report_resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: format!("{group}/{version}"),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    }
}

fn report(resource: &ApiResource, name: &str, labels: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {"name": name, "labels": labels},
        "summary": {"pass": 1, "fail": 0},
        "results": [{"policy": "sticky-guard", "result": "pass"}],
    }))
    .unwrap()
}

/// The names in a list of dynamic objects.
fn names(objects: &[DynamicObject]) -> Vec<String> {
    objects.iter().map(ResourceExt::name_any).collect()
}

#[tokio::test]
async fn report_crds_are_served_only_with_their_options() {
    let reports = report_resource("openreports.io", "v1alpha1", "Report", "reports");
    let policy_reports = report_resource(
        "wgpolicyk8s.io",
        "v1alpha2",
        "PolicyReport",
        "policyreports",
    );
    let cluster_policy_reports = report_resource(
        "wgpolicyk8s.io",
        "v1alpha2",
        "ClusterPolicyReport",
        "clusterpolicyreports",
    );

    // Off: absent from discovery and 404.
    let server = ApiServer::start(Options::default()).await;
    let client = server.client();
    let discovery = within("discovery", Discovery::new(client.clone()).run())
        .await
        .unwrap();
    for group in ["openreports.io", "wgpolicyk8s.io"] {
        assert!(!discovery.has_group(group), "{group}");
    }
    assert!(discovery.has_group("coordination.k8s.io"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "x", &reports);
    let (code, _, _) = api_error(within("list", api.list(&ListParams::default())).await);
    assert_eq!(code, 404);
    let api: Api<DynamicObject> = Api::namespaced_with(client, "x", &policy_reports);
    let (code, _, _) = api_error(within("list", api.list(&ListParams::default())).await);
    assert_eq!(code, 404);
    server.shutdown().await;

    // On: discovered with their versions and scopes, and written.
    let server = ApiServer::start(Options {
        openreports_crds: true,
        policy_report_crds: true,
        ..Options::default()
    })
    .await;
    let client = server.client();
    for aggregated in [false, true] {
        let discovery = Discovery::new(client.clone());
        let discovery = if aggregated {
            within("aggregated", discovery.run_aggregated()).await
        } else {
            within("discovery", discovery.run()).await
        }
        .unwrap();
        for (group, version, kind, scope) in [
            ("openreports.io", "v1alpha1", "Report", Scope::Namespaced),
            (
                "openreports.io",
                "v1alpha1",
                "ClusterReport",
                Scope::Cluster,
            ),
            (
                "wgpolicyk8s.io",
                "v1alpha2",
                "PolicyReport",
                Scope::Namespaced,
            ),
            (
                "wgpolicyk8s.io",
                "v1alpha2",
                "ClusterPolicyReport",
                Scope::Cluster,
            ),
            ("coordination.k8s.io", "v1", "Lease", Scope::Namespaced),
        ] {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let (_, capabilities) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{gvk:?} (aggregated: {aggregated})"));
            assert_eq!(capabilities.scope, scope, "{kind}");
        }
    }
    for resource in [&reports, &policy_reports] {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "x", resource);
        within(
            "create",
            api.create(&PostParams::default(), &report(resource, "r", json!({}))),
        )
        .await
        .unwrap();
        // Custom resources have no strategic merge patch (as in kube-apiserver): 415.
        let strategic = Patch::Strategic(json!({"summary": {"fail": 1}}));
        let (code, reason, message) = api_error(
            within(
                "strategic",
                api.patch("r", &PatchParams::default(), &strategic),
            )
            .await,
        );
        assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));
        assert!(
            message.starts_with(
                "the body of the request was in an unknown format - accepted media types \
                 include: application/json-patch+json, application/merge-patch+json, \
                 application/apply-patch+yaml (got"
            ),
            "{message}"
        );
        // Server-side apply works on them: the report writer's way (create, then update).
        for fail in [0, 1] {
            let applied = json!({
                "apiVersion": resource.api_version,
                "kind": resource.kind,
                "metadata": {"name": "applied", "labels": {"app": "sticky-guard"}},
                "summary": {"pass": 1, "fail": fail},
            });
            let patched = within(
                "apply",
                api.patch(
                    "applied",
                    &PatchParams::apply("reporter"),
                    &Patch::Apply(applied),
                ),
            )
            .await
            .unwrap();
            assert_eq!(patched.data["summary"], json!({"pass": 1, "fail": fail}));
        }
        // Another writer's fields conflict, as anywhere.
        let applied = json!({
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": "r"},
            "summary": {"pass": 2},
        });
        let (code, _, message) = api_error(
            within(
                "apply over a create",
                api.patch("r", &PatchParams::apply("reporter"), &Patch::Apply(applied)),
            )
            .await,
        );
        assert_eq!(code, 409);
        assert!(message.ends_with(": .summary.pass"), "{message}");
    }
    let cluster: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_policy_reports);
    let created = within(
        "create cluster report",
        cluster.create(
            &PostParams::default(),
            &report(&cluster_policy_reports, "c", json!({})),
        ),
    )
    .await
    .unwrap();
    assert_eq!(created.metadata.namespace, None);
    assert!(server.get("ClusterPolicyReport", "", "c").is_some());
    assert!(server.get("clusterreports", "", "c").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn label_selectors_on_list_and_watch() {
    let server = ApiServer::start(Options {
        policy_report_crds: true,
        ..Options::default()
    })
    .await;
    let resource = report_resource(
        "wgpolicyk8s.io",
        "v1alpha2",
        "PolicyReport",
        "policyreports",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(server.client(), "x", &resource);
    let ours = json!({"app.kubernetes.io/managed-by": "sticky-guard", "scope": "ingress"});
    for (name, labels) in [
        ("a", ours.clone()),
        (
            "b",
            json!({"app.kubernetes.io/managed-by": "sticky-guard", "scope": "route"}),
        ),
        ("c", json!({"app.kubernetes.io/managed-by": "kyverno"})),
        ("d", json!({})),
    ] {
        within(
            "create",
            api.create(&PostParams::default(), &report(&resource, name, labels)),
        )
        .await
        .unwrap();
    }
    for (selector, expected) in [
        ("app.kubernetes.io/managed-by=sticky-guard", vec!["a", "b"]),
        ("app.kubernetes.io/managed-by==sticky-guard", vec!["a", "b"]),
        ("app.kubernetes.io/managed-by!=sticky-guard", vec!["c", "d"]),
        ("app.kubernetes.io/managed-by", vec!["a", "b", "c"]),
        ("!app.kubernetes.io/managed-by", vec!["d"]),
        (
            "app.kubernetes.io/managed-by=sticky-guard,scope=route",
            vec!["b"],
        ),
        (
            "app.kubernetes.io/managed-by=sticky-guard,scope!=route",
            vec!["a"],
        ),
    ] {
        let listed = within("list", api.list(&ListParams::default().labels(selector)))
            .await
            .unwrap();
        assert_eq!(names(&listed.items), expected, "{selector}");
    }

    // A watch with a selector sees only matching changes.
    let params = WatchParams::default().labels("scope=route");
    let mut events = within("watch", api.watch(&params, "0"))
        .await
        .unwrap()
        .boxed();
    let first = within("first event", events.next()).await.unwrap().unwrap();
    let WatchEvent::Added(object) = first else {
        panic!("expected ADDED, got {first:?}");
    };
    assert_eq!(object.name_any(), "b");
    let relabel = Patch::Merge(json!({"metadata": {"labels": {"scope": "route"}}}));
    within("relabel", api.patch("a", &PatchParams::default(), &relabel))
        .await
        .unwrap();
    let next = within("next event", events.next()).await.unwrap().unwrap();
    let WatchEvent::Modified(object) = next else {
        panic!("expected MODIFIED, got {next:?}");
    };
    assert_eq!(object.name_any(), "a");
    // Set-based selectors are not served: 400.
    let (code, _, _) = api_error(
        within(
            "set-based",
            api.list(&ListParams::default().labels("scope in (route)")),
        )
        .await,
    );
    assert_eq!(code, 400);
    server.shutdown().await;
}

/// The holder of the Lease `x/sticky-guard-leader`, as stored.
fn holder(server: &ApiServer) -> Option<String> {
    server.get("Lease", "x", "sticky-guard-leader")?["spec"]["holderIdentity"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lease_managers_elect_one_leader_and_hand_over() {
    use kube_lease_manager::LeaseManagerBuilder;
    let server = ApiServer::start(Options::default()).await;
    let build = |identity: &'static str| {
        LeaseManagerBuilder::new(server.client(), "sticky-guard-leader")
            .with_namespace("x")
            .with_identity(identity)
            // The builder keeps the field manager of its random default identity otherwise.
            .with_field_manager(format!("kube-lease-manager-{identity}"))
            .with_duration(2)
            .with_grace(1)
            .build()
    };
    // Each creates the Lease when it is missing (GET, then POST; a 409 AlreadyExists is fine).
    let first = within("build first", build("first")).await.unwrap();
    let second = within("build second", build("second")).await.unwrap();
    assert!(server.get("Lease", "x", "sticky-guard-leader").is_some());

    // Slow GETs make both read the free Lease before either applies: the second apply must
    // then fail with 409 Conflict (the library's LockConflict), not take the Lease over.
    server.set_get_delay(Duration::from_millis(300));
    let (first_rx, first_task) = first.watch().await;
    let (second_rx, second_task) = second.watch().await;
    let lease_path = format!("{LEASES}/sticky-guard-leader");
    let conflicted = tokio::time::timeout(WAIT, async {
        while server.count("PATCH", &lease_path, 409) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(conflicted.is_ok(), "{:#?}", server.exchanges());
    server.set_get_delay(Duration::ZERO);
    let both = || (*first_rx.borrow(), *second_rx.borrow());
    within("a leader", async {
        while both() == (false, false) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Exactly one holds it, all along and across renewals (the lease lasts 2 s).
    for _ in 0..150 {
        assert!(both() != (true, true), "two leaders");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first_leads, second_leads) = both();
    assert!(first_leads != second_leads, "{:?}", both());
    let (leader, follower) = if first_leads {
        ("first", "second")
    } else {
        ("second", "first")
    };
    assert_eq!(holder(&server).as_deref(), Some(leader));
    let applies_by_leader = server
        .managed_fields("Lease", "x", "sticky-guard-leader")
        .into_iter()
        .any(|entry| entry.operation == "Apply" && entry.manager.ends_with(leader));
    assert!(
        applies_by_leader,
        "{:?}",
        server.managed_fields("Lease", "x", "sticky-guard-leader")
    );

    // The leader stops (closing its channel releases the Lease); the other takes over.
    let follower_index = usize::from(first_leads);
    let mut receivers = vec![first_rx, second_rx];
    let mut tasks = vec![first_task, second_task];
    let mut follower_rx = receivers.remove(follower_index);
    let follower_task = tasks.remove(follower_index);
    drop(receivers.remove(0));
    let leader_task = tasks.remove(0);
    within("leader stops", leader_task).await.unwrap().unwrap();
    within("follower leads", async {
        while !*follower_rx.borrow_and_update() {
            follower_rx.changed().await.unwrap();
        }
    })
    .await;
    assert_eq!(holder(&server).as_deref(), Some(follower));
    drop(follower_rx);
    within("follower stops", follower_task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder(&server), None);
    server.shutdown().await;
}

/// A webhook on Lease CREATE/UPDATE calling `url`.
fn lease_webhook(name: &str, url: &str) -> Value {
    json!({
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "rules": [{
            "apiGroups": ["coordination.k8s.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["leases"],
            "scope": "Namespaced",
        }],
        "clientConfig": {"url": url},
    })
}

#[tokio::test]
async fn server_side_apply_goes_through_admission() {
    use common::webhook_double::{Double, allow, mutating, patch, reply, validating};
    let server = ApiServer::start(Options::default()).await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "x");
    let labeller = Double::start(|review: &Value| {
        patch(
            review,
            json!([{"op": "add", "path": "/metadata/labels", "value": {"seen": "yes"}}]),
        )
    })
    .await;
    let validator = Double::start(|review: &Value| {
        let holder = &review["request"]["object"]["spec"]["holderIdentity"];
        if holder == "intruder" {
            reply(
                review,
                json!({"allowed": false, "status": {"code": 403, "message": "no intruders"}}),
            )
        } else {
            allow(review)
        }
    })
    .await;
    server.apply(mutating(
        "labeller",
        vec![lease_webhook("labeller.test", &labeller.url)],
    ));
    server.apply(validating(
        "validator",
        vec![lease_webhook("validator.test", &validator.url)],
    ));

    // An apply that creates is a CREATE; the mutation is kept and owned by the applier.
    within(
        "apply create",
        leases.patch(
            "leader",
            &PatchParams::apply("a"),
            &applied_lease(json!({"holderIdentity": "a"})),
        ),
    )
    .await
    .unwrap();
    let stored = server.get("Lease", "x", "leader").unwrap();
    assert_eq!(stored["metadata"]["labels"], json!({"seen": "yes"}));
    assert_eq!(
        owners(&server),
        vec![
            (
                "a".to_owned(),
                "Apply".to_owned(),
                strings(&[".spec.holderIdentity"])
            ),
            (
                "a".to_owned(),
                "Update".to_owned(),
                strings(&[".metadata.labels.seen"])
            ),
        ]
    );
    // An apply to an existing object is an UPDATE, with the old object and the fieldManager.
    within(
        "apply update",
        leases.patch(
            "leader",
            &PatchParams::apply("a"),
            &applied_lease(json!({"holderIdentity": "a", "leaseTransitions": 1})),
        ),
    )
    .await
    .unwrap();
    let reviews = validator.reviews();
    let operations: Vec<&str> = reviews
        .iter()
        .map(|review| review["request"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["CREATE", "UPDATE"]);
    let update = &reviews[1]["request"];
    assert_eq!(update["oldObject"]["spec"], json!({"holderIdentity": "a"}));
    assert_eq!(update["object"]["spec"]["leaseTransitions"], 1);
    assert_eq!(update["options"]["fieldManager"], "a");
    assert_eq!(labeller.reviews().len(), 2);

    // A denial stops a forced apply like any write.
    let before = server.get("Lease", "x", "leader").unwrap();
    let (code, _, message) = api_error(
        within(
            "denied apply",
            leases.patch(
                "leader",
                &PatchParams::apply("intruder").force(),
                &applied_lease(json!({"holderIdentity": "intruder"})),
            ),
        )
        .await,
    );
    assert_eq!(code, 403);
    assert!(message.contains("no intruders"), "{message}");
    assert_eq!(server.get("Lease", "x", "leader").unwrap(), before);
    server.shutdown().await;
}

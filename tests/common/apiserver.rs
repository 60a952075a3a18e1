//! A stand-in Kubernetes API server for integration tests.
//!
//! It speaks just enough of the real API over plain HTTP on 127.0.0.1 for the real `kube`
//! client (`Api`, `runtime::watcher`, `runtime::reflector`, `discovery`) to work against it:
//!
//! * discovery: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}`, `/apis/{group}/{version}`
//!   (also the aggregated-discovery form of `/api` and `/apis` when the client asks for it);
//! * for `Service` (core v1), `Ingress` (`networking.k8s.io/v1`) and, when
//!   [`Options::backend_configs_crd`] is on, `BackendConfig` (`cloud.google.com/v1`), all
//!   namespaced: LIST (with `limit`/`continue` paging over a consistent snapshot), WATCH
//!   (replay from `resourceVersion`, then live events; 410 Gone as an in-stream `ERROR` event
//!   exactly like kube-apiserver) and GET by name (404 as a `NotFound` `Status`).
//!
//! Tests change the world with the synchronous [`ApiServer::apply`], [`ApiServer::delete`],
//! [`ApiServer::apply_hidden`], [`ApiServer::expire_watches`] and [`ApiServer::bookmark`], and
//! inspect what the client did with [`ApiServer::requests`] and [`ApiServer::list_count`].
//!
//! Like etcd, one resource-version counter covers the whole server. Every change is kept in an
//! event log so a watch can resume from any resource version at or above the expiry floor.
//!
//! Deliberate simplifications (the real server does more):
//! * only GET is served; every other method gets 405 with a `Status`;
//! * `labelSelector` supports `k=v`, `k==v`, `k!=v`, `k`, `!k` (set-based selectors get 400);
//!   `fieldSelector` supports `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`.
//!   On a watch the selector is applied to each event's object as is: an object leaving the
//!   selection is not turned into a synthetic `DELETED`;
//! * a LIST ignores `resourceVersion`/`resourceVersionMatch` and always serves the current state;
//! * a WATCH from `resourceVersion` `""` or `"0"` (or with `sendInitialEvents=true`) starts with
//!   synthetic `ADDED` events for the current state; `sendInitialEvents=true` then sends the
//!   `k8s.io/initial-events-end` bookmark;
//! * `timeoutSeconds` ends a watch after that many seconds; without it a watch stays open until
//!   it is expired or the server stops.
//!
//! Stopping: dropping the [`ApiServer`] (or calling [`ApiServer::shutdown`], which also waits for
//! the server task) ends every open watch, stops accepting connections and lets the task finish.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What the stand-in server serves beyond the built-in kinds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Serve the `BackendConfig` custom resource (`cloud.google.com/v1`, `backendconfigs`), as if
    /// its CRD were installed. When off, its paths are 404 and it is absent from discovery.
    pub backend_configs_crd: bool,
}

/// A running stand-in API server. See the module documentation.
pub struct ApiServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
    /// Fires axum's graceful shutdown; taken on the first stop.
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Binds 127.0.0.1:0 and serves in a tokio task (so it needs a running tokio runtime).
    pub async fn start(options: Options) -> ApiServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("listener has an address");
        let shared = Arc::new(Shared {
            options,
            address: address.to_string(),
            state: Mutex::new(Store::default()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                // Either an explicit stop or the sender being dropped ends the server.
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                eprintln!("stand-in API server stopped with an error: {error}");
            }
        });
        ApiServer {
            url: format!("http://{address}"),
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A real `kube::Client` pointed at this server.
    pub fn client(&self) -> kube::Client {
        // kube builds its TLS config even for plain HTTP; make sure a crypto provider is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = self.url.parse().expect("server URL is a valid URI");
        kube::Client::try_from(kube::Config::new(url)).expect("kube client for the stand-in")
    }

    /// Creates or replaces an object, chosen by its `kind` (`Service`, `Ingress`,
    /// `BackendConfig`), `metadata.namespace` (default `"default"`) and `metadata.name`.
    ///
    /// Assigns the next global `metadata.resourceVersion`, fills `metadata.uid` and
    /// `metadata.creationTimestamp` when missing (keeping those of the object it replaces) and
    /// `apiVersion` when missing, then sends `ADDED` (new) or `MODIFIED` (existing) to the open
    /// watches. Applying over an [`ApiServer::apply_hidden`] object makes it visible (`ADDED`).
    ///
    /// Panics on an unsupported kind or a missing name: those are mistakes in the test.
    pub fn apply(&self, object: Value) {
        self.put(object, false);
    }

    /// Like [`ApiServer::apply`], but the object is only visible to GET by name: never in a list
    /// nor a watch. Hiding an object that was visible sends `DELETED` to the open watches, so
    /// that lists and watches stay consistent with each other.
    pub fn apply_hidden(&self, object: Value) {
        self.put(object, true);
    }

    /// Deletes an object: `kind` is `Service`/`Ingress`/`BackendConfig` (the plural resource name
    /// is accepted too). Sends `DELETED` with the last state under a new resource version (hidden
    /// objects vanish silently). Panics if there is no such object.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let resource =
            Resource::from_kind(kind).unwrap_or_else(|| panic!("unsupported kind {kind:?}"));
        let key = (resource, namespace.to_owned(), name.to_owned());
        let mut store = self.shared.lock();
        let Some(removed) = store.objects.remove(&key) else {
            drop(store);
            panic!("delete: no {kind} {namespace}/{name}");
        };
        if !removed.hidden {
            store.rv += 1;
            let mut object = removed.object;
            object["metadata"]["resourceVersion"] = json!(store.rv.to_string());
            store.emit(resource, namespace, "DELETED", object);
        }
    }

    /// Ends every open watch with a 410 Gone `ERROR` event and raises the expiry floor to the
    /// current resource version: resuming a watch from an older version gets 410 again, while a
    /// fresh LIST (which returns the current version) followed by a watch from it works. Open
    /// `continue` tokens are invalidated too.
    pub fn expire_watches(&self) {
        let mut store = self.shared.lock();
        store.floor = store.rv;
        let floor = store.floor;
        for watch in std::mem::take(&mut store.watches) {
            // Dropping `watch` (and so its sender) right after this ends the stream.
            let _ = watch.tx.send(expired_line(watch.start_rv, floor));
        }
        store.snapshots.clear();
    }

    /// Sends a `BOOKMARK` event carrying the current resource version to every open watch.
    pub fn bookmark(&self) {
        let mut store = self.shared.lock();
        let rv = store.rv;
        store.watches.retain(|watch| {
            watch
                .tx
                .send(bookmark_line(watch.resource, rv, false))
                .is_ok()
        });
    }

    /// Every request received so far, in order, as `"METHOD /path?query"`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// How many LIST requests (collection GETs without `watch`, every page counted) were served
    /// for `resource`: `"services"`, `"ingresses"` or `"backendconfigs"` (the kind is accepted
    /// too).
    pub fn list_count(&self, resource: &str) -> usize {
        let resource = Resource::from_kind(resource)
            .unwrap_or_else(|| panic!("unsupported resource {resource:?}"));
        self.shared
            .lock()
            .list_counts
            .get(&resource)
            .copied()
            .unwrap_or(0)
    }

    /// How many watches are open right now for `resource` (plural or kind). Handy to wait until
    /// a watcher has (re)connected.
    pub fn open_watches(&self, resource: &str) -> usize {
        let resource = Resource::from_kind(resource)
            .unwrap_or_else(|| panic!("unsupported resource {resource:?}"));
        self.shared
            .lock()
            .watches
            .iter()
            .filter(|watch| watch.resource == resource && !watch.tx.is_closed())
            .count()
    }

    /// The current global resource version.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv
    }

    /// Stops the server and waits (up to 5 s) for its task to finish. Dropping the server stops
    /// it too, without waiting.
    pub async fn shutdown(mut self) {
        self.stop_serving();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Ends the open watches, refuses new ones and tells axum to shut down gracefully.
    fn stop_serving(&mut self) {
        {
            let mut store = self.shared.lock();
            store.shut_down = true;
            // Dropping the senders ends every watch stream, so graceful shutdown can finish.
            store.watches.clear();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    fn put(&self, mut object: Value, hidden: bool) {
        let kind = object["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("object without kind: {object}"));
        let resource =
            Resource::from_kind(kind).unwrap_or_else(|| panic!("unsupported kind {kind:?}"));
        assert!(
            object["metadata"].is_object(),
            "object without metadata: {object}"
        );
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("object without metadata.name: {object}"))
            .to_owned();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        if object["apiVersion"].as_str().is_none() {
            object["apiVersion"] = json!(resource.api_version());
        }
        let created = creation_timestamp();

        let mut store = self.shared.lock();
        store.rv += 1;
        let rv = store.rv;
        let key = (resource, namespace.clone(), name);
        let previous = store.objects.get(&key);
        let was_visible = previous.is_some_and(|p| !p.hidden);
        let old_uid = previous.map(|p| p.object["metadata"]["uid"].clone());
        let old_created = previous.map(|p| p.object["metadata"]["creationTimestamp"].clone());

        let metadata = &mut object["metadata"];
        metadata["namespace"] = json!(namespace);
        metadata["resourceVersion"] = json!(rv.to_string());
        if metadata["uid"].as_str().is_none() {
            metadata["uid"] = match old_uid {
                Some(uid) if uid.is_string() => uid,
                _ => json!(format!("00000000-0000-4000-8000-{rv:012x}")),
            };
        }
        if metadata["creationTimestamp"].as_str().is_none() {
            metadata["creationTimestamp"] = match old_created {
                Some(created) if created.is_string() => created,
                _ => json!(created),
            };
        }

        store.objects.insert(
            key,
            Stored {
                object: object.clone(),
                hidden,
            },
        );
        match (was_visible, hidden) {
            (false, false) => store.emit(resource, &namespace, "ADDED", object),
            (true, false) => store.emit(resource, &namespace, "MODIFIED", object),
            (true, true) => store.emit(resource, &namespace, "DELETED", object),
            (false, true) => {}
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop_serving();
    }
}

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

/// The resources the stand-in knows about. All are namespaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Resource {
    Service,
    Ingress,
    BackendConfig,
}

impl Resource {
    const ALL: [Resource; 3] = [
        Resource::Service,
        Resource::Ingress,
        Resource::BackendConfig,
    ];

    fn kind(self) -> &'static str {
        match self {
            Resource::Service => "Service",
            Resource::Ingress => "Ingress",
            Resource::BackendConfig => "BackendConfig",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Resource::Service => "services",
            Resource::Ingress => "ingresses",
            Resource::BackendConfig => "backendconfigs",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Resource::Service => "service",
            Resource::Ingress => "ingress",
            Resource::BackendConfig => "backendconfig",
        }
    }

    /// The API group; `""` is the core group.
    fn group(self) -> &'static str {
        match self {
            Resource::Service => "",
            Resource::Ingress => "networking.k8s.io",
            Resource::BackendConfig => "cloud.google.com",
        }
    }

    fn version(self) -> &'static str {
        "v1"
    }

    fn api_version(self) -> &'static str {
        match self {
            Resource::Service => "v1",
            Resource::Ingress => "networking.k8s.io/v1",
            Resource::BackendConfig => "cloud.google.com/v1",
        }
    }

    /// `services`, `ingresses.networking.k8s.io`: how the apiserver names it in messages.
    fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_owned(),
            group => format!("{}.{group}", self.plural()),
        }
    }

    /// From a kind (`Service`) or plural (`services`), case-insensitively.
    fn from_kind(name: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.kind().eq_ignore_ascii_case(name) || r.plural().eq_ignore_ascii_case(name))
    }

    fn served(self, options: &Options) -> bool {
        self != Resource::BackendConfig || options.backend_configs_crd
    }
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

struct Shared {
    options: Options,
    /// `127.0.0.1:PORT`, for `serverAddressByClientCIDRs`.
    address: String,
    state: Mutex<Store>,
}

impl Shared {
    /// Locks the state, ignoring poisoning: a panicking test must not take the server down.
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

type Key = (Resource, String, String); // resource, namespace, name

struct Stored {
    object: Value,
    /// Set by `apply_hidden`: GET by name only.
    hidden: bool,
}

/// One change, as sent to watches; kept so that a watch can resume from any resource version.
struct LoggedEvent {
    rv: u64,
    resource: Resource,
    namespace: String,
    kind: &'static str,
    object: Value,
}

/// An open watch. Its stream ends when `tx` is dropped (or the client goes away).
struct OpenWatch {
    resource: Resource,
    namespace: Option<String>,
    selector: Selector,
    /// The resource version the watch started from, for the 410 message.
    start_rv: u64,
    /// Newline-terminated JSON watch events.
    tx: mpsc::UnboundedSender<String>,
}

/// A LIST result being paged through with `continue` tokens: a consistent snapshot.
struct Snapshot {
    rv: u64,
    items: Vec<Value>,
}

#[derive(Default)]
struct Store {
    /// The global resource version: the version of the last change.
    rv: u64,
    /// Watches from a resource version below this get 410 Gone.
    floor: u64,
    objects: BTreeMap<Key, Stored>,
    log: Vec<LoggedEvent>,
    watches: Vec<OpenWatch>,
    snapshots: HashMap<u64, Snapshot>,
    next_snapshot: u64,
    requests: Vec<String>,
    list_counts: HashMap<Resource, usize>,
    shut_down: bool,
}

impl Store {
    /// Logs a change and sends it to the matching open watches (dropping closed ones).
    fn emit(&mut self, resource: Resource, namespace: &str, kind: &'static str, object: Value) {
        let line = event_line(kind, &object);
        self.watches.retain(|watch| {
            let wanted = watch.resource == resource
                && watch.namespace.as_deref().is_none_or(|ns| ns == namespace)
                && watch.selector.matches(&object);
            if wanted {
                watch.tx.send(line.clone()).is_ok()
            } else {
                !watch.tx.is_closed()
            }
        });
        self.log.push(LoggedEvent {
            rv: self.rv,
            resource,
            namespace: namespace.to_owned(),
            kind,
            object,
        });
    }

    /// The visible objects of `resource` in `namespace` (all when `None`) matching `selector`,
    /// in namespace/name order like the real server.
    fn visible(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((r, ns, _), stored)| {
                *r == resource
                    && !stored.hidden
                    && namespace.is_none_or(|wanted| wanted == ns)
                    && selector.matches(&stored.object)
            })
            .map(|(_, stored)| stored.object.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// The single handler: routes by hand so that every miss is a proper `Status`.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    shared.lock().requests.push(format!("{method} {target}"));

    if method != Method::GET {
        return status_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            json!({}),
        );
    }
    let query = Query::parse(uri.query().unwrap_or(""));
    let aggregated = wants_aggregated_discovery(&headers);
    let options = &shared.options;
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => json_response(version_info()),
        ["api"] if aggregated => aggregated_response(&[""], options),
        ["api"] => json_response(json!({
            "kind": "APIVersions",
            "apiVersion": "v1",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": shared.address}
            ],
        })),
        ["apis"] if aggregated => aggregated_response(&served_groups(options), options),
        ["apis"] => json_response(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": served_groups(options).into_iter().map(api_group).collect::<Vec<_>>(),
        })),
        ["api", "v1"] => resource_list("", "v1", options),
        ["apis", group] if served_groups(options).iter().any(|g| g == group) => {
            let mut body = api_group(group);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            json_response(body)
        }
        ["apis", group, version] => resource_list(group, version, options),
        ["api", "v1", rest @ ..] => resource_request(&shared, "", rest, &query),
        ["apis", group, "v1", rest @ ..] => resource_request(&shared, group, rest, &query),
        _ => not_found_path(),
    }
}

/// Collection, watch or get-by-name under `/api/v1` (`group` `""`) or `/apis/{group}/v1`.
fn resource_request(shared: &Shared, group: &str, rest: &[&str], query: &Query) -> Response {
    let (namespace, plural, name) = match rest {
        [plural] => (None, *plural, None),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        _ => return not_found_path(),
    };
    let Some(resource) = Resource::ALL
        .into_iter()
        .find(|r| r.group() == group && r.plural() == plural && r.served(&shared.options))
    else {
        return not_found_path();
    };
    match name {
        Some(name) => get_object(shared, resource, namespace.unwrap_or_default(), name),
        None if query.is_watch() => watch(shared, resource, namespace, query),
        None => list(shared, resource, namespace, query),
    }
}

fn get_object(shared: &Shared, resource: Resource, namespace: &str, name: &str) -> Response {
    let key = (resource, namespace.to_owned(), name.to_owned());
    if let Some(stored) = shared.lock().objects.get(&key) {
        return json_response(stored.object.clone());
    }
    let mut details = json!({"name": name, "kind": resource.plural()});
    if !resource.group().is_empty() {
        details["group"] = json!(resource.group());
    }
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{} \"{name}\" not found", resource.qualified()),
        details,
    )
}

/// LIST, paged with `limit`/`continue` over a snapshot so that pages are consistent.
fn list(shared: &Shared, resource: Resource, namespace: Option<&str>, query: &Query) -> Response {
    let selector = match Selector::from_query(query) {
        Ok(selector) => selector,
        Err(message) => return bad_request(&message),
    };
    let limit = match query.get("limit").filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => return bad_request(&format!("invalid limit {text:?}")),
        },
    };
    let mut store = shared.lock();
    *store.list_counts.entry(resource).or_default() += 1;

    // Where this page comes from: a new snapshot of the current state, or the one a `continue`
    // token points into.
    let (snapshot_id, offset) = match query.get("continue").filter(|s| !s.is_empty()) {
        Some(token) => {
            let parsed = token
                .split_once(':')
                .and_then(|(id, offset)| Some((id.parse::<u64>().ok()?, offset.parse().ok()?)));
            let Some((id, offset)) = parsed else {
                return bad_request(&format!("invalid continue token {token:?}"));
            };
            if !store.snapshots.contains_key(&id) {
                return status_response(
                    StatusCode::GONE,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list \
                     result. You can start a new list without the continue parameter.",
                    json!({}),
                );
            }
            (id, offset)
        }
        None => {
            let snapshot = Snapshot {
                rv: store.rv,
                items: store.visible(resource, namespace, &selector),
            };
            store.next_snapshot += 1;
            let id = store.next_snapshot;
            store.snapshots.insert(id, snapshot);
            (id, 0)
        }
    };

    let Some(snapshot) = store.snapshots.get(&snapshot_id) else {
        return internal_error("list snapshot vanished");
    };
    let rv = snapshot.rv;
    let total = snapshot.items.len();
    let start = offset.min(total);
    let end = limit.map_or(total, |n| start.saturating_add(n).min(total));
    let items = snapshot.items[start..end].to_vec();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if end < total {
        metadata["continue"] = json!(format!("{snapshot_id}:{end}"));
        metadata["remainingItemCount"] = json!(total - end);
    } else {
        store.snapshots.remove(&snapshot_id);
    }
    drop(store);

    json_response(json!({
        "kind": format!("{}List", resource.kind()),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": items,
    }))
}

/// WATCH: a chunked stream of newline-delimited JSON watch events.
fn watch(shared: &Shared, resource: Resource, namespace: Option<&str>, query: &Query) -> Response {
    let selector = match Selector::from_query(query) {
        Ok(selector) => selector,
        Err(message) => return bad_request(&message),
    };
    let timeout = match query.get("timeoutSeconds").filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(0) => None,
            Ok(seconds) => Some(Duration::from_secs(seconds)),
            Err(_) => return bad_request(&format!("invalid timeoutSeconds {text:?}")),
        },
    };
    let start = match query.get("resourceVersion").unwrap_or("") {
        "" | "0" => None,
        text => match text.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => return bad_request(&format!("invalid resourceVersion {text:?}")),
        },
    };
    let send_initial_events = query.get("sendInitialEvents") == Some("true");
    let bookmarks = query.get("allowWatchBookmarks") == Some("true");

    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let mut store = shared.lock();
    if store.shut_down {
        return status_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the server is shutting down",
            json!({}),
        );
    }
    // Everything below happens under the lock, so no change can slip between the replay and
    // the registration of the watch.
    match start {
        Some(rv) if rv < store.floor && !send_initial_events => {
            // Too old: one ERROR event, then the stream ends (the sender is dropped here).
            let _ = tx.send(expired_line(rv, store.floor));
            drop(store);
            return watch_response(rx, None);
        }
        Some(rv) if !send_initial_events => {
            for event in store.log.iter().filter(|e| {
                e.rv > rv
                    && e.resource == resource
                    && namespace.is_none_or(|ns| ns == e.namespace)
                    && selector.matches(&e.object)
            }) {
                let _ = tx.send(event_line(event.kind, &event.object));
            }
        }
        _ => {
            // From "any"/"most recent" version: the current state as synthetic ADDED events.
            for object in store.visible(resource, namespace, &selector) {
                let _ = tx.send(event_line("ADDED", &object));
            }
            if send_initial_events && bookmarks {
                let _ = tx.send(bookmark_line(resource, store.rv, true));
            }
        }
    }
    let start_rv = start.unwrap_or(store.rv);
    store.watches.push(OpenWatch {
        resource,
        namespace: namespace.map(str::to_owned),
        selector,
        start_rv,
        tx,
    });
    drop(store);
    watch_response(rx, timeout)
}

/// Streams the lines from `rx` until its senders are gone or `timeout` has passed.
fn watch_response(rx: mpsc::UnboundedReceiver<String>, timeout: Option<Duration>) -> Response {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        let next = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, rx.recv())
                .await
                .ok()
                .flatten(),
            None => rx.recv().await,
        };
        next.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `/apis/{group}/{version}` or `/api/v1`: an APIResourceList.
fn resource_list(group: &str, version: &str, options: &Options) -> Response {
    let resources: Vec<Value> = Resource::ALL
        .into_iter()
        .filter(|r| r.group() == group && r.version() == version && r.served(options))
        .map(|r| {
            json!({
                "name": r.plural(),
                "singularName": r.singular(),
                "namespaced": true,
                "kind": r.kind(),
                "verbs": ["get", "list", "watch"],
            })
        })
        .collect();
    if resources.is_empty() {
        return not_found_path();
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json_response(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// The non-core groups being served, in discovery order.
fn served_groups(options: &Options) -> Vec<&'static str> {
    let mut groups = Vec::new();
    for resource in Resource::ALL {
        let group = resource.group();
        if !group.is_empty() && resource.served(options) && !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

/// One APIGroup entry (without kind/apiVersion, as in an APIGroupList).
fn api_group(group: &str) -> Value {
    let version = json!({"groupVersion": format!("{group}/v1"), "version": "v1"});
    json!({"name": group, "versions": [version.clone()], "preferredVersion": version})
}

/// Whether the client asked for aggregated discovery (`Discovery::run_aggregated`).
fn wants_aggregated_discovery(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("as=APIGroupDiscoveryList"))
}

/// An `apidiscovery.k8s.io/v2` APIGroupDiscoveryList for `groups` (`""` is core).
fn aggregated_response(groups: &[&str], options: &Options) -> Response {
    let items: Vec<Value> = groups
        .iter()
        .map(|group| {
            let resources: Vec<Value> = Resource::ALL
                .into_iter()
                .filter(|r| r.group() == *group && r.served(options))
                .map(|r| {
                    json!({
                        "resource": r.plural(),
                        "responseKind": {"group": group, "version": r.version(), "kind": r.kind()},
                        "scope": "Namespaced",
                        "singularResource": r.singular(),
                        "verbs": ["get", "list", "watch"],
                    })
                })
                .collect();
            json!({
                "metadata": {"name": group},
                "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}],
            })
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    });
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )],
        body.to_string(),
    )
        .into_response()
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

// ---------------------------------------------------------------------------------------------
// Responses and watch lines
// ---------------------------------------------------------------------------------------------

fn json_response(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A `Status` failure body, as kube-apiserver sends for errors.
fn status_body(code: StatusCode, reason: &str, message: &str, details: Value) -> Value {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    if details.as_object().is_some_and(|d| !d.is_empty()) {
        body["details"] = details;
    }
    body
}

fn status_response(code: StatusCode, reason: &str, message: &str, details: Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        status_body(code, reason, message, details).to_string(),
    )
        .into_response()
}

fn not_found_path() -> Response {
    status_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        json!({}),
    )
}

fn bad_request(message: &str) -> Response {
    status_response(StatusCode::BAD_REQUEST, "BadRequest", message, json!({}))
}

fn internal_error(message: &str) -> Response {
    status_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        message,
        json!({}),
    )
}

/// One watch event line: `{"type":...,"object":...}` and a newline.
fn event_line(kind: &str, object: &Value) -> String {
    format!("{}\n", json!({"type": kind, "object": object}))
}

/// The in-stream 410 Gone, exactly as kube-apiserver sends it.
fn expired_line(requested: u64, oldest: u64) -> String {
    let status = status_body(
        StatusCode::GONE,
        "Expired",
        &format!("too old resource version: {requested} ({oldest})"),
        json!({}),
    );
    event_line("ERROR", &status)
}

/// A BOOKMARK: an object of the watched kind with only `metadata.resourceVersion` (and the
/// `k8s.io/initial-events-end` annotation at the end of a streaming list's initial events).
fn bookmark_line(resource: Resource, rv: u64, initial_events_end: bool) -> String {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object = json!({
        "kind": resource.kind(),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
    });
    event_line("BOOKMARK", &object)
}

/// Now, as an RFC 3339 timestamp with second precision (`2025-01-02T03:04:05Z`).
fn creation_timestamp() -> Value {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seconds = i64::try_from(seconds).unwrap_or(0);
    let timestamp = k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap_or_default();
    serde_json::to_value(Time(timestamp)).unwrap_or_else(|_| json!("1970-01-01T00:00:00Z"))
}

// ---------------------------------------------------------------------------------------------
// Query strings and selectors
// ---------------------------------------------------------------------------------------------

/// A decoded query string.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Query {
        Query(
            raw.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(key), percent_decode(value))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn is_watch(&self) -> bool {
        matches!(self.get("watch"), Some("true" | "1"))
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte. Malformed
/// escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The simple subset of label and field selectors described in the module documentation.
#[derive(Clone, Debug, Default)]
struct Selector {
    labels: Vec<LabelTerm>,
    fields: Vec<FieldTerm>,
}

#[derive(Clone, Debug)]
enum LabelTerm {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
}

#[derive(Clone, Debug)]
struct FieldTerm {
    /// `name` or `namespace` (under `metadata`).
    field: &'static str,
    value: String,
    negated: bool,
}

impl Selector {
    fn from_query(query: &Query) -> Result<Selector, String> {
        let mut selector = Selector::default();
        if let Some(text) = query.get("labelSelector") {
            if text.contains('(') || text.contains(" in ") || text.contains(" notin ") {
                return Err(format!(
                    "unsupported label selector {text:?} (set-based selectors are not served)"
                ));
            }
            for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                selector
                    .labels
                    .push(if let Some(key) = term.strip_prefix('!') {
                        LabelTerm::NotExists(key.trim().to_owned())
                    } else if let Some((key, value)) = term.split_once("!=") {
                        LabelTerm::NotEquals(key.trim().to_owned(), value.trim().to_owned())
                    } else if let Some((key, value)) =
                        term.split_once("==").or_else(|| term.split_once('='))
                    {
                        LabelTerm::Equals(key.trim().to_owned(), value.trim().to_owned())
                    } else {
                        LabelTerm::Exists(term.to_owned())
                    });
            }
        }
        if let Some(text) = query.get("fieldSelector") {
            for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                let (path, value, negated) = if let Some((path, value)) = term.split_once("!=") {
                    (path, value, true)
                } else if let Some((path, value)) =
                    term.split_once("==").or_else(|| term.split_once('='))
                {
                    (path, value, false)
                } else {
                    return Err(format!("invalid field selector term {term:?}"));
                };
                let field = match path.trim() {
                    "metadata.name" => "name",
                    "metadata.namespace" => "namespace",
                    other => return Err(format!("field label not supported: {other}")),
                };
                selector.fields.push(FieldTerm {
                    field,
                    value: value.trim().to_owned(),
                    negated,
                });
            }
        }
        Ok(selector)
    }

    fn matches(&self, object: &Value) -> bool {
        let label = |key: &str| object["metadata"]["labels"][key].as_str();
        let labels_match = self.labels.iter().all(|term| match term {
            LabelTerm::Equals(key, value) => label(key) == Some(value.as_str()),
            LabelTerm::NotEquals(key, value) => label(key) != Some(value.as_str()),
            LabelTerm::Exists(key) => label(key).is_some(),
            LabelTerm::NotExists(key) => label(key).is_none(),
        });
        labels_match
            && self.fields.iter().all(|term| {
                let actual = object["metadata"][term.field].as_str().unwrap_or("");
                (actual == term.value) != term.negated
            })
    }
}

//! A stand-in Kubernetes API server for integration tests.
//!
//! It speaks just enough of the real API over plain HTTP on 127.0.0.1 for the real `kube`
//! client (`Api`, `runtime::watcher`, `runtime::reflector`, `discovery`) to work against it:
//!
//! * discovery: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}`, `/apis/{group}/{version}`
//!   (also the aggregated-discovery form of `/api` and `/apis` when the client asks for it);
//! * the kinds (namespaced unless said otherwise; see `kinds.rs`): `Service` and `Secret` (core
//!   v1), `Ingress` and the cluster-scoped `IngressClass` (`networking.k8s.io/v1`), `Lease`
//!   (`coordination.k8s.io/v1`) and, when [`Options::backend_configs_crd`] is on,
//!   `BackendConfig` (`cloud.google.com/v1`); when [`Options::gateway_api_crds`] is on, the
//!   Gateway API kinds (`gateway.networking.k8s.io/v1`: HTTPRoute, GRPCRoute, Gateway,
//!   ReferenceGrant, and the cluster-scoped GatewayClass); when [`Options::openreports_crds`] is
//!   on, `Report` and the cluster-scoped `ClusterReport` (`openreports.io/v1alpha1`); when
//!   [`Options::policy_report_crds`] is on, `PolicyReport` and the cluster-scoped
//!   `ClusterPolicyReport` (`wgpolicyk8s.io/v1alpha2`); the cluster-scoped
//!   `MutatingWebhookConfiguration` and `ValidatingWebhookConfiguration`
//!   (`admissionregistration.k8s.io/v1`).
//!   Cluster-scoped kinds are served at paths without a `namespaces/{ns}` segment and stored
//!   without `metadata.namespace`. Each group serves one version (`Resource::version`); a kind
//!   whose option is off is absent from discovery and its paths are 404;
//! * reads, for every kind: LIST (with `limit`/`continue` paging over a consistent snapshot),
//!   WATCH (replay from `resourceVersion`, then live events; 410 Gone as an in-stream `ERROR`
//!   event exactly like kube-apiserver) and GET by name (404 as a `NotFound` `Status`);
//! * writes, for every kind, each answered like kube-apiserver (errors are `Status` bodies, which
//!   `kube` turns into `kube::Error::Api` with `code` and `reason`):
//!   - `POST` on a collection creates: `201` with the stored object; `409 AlreadyExists` if the
//!     name is taken (hidden objects included); `400 BadRequest` if the body's namespace, kind or
//!     apiVersion disagrees with the path; `422 Invalid` without `name` or `generateName`;
//!     `500 InternalError` if it carries a `metadata.resourceVersion` (as kube-apiserver does);
//!   - `PUT` on an object replaces: `200`; `404 NotFound` if absent; `409 Conflict` if the body
//!     carries a `metadata.resourceVersion` other than the stored one (without one the update is
//!     unconditional); `400` if the body's name differs from the path's;
//!   - `PATCH` on an object, by `Content-Type`: `application/json-patch+json` (RFC 6902, applied
//!     to the stored object, so a `test` op on `/metadata/resourceVersion` is a precondition),
//!     `application/merge-patch+json` (RFC 7386) and, for the built-in kinds only (as in
//!     kube-apiserver, custom resources get 415), `application/strategic-merge-patch+json`,
//!     applied as a merge patch (see the simplifications); a patched
//!     `metadata.resourceVersion` other than the stored one is `409 Conflict`; other types are
//!     `415 UnsupportedMediaType`; the result keeps the stored kind, apiVersion, name,
//!     namespace, uid and creationTimestamp (changes to them in the patch are dropped); `force`
//!     on a non-apply patch is `422 Invalid` (`PatchOptions.meta.k8s.io "" is invalid: force:
//!     Forbidden: ...`), as kube-apiserver's `ValidatePatchOptions` says;
//!   - server-side apply: `PATCH` with `application/apply-patch+yaml` (JSON or YAML) and
//!     `fieldManager` (without one, `422 Invalid`: `PatchOptions.meta.k8s.io "" is invalid:
//!     fieldManager: Required value: is required for apply patch`; kube-apiserver answers 422
//!     here, not 400), optionally `force=true`. The body needs the kind's `apiVersion` and `kind`
//!     (`400`: `invalid object type: …`), no `metadata.managedFields` (400), and a name, if
//!     any, equal to the path's (400). An absent object is created from it (`201`, admission
//!     `CREATE`, a `metadata.resourceVersion` in it is the create's 500); a present one gets it
//!     merged in (`200`; maps merged recursively, lists and scalars replaced, and the fields
//!     this manager applied before but omits now removed unless another manager owns them too);
//!     a field another manager owns whose value the apply changes is `409 Conflict`, reason
//!     `Conflict`, with kube-apiserver's message (`Apply failed with 1 conflict: conflict with
//!     "other" using coordination.k8s.io/v1: .spec.holderIdentity`; an `Apply` owner is named
//!     without `using …`; several conflicts are listed per manager) and `FieldManagerConflict`
//!     causes, unless `force=true`, which moves those fields to the applier. Equal values are
//!     owned jointly. The conflicts are checked before the `resourceVersion` (409 too);
//!   - field ownership (the `apply` module, modelled on structured-merge-diff): per object, per
//!     leaf field (lists are leaves), its managers and operation (`Apply` or `Update`). Every
//!     other write through the API (create, `PUT`, JSON/merge/strategic patch) is an `Update`
//!     by the `fieldManager` query parameter or else the `User-Agent` up to its first `/` (`""`
//!     without one), which takes the fields it changed from everyone else; the test helpers write
//!     as an `Update` by [`ApiServer::HELPER_MANAGER`]. Ownership is kept internally and read
//!     with [`ApiServer::managed_fields`]: objects carry no `metadata.managedFields` (kube's
//!     clients do not need it);
//!   - `DELETE` on an object: `200` with a `Success` `Status`; `404` if absent; `409 Conflict` if
//!     `preconditions.resourceVersion`/`preconditions.uid` in the `DeleteOptions` body disagree.
//!
//!   A body that is not JSON (or not an object, or for a JSON patch not an array) is
//!   `400 BadRequest`; one over [`MAX_BODY_BYTES`] is `413 RequestEntityTooLarge`. Writes
//!   through the API are serialized (one at a time, admission calls included), so racing
//!   creates of one name get one `201` and `409`s. A write assigns the next resource version
//!   and sends `ADDED`/`MODIFIED`/`DELETED` to the watches, exactly as the test helpers below
//!   do. A create gets a new `uid` and `creationTimestamp` (the body's are dropped); a replace
//!   or patch keeps the stored ones.
//! * admission: a create, replace or patch of a namespaced kind runs the stored
//!   `MutatingWebhookConfiguration`s' and then `ValidatingWebhookConfiguration`s' matching
//!   webhooks, as kube-apiserver does (see the `admission` module: matching by rules,
//!   namespace and object selectors and CEL `matchConditions`; AdmissionReview calls to
//!   `http://127.0.0.1` URLs or to services routed there with [`ApiServer::route_service`];
//!   `failurePolicy`, `timeoutSeconds`, patches, denials, warnings, `reinvocationPolicy`).
//!   The order: the body is decoded and checked against the path (400s) and, for an update,
//!   against the stored object (404; a patch is applied, 422; an apply is merged, 409 for field
//!   conflicts); then the mutating webhooks; then
//!   the stand-in's own checks (a create's `resourceVersion` 500 and name 422, an update's
//!   `resourceVersion` 409); then the validating webhooks; then storage (409 AlreadyExists).
//!   Without webhook configurations nothing changes. [`ApiServer::webhook_calls`] lists the
//!   calls made.
//!
//! Tests change the world with the synchronous [`ApiServer::apply`], [`ApiServer::delete`],
//! [`ApiServer::apply_hidden`], [`ApiServer::expire_watches`], [`ApiServer::bookmark`],
//! [`ApiServer::set_refuse_writes`] and [`ApiServer::route_service`], and inspect it with
//! [`ApiServer::get`], [`ApiServer::requests`], [`ApiServer::exchanges`],
//! [`ApiServer::writes`], [`ApiServer::count`], [`ApiServer::list_count`],
//! [`ApiServer::managed_fields`] and [`ApiServer::webhook_calls`].
//!
//! Like etcd, one resource-version counter covers the whole server. Every change is kept in an
//! event log so a watch can resume from any resource version at or above the expiry floor.
//!
//! Deliberate simplifications (the real server does more):
//! * a strategic merge patch is applied as a JSON merge patch (RFC 7386: maps merge, `null`
//!   deletes a key, as in a strategic merge patch, and lists are replaced whole): right for
//!   `Lease` and for any field without a list merge key, but a strategic patch of, say, a
//!   Service's `ports` would merge by `port` in kube-apiserver and replaces the list here;
//!   `$patch`/`$retainKeys` directives are not understood;
//! * server-side apply treats every list as atomic (no `x-kubernetes-list-type: map` or `set`
//!   merging), knows no schema (no defaulting, no unknown-field pruning), tracks ownership of
//!   leaves only (not of the maps above them) and ignores `status` subresource rules; a
//!   mutating webhook's changes to an apply are owned by the applier as an `Update`;
//! * served methods are GET, POST, PUT, PATCH and DELETE as above; `deletecollection`, `HEAD`,
//!   other methods and writes to discovery paths get 405 with a `Status`; subresources
//!   (`/status`, ...) are 404;
//! * no validation beyond what is listed above: names need not be DNS names, namespaces need not
//!   exist, objects need not match their schema, `metadata.generation`, finalizers and graceful
//!   deletion are not maintained; `dryRun` is refused with 400 (rather than silently writing);
//! * a failing JSON-patch `test` op or a JSON patch on a path that does not exist is
//!   `422 Invalid`: that is this stand-in's choice (kube-apiserver's code and wording vary);
//! * a write through the API to an [`ApiServer::apply_hidden`] object keeps it hidden;
//! * admission runs only on writes through the API (never on the test helpers), only for
//!   namespaced kinds, only on CREATE and UPDATE (a DELETE calls no webhook), and reads the
//!   webhook configurations that are visible (not [`ApiServer::apply_hidden`] ones) when the
//!   write arrives; the further simplifications are listed in the `admission` module;
//! * `labelSelector` supports `k=v`, `k==v`, `k!=v`, `k`, `!k` (set-based selectors get 400);
//!   `fieldSelector` supports `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`.
//!   On a watch the selector is applied to each event's object as is: an object leaving the
//!   selection is not turned into a synthetic `DELETED`;
//! * a write that changes nothing (a repeated apply, say) is still stored under a new resource
//!   version and sent to the watches as `MODIFIED` (kube-apiserver skips such no-op writes);
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

// Explicit paths: this file is also included with `#[path]` (by the benches), which would
// otherwise look for its submodules next to it rather than under `apiserver/`.
#[path = "apiserver/admission.rs"]
mod admission;
#[path = "apiserver/apply.rs"]
mod apply;
#[path = "apiserver/kinds.rs"]
mod kinds;

use kinds::Resource;

// Not every test binary looks at the outcomes.
#[allow(unused_imports)]
pub use admission::{CallOutcome, WebhookCall};

/// What the stand-in server serves beyond the built-in kinds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Serve the `BackendConfig` custom resource (`cloud.google.com/v1`, `backendconfigs`), as if
    /// its CRD were installed. When off, its paths are 404 and it is absent from discovery.
    pub backend_configs_crd: bool,
    /// Serve the Gateway API custom resources (`gateway.networking.k8s.io/v1`: `httproutes`,
    /// `grpcroutes`, `gateways`, `gatewayclasses` (cluster-scoped), `referencegrants`), as if
    /// their CRDs were installed. When off, their paths are 404 and they are absent from
    /// discovery.
    pub gateway_api_crds: bool,
    /// Serve the OpenReports custom resources (`openreports.io/v1alpha1`: `reports` namespaced,
    /// `clusterreports` cluster-scoped), as if their CRDs were installed. When off, their paths
    /// are 404 and they are absent from discovery.
    pub openreports_crds: bool,
    /// Serve the Policy Report custom resources of the Kubernetes policy working group
    /// (`wgpolicyk8s.io/v1alpha2`: `policyreports` namespaced, `clusterpolicyreports`
    /// cluster-scoped), as if their CRDs were installed. When off, their paths are 404 and they
    /// are absent from discovery.
    pub policy_report_crds: bool,
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
    /// The field manager of the synchronous test helpers ([`ApiServer::apply`],
    /// [`ApiServer::apply_hidden`]): their writes own fields as an `Update` by this manager, so
    /// a server-side apply by someone else that changes such a field conflicts.
    pub const HELPER_MANAGER: &'static str = "stand-in-test-helper";

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
            writes: tokio::sync::Mutex::new(()),
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

    /// Creates or replaces an object, chosen by its `kind` (any kind of the module
    /// documentation: `Service`, `Lease`, `PolicyReport`, ...), `metadata.namespace` (default
    /// `"default"`; dropped for cluster-scoped kinds) and `metadata.name`.
    ///
    /// Assigns the next global `metadata.resourceVersion`, fills `metadata.uid` and
    /// `metadata.creationTimestamp` when missing (keeping those of the object it replaces) and
    /// `apiVersion` when missing, then sends `ADDED` (new) or `MODIFIED` (existing) to the open
    /// watches. Applying over an [`ApiServer::apply_hidden`] object makes it visible (`ADDED`).
    /// The fields it changes are owned by [`ApiServer::HELPER_MANAGER`] (an `Update`).
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

    /// Deletes an object: `kind` is one of the kinds [`ApiServer::apply`] takes (the plural
    /// resource name is accepted too); `namespace` is ignored for cluster-scoped kinds (pass
    /// `""`). Sends `DELETED` with the last state under a new resource version (hidden objects
    /// vanish silently). Panics if there is no such object.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let resource =
            Resource::from_kind(kind).unwrap_or_else(|| panic!("unsupported kind {kind:?}"));
        let key = resource.key(namespace, name);
        let mut store = self.shared.lock();
        if store.remove(&key).is_none() {
            drop(store);
            panic!("delete: no {kind} {namespace}/{name}");
        }
    }

    /// The stored object (hidden or not) of `kind` (kind or plural, as for
    /// [`ApiServer::delete`]) named `name` in `namespace` (ignored for cluster-scoped kinds), as
    /// a GET by name would return it; `None` if there is none. Panics on an unsupported kind.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let resource =
            Resource::from_kind(kind).unwrap_or_else(|| panic!("unsupported kind {kind:?}"));
        let key = resource.key(namespace, name);
        self.shared
            .lock()
            .objects
            .get(&key)
            .map(|stored| stored.object.clone())
    }

    /// The field ownership of the stored object (hidden or not) of `kind` (as for
    /// [`ApiServer::get`]), like its `metadata.managedFields` would be: one entry per manager and
    /// operation, in order of first write, each with its owned leaf fields (`.spec.x`), sorted.
    /// Empty if there is no such object. The objects themselves carry no `managedFields`.
    pub fn managed_fields(&self, kind: &str, namespace: &str, name: &str) -> Vec<ManagedFields> {
        let resource =
            Resource::from_kind(kind).unwrap_or_else(|| panic!("unsupported kind {kind:?}"));
        let key = resource.key(namespace, name);
        self.shared
            .lock()
            .objects
            .get(&key)
            .map(|stored| {
                stored
                    .managed
                    .iter()
                    .map(|entry| ManagedFields {
                        manager: entry.manager.clone(),
                        operation: entry.operation.as_str().to_owned(),
                        fields: entry.fields.iter().map(apply::display).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Failure injection: while on, every write request (POST, PUT, PATCH, DELETE on an object
    /// or collection path of a served kind) is answered `500 InternalError` without touching the
    /// store. Reads and the synchronous test helpers keep working.
    pub fn set_refuse_writes(&self, refuse: bool) {
        self.shared.lock().refuse_writes = refuse;
    }

    /// Latency injection: every GET of a single object (not lists, watches or discovery) is
    /// answered `delay` late, with the object as it was when the request arrived, so that tests
    /// can make requests overlap (two clients reading the same state before either writes).
    pub fn set_get_delay(&self, delay: Duration) {
        self.shared.lock().get_delay = delay;
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

    /// Every request received so far, in order of arrival, as `"METHOD /path?query"`. It is
    /// recorded before it is answered; [`ApiServer::exchanges`] has the answers' status codes.
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// Every request answered so far, in order of answering, with its status code (a watch
    /// counts as answered, 200, once its stream opens).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.lock().exchanges.clone()
    }

    /// The answered requests other than GET (the writes), in order of answering, with their
    /// status codes: e.g. a `POST` to `/api/v1/namespaces/x/secrets` answered `201` or `409`.
    pub fn writes(&self) -> Vec<Exchange> {
        self.shared
            .lock()
            .exchanges
            .iter()
            .filter(|exchange| exchange.method != "GET")
            .cloned()
            .collect()
    }

    /// How many requests with `method` (`"POST"`) on `path` (without the query string:
    /// `"/api/v1/namespaces/x/secrets"`) were answered with `status` (`201`). For "exactly one
    /// create succeeded": `count("POST", path, 201) == 1`.
    pub fn count(&self, method: &str, path: &str, status: u16) -> usize {
        self.shared
            .lock()
            .exchanges
            .iter()
            .filter(|e| e.method == method && e.path == path && e.status == status)
            .count()
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

    /// Makes the admission webhooks whose `clientConfig.service` names `namespace`/`name`
    /// callable: their AdmissionReviews go to `base` (`http://127.0.0.1:PORT`, with the
    /// service's `path` appended; its `port` is ignored). Unrouted services are unreachable,
    /// as in a cluster where nothing serves them. Panics on a `base` other than a plain
    /// `http://127.0.0.1:PORT`: the stand-in never calls anything else.
    pub fn route_service(&self, namespace: &str, name: &str, base: &str) {
        let host = base
            .strip_prefix("http://127.0.0.1:")
            .map(|rest| rest.trim_end_matches('/'));
        assert!(
            host.is_some_and(|port| port.parse::<u16>().is_ok()),
            "route_service: {base:?} is not http://127.0.0.1:PORT"
        );
        self.shared.lock().service_routes.insert(
            (namespace.to_owned(), name.to_owned()),
            base.trim_end_matches('/').to_owned(),
        );
    }

    /// Every admission webhook call made so far, in order: one per webhook that matched a
    /// write (its rules, selectors and `matchConditions`) and was then called, whatever came
    /// of the call (allowed, denied, or failed: unreachable, timed out, a bad answer). A
    /// webhook skipped by its `matchConditions` or selectors is not listed; a validating
    /// webhook is listed even when another one denied the write (they are all called).
    pub fn webhook_calls(&self) -> Vec<WebhookCall> {
        self.shared.lock().webhook_calls.clone()
    }

    /// The names of the webhooks in [`ApiServer::webhook_calls`], in order.
    pub fn webhooks_called(&self) -> Vec<String> {
        self.shared
            .lock()
            .webhook_calls
            .iter()
            .map(|call| call.webhook.clone())
            .collect()
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
        let key = resource.key(&namespace, &name);
        let writer = apply::Writer::update(ApiServer::HELPER_MANAGER);
        self.shared.lock().write(key, object, hidden, &writer);
    }
}

/// One manager's fields of an object (see [`ApiServer::managed_fields`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedFields {
    /// The field manager: a request's `fieldManager`, else its `User-Agent` up to the first `/`
    /// (`""` without one), or [`ApiServer::HELPER_MANAGER`].
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The owned leaves, sorted: `.metadata.labels.app`, `.spec.holderIdentity`.
    pub fields: Vec<String>,
}

/// One answered request, as recorded by the stand-in (see [`ApiServer::exchanges`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, ...
    pub method: String,
    /// The path without the query string: `/api/v1/namespaces/a/secrets`.
    pub path: String,
    /// The raw query string, `""` when there is none.
    pub query: String,
    /// The HTTP status code of the answer.
    pub status: u16,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop_serving();
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
    /// Held by a write through the API from its first look at the store to its commit, across
    /// the admission webhook calls in between (which must not hold `state`): writes are
    /// serialized, so racing creates of one name still get one `201` and `409`s. Reads and the
    /// synchronous test helpers never take it. The price: a webhook that writes through the API
    /// while it is being called waits for the write that called it, until its call times out.
    writes: tokio::sync::Mutex<()>,
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
    /// Who owns which fields (see the `apply` module).
    managed: Vec<apply::Entry>,
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
    exchanges: Vec<Exchange>,
    list_counts: HashMap<Resource, usize>,
    /// Set by [`ApiServer::set_refuse_writes`].
    refuse_writes: bool,
    /// Set by [`ApiServer::set_get_delay`].
    get_delay: Duration,
    shut_down: bool,
    /// Set by [`ApiServer::route_service`]: (namespace, name) to `http://127.0.0.1:PORT`.
    service_routes: BTreeMap<(String, String), String>,
    /// Every admission webhook call, in order (see [`ApiServer::webhook_calls`]).
    webhook_calls: Vec<WebhookCall>,
}

impl Store {
    /// Stores `object` (whose `metadata` must be an object; anything else is replaced by one)
    /// under `key`, hidden or not, and returns it as stored.
    ///
    /// Assigns the next resource version; sets `metadata.name` and `metadata.namespace` from the
    /// key (removing the namespace for cluster-scoped kinds); fills `metadata.uid` and
    /// `metadata.creationTimestamp` when missing, from the object it replaces or new. Sends
    /// `ADDED` (new or previously hidden), `MODIFIED` (visible before and after) or `DELETED`
    /// (visible before, hidden now) to the open watches; a hidden object stays silent. Records
    /// the field ownership of `writer`'s change (see the `apply` module).
    fn write(
        &mut self,
        key: Key,
        mut object: Value,
        hidden: bool,
        writer: &apply::Writer,
    ) -> Value {
        self.rv += 1;
        let rv = self.rv;
        let (resource, namespace, name) = &key;
        let previous = self.objects.get(&key);
        let was_visible = previous.is_some_and(|p| !p.hidden);
        let old = |field: &str| {
            previous
                .and_then(|p| p.object["metadata"].get(field))
                .filter(|value| value.is_string())
                .cloned()
        };
        let old_uid = old("uid");
        let old_created = old("creationTimestamp");

        if !object.is_object() {
            object = json!({});
        }
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("name".to_owned(), json!(name));
            if resource.namespaced() {
                metadata.insert("namespace".to_owned(), json!(namespace));
            } else {
                metadata.remove("namespace");
            }
            metadata.insert("resourceVersion".to_owned(), json!(rv.to_string()));
            if !metadata.get("uid").is_some_and(Value::is_string) {
                let uid =
                    old_uid.unwrap_or_else(|| json!(format!("00000000-0000-4000-8000-{rv:012x}")));
                metadata.insert("uid".to_owned(), uid);
            }
            if !metadata
                .get("creationTimestamp")
                .is_some_and(Value::is_string)
            {
                let created = old_created.unwrap_or_else(creation_timestamp);
                metadata.insert("creationTimestamp".to_owned(), created);
            }
        }

        let managed = apply::record(
            previous.map_or(&[][..], |p| &p.managed),
            previous.map(|p| &p.object),
            &object,
            writer,
            resource.api_version(),
        );
        let (resource, namespace) = (*resource, namespace.clone());
        self.objects.insert(
            key,
            Stored {
                object: object.clone(),
                hidden,
                managed,
            },
        );
        match (was_visible, hidden) {
            (false, false) => self.emit(resource, &namespace, "ADDED", object.clone()),
            (true, false) => self.emit(resource, &namespace, "MODIFIED", object.clone()),
            (true, true) => self.emit(resource, &namespace, "DELETED", object.clone()),
            (false, true) => {}
        }
        object
    }

    /// Removes the object under `key` and returns it as it was stored. A visible one is sent to
    /// the open watches as `DELETED` under a new resource version; a hidden one vanishes.
    fn remove(&mut self, key: &Key) -> Option<Value> {
        let removed = self.objects.remove(key)?;
        if !removed.hidden {
            self.rv += 1;
            let mut object = removed.object.clone();
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("resourceVersion".to_owned(), json!(self.rv.to_string()));
            }
            self.emit(key.0, &key.1, "DELETED", object);
        }
        Some(removed.object)
    }

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

/// The largest request body accepted (kube-apiserver's limit, 3 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The single handler: routes by hand so that every miss is a proper `Status`, and records the
/// request (on arrival) and its answer's status code (see [`ApiServer::exchanges`]).
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let delay = {
        let mut store = shared.lock();
        store.requests.push(format!("{method} {target}"));
        store.get_delay
    };
    // A GET by name: `/api/v1/namespaces/{ns}/{plural}/{name}` or the `/apis/{g}/{v}/…` form.
    let segments = uri.path().split('/').filter(|s| !s.is_empty()).count();
    let by_name = method == Method::GET
        && !uri.query().unwrap_or("").contains("watch")
        && ((uri.path().starts_with("/api/") && segments == 6)
            || (uri.path().starts_with("/apis/") && segments == 7));
    let response = route(&shared, &method, &uri, &headers, body).await;
    // Read now, answered late: like latency on the way back, so overlapping GETs see the same
    // state even when a write lands while they wait.
    if by_name && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    shared.lock().exchanges.push(Exchange {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        status: response.status().as_u16(),
    });
    response
}

/// Routes one request: resource paths by method, discovery paths for GET only.
async fn route(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let query = Query::parse(uri.query().unwrap_or(""));
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => {
            resource_request(shared, method, ("", "v1"), rest, &query, headers, body).await
        }
        ["apis", group, version, rest @ ..] if !rest.is_empty() => {
            let group_version = (*group, *version);
            resource_request(shared, method, group_version, rest, &query, headers, body).await
        }
        _ if method != Method::GET => method_not_allowed(),
        segments => discovery(shared, segments, headers),
    }
}

/// The discovery documents (GET only).
fn discovery(shared: &Shared, segments: &[&str], headers: &HeaderMap) -> Response {
    let aggregated = wants_aggregated_discovery(headers);
    let options = &shared.options;
    match segments {
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
        _ => not_found_path(),
    }
}

/// A write, with its parsed body.
enum Write<'a> {
    /// `POST` on a collection.
    Create(Value),
    /// `PUT` on an object.
    Replace(&'a str, Value),
    /// `PATCH` on an object.
    Patch(&'a str, PatchBody),
    /// `DELETE` on an object, with its `DeleteOptions` (`{}` for an empty body).
    Delete(&'a str, Value),
}

/// A parsed `PATCH` body.
enum PatchBody {
    /// `application/json-patch+json`.
    Json(json_patch::Patch),
    /// `application/merge-patch+json`: a JSON object.
    Merge(Value),
    /// `application/strategic-merge-patch+json` (built-in kinds only): a JSON object, applied as
    /// a merge patch (see the module documentation).
    Strategic(Value),
    /// `application/apply-patch+yaml`: the applied configuration, a JSON (or YAML) object.
    Apply(Value),
}

/// A request under `/api/v1` (`group` `""`) or `/apis/{group}/{version}`: `rest` is what
/// follows.
///
/// Namespaced kinds are served at `[namespaces/{ns}/]{plural}[/{name}]` (writes need the
/// namespace), cluster-scoped ones at `{plural}[/{name}]`; anything else is 404. GET lists,
/// watches or gets; the writes are described in the module documentation.
async fn resource_request(
    shared: &Shared,
    method: &Method,
    (group, version): (&str, &str),
    rest: &[&str],
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let (namespace, plural, name) = match rest {
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        _ => return not_found_path(),
    };
    let Some(resource) = Resource::ALL.into_iter().find(|r| {
        r.group() == group
            && r.version() == version
            && r.plural() == plural
            && r.served(&shared.options)
    }) else {
        return not_found_path();
    };
    // A cluster-scoped kind has no namespaced paths; a namespaced one is only fetched or
    // written by name inside a namespace.
    let scoped_right = if resource.namespaced() {
        namespace.is_some() || name.is_none()
    } else {
        namespace.is_none()
    };
    if !scoped_right {
        return not_found_path();
    }
    let namespace = namespace.unwrap_or_default();
    if *method == Method::GET {
        return match name {
            Some(name) => get_object(shared, resource, namespace, name),
            None if query.is_watch() => watch(shared, resource, namespace_filter(namespace), query),
            None => list(shared, resource, namespace_filter(namespace), query),
        };
    }
    let is_write = matches!(
        (method, name),
        (&Method::POST, None) | (&Method::PUT | &Method::PATCH | &Method::DELETE, Some(_))
    );
    // A create needs a namespace for a namespaced kind.
    if !is_write || (resource.namespaced() && namespace.is_empty()) {
        return method_not_allowed();
    }
    if query.get("dryRun").is_some_and(|value| !value.is_empty()) {
        return bad_request("dryRun is not supported by the stand-in API server");
    }
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(failure) => return failure.into_response(),
    };
    let write = match parse_write(resource, method, name, headers, &bytes) {
        Ok(write) => write,
        Err(failure) => return failure.into_response(),
    };
    let is_apply = matches!(write, Write::Patch(_, PatchBody::Apply(_)));
    if let Err(failure) = check_patch_options(query, is_apply) {
        return failure.into_response();
    }
    let manager = field_manager(query, headers);
    // From here on writes are serialized (see `Shared::writes`).
    let _gate = shared.writes.lock().await;
    if shared.lock().refuse_writes {
        return internal_error("writes are refused by the test (ApiServer::set_refuse_writes)");
    }
    let decoded = match write {
        Write::Create(body) => decode_create(resource, namespace, body),
        Write::Replace(name, body) => {
            decode_replace(&shared.lock(), resource, namespace, name, body)
        }
        Write::Patch(name, PatchBody::Apply(body)) => {
            let force = query.get("force") == Some("true");
            let target = (resource, namespace, name);
            decode_apply(&shared.lock(), target, body, &manager, force)
        }
        Write::Patch(name, body) => decode_patch(&shared.lock(), resource, namespace, name, &body),
        Write::Delete(name, options) => {
            return delete_object(&mut shared.lock(), resource, namespace, name, &options);
        }
    };
    let mut pending = match decoded {
        Ok(pending) => pending,
        Err(failure) => return failure.into_response(),
    };
    if !is_apply {
        pending.writer = apply::Writer::update(&manager);
    }
    let request = admission::Request::new(&pending, headers, query.get("fieldManager"));
    admit_and_store(shared, pending, request).await
}

/// The rest of a create, replace or patch once it is decoded: the mutating webhooks, the
/// stand-in's own checks, the validating webhooks, storage. Every answer, success or failure,
/// carries the webhooks' warnings.
async fn admit_and_store(
    shared: &Shared,
    mut pending: Pending,
    request: admission::Request,
) -> Response {
    let mut chain = admission::Chain::new(&shared.lock(), request);
    let outcome = async {
        chain.mutate(shared, &mut pending.object).await?;
        // A webhook may not move the object to another kind or namespace: checked again as
        // the body was.
        pending.object = check_object(pending.resource, &pending.namespace, pending.object)?;
        let name = check_write(&shared.lock(), &pending)?;
        chain.validate(shared, &pending.object).await?;
        Ok::<_, Failure>(store_write(&mut shared.lock(), pending, &name))
    }
    .await;
    chain.with_warnings(outcome.unwrap_or_else(Failure::into_response))
}

/// `Some(namespace)` for a list or watch inside one, `None` for all namespaces (`""`).
fn namespace_filter(namespace: &str) -> Option<&str> {
    Some(namespace).filter(|ns| !ns.is_empty())
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]. A larger one is drained (up to 16 times
/// the limit, so the client gets to read the answer) and answered 413; a broken one 400.
async fn read_body(body: Body) -> Result<Vec<u8>, Failure> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|error| Failure::bad_request(&format!("reading the body: {error}")))?;
        total = total.saturating_add(chunk.len());
        if total <= MAX_BODY_BYTES {
            bytes.extend_from_slice(&chunk);
        } else if total > MAX_BODY_BYTES.saturating_mul(16) {
            break;
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
            json!({}),
        ));
    }
    Ok(bytes)
}

/// The field manager of a write: the `fieldManager` query parameter, else (as kube-apiserver's
/// `managerOrUserAgent`) the `User-Agent` up to its first `/`, which is `""` without one (the
/// `kube` client sends none).
fn field_manager(query: &Query, headers: &HeaderMap) -> String {
    if let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return manager.to_owned();
    }
    headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .and_then(|agent| agent.split('/').next())
        .unwrap_or("")
        .to_owned()
}

/// kube-apiserver's `ValidatePatchOptions`, as far as the stand-in goes: an apply needs a
/// `fieldManager`; `force` is only for applies. Both are `422 Invalid` on `PatchOptions`.
fn check_patch_options(query: &Query, is_apply: bool) -> Result<(), Failure> {
    let cause = if is_apply && query.get("fieldManager").is_none_or(str::is_empty) {
        (
            "FieldValueRequired",
            "fieldManager",
            "Required value: is required for apply patch",
        )
    } else if !is_apply && query.get("force").is_some() {
        (
            "FieldValueForbidden",
            "force",
            "Forbidden: may not be specified for non-apply patch",
        )
    } else {
        return Ok(());
    };
    let (reason, field, text) = cause;
    Err(Failure::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        &format!("PatchOptions.meta.k8s.io \"\" is invalid: {field}: {text}"),
        json!({
            "group": "meta.k8s.io",
            "kind": "PatchOptions",
            "causes": [{"reason": reason, "message": text, "field": field}],
        }),
    ))
}

/// Parses the body of a write (see [`resource_request`] for which method/name pairs get here).
fn parse_write<'a>(
    resource: Resource,
    method: &Method,
    name: Option<&'a str>,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Write<'a>, Failure> {
    let json = || -> Result<Value, Failure> {
        serde_json::from_slice::<Value>(bytes).map_err(|error| {
            Failure::bad_request(&format!("the request body is not valid JSON: {error}"))
        })
    };
    let object = || -> Result<Value, Failure> {
        let value = json()?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(Failure::bad_request(
                "the request body is not a JSON object",
            ))
        }
    };
    match (method, name) {
        (&Method::POST, None) => Ok(Write::Create(object()?)),
        (&Method::PUT, Some(name)) => Ok(Write::Replace(name, object()?)),
        (&Method::DELETE, Some(name)) if bytes.iter().all(u8::is_ascii_whitespace) => {
            Ok(Write::Delete(name, json!({})))
        }
        (&Method::DELETE, Some(name)) => Ok(Write::Delete(name, object()?)),
        (&Method::PATCH, Some(name)) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(';').next())
                .map(|value| value.trim().to_ascii_lowercase())
                .unwrap_or_default();
            match content_type.as_str() {
                "application/json-patch+json" => {
                    let value = json()?;
                    if !value.is_array() {
                        return Err(Failure::bad_request("a JSON patch must be a JSON array"));
                    }
                    serde_json::from_value::<json_patch::Patch>(value)
                        .map(|patch| Write::Patch(name, PatchBody::Json(patch)))
                        .map_err(|error| {
                            Failure::bad_request(&format!("invalid JSON patch: {error}"))
                        })
                }
                "application/merge-patch+json" => {
                    Ok(Write::Patch(name, PatchBody::Merge(object()?)))
                }
                "application/strategic-merge-patch+json" if !resource.is_custom() => {
                    Ok(Write::Patch(name, PatchBody::Strategic(object()?)))
                }
                "application/apply-patch+yaml" => {
                    // kube sends JSON, which is YAML; anything else is read as YAML.
                    let value = serde_json::from_slice::<Value>(bytes)
                        .or_else(|_| serde_norway::from_slice::<Value>(bytes))
                        .map_err(|error| {
                            Failure::bad_request(&format!("error decoding patch: {error}"))
                        })?;
                    if !value.is_object() {
                        return Err(Failure::bad_request(
                            "error decoding patch: the applied configuration is not an object",
                        ));
                    }
                    Ok(Write::Patch(name, PatchBody::Apply(value)))
                }
                _ => {
                    let strategic = if resource.is_custom() {
                        ""
                    } else {
                        "application/strategic-merge-patch+json, "
                    };
                    Err(Failure::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedMediaType",
                        &format!(
                            "the body of the request was in an unknown format - accepted media \
                             types include: application/json-patch+json, \
                             application/merge-patch+json, {strategic}\
                             application/apply-patch+yaml (got {content_type:?})"
                        ),
                        json!({}),
                    ))
                }
            }
        }
        _ => Err(Failure::method_not_allowed()),
    }
}

/// A create, replace or patch decoded and checked against the path and, for an update, the
/// stored object: what the admission chain sees and then what is stored.
struct Pending {
    resource: Resource,
    /// `""` for cluster-scoped kinds.
    namespace: String,
    /// An update's name (from the path); a create's `metadata.name` (`""` with only
    /// `generateName`).
    name: String,
    /// The object to store, as the webhooks change it.
    object: Value,
    /// The stored object an update replaces; `None` for a create.
    old: Option<Value>,
    /// Who writes, for field ownership: set by `resource_request` (or [`decode_apply`]).
    writer: apply::Writer,
}

impl Pending {
    fn is_create(&self) -> bool {
        self.old.is_none()
    }
}

/// `POST`: the object in `body` (a JSON object) to create in `namespace` (`""` for
/// cluster-scoped kinds), or a failure `Status` (module docs).
fn decode_create(resource: Resource, namespace: &str, body: Value) -> Result<Pending, Failure> {
    let object = check_object(resource, namespace, body)?;
    Ok(Pending {
        resource,
        namespace: namespace.to_owned(),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        object,
        old: None,
        writer: apply::Writer::update(""),
    })
}

/// `PUT`: `body` (a JSON object) to replace the object `name` with, or a failure `Status`
/// (module docs).
fn decode_replace(
    store: &Store,
    resource: Resource,
    namespace: &str,
    name: &str,
    body: Value,
) -> Result<Pending, Failure> {
    let object = check_object(resource, namespace, body)?;
    let body_name = object["metadata"]["name"].as_str().unwrap_or("");
    if body_name != name {
        return Err(Failure::bad_request(&format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let Some(stored) = store.objects.get(&resource.key(namespace, name)) else {
        return Err(Failure::not_found(resource, name));
    };
    Ok(Pending {
        resource,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        object,
        old: Some(stored.object.clone()),
        writer: apply::Writer::update(""),
    })
}

/// `PATCH`: the stored object `name` with `patch` applied, or a failure `Status` (module
/// docs). A failing JSON-patch operation (a `test` that does not hold, a path that does not
/// exist) is 422 `Invalid`: the stand-in's choice. The result keeps the stored kind,
/// apiVersion, name, namespace, uid and creationTimestamp.
fn decode_patch(
    store: &Store,
    resource: Resource,
    namespace: &str,
    name: &str,
    patch: &PatchBody,
) -> Result<Pending, Failure> {
    let Some(stored) = store.objects.get(&resource.key(namespace, name)) else {
        return Err(Failure::not_found(resource, name));
    };
    let mut object = stored.object.clone();
    match patch {
        PatchBody::Json(operations) => {
            if let Err(error) = json_patch::patch(&mut object, operations) {
                return Err(Failure::invalid(
                    resource,
                    name,
                    &format!("the JSON patch failed: {error}"),
                ));
            }
        }
        PatchBody::Merge(merge) | PatchBody::Strategic(merge) => {
            json_patch::merge(&mut object, merge);
        }
        PatchBody::Apply(_) => {
            return Err(Failure::internal("an apply is decoded by decode_apply"));
        }
    }
    if !object.is_object() || !object["metadata"].is_object() {
        return Err(Failure::invalid(
            resource,
            name,
            "metadata: Required value: the patched object has no metadata object",
        ));
    }
    object["kind"] = json!(resource.kind());
    object["apiVersion"] = json!(resource.api_version());
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("name".to_owned(), json!(name));
        if resource.namespaced() {
            metadata.insert("namespace".to_owned(), json!(namespace));
        }
    }
    keep_system_fields(&mut object, &stored.object);
    Ok(Pending {
        resource,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        object,
        old: Some(stored.object.clone()),
        writer: apply::Writer::update(""),
    })
}

/// `PATCH` with `application/apply-patch+yaml` (server-side apply) of `body` by `manager` to
/// the object `name` (module docs, and the `apply` module for the merge and field ownership):
///
/// * the body needs this kind's `apiVersion` and `kind` (`400 invalid object type`, as
///   kube-apiserver's version check), no `metadata.managedFields` (400), and a
///   `metadata.name`, if any, equal to the path's (400); its namespace is checked as a create's;
/// * an absent object is created from the body (named from the path);
/// * a present one gets the body merged in; a field another manager owns that it would change
///   is `409 Conflict` (reason `Conflict`, kube-apiserver's message and `FieldManagerConflict`
///   causes) unless `force`, which takes the fields over.
fn decode_apply(
    store: &Store,
    (resource, namespace, name): (Resource, &str, &str),
    body: Value,
    manager: &str,
    force: bool,
) -> Result<Pending, Failure> {
    let api_version = body["apiVersion"].as_str().unwrap_or("");
    let kind = body["kind"].as_str().unwrap_or("");
    if api_version != resource.api_version() || kind != resource.kind() {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        return Err(Failure::bad_request(&format!(
            "invalid object type: {group}/{version}, Kind={kind}"
        )));
    }
    if !body["metadata"]["managedFields"].is_null() {
        return Err(Failure::bad_request("metadata.managedFields must be nil"));
    }
    let body_name = body["metadata"]["name"].as_str().unwrap_or(name);
    if body_name != name {
        return Err(Failure::bad_request(&format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let mut applied = check_object(resource, namespace, apply::strip_nulls(&body))?;
    applied["metadata"]["name"] = json!(name);
    let writer = apply::Writer {
        manager: manager.to_owned(),
        operation: apply::Operation::Apply,
        applied: apply::leaves(&applied).into_keys().collect(),
    };
    let Some(stored) = store.objects.get(&resource.key(namespace, name)) else {
        return Ok(Pending {
            resource,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            object: applied,
            old: None,
            writer,
        });
    };
    let mut object = apply::apply(&stored.object, &stored.managed, &applied, manager, force)
        .map_err(|conflicts| {
            Failure::new(
                StatusCode::CONFLICT,
                "Conflict",
                &apply::conflict_message(&conflicts),
                json!({"causes": apply::conflict_causes(&conflicts)}),
            )
        })?;
    keep_system_fields(&mut object, &stored.object);
    Ok(Pending {
        resource,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        object,
        old: Some(stored.object.clone()),
        writer,
    })
}

/// The stand-in's own checks of a write after the mutating webhooks, before the validating
/// ones (where kube-apiserver validates the object). A create: `500 InternalError` if it
/// carries a `metadata.resourceVersion`, `422 Invalid` without `name` or `generateName`; its
/// name (generated for `generateName`) is returned. An update: `404` if the object is gone,
/// `409 Conflict` if it carries a `metadata.resourceVersion` other than the stored one.
fn check_write(store: &Store, pending: &Pending) -> Result<String, Failure> {
    let resource = pending.resource;
    let metadata = &pending.object["metadata"];
    if !pending.is_create() {
        let name = &pending.name;
        let Some(stored) = store.objects.get(&resource.key(&pending.namespace, name)) else {
            return Err(Failure::not_found(resource, name));
        };
        check_resource_version(resource, name, &pending.object, &stored.object)?;
        return Ok(name.clone());
    }
    if metadata["resourceVersion"]
        .as_str()
        .is_some_and(|rv| !rv.is_empty())
    {
        return Err(Failure::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    match (metadata["name"].as_str(), metadata["generateName"].as_str()) {
        (Some(name), _) if !name.is_empty() => Ok(name.to_owned()),
        (_, Some(prefix)) if !prefix.is_empty() => Ok(generate_name(prefix, store.rv + 1)),
        _ => Err(Failure::invalid(
            resource,
            "",
            "metadata.name: Required value: name or generateName is required",
        )),
    }
}

/// Stores an admitted write under `name` (from [`check_write`]): a create is `201` with the
/// stored object or `409 AlreadyExists` if the name is taken (hidden objects included); an
/// update is `200`, keeping the stored `uid`, `creationTimestamp` and hiddenness, or `404`/`409`
/// as [`check_write`] (the store may have changed under a test helper since).
fn store_write(store: &mut Store, pending: Pending, name: &str) -> Response {
    let is_create = pending.is_create();
    let Pending {
        resource,
        namespace,
        mut object,
        writer,
        ..
    } = pending;
    let key = resource.key(&namespace, name);
    let Some(stored) = store.objects.get(&key) else {
        if !is_create {
            return not_found(resource, name);
        }
        // The server, not the client, sets these on create.
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("uid");
            metadata.remove("creationTimestamp");
        }
        let stored = store.write(key, object, false, &writer);
        return object_response(StatusCode::CREATED, &stored);
    };
    if is_create {
        return status_response(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("{} \"{name}\" already exists", resource.qualified()),
            details(resource, name),
        );
    }
    if let Err(failure) = check_resource_version(resource, name, &object, &stored.object) {
        return failure.into_response();
    }
    let hidden = stored.hidden;
    keep_system_fields(&mut object, &stored.object);
    let stored = store.write(key, object, hidden, &writer);
    object_response(StatusCode::OK, &stored)
}

/// `DELETE`: removes the object `name`, honouring `preconditions.resourceVersion` and
/// `preconditions.uid` of the `DeleteOptions` in `options`. 200 with a `Success` `Status` (as
/// kube-apiserver answers for kinds without graceful deletion), 404 or 409.
fn delete_object(
    store: &mut Store,
    resource: Resource,
    namespace: &str,
    name: &str,
    options: &Value,
) -> Response {
    if options["dryRun"]
        .as_array()
        .is_some_and(|values| !values.is_empty())
    {
        return bad_request("dryRun is not supported by the stand-in API server");
    }
    let key = resource.key(namespace, name);
    let Some(stored) = store.objects.get(&key) else {
        return not_found(resource, name);
    };
    let preconditions = &options["preconditions"];
    for field in ["resourceVersion", "uid"] {
        let wanted = preconditions[field].as_str().filter(|v| !v.is_empty());
        let actual = stored.object["metadata"][field].as_str().unwrap_or("");
        if let Some(wanted) = wanted.filter(|wanted| *wanted != actual) {
            let message = if field == "uid" {
                format!(
                    "Precondition failed: UID in precondition: {wanted}, UID in object meta: {actual}"
                )
            } else {
                format!(
                    "the ResourceVersion in the precondition ({wanted}) does not match the \
                     ResourceVersion in record ({actual}). The object might have been modified"
                )
            };
            return status_response(
                StatusCode::CONFLICT,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {message}",
                    resource.qualified()
                ),
                details(resource, name),
            );
        }
    }
    let Some(removed) = store.remove(&key) else {
        return not_found(resource, name);
    };
    let mut details = details(resource, name);
    details["uid"] = removed["metadata"]["uid"].clone();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        })
        .to_string(),
    )
        .into_response()
}

/// Checks a create/replace body against the path: `kind` and `apiVersion` must be absent (then
/// they are filled) or right, `metadata` absent (then `{}`) or an object, and its namespace
/// absent, empty or equal to `namespace` (then set to it; removed for cluster-scoped kinds).
/// Mismatches are 400 BadRequest, as in kube-apiserver.
fn check_object(resource: Resource, namespace: &str, mut object: Value) -> Result<Value, Failure> {
    for (field, expected) in [
        ("kind", resource.kind()),
        ("apiVersion", resource.api_version()),
    ] {
        match object.get(field) {
            None | Some(Value::Null) => object[field] = json!(expected),
            Some(Value::String(actual)) if actual == expected => {}
            Some(actual) => {
                return Err(Failure::bad_request(&format!(
                    "the {field} in the data ({actual}) does not match the expected {field} \
                     ({expected})"
                )));
            }
        }
    }
    match object.get("metadata") {
        None | Some(Value::Null) => object["metadata"] = json!({}),
        Some(Value::Object(_)) => {}
        Some(_) => return Err(Failure::bad_request("metadata is not a JSON object")),
    }
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err(Failure::internal("metadata vanished"));
    };
    if resource.namespaced() {
        match metadata.get("namespace") {
            None | Some(Value::Null) => {}
            Some(Value::String(ns)) if ns.is_empty() || ns == namespace => {}
            Some(_) => {
                return Err(Failure::bad_request(
                    "the namespace of the provided object does not match the namespace sent on \
                     the request",
                ));
            }
        }
        metadata.insert("namespace".to_owned(), json!(namespace));
    } else {
        metadata.remove("namespace");
    }
    Ok(object)
}

/// 409 Conflict when `object` carries a `metadata.resourceVersion` other than `stored`'s.
fn check_resource_version(
    resource: Resource,
    name: &str,
    object: &Value,
    stored: &Value,
) -> Result<(), Failure> {
    let wanted = object["metadata"]["resourceVersion"]
        .as_str()
        .filter(|rv| !rv.is_empty());
    match wanted {
        Some(rv) if Some(rv) != stored["metadata"]["resourceVersion"].as_str() => {
            Err(Failure::new(
                StatusCode::CONFLICT,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been \
                     modified; please apply your changes to the latest version and try again",
                    resource.qualified()
                ),
                details(resource, name),
            ))
        }
        _ => Ok(()),
    }
}

/// Copies `uid` and `creationTimestamp` from the stored object onto an update.
fn keep_system_fields(object: &mut Value, stored: &Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["uid", "creationTimestamp"] {
            match stored["metadata"].get(field) {
                Some(value) => metadata.insert(field.to_owned(), value.clone()),
                None => metadata.remove(field),
            };
        }
    }
}

/// `generateName`: the prefix (cut to 58 bytes on a character boundary) and five characters
/// from kube-apiserver's alphabet derived from `seed` (the next resource version), so names are
/// unique and reproducible.
fn generate_name(prefix: &str, seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut cut = prefix.len().min(58);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = prefix[..cut].to_owned();
    let mut rest = seed;
    for _ in 0..5 {
        let base = ALPHABET.len() as u64;
        let index = usize::try_from(rest % base).unwrap_or(0);
        name.push(char::from(ALPHABET[index]));
        rest /= base;
    }
    name
}

fn get_object(shared: &Shared, resource: Resource, namespace: &str, name: &str) -> Response {
    let key = resource.key(namespace, name);
    if let Some(stored) = shared.lock().objects.get(&key) {
        return json_response(stored.object.clone());
    }
    not_found(resource, name)
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
                "namespaced": r.namespaced(),
                "kind": r.kind(),
                "verbs": Resource::VERBS,
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

/// The version served for `group` (one per group here; `v1` for a group not served).
fn group_version(group: &str) -> &'static str {
    Resource::ALL
        .into_iter()
        .find(|r| r.group() == group)
        .map_or("v1", Resource::version)
}

/// One APIGroup entry (without kind/apiVersion, as in an APIGroupList).
fn api_group(group: &str) -> Value {
    let version = group_version(group);
    let version = json!({"groupVersion": format!("{group}/{version}"), "version": version});
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
                        "scope": if r.namespaced() { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular(),
                        "verbs": Resource::VERBS,
                    })
                })
                .collect();
            json!({
                "metadata": {"name": group},
                "versions": [{
                    "version": group_version(group),
                    "resources": resources,
                    "freshness": "Current",
                }],
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

/// A failure `Status` still in parts (smaller than a [`Response`], so `Result`s stay cheap);
/// [`Failure::into_response`] sends it as [`status_response`] does.
struct Failure {
    code: StatusCode,
    /// One of ours, or (from an admission webhook's denial) the webhook's. Boxed rather than a
    /// `String` so that `Failure` stays as small as with the `&'static str` it once was.
    reason: Box<str>,
    message: String,
    details: Value,
}

impl Failure {
    fn new(code: StatusCode, reason: &'static str, message: &str, details: Value) -> Failure {
        Failure {
            code,
            reason: reason.into(),
            message: message.to_owned(),
            details,
        }
    }

    /// 404 for the object `name`: `secrets "x" not found`.
    fn not_found(resource: Resource, name: &str) -> Failure {
        Failure::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{} \"{name}\" not found", resource.qualified()),
            details(resource, name),
        )
    }

    /// 422 Invalid for the object `name`: `Secret "x" is invalid: {cause}`.
    fn invalid(resource: Resource, name: &str, cause: &str) -> Failure {
        let mut details = json!({"name": name, "kind": resource.kind()});
        if !resource.group().is_empty() {
            details["group"] = json!(resource.group());
        }
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!("{} \"{name}\" is invalid: {cause}", resource.kind()),
            details,
        )
    }

    fn bad_request(message: &str) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, "BadRequest", message, json!({}))
    }

    fn internal(message: &str) -> Failure {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            message,
            json!({}),
        )
    }

    fn method_not_allowed() -> Failure {
        Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            json!({}),
        )
    }

    fn into_response(self) -> Response {
        status_response(self.code, &self.reason, &self.message, self.details)
    }
}

/// A stored object as the answer to a write.
fn object_response(code: StatusCode, object: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        object.to_string(),
    )
        .into_response()
}

/// The `details` of a `Status` about the object `name`: `name`, `kind` (the plural, as
/// kube-apiserver sends it) and `group` (absent for the core group).
fn details(resource: Resource, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource.plural()});
    if !resource.group().is_empty() {
        details["group"] = json!(resource.group());
    }
    details
}

/// [`Failure::not_found`] as a response.
fn not_found(resource: Resource, name: &str) -> Response {
    Failure::not_found(resource, name).into_response()
}

fn method_not_allowed() -> Response {
    Failure::method_not_allowed().into_response()
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

//! The cluster view from the live API: kube reflectors (watch caches) plus secondary indexes.
//!
//! Services and Ingresses are always watched; GKE BackendConfigs only when discovery shows the
//! `cloud.google.com` CRD. Each cache is a kube-runtime reflector store fed by a watcher with
//! kube's default backoff, so list/watch, bookmarks and `410 Gone` re-lists are kube's own code.
//! The view is ready when every cache has synced once ([`LiveView::readiness`]).
//!
//! Where the cache may lag the API server (an Ingress admitted right after its backend Service
//! was created), [`LiveView::prepare`] asks the API server for a backend Service missing from the
//! cache before the rules run, as linkerd's policy controller does; only a Service the API server
//! also does not know is [`Lookup::Absent`].

use super::index::{IngressIndex, Key};
use super::{ClusterView, Lookup, namespace_of};
use crate::objects::{IngressObject, Object, is_dns1035_label};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// How long the live GETs for one request may take, together, before their answers count as
/// unknown. The webhooks' `timeoutSeconds` is 3.
const LIVE_GET_TIMEOUT: Duration = Duration::from_secs(2);

/// At most this many backend Services are fetched live for one request; the rest count as
/// unknown. Bounds what one request can make the API server do.
const MAX_LIVE_GETS: usize = 8;

/// BackendConfig discovery has not answered yet.
const DISCOVERING: u8 = 0;
/// The BackendConfig CRD is installed and watched.
const INSTALLED: u8 = 1;
/// The BackendConfig CRD is not installed (or discovery failed).
const NOT_INSTALLED: u8 = 2;

/// The live view: reflector stores and the Ingress index.
#[derive(Clone)]
pub struct LiveView {
    client: kube::Client,
    services: Store<Service>,
    ingresses: Store<Ingress>,
    index: Arc<RwLock<IngressIndex>>,
    /// Set once discovery has found the BackendConfig CRD (see [`Synced::discovery`]).
    backend_configs: Arc<OnceLock<(Store<DynamicObject>, ApiResource)>>,
    synced: Arc<Synced>,
    lookups: Arc<LookupCounts>,
    gets: Arc<LiveGets>,
}

/// How long a live GET's "not found" is remembered by default: 2 s. A burst of applies naming
/// a Service that does not exist (yet) makes one API call, not one per request; a Service
/// created meanwhile reaches the cache through the watch within that time anyway.
pub const DEFAULT_ABSENT_TTL: Duration = Duration::from_secs(2);

/// Lookups of backend Services missing from the cache, by outcome, for
/// `sticky_guard_live_lookups_total{result}`: `found`, `absent`, `error` are API calls made;
/// `coalesced` joined a call already in flight for the same Service (single-flight);
/// `remembered` were answered from a recent "not found"; `timeout` ran past the request's
/// deadline.
#[derive(Debug, Default)]
struct LookupCounts {
    found: AtomicU64,
    absent: AtomicU64,
    error: AtomicU64,
    coalesced: AtomicU64,
    remembered: AtomicU64,
    timeout: AtomicU64,
}

/// One live GET, shared by every request waiting for the same Service.
type SharedGet = futures::future::Shared<futures::future::BoxFuture<'static, Lookup<Arc<Service>>>>;

/// Live GETs in flight (single-flight) and recent "not found" answers.
#[derive(Default)]
struct LiveGets {
    in_flight: std::sync::Mutex<HashMap<Key, SharedGet>>,
    /// Until when each Service is known not to exist.
    absent: std::sync::Mutex<HashMap<Key, std::time::Instant>>,
    absent_ttl: Duration,
}

/// One watch cache, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStat {
    /// `services`, `ingresses` or `backendconfigs`.
    pub resource: &'static str,
    /// Objects in the cache now.
    pub objects: usize,
    /// Whether it has synced (listed) at least once.
    pub synced: bool,
    /// Whether its watch is failing now (retrying with backoff).
    pub failing: bool,
}

/// Which caches have synced. Each cache has exactly one task awaiting its store's
/// `wait_until_ready` (kube-runtime's `DelayedInit` wakes only the most recent of several
/// concurrent waiters), which sets its flag and bumps `count` for anyone waiting here.
struct Synced {
    services: AtomicBool,
    ingresses: AtomicBool,
    backend_configs: AtomicBool,
    /// BackendConfig discovery: [`DISCOVERING`], [`INSTALLED`] or [`NOT_INSTALLED`].
    discovery: AtomicU8,
    count: tokio::sync::watch::Sender<usize>,
    /// Per cache: its watch's current run of errors. Reported in `/readyz` details, logs and
    /// metrics; never makes a synced replica unready.
    failing: std::sync::Mutex<BTreeMap<&'static str, Failing>>,
}

/// A run of watch errors: errors less than [`WATCH_ERROR_WINDOW`] apart.
#[derive(Clone, Debug)]
struct Failing {
    /// The first error of the run.
    since: std::time::Instant,
    /// The latest error (logged when it happened).
    last: std::time::Instant,
}

impl Failing {
    /// Whether the watch counts as failing now: its latest error is recent. kube's watcher
    /// retries with a backoff of at most 30 s, and a watch that reconnects yields no event of
    /// its own, so "no error for a minute" is how recovery shows when nothing changes.
    fn now(&self) -> bool {
        self.last.elapsed() < WATCH_ERROR_WINDOW
    }
}

/// How long after its latest error a watch still counts as failing.
const WATCH_ERROR_WINDOW: Duration = Duration::from_secs(60);

impl Default for Synced {
    fn default() -> Self {
        Synced {
            services: AtomicBool::new(false),
            ingresses: AtomicBool::new(false),
            backend_configs: AtomicBool::new(false),
            discovery: AtomicU8::new(DISCOVERING),
            count: tokio::sync::watch::Sender::new(0),
            failing: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

/// Readiness, as `/readyz` reports it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// Whether the webhook is ready to serve.
    pub ready: bool,
    /// `live` (watch caches) or `off` (single-object rules only).
    pub cluster_view: &'static str,
    /// A sentence for humans.
    pub detail: String,
    /// Each cache: `synced`, `syncing`, `degraded` (synced once, but its watch is failing now:
    /// the cache may be stale; the replica stays ready), or `not installed` (BackendConfig
    /// without its CRD).
    pub caches: BTreeMap<&'static str, &'static str>,
}

impl Readiness {
    /// Single-object mode: ready, and says why the cluster view is off.
    pub fn off(reason: &str) -> Readiness {
        Readiness {
            ready: true,
            cluster_view: "off",
            detail: format!(
                "no cluster view ({reason}): single-object rules only; rules that read other objects are skipped"
            ),
            caches: BTreeMap::new(),
        }
    }
}

impl LiveView {
    /// Starts the watchers (in background tasks on the current Tokio runtime) and returns at
    /// once; see [`LiveView::readiness`] for when the caches have synced.
    ///
    /// BackendConfigs are watched only if discovery finds `BackendConfig` in `cloud.google.com`;
    /// a discovery failure counts as "not installed" and is logged.
    pub fn start(client: kube::Client) -> LiveView {
        let synced = Arc::new(Synced::default());
        let config = watcher::Config::default();

        let (services, writer) = reflector::store::<Service>();
        let stream = reflector(
            writer,
            watcher(Api::<Service>::all(client.clone()), config.clone())
                .default_backoff()
                .modify(slim),
        );
        tokio::spawn(drain(stream, "services", synced.clone(), |_| {}));
        mark_when_ready(services.clone(), synced.clone(), |s| &s.services);

        let (ingresses, writer) = reflector::store::<Ingress>();
        let index = Arc::new(RwLock::new(IngressIndex::default()));
        let index_writer = index.clone();
        let stream = reflector(
            writer,
            watcher(Api::<Ingress>::all(client.clone()), config.clone())
                .default_backoff()
                .modify(slim),
        );
        tokio::spawn(drain(stream, "ingresses", synced.clone(), move |event| {
            index_event(&index_writer, event)
        }));
        mark_when_ready(ingresses.clone(), synced.clone(), |s| &s.ingresses);

        // Discovery talks to the API server: it runs in the background so that nothing waits
        // on it (the BackendConfig cache counts as syncing until it answers).
        let backend_configs = Arc::new(OnceLock::new());
        {
            let (client, synced, slot) = (client.clone(), synced.clone(), backend_configs.clone());
            tokio::spawn(async move {
                match backend_config_resource(&client).await {
                    Some(resource) => {
                        let writer =
                            reflector::store::Writer::<DynamicObject>::new(resource.clone());
                        let store = writer.as_reader();
                        let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
                        let stream =
                            reflector(writer, watcher(api, config).default_backoff().modify(slim));
                        let _ = slot.set((store.clone(), resource));
                        synced.discovery.store(INSTALLED, Ordering::Release);
                        tokio::spawn(drain(stream, "backendconfigs", synced.clone(), |_| {}));
                        mark_when_ready(store, synced, |s| &s.backend_configs);
                    }
                    None => {
                        synced.discovery.store(NOT_INSTALLED, Ordering::Release);
                        synced.count.send_modify(|n| *n += 1);
                    }
                }
            });
        }

        LiveView {
            client,
            services,
            ingresses,
            index,
            backend_configs,
            synced,
            lookups: Arc::new(LookupCounts::default()),
            gets: Arc::new(LiveGets {
                absent_ttl: DEFAULT_ABSENT_TTL,
                ..LiveGets::default()
            }),
        }
    }

    /// The same view, remembering a live GET's "not found" for `ttl` instead of
    /// [`DEFAULT_ABSENT_TTL`] (`Duration::ZERO`: not at all). Call it before the view is used.
    pub fn remember_absent_for(mut self, ttl: Duration) -> LiveView {
        self.gets = Arc::new(LiveGets {
            absent_ttl: ttl,
            ..LiveGets::default()
        });
        self
    }

    /// Whether every cache has synced, with details.
    ///
    /// Readiness means "has synced once": a replica that has synced stays ready through API
    /// server outages and failing watches (they are reported as `degraded` in the details, in
    /// the log and in `sticky_guard_cache_watch_failing`). Failing readiness there would take
    /// every replica out of the webhook Service at once, and the validating webhook
    /// (`failurePolicy: Fail`) would then block every Ingress write in the cluster.
    pub fn readiness(&self) -> Readiness {
        let mut caches = BTreeMap::new();
        let mut degraded = Vec::new();
        for stat in self.cache_stats() {
            let state = match stat {
                CacheStat { synced: false, .. } => "syncing",
                CacheStat { failing: true, .. } => {
                    degraded.push(stat.resource);
                    "degraded"
                }
                _ => "synced",
            };
            caches.insert(stat.resource, state);
        }
        match self.synced.discovery.load(Ordering::Acquire) {
            DISCOVERING => {
                caches.insert("backendconfigs", "discovering");
            }
            NOT_INSTALLED => {
                caches.insert("backendconfigs", "not installed");
            }
            _ => {}
        }
        let ready = caches
            .values()
            .all(|s| *s != "syncing" && *s != "discovering");
        let detail = if !ready {
            "waiting for the watch caches to sync".to_string()
        } else if degraded.is_empty() {
            "watch caches synced".to_string()
        } else {
            let failing = self
                .synced
                .failing
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let reasons: Vec<String> = degraded
                .iter()
                .filter_map(|r| {
                    // The error itself goes to the log, not to this unauthenticated endpoint.
                    let Failing { since, .. } = failing.get(r)?;
                    Some(format!(
                        "the {r} watch has failed for {} s (see the log)",
                        since.elapsed().as_secs()
                    ))
                })
                .collect();
            format!(
                "serving from caches that may be stale: {}",
                reasons.join("; ")
            )
        };
        Readiness {
            ready,
            cluster_view: "live",
            detail,
            caches,
        }
    }

    /// Each watch cache: size, synced, failing.
    pub fn cache_stats(&self) -> Vec<CacheStat> {
        let failing = self
            .synced
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let stat = |resource: &'static str, objects: usize, flag: &AtomicBool| CacheStat {
            resource,
            objects,
            synced: flag.load(Ordering::Acquire),
            failing: failing.get(resource).is_some_and(Failing::now),
        };
        let mut stats = vec![
            stat("services", self.services.len(), &self.synced.services),
            stat("ingresses", self.ingresses.len(), &self.synced.ingresses),
        ];
        if let Some((store, _)) = self.backend_configs.get() {
            stats.push(stat(
                "backendconfigs",
                store.len(),
                &self.synced.backend_configs,
            ));
        }
        stats
    }

    /// Lookups of missing backend Services so far, by result: API calls (`found`, `absent`,
    /// `error`), lookups that joined a call in flight (`coalesced`) or were answered from a
    /// recent "not found" (`remembered`), and `timeout`.
    pub fn live_lookups(&self) -> Vec<(&'static str, u64)> {
        let l = &self.lookups;
        vec![
            ("found", l.found.load(Ordering::Relaxed)),
            ("absent", l.absent.load(Ordering::Relaxed)),
            ("error", l.error.load(Ordering::Relaxed)),
            ("coalesced", l.coalesced.load(Ordering::Relaxed)),
            ("remembered", l.remembered.load(Ordering::Relaxed)),
            ("timeout", l.timeout.load(Ordering::Relaxed)),
        ]
    }

    /// Waits until every cache has synced.
    pub async fn wait_until_synced(&self) {
        // Services, Ingresses, and BackendConfigs (synced, or found not installed).
        let caches = 3;
        let mut count = self.synced.count.subscribe();
        let _ = count.wait_for(|n| *n >= caches).await;
    }

    /// The caches as they are, with no live GET.
    pub fn cached(&self) -> Prepared {
        Prepared {
            live: self.clone(),
            fetched: HashMap::new(),
        }
    }

    /// The view for judging `object`: the caches, plus (with `fetch_missing_backends`) a live
    /// GET of each backend Service of an Ingress that the Service cache does not hold: the cache
    /// may lag the API server.
    pub async fn prepare(&self, object: &Object, fetch_missing_backends: bool) -> Prepared {
        let mut fetched = HashMap::new();
        if let (true, Object::Ingress(ingress)) = (fetch_missing_backends, object) {
            let namespace = namespace_of(&ingress.meta).to_string();
            let mut missing: Vec<Key> = Vec::new();
            for backend in ingress.backends() {
                let key = (namespace.clone(), backend.service_name.to_string());
                // Names the API server would refuse cannot exist; they are not asked for.
                if is_dns1035_label(&key.1)
                    && !missing.contains(&key)
                    && self.cached_service(&key.0, &key.1).is_none()
                {
                    missing.push(key);
                }
            }
            missing.truncate(MAX_LIVE_GETS);
            // One deadline for all of them; each GET that misses it counts as unknown.
            let deadline = tokio::time::Instant::now() + LIVE_GET_TIMEOUT;
            let answers = futures::future::join_all(missing.iter().map(|(ns, name)| async move {
                match tokio::time::timeout_at(deadline, self.get_service(ns, name)).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        tracing::warn!(namespace = %ns, name = %name, "live GET of a backend Service timed out");
                        self.lookups.timeout.fetch_add(1, Ordering::Relaxed);
                        Lookup::Unknown
                    }
                }
            }))
            .await;
            fetched.extend(missing.into_iter().zip(answers));
        }
        Prepared {
            live: self.clone(),
            fetched,
        }
    }

    fn cached_service(&self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        self.services.get(&ObjectRef::new(name).within(namespace))
    }

    /// The Service from the API server: a recent "not found" is remembered, and concurrent
    /// lookups of the same Service share one GET (it runs in its own task, so a request that
    /// gives up does not cancel it for the others).
    async fn get_service(&self, namespace: &str, name: &str) -> Lookup<Arc<Service>> {
        let key: Key = (namespace.to_string(), name.to_string());
        {
            let mut absent = self.gets.absent.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            absent.retain(|_, until| *until > now);
            if absent.contains_key(&key) {
                self.lookups.remembered.fetch_add(1, Ordering::Relaxed);
                return Lookup::Absent;
            }
        }
        let shared = {
            let mut in_flight = self
                .gets
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(get) = in_flight.get(&key) {
                self.lookups.coalesced.fetch_add(1, Ordering::Relaxed);
                get.clone()
            } else {
                let get = self.spawn_get(key.clone());
                in_flight.insert(key, get.clone());
                get
            }
        };
        shared.await
    }

    /// Starts one GET of the Service `key` in a task; when it ends, it records a "not found",
    /// leaves the in-flight table and counts its result.
    fn spawn_get(&self, key: Key) -> SharedGet {
        use futures::FutureExt;
        let (client, gets, lookups) =
            (self.client.clone(), self.gets.clone(), self.lookups.clone());
        let task = tokio::spawn(async move {
            let api = Api::<Service>::namespaced(client, &key.0);
            let (counter, answer) = match api.get_opt(&key.1).await {
                Ok(Some(service)) => (&lookups.found, Lookup::Found(Arc::new(service))),
                Ok(None) => (&lookups.absent, Lookup::Absent),
                Err(error) => {
                    tracing::warn!(%error, namespace = %key.0, name = %key.1, "live GET of a Service failed");
                    (&lookups.error, Lookup::Unknown)
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if answer == Lookup::Absent && !gets.absent_ttl.is_zero() {
                let until = std::time::Instant::now() + gets.absent_ttl;
                gets.absent
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone(), until);
            }
            gets.in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            answer
        });
        async move { task.await.unwrap_or(Lookup::Unknown) }
            .boxed()
            .shared()
    }

    fn ingress(&self, key: &Key) -> Option<Arc<IngressObject>> {
        self.ingresses
            .get(&ObjectRef::new(&key.1).within(&key.0))
            .map(|ingress| Arc::new(IngressObject::from_v1(&ingress)))
    }

    fn ingresses(&self, keys: Vec<Key>) -> Vec<Arc<IngressObject>> {
        keys.iter().filter_map(|k| self.ingress(k)).collect()
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, IngressIndex> {
        // A panic while holding the lock cannot leave the index half-written in a way that
        // matters more than stopping; recover the guard.
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// [`LiveView`] plus the answers of the live GETs made for one request.
pub struct Prepared {
    live: LiveView,
    fetched: HashMap<Key, Lookup<Arc<Service>>>,
}

impl ClusterView for Prepared {
    fn service(&self, namespace: &str, name: &str) -> Lookup<Arc<Service>> {
        if let Some(service) = self.live.cached_service(namespace, name) {
            return Lookup::Found(service);
        }
        match self.fetched.get(&(namespace.to_string(), name.to_string())) {
            Some(answer) => answer.clone(),
            // Not prepared for (not a backend of the object): the cache is all we know.
            None if self.live.synced.services.load(Ordering::Acquire) => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    fn ingresses_on_host(&self, host: &str) -> Vec<Arc<IngressObject>> {
        let keys = self.live.index().on_host(host);
        self.live.ingresses(keys)
    }

    fn ingresses_with_backend(&self, namespace: &str, service: &str) -> Vec<Arc<IngressObject>> {
        let keys = self.live.index().with_backend(namespace, service);
        self.live.ingresses(keys)
    }

    fn backend_config(&self, namespace: &str, name: &str) -> Lookup<Arc<Value>> {
        let Some((store, resource)) = self.live.backend_configs.get() else {
            return match self.live.synced.discovery.load(Ordering::Acquire) {
                NOT_INSTALLED => Lookup::Absent,
                _ => Lookup::Unknown,
            };
        };
        let key = ObjectRef::new_with(name, resource.clone()).within(namespace);
        match store.get(&key) {
            Some(object) => match serde_json::to_value(&*object) {
                Ok(value) => Lookup::Found(Arc::new(value)),
                Err(_) => Lookup::Unknown,
            },
            None if self.live.synced.backend_configs.load(Ordering::Acquire) => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }
}

/// Drops what the rules never read from cached objects: `managedFields` and kubectl's
/// `last-applied-configuration` (often the larger part of an object), to keep the caches small.
fn slim<K: kube::Resource>(object: &mut K) {
    use kube::ResourceExt;
    object.managed_fields_mut().clear();
    object
        .annotations_mut()
        .remove(crate::objects::LAST_APPLIED);
}

/// Polls a reflector stream forever, logging watch errors (the backoff retries them) and
/// recording its runs of errors for [`LiveView::readiness`]: a good event ends a run at once;
/// otherwise it ends [`WATCH_ERROR_WINDOW`] after its latest error.
async fn drain<S, K>(
    stream: S,
    resource: &'static str,
    synced: Arc<Synced>,
    mut on_event: impl FnMut(&watcher::Event<K>),
) where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let mut failing = synced.failing.lock().unwrap_or_else(|e| e.into_inner());
        match item {
            Ok(event) => {
                failing.remove(resource);
                drop(failing);
                on_event(&event);
            }
            Err(error) => {
                tracing::warn!(resource, %error, "watch error (retrying with backoff)");
                let now = std::time::Instant::now();
                let since = failing
                    .get(resource)
                    .filter(|run| run.now())
                    .map_or(now, |run| run.since);
                failing.insert(resource, Failing { since, last: now });
            }
        }
    }
}

fn mark_when_ready<K>(store: Store<K>, synced: Arc<Synced>, flag: fn(&Synced) -> &AtomicBool)
where
    K: kube::Resource + Clone + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Send + Sync,
{
    tokio::spawn(async move {
        if store.wait_until_ready().await.is_ok() {
            flag(&synced).store(true, Ordering::Release);
            synced.count.send_modify(|n| *n += 1);
            tracing::info!(cache = std::any::type_name::<K>(), "watch cache synced");
        }
    });
}

fn index_event(index: &RwLock<IngressIndex>, event: &watcher::Event<Ingress>) {
    let mut index = index.write().unwrap_or_else(|e| e.into_inner());
    let key = |i: &Ingress| {
        (
            namespace_of(&i.metadata).to_string(),
            i.metadata.name.clone().unwrap_or_default(),
        )
    };
    match event {
        watcher::Event::Apply(i) => index.apply(key(i), &IngressObject::from_v1(i)),
        watcher::Event::Delete(i) => index.delete(&key(i)),
        watcher::Event::Init => index.start_relist(),
        watcher::Event::InitApply(i) => index.relist_apply(key(i), &IngressObject::from_v1(i)),
        watcher::Event::InitDone => index.finish_relist(),
    }
}

/// The BackendConfig API resource, if discovery finds it. "Not installed" is an answer (the
/// group or kind is not served); any other discovery failure (the API server is unreachable at
/// start) is retried every 10 s, so a blip at start does not turn the GKE rule off for the life
/// of the process. Meanwhile the cache counts as `discovering`.
async fn backend_config_resource(client: &kube::Client) -> Option<ApiResource> {
    loop {
        match kube::discovery::group(client, "cloud.google.com").await {
            Ok(group) => {
                return match group.recommended_kind("BackendConfig") {
                    Some((resource, _)) => {
                        tracing::info!(api_version = %resource.api_version, "BackendConfig CRD found: watching backendconfigs");
                        Some(resource)
                    }
                    None => {
                        tracing::info!(
                            "no BackendConfig in cloud.google.com: GKE rules read no BackendConfigs"
                        );
                        None
                    }
                };
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                tracing::info!(
                    "no BackendConfig CRD (cloud.google.com): GKE rules read no BackendConfigs"
                );
                return None;
            }
            Err(kube::Error::Discovery(error)) => {
                tracing::info!(%error, "no BackendConfig CRD (cloud.google.com): GKE rules read no BackendConfigs");
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "BackendConfig discovery failed; retrying in 10 s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
}

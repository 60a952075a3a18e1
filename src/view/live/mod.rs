//! The cluster view from the live API: kube reflectors (watch caches) plus secondary indexes.
//! This module watches; `gets.rs` asks the API server for what the caches lack; [`Prepared`] is
//! the per-request view the rules read.
//!
//! Every kind of the kinds table ([`crate::objects::kinds::KINDS`]) is watched: those with
//! [`Watch::Always`] from the start, those with [`Watch::WhenInstalled`] (GKE BackendConfigs)
//! once discovery finds their CRD. Each watch is kube-runtime's watcher with kube's default
//! backoff, so list/watch, bookmarks and `410 Gone` re-lists are kube's own code; its events
//! are decoded once, by the kinds table's decoder, into the slim objects the rules read, and
//! kept in a [`Cache`] (with its indexes and the watcher's re-list protocol). The view is
//! ready when every cache has synced once ([`LiveView::readiness`]).
//!
//! Where the cache may lag the API server (an Ingress admitted right after its backend Service
//! was created), [`LiveView::prepare`] asks the API server for a backend Service missing from the
//! cache before the rules run, as linkerd's policy controller does; only a Service the API server
//! also does not know is [`Lookup::Absent`].

mod gets;
mod prepared;

pub use prepared::Prepared;

use super::Lookup;
use super::cache::{Cache, Key};
use crate::objects::kinds::{KINDS, Kind, KindInfo, Watch};
use crate::objects::{Input, Object, decode_as};
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long the live GETs for one request may take, together, before their answers count as
/// unknown. The webhooks' `timeoutSeconds` is 3.
const LIVE_GET_TIMEOUT: Duration = Duration::from_secs(2);

/// At most this many backend Services are fetched live for one request; the rest count as
/// unknown. Bounds what one request can make the API server do.
const MAX_LIVE_GETS: usize = 8;

/// Discovery has not answered yet.
const DISCOVERING: u8 = 0;
/// The kind is served (built in, or its CRD is installed) and watched.
const INSTALLED: u8 = 1;
/// The CRD is not installed (or discovery failed for good).
const NOT_INSTALLED: u8 = 2;

/// The live view: one cache per kind of the kinds table, filled by its watch.
#[derive(Clone)]
pub struct LiveView {
    client: kube::Client,
    kinds: Arc<BTreeMap<Kind, Watched>>,
    synced: Arc<Synced>,
    lookups: Arc<LookupCounts>,
    gets: Arc<LiveGets>,
}

/// One watched kind: its cache and where its watch stands.
struct Watched {
    info: &'static KindInfo,
    cache: RwLock<Cache>,
    /// Set by the first `InitDone` of its watch.
    synced: AtomicBool,
    /// [`DISCOVERING`], [`INSTALLED`] or [`NOT_INSTALLED`].
    discovery: AtomicU8,
}

impl Watched {
    fn cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        // A panic while holding the lock cannot leave a cache half-written in a way that
        // matters more than stopping; recover the guard.
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    fn not_installed(&self) -> bool {
        self.discovery.load(Ordering::Acquire) == NOT_INSTALLED
    }
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
type SharedGet = futures::future::Shared<futures::future::BoxFuture<'static, Lookup<Arc<Object>>>>;

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

/// Watches that have answered (synced, or found not installed), for
/// [`LiveView::wait_until_synced`], and each watch's current run of errors: reported in
/// `/readyz` details, logs and metrics; never makes a synced replica unready.
struct Synced {
    count: tokio::sync::watch::Sender<usize>,
    /// Bumped by every change to a cache (an object added, changed or removed, a relist done).
    changes: tokio::sync::watch::Sender<u64>,
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
            count: tokio::sync::watch::Sender::new(0),
            changes: tokio::sync::watch::Sender::new(0),
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
    /// Kinds with [`Watch::WhenInstalled`] are watched only if discovery finds them; until it
    /// answers their cache counts as `discovering`.
    pub fn start(client: kube::Client) -> LiveView {
        let synced = Arc::new(Synced::default());
        let kinds: BTreeMap<Kind, Watched> = KINDS
            .iter()
            .map(|info| {
                let watched = Watched {
                    info,
                    cache: RwLock::new(Cache::new(info.kind)),
                    synced: AtomicBool::new(false),
                    discovery: AtomicU8::new(match info.watch {
                        Watch::Always => INSTALLED,
                        Watch::WhenInstalled => DISCOVERING,
                    }),
                };
                (info.kind, watched)
            })
            .collect();
        let kinds = Arc::new(kinds);
        for info in KINDS {
            let (client, kinds, synced) = (client.clone(), kinds.clone(), synced.clone());
            tokio::spawn(async move {
                let resource = match info.watch {
                    Watch::Always => Some(api_resource(info)),
                    // Discovery talks to the API server: it runs in this task, so nothing
                    // waits on it.
                    Watch::WhenInstalled => discover(&client, info).await,
                };
                let Some(watched) = kinds.get(&info.kind) else {
                    return;
                };
                match resource {
                    Some(resource) => {
                        watched.discovery.store(INSTALLED, Ordering::Release);
                        let api = Api::<DynamicObject>::all_with(client, &resource);
                        let stream = watcher(api, watcher::Config::default()).default_backoff();
                        drain(stream, watched, &synced).await;
                    }
                    None => {
                        watched.discovery.store(NOT_INSTALLED, Ordering::Release);
                        synced.count.send_modify(|n| *n += 1);
                    }
                }
            });
        }
        LiveView {
            client,
            kinds,
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

    /// Every object in the cache of `kind` (empty for a kind not watched), in no particular
    /// order: a snapshot, the caches go on changing.
    pub fn objects(&self, kind: Kind) -> Vec<Arc<Object>> {
        self.kinds
            .get(&kind)
            .map(|watched| watched.cache().objects())
            .unwrap_or_default()
    }

    /// A receiver that sees a new value after every change to any cache (for work that follows
    /// the cluster, such as the policy reports).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.synced.changes.subscribe()
    }

    /// Whether every cache has synced (or its kind is not installed).
    pub fn is_synced(&self) -> bool {
        self.kinds
            .values()
            .all(|watched| watched.is_synced() || watched.not_installed())
    }

    /// The kube client the view watches with.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
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
        let stats = self.cache_stats();
        for watched in self.kinds.values() {
            let resource = watched.info.plural;
            let state = match watched.discovery.load(Ordering::Acquire) {
                DISCOVERING => "discovering",
                NOT_INSTALLED => "not installed",
                _ => match stats.iter().find(|s| s.resource == resource) {
                    Some(CacheStat { synced: false, .. }) | None => "syncing",
                    Some(CacheStat { failing: true, .. }) => {
                        degraded.push(resource);
                        "degraded"
                    }
                    Some(_) => "synced",
                },
            };
            caches.insert(resource, state);
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

    /// Each watch cache (of the kinds being watched): size, synced, failing.
    pub fn cache_stats(&self) -> Vec<CacheStat> {
        let failing = self
            .synced
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.kinds
            .values()
            .filter(|w| w.discovery.load(Ordering::Acquire) == INSTALLED)
            .map(|w| CacheStat {
                resource: w.info.plural,
                objects: w.cache().len(),
                synced: w.is_synced(),
                failing: failing.get(w.info.plural).is_some_and(Failing::now),
            })
            .collect()
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

    /// Waits until every watch has synced (or its CRD was found not installed).
    pub async fn wait_until_synced(&self) {
        let watches = self.kinds.len();
        let mut count = self.synced.count.subscribe();
        let _ = count.wait_for(|n| *n >= watches).await;
    }
}

/// The API resource of a kind at its served version.
pub fn api_resource(info: &KindInfo) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(info.group, info.served_version, info.name),
        info.plural,
    )
}

/// An object from the API, decoded once by the kinds table's decoder for its served version
/// (list items carry no `apiVersion`/`kind`, so the shape comes from the table). `None`, with
/// a log line, for an object that does not decode (the API server validated it, so this means
/// a schema sticky-guard does not know).
fn decode_dynamic(info: &KindInfo, object: DynamicObject) -> Option<Object> {
    let api_version = info.api_version();
    let shape = info
        .versions
        .iter()
        .find(|(v, _)| *v == api_version)
        .map(|(_, shape)| *shape)?;
    let value = match serde_json::to_value(&object) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(kind = info.name, %error, "cannot read a watched object");
            return None;
        }
    };
    match decode_as(shape, Input::Value(&value)) {
        Ok(decoded) => Some(decoded),
        Err(error) => {
            tracing::warn!(kind = info.name, %error, "a watched object does not decode; left out of the cache");
            None
        }
    }
}

/// A watch event, decoded.
enum Change {
    Init,
    InitDone,
    Apply(Arc<Object>),
    InitApply(Arc<Object>),
    Delete(Key),
    /// An object that does not decode (logged).
    None,
}

/// Polls a watch forever into its cache, logging watch errors (the backoff retries them) and
/// recording its runs of errors for [`LiveView::readiness`]: a good event ends a run at once;
/// otherwise it ends [`WATCH_ERROR_WINDOW`] after its latest error. The first `InitDone`
/// marks the cache synced.
async fn drain<S>(stream: S, watched: &Watched, synced: &Synced)
where
    S: futures::Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>>,
{
    let resource = watched.info.plural;
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let event = {
            let mut failing = synced.failing.lock().unwrap_or_else(|e| e.into_inner());
            match item {
                Ok(event) => {
                    failing.remove(resource);
                    event
                }
                Err(error) => {
                    tracing::warn!(resource, %error, "watch error (retrying with backoff)");
                    let now = std::time::Instant::now();
                    let since = failing
                        .get(resource)
                        .filter(|run| run.now())
                        .map_or(now, |run| run.since);
                    failing.insert(resource, Failing { since, last: now });
                    continue;
                }
            }
        };
        let done = matches!(event, watcher::Event::InitDone);
        // Decoding happens before the write lock is taken.
        let decode = |o| decode_dynamic(watched.info, o).map(Arc::new);
        let key = |o: &DynamicObject| -> Key {
            let namespace = match watched.info.namespaced {
                true => o.metadata.namespace.as_deref().unwrap_or("default"),
                false => "",
            };
            (
                namespace.to_string(),
                o.metadata.name.clone().unwrap_or_default(),
            )
        };
        let change = match event {
            watcher::Event::Init => Change::Init,
            watcher::Event::InitDone => Change::InitDone,
            // An update that does not decode must not leave the previous version served.
            watcher::Event::Apply(o) => {
                let stale = key(&o);
                decode(o).map_or(Change::Delete(stale), Change::Apply)
            }
            watcher::Event::InitApply(o) => decode(o).map_or(Change::None, Change::InitApply),
            watcher::Event::Delete(o) => Change::Delete(key(&o)),
        };
        let changed = matches!(
            change,
            Change::InitDone | Change::Apply(_) | Change::Delete(_)
        );
        {
            let mut cache = watched.cache.write().unwrap_or_else(|e| e.into_inner());
            match change {
                Change::Init => cache.start_relist(),
                Change::InitDone => cache.finish_relist(),
                Change::Apply(o) => cache.apply(o),
                Change::InitApply(o) => cache.relist_apply(o),
                Change::Delete(key) => cache.delete(&key),
                Change::None => {}
            }
        }
        if changed {
            synced.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        if done && !watched.synced.swap(true, Ordering::AcqRel) {
            synced.count.send_modify(|n| *n += 1);
            tracing::info!(resource, "watch cache synced");
        }
    }
}

/// The API resource of a [`Watch::WhenInstalled`] kind, if discovery finds it. "Not installed"
/// is an answer (the group or kind is not served); any other discovery failure (the API server
/// is unreachable at start) is retried every 10 s, so a blip at start does not turn the rules
/// that read the kind off for the life of the process. Meanwhile its cache counts as
/// `discovering`.
pub async fn discover(client: &kube::Client, info: &KindInfo) -> Option<ApiResource> {
    loop {
        match discover_once(client, info).await {
            Ok(found) => return found,
            Err(error) => {
                tracing::warn!(%error, group = info.group, kind = info.name, "discovery failed; retrying in 10 s");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    }
}

/// One discovery attempt for a [`Watch::WhenInstalled`] kind: `Ok(Some)` when served,
/// `Ok(None)` when not installed.
///
/// # Errors
/// The client's error when the API server did not answer the question (unreachable, 5xx,
/// forbidden).
pub async fn discover_once(
    client: &kube::Client,
    info: &KindInfo,
) -> Result<Option<ApiResource>, kube::Error> {
    let (group, kind) = (info.group, info.name);
    match kube::discovery::group(client, group).await {
        Ok(found) => Ok(match found.recommended_kind(kind) {
            Some((resource, _)) => {
                tracing::info!(api_version = %resource.api_version, kind, "CRD found: watching it");
                Some(resource)
            }
            None => {
                tracing::info!(group, kind, "kind not served: rules read none");
                None
            }
        }),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            tracing::info!(group, kind, "no such CRD: rules read none");
            Ok(None)
        }
        Err(kube::Error::Discovery(error)) => {
            tracing::info!(%error, group, kind, "no such CRD: rules read none");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

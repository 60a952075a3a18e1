//! The cluster view: what the rules may know about other objects.
//!
//! One trait, [`ClusterView`], two sources: the live API through kube's watch caches
//! ([`live::LiveView`], for `serve`) and the manifests given on the command line
//! ([`offline::OfflineView`], for `check` and `fix`). Rules cannot tell them apart, so the
//! offline verdict for a bundle equals the webhook's verdict for a cluster holding the same
//! objects. [`NoView`] is the single-object mode: nothing is known about other objects.
//!
//! Namespaces: an object without `metadata.namespace` (a manifest left to `kubectl -n`) is
//! filed under `default`.

mod index;
pub mod live;
pub mod offline;

pub use index::IngressIndex;

use crate::objects::IngressObject;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;
use std::sync::Arc;

/// The answer to a lookup by name.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup<T> {
    /// The object exists.
    Found(T),
    /// The object does not exist: not in a synced cache nor in the API (live), or not in the
    /// manifests given (offline).
    Absent,
    /// The view cannot tell (single-object mode, or the API did not answer).
    Unknown,
}

/// What the rules may ask about other objects. Lookups are cheap and synchronous; a live view
/// does its network work before the rules run (see [`live::LiveView::prepare`]).
pub trait ClusterView: Send + Sync {
    /// The Service `namespace/name`.
    fn service(&self, namespace: &str, name: &str) -> Lookup<Arc<Service>>;
    /// The Ingresses with a rule for `host` (`""` for rules without a host, which all land on
    /// the controller's catch-all server), of any ingress class.
    fn ingresses_on_host(&self, host: &str) -> Vec<Arc<IngressObject>>;
    /// The Ingresses in `namespace` with a backend (default or path) naming Service `service`.
    fn ingresses_with_backend(&self, namespace: &str, service: &str) -> Vec<Arc<IngressObject>>;
    /// The GKE BackendConfig `namespace/name` (`cloud.google.com`), as JSON.
    fn backend_config(&self, namespace: &str, name: &str) -> Lookup<Arc<Value>>;
}

/// Single-object mode: every lookup is [`Lookup::Unknown`] or empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoView;

impl ClusterView for NoView {
    fn service(&self, _: &str, _: &str) -> Lookup<Arc<Service>> {
        Lookup::Unknown
    }
    fn ingresses_on_host(&self, _: &str) -> Vec<Arc<IngressObject>> {
        Vec::new()
    }
    fn ingresses_with_backend(&self, _: &str, _: &str) -> Vec<Arc<IngressObject>> {
        Vec::new()
    }
    fn backend_config(&self, _: &str, _: &str) -> Lookup<Arc<Value>> {
        Lookup::Unknown
    }
}

/// Where the webhook's cluster view comes from.
#[derive(Clone)]
pub enum ViewSource {
    /// Single-object mode, with the reason (no cluster configuration, or `--cluster-view off`).
    Off(String),
    /// The live API's watch caches.
    Live(Box<live::LiveView>),
}

impl ViewSource {
    /// The view for judging `object`. With `fetch_missing_backends`, a live view first asks the
    /// API server for each backend Service of an Ingress that its cache lacks.
    pub async fn prepare(
        &self,
        object: &crate::objects::Object,
        fetch_missing_backends: bool,
    ) -> Box<dyn ClusterView> {
        match self {
            ViewSource::Off(_) => Box::new(NoView),
            ViewSource::Live(live) => Box::new(live.prepare(object, fetch_missing_backends).await),
        }
    }

    /// The watch caches, for metrics (empty in single-object mode).
    pub fn cache_stats(&self) -> Vec<live::CacheStat> {
        match self {
            ViewSource::Off(_) => Vec::new(),
            ViewSource::Live(live) => live.cache_stats(),
        }
    }

    /// Live GETs by result, for metrics (`None` in single-object mode).
    pub fn live_lookups(&self) -> Option<Vec<(&'static str, u64)>> {
        match self {
            ViewSource::Off(_) => None,
            ViewSource::Live(live) => Some(live.live_lookups()),
        }
    }

    /// Readiness for `/readyz`.
    pub fn readiness(&self) -> live::Readiness {
        match self {
            ViewSource::Off(reason) => live::Readiness::off(reason),
            ViewSource::Live(live) => live.readiness(),
        }
    }
}

/// `metadata.namespace`, or `default`.
pub fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

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

pub mod cache;
pub mod live;
pub mod offline;

use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{IngressObject, Object};
use cache::{DerivedId, DerivedValue};
use std::any::{Any, TypeId};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The answer to a lookup by name.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup<T> {
    /// The object exists.
    Found(T),
    /// The object does not exist: not in a synced cache nor in the API (live), or not in the
    /// manifests given when they are the whole cluster (`audit`).
    Absent,
    /// The view cannot tell (single-object mode, a partial bundle, a cache not synced yet, or
    /// the API did not answer).
    Unknown,
}

/// The answer to an index lookup: the objects found, and whether that is all of them.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The objects the view holds under the key.
    pub objects: Vec<Arc<Object>>,
    /// Whether the view holds every object of the kind (a synced cache, a whole cluster):
    /// only then does "not listed" mean "does not exist". A partial bundle and single-object
    /// mode list what they hold with `complete: false`.
    pub complete: bool,
}

impl Listing {
    /// The Ingresses listed.
    pub fn ingresses(&self) -> impl Iterator<Item = &IngressObject> {
        self.objects.iter().filter_map(|o| o.as_ingress())
    }
}

/// What the rules may ask about other objects: a cache per kind, read by name or by a
/// secondary index. Lookups are cheap and synchronous, and hand out shared references
/// (`Arc`), never copies; a live view does its network work before the rules run (see
/// [`live::LiveView::prepare`]).
pub trait ClusterView: Send + Sync {
    /// The object of `kind` named `namespace/name`.
    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Lookup<Arc<Object>>;
    /// The objects of `kind` under `key` of its secondary index.
    fn find(&self, kind: Kind, key: &IndexKey) -> Listing;
    /// Whether this is single-object mode: no other object is known at all, so rules that
    /// need other objects are skipped rather than run blind.
    fn is_single_object(&self) -> bool {
        false
    }
    /// A value derived from the objects of `kind` under `key`, type-erased; rules call the
    /// typed [`derive`](#method.derive). A view that keeps caches builds it once per change
    /// to the objects under the key ([`cache::Cache::derive`]); the default builds it anew.
    fn derive_erased(
        &self,
        kind: Kind,
        key: &IndexKey,
        id: DerivedId,
        build: &mut dyn FnMut(&Listing) -> DerivedValue,
    ) -> DerivedValue {
        let _ = id;
        build(&self.find(kind, key))
    }
}

impl dyn ClusterView + '_ {
    /// The summary `T` of the objects of `kind` under `key` (a host's, an upstream's), that
    /// `build` makes from them, with `settings` the policy fields `build` reads (hashed into
    /// the summary's identity). In the caches of `serve` and in a bundle's view it is built
    /// once and then kept up to date object by object ([`cache::Summary`]), so a rule reads it
    /// without walking the objects: the per-host facts of ingress-nginx are read this way.
    pub fn derive<T: cache::Summary>(
        &self,
        kind: Kind,
        key: &IndexKey,
        settings: impl Hash,
        build: impl Fn(&Listing) -> T,
    ) -> Arc<T> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        settings.hash(&mut hasher);
        let id = (TypeId::of::<T>(), hasher.finish());
        let value: Arc<dyn Any + Send + Sync> =
            self.derive_erased(kind, key, id, &mut |listing| Arc::new(build(listing)));
        // The id holds `T`'s type, so a stored value is a `T`; should a view break that, the
        // value is built anew.
        value
            .downcast::<T>()
            .unwrap_or_else(|_| Arc::new(build(&self.find(kind, key))))
    }

    /// The Service `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Lookup<Arc<Object>> {
        self.get(Kind::Service, namespace, name)
    }

    /// The Ingresses with a rule for `host` (`""` for rules without a host and default
    /// backends, which all land on the controller's catch-all server), of any ingress class.
    pub fn ingresses_on_host(&self, host: &str) -> Listing {
        self.find(Kind::Ingress, &IndexKey::Host(host.to_string()))
    }

    /// The Ingresses in `namespace` with a backend (default or path) naming Service `service`.
    pub fn ingresses_with_backend(&self, namespace: &str, service: &str) -> Listing {
        self.find(
            Kind::Ingress,
            &IndexKey::Backend {
                namespace: namespace.to_string(),
                service: service.to_string(),
            },
        )
    }
}

/// Single-object mode: every lookup is [`Lookup::Unknown`], every listing empty and
/// incomplete.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoView;

impl ClusterView for NoView {
    fn get(&self, _: Kind, _: &str, _: &str) -> Lookup<Arc<Object>> {
        Lookup::Unknown
    }
    fn find(&self, _: Kind, _: &IndexKey) -> Listing {
        Listing::default()
    }
    fn is_single_object(&self) -> bool {
        true
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

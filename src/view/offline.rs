//! The cluster view built from manifests.

use super::cache::{Cache, DerivedId, DerivedValue};
use super::{ClusterView, Listing, Lookup};
use crate::objects::Object;
use crate::objects::kinds::{IndexKey, KINDS, Kind};
use std::collections::HashMap;
use std::sync::Arc;

/// The objects of a manifest bundle, one [`Cache`] per kind, indexed like the live caches. A
/// later document with the same kind, namespace and name replaces an earlier one (as
/// `kubectl apply` would).
///
/// A bundle is rarely the whole cluster, so by default an object it does not hold is
/// [`Lookup::Unknown`], not [`Lookup::Absent`], and listings are incomplete: `check` on an
/// Ingress file says nothing about a backend Service defined elsewhere. A view of everything a
/// cluster holds (`audit`) is [`OfflineView::complete`], and there a missing object is absent.
#[derive(Debug)]
pub struct OfflineView {
    complete: bool,
    caches: HashMap<Kind, Cache>,
}

impl Default for OfflineView {
    fn default() -> Self {
        OfflineView {
            complete: false,
            caches: KINDS.iter().map(|k| (k.kind, Cache::new(k.kind))).collect(),
        }
    }
}

impl OfflineView {
    /// An empty view of part of a cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty view that will hold every object of a cluster: missing means absent.
    pub fn complete() -> Self {
        OfflineView {
            complete: true,
            ..Self::default()
        }
    }

    /// Adds a decoded object, shared with the caller.
    pub fn add_shared(&mut self, object: Arc<Object>) {
        if let Some(cache) = self.caches.get_mut(&object.kind()) {
            cache.apply(object);
        }
    }

    /// Adds a decoded object (a copy of it).
    pub fn add(&mut self, object: &Object) {
        self.add_shared(Arc::new(object.clone()));
    }
}

impl ClusterView for OfflineView {
    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Lookup<Arc<Object>> {
        match self.caches.get(&kind).and_then(|c| c.get(namespace, name)) {
            Some(object) => Lookup::Found(object),
            None if self.complete => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    fn find(&self, kind: Kind, key: &IndexKey) -> Listing {
        Listing {
            objects: self
                .caches
                .get(&kind)
                .map(|c| c.find(key))
                .unwrap_or_default(),
            complete: self.complete,
        }
    }

    fn derive_erased(
        &self,
        kind: Kind,
        key: &IndexKey,
        id: DerivedId,
        build: &mut dyn FnMut(&Listing) -> DerivedValue,
    ) -> DerivedValue {
        let complete = self.complete;
        match self.caches.get(&kind) {
            Some(cache) => cache.derive(key, id, &mut |objects| {
                build(&Listing {
                    objects: objects.to_vec(),
                    complete,
                })
            }),
            None => build(&Listing {
                objects: Vec::new(),
                complete,
            }),
        }
    }
}

//! The live view prepared for one request: what the rules read ([`ClusterView`]).

use super::LiveView;
use crate::objects::Object;
use crate::objects::kinds::{IndexKey, Kind};
use crate::view::cache::Key;
use crate::view::{ClusterView, Listing, Lookup};
use std::collections::HashMap;
use std::sync::Arc;

/// The live view prepared for one request: the caches, plus the backend Services fetched
/// live for it.
pub struct Prepared {
    pub(super) live: LiveView,
    pub(super) fetched: HashMap<Key, Lookup<Arc<Object>>>,
}

impl ClusterView for Prepared {
    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Lookup<Arc<Object>> {
        let Some(watched) = self.live.kinds.get(&kind) else {
            return Lookup::Unknown;
        };
        if let Some(object) = watched.cache().get(namespace, name) {
            return Lookup::Found(object);
        }
        if kind == Kind::Service
            && let Some(answer) = self.fetched.get(&(namespace.to_string(), name.to_string()))
        {
            return answer.clone();
        }
        // Not fetched for this request: the cache is all we know.
        if watched.not_installed() || watched.is_synced() {
            Lookup::Absent
        } else {
            Lookup::Unknown
        }
    }

    fn find(&self, kind: Kind, key: &IndexKey) -> Listing {
        match self.live.kinds.get(&kind) {
            Some(watched) => Listing {
                objects: watched.cache().find(key),
                complete: watched.is_synced() || watched.not_installed(),
            },
            None => Listing::default(),
        }
    }

    /// Kept in the cache only once it is complete (synced, or the kind not installed): what
    /// is derived from a cache still filling would be kept past the sync.
    fn derive_erased(
        &self,
        kind: Kind,
        key: &IndexKey,
        id: crate::view::cache::DerivedId,
        build: &mut dyn FnMut(&Listing) -> crate::view::cache::DerivedValue,
    ) -> crate::view::cache::DerivedValue {
        let Some(watched) = self.live.kinds.get(&kind) else {
            return build(&Listing::default());
        };
        let complete = watched.is_synced() || watched.not_installed();
        let cache = watched.cache();
        if !complete {
            return build(&Listing {
                objects: cache.find(key),
                complete,
            });
        }
        cache.derive(key, id, &mut |objects| {
            build(&Listing {
                objects: objects.to_vec(),
                complete,
            })
        })
    }
}

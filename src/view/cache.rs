//! One kind's objects and their secondary indexes: the building block of both views.
//!
//! Objects are decoded once, when they arrive (a watch event or a manifest document), and
//! held as `Arc<Object>`: a lookup hands out a reference-counted pointer, never a copy. The
//! indexes come from the kinds table ([`crate::objects::kinds::KindInfo::index_keys`]).

use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{Object, namespace_of};
use std::any::{Any, TypeId};

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// A value derived from the objects under one index key (a host's summary, an upstream's
/// settings) and kept up to date as they change: [`Cache`] hands it every object filed under
/// the key that is added, changed (the old version removed, the new one added) or deleted, so
/// a reader never walks the objects and never sees a stale summary.
pub trait Summary: Any + Send + Sync {
    /// `object`, filed under the key, was added (or is the new version of a changed object).
    fn add(&mut self, object: &Object);
    /// `object`, filed under the key, was deleted (or is the old version of a changed object).
    fn remove(&mut self, object: &Object);
    /// A copy, for a change while readers still hold the summary (copy on write).
    fn clone_boxed(&self) -> Box<dyn Summary>;
}

/// A summary, type-erased: see [`Cache::derive`].
pub type DerivedValue = Arc<dyn Summary>;

/// What a derived value is: its type, and a hash of the settings it was built with.
pub type DerivedId = (TypeId, u64);

/// `(namespace, name)` of an object.
pub type Key = (String, String);

/// The key of an object: its namespace (`default` when it names none; `""` for a
/// cluster-scoped kind) and name.
pub fn key_of(object: &Object) -> Key {
    let meta = object.meta();
    let namespace = if object.kind().info().namespaced {
        namespace_of(meta)
    } else {
        ""
    };
    (namespace.to_string(), meta.name.clone().unwrap_or_default())
}

/// The objects of one kind, kept up to date one object at a time, with the re-list protocol
/// of kube's watcher (`Init`, `InitApply`…, `InitDone`: the re-listed objects replace the old
/// ones only when the re-list is complete, as kube-runtime's reflector store does).
#[derive(Debug)]
pub struct Cache {
    kind: Kind,
    current: Entries,
    relisting: Option<Entries>,
    derived: Derived,
}

/// [`Summary`]s of the objects under one index key, one per [`DerivedId`]: built on first use by
/// [`Cache::derive`], then updated object by object.
#[derive(Default)]
struct Derived(Mutex<HashMap<IndexKey, Vec<(DerivedId, DerivedValue)>>>);

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.0.lock().map(|m| m.len()).unwrap_or_default();
        write!(f, "Derived({keys} keys)")
    }
}

impl Derived {
    fn map(&mut self) -> &mut HashMap<IndexKey, Vec<(DerivedId, DerivedValue)>> {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `old` (removed) and `new` (added) to the summaries of their index keys; a summary
    /// a reader still holds is copied first. Summaries of keys that no object is filed under
    /// any more are dropped.
    fn update(&mut self, kind: Kind, old: Option<&Object>, new: Option<&Object>, index: &Index) {
        let map = self.map();
        if map.is_empty() {
            return;
        }
        let mut touched = Vec::new();
        for (object, adding) in [(old, false), (new, true)] {
            let Some(object) = object else { continue };
            for key in kind.info().index_keys(object) {
                let Some(summaries) = map.get_mut(&key) else {
                    continue;
                };
                for (_, summary) in summaries.iter_mut() {
                    if Arc::get_mut(summary).is_none() {
                        *summary = Arc::from(summary.clone_boxed());
                    }
                    if let Some(summary) = Arc::get_mut(summary) {
                        if adding {
                            summary.add(object);
                        } else {
                            summary.remove(object);
                        }
                    }
                }
                touched.push(key);
            }
        }
        for key in touched {
            if !index.contains_key(&key) {
                map.remove(&key);
            }
        }
    }
}

/// A secondary index: the keys of the objects under each index key, in key order.
type Index = HashMap<IndexKey, BTreeSet<Key>>;

#[derive(Debug, Default)]
struct Entries {
    objects: HashMap<Key, Arc<Object>>,
    index: Index,
}

impl Entries {
    fn apply(&mut self, kind: Kind, object: Arc<Object>) {
        let key = key_of(&object);
        self.delete(kind, &key);
        for index_key in kind.info().index_keys(&object) {
            self.index.entry(index_key).or_default().insert(key.clone());
        }
        self.objects.insert(key, object);
    }

    fn delete(&mut self, kind: Kind, key: &Key) {
        let Some(old) = self.objects.remove(key) else {
            return;
        };
        for index_key in kind.info().index_keys(&old) {
            if let Some(keys) = self.index.get_mut(&index_key) {
                keys.remove(key);
                if keys.is_empty() {
                    self.index.remove(&index_key);
                }
            }
        }
    }
}

impl Cache {
    /// An empty cache of `kind`.
    pub fn new(kind: Kind) -> Self {
        Cache {
            kind,
            current: Entries::default(),
            relisting: None,
            derived: Derived::default(),
        }
    }

    /// Adds or replaces an object (of this cache's kind).
    pub fn apply(&mut self, object: Arc<Object>) {
        let old = self.current.objects.get(&key_of(&object)).cloned();
        self.current.apply(self.kind, object.clone());
        self.derived.update(
            self.kind,
            old.as_deref(),
            Some(&object),
            &self.current.index,
        );
    }

    /// Removes the object `key`.
    pub fn delete(&mut self, key: &Key) {
        let old = self.current.objects.get(key).cloned();
        self.current.delete(self.kind, key);
        self.derived
            .update(self.kind, old.as_deref(), None, &self.current.index);
    }

    /// A re-list starts: objects are collected aside until [`Cache::finish_relist`].
    pub fn start_relist(&mut self) {
        self.relisting = Some(Entries::default());
    }

    /// An object of the re-list.
    pub fn relist_apply(&mut self, object: Arc<Object>) {
        let kind = self.kind;
        self.relisting
            .get_or_insert_with(Entries::default)
            .apply(kind, object);
    }

    /// The re-list is complete: it replaces the cache.
    pub fn finish_relist(&mut self) {
        if let Some(entries) = self.relisting.take() {
            self.current = entries;
            self.derived.map().clear();
        }
    }

    /// The summary of the objects under `key` (in key order) that `build` makes, for `id` (the
    /// summary's type, and a hash of the settings `build` reads, such as the policy's
    /// annotation prefix): built on the first call, then kept up to date object by object
    /// ([`Summary`]). Rules reach it through `<dyn ClusterView>::derive` ([`crate::view::ClusterView`]), typed.
    ///
    /// This is how a rule reads a host's or an upstream's facts without walking the objects:
    /// `build` (linear in the objects under the key) runs once, and each later change costs
    /// what the changed object holds.
    pub fn derive(
        &self,
        key: &IndexKey,
        id: DerivedId,
        build: &mut dyn FnMut(&[Arc<Object>]) -> DerivedValue,
    ) -> DerivedValue {
        let lock = || self.derived.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = lock()
            .get(key)
            .and_then(|values| values.iter().find(|(i, _)| *i == id))
        {
            return value.1.clone();
        }
        // Built without the lock, so that hosts are summarised in parallel; the objects cannot
        // change meanwhile (`apply` and `delete` take `&mut self`).
        let value = build(&self.find(key));
        let mut map = lock();
        let values = map.entry(key.clone()).or_default();
        values.retain(|(i, _)| *i != id);
        values.push((id, value.clone()));
        value
    }

    /// The object `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Object>> {
        // One lookup key per call; the maps are keyed by owned strings.
        self.current
            .objects
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// The objects under `key` of a secondary index, in key order.
    pub fn find(&self, key: &IndexKey) -> Vec<Arc<Object>> {
        self.current
            .index
            .get(key)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.current.objects.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every object the cache holds, in no particular order.
    pub fn objects(&self) -> Vec<Arc<Object>> {
        self.current.objects.values().cloned().collect()
    }

    /// How many objects the cache holds.
    pub fn len(&self) -> usize {
        self.current.objects.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.current.objects.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::decode;
    use serde_json::json;

    fn ingress(name: &str, host: &str, service: &str) -> Arc<Object> {
        let value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "n"},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}});
        Arc::new(decode(&value).unwrap().unwrap())
    }

    fn names(objects: Vec<Arc<Object>>) -> Vec<String> {
        objects
            .iter()
            .map(|o| o.meta().name.clone().unwrap_or_default())
            .collect()
    }

    fn host(h: &str) -> IndexKey {
        IndexKey::Host(h.into())
    }

    fn backend(s: &str) -> IndexKey {
        IndexKey::Backend {
            namespace: "n".into(),
            service: s.into(),
        }
    }

    #[test]
    fn apply_replace_delete() {
        let mut cache = Cache::new(Kind::Ingress);
        cache.apply(ingress("a", "x.io", "web"));
        cache.apply(ingress("b", "x.io", "api"));
        assert_eq!(names(cache.find(&host("x.io"))), ["a", "b"]);
        assert_eq!(names(cache.find(&backend("web"))), ["a"]);
        cache.apply(ingress("a", "y.io", "web"));
        assert_eq!(names(cache.find(&host("x.io"))), ["b"]);
        assert_eq!(names(cache.find(&host("y.io"))), ["a"]);
        cache.delete(&("n".into(), "a".into()));
        assert!(cache.find(&host("y.io")).is_empty());
        assert!(cache.find(&backend("web")).is_empty());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn lookups_share_the_object() {
        let mut cache = Cache::new(Kind::Ingress);
        let object = ingress("a", "x.io", "web");
        cache.apply(object.clone());
        let found = cache.get("n", "a").expect("present");
        assert!(Arc::ptr_eq(&found, &object), "no copy per lookup");
    }

    #[test]
    fn relist_replaces_only_when_done() {
        let mut cache = Cache::new(Kind::Ingress);
        cache.apply(ingress("gone", "x.io", "web"));
        cache.start_relist();
        cache.relist_apply(ingress("new", "x.io", "web"));
        assert_eq!(
            names(cache.find(&host("x.io"))),
            ["gone"],
            "old objects until InitDone"
        );
        cache.finish_relist();
        assert_eq!(names(cache.find(&host("x.io"))), ["new"]);
        assert!(cache.get("n", "gone").is_none());
    }
}

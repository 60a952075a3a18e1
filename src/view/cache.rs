//! One kind's objects and their secondary indexes: the building block of both views.
//!
//! Objects are decoded once, when they arrive (a watch event or a manifest document), and
//! held as `Arc<Object>`: a lookup hands out a reference-counted pointer, never a copy. The
//! indexes come from the kinds table ([`crate::objects::kinds::KindInfo::index_keys`]).

use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{Object, namespace_of};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

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
}

#[derive(Debug, Default)]
struct Entries {
    objects: HashMap<Key, Arc<Object>>,
    index: HashMap<IndexKey, BTreeSet<Key>>,
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
        }
    }

    /// Adds or replaces an object (of this cache's kind).
    pub fn apply(&mut self, object: Arc<Object>) {
        self.current.apply(self.kind, object);
    }

    /// Removes the object `key`.
    pub fn delete(&mut self, key: &Key) {
        self.current.delete(self.kind, key);
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
        }
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

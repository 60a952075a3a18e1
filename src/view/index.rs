//! Secondary indexes over Ingresses: by host and by backend Service.

use crate::objects::IngressObject;
use std::collections::{BTreeSet, HashMap};

/// `(namespace, name)` of an Ingress.
pub type Key = (String, String);

/// Ingress keys by host and by `(namespace, backend Service)`, kept up to date one object at a
/// time, with the re-list protocol of kube's watcher (`Init`, `InitApply`…, `InitDone`: the new
/// index replaces the old one only when the re-list is complete, as the reflector's store does).
#[derive(Debug, Default)]
pub struct IngressIndex {
    current: Entries,
    relisting: Option<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_host: HashMap<String, BTreeSet<Key>>,
    by_backend: HashMap<Key, BTreeSet<Key>>,
    of: HashMap<Key, (Vec<String>, Vec<Key>)>,
}

impl Entries {
    fn apply(&mut self, key: Key, ingress: &IngressObject) {
        self.delete(&key);
        let namespace = key.0.clone();
        let mut hosts: Vec<String> = ingress
            .spec
            .rules
            .iter()
            .flatten()
            .map(|r| r.host.clone().unwrap_or_default())
            .collect();
        if ingress.spec.default_backend.is_some() {
            hosts.push(String::new());
        }
        hosts.sort();
        hosts.dedup();
        let mut backends: Vec<Key> = ingress
            .backends()
            .iter()
            .map(|b| (namespace.clone(), b.service_name.to_string()))
            .collect();
        backends.sort();
        backends.dedup();
        for host in &hosts {
            self.by_host
                .entry(host.clone())
                .or_default()
                .insert(key.clone());
        }
        for backend in &backends {
            self.by_backend
                .entry(backend.clone())
                .or_default()
                .insert(key.clone());
        }
        self.of.insert(key, (hosts, backends));
    }

    fn delete(&mut self, key: &Key) {
        let Some((hosts, backends)) = self.of.remove(key) else {
            return;
        };
        for host in hosts {
            if let Some(set) = self.by_host.get_mut(&host) {
                set.remove(key);
                if set.is_empty() {
                    self.by_host.remove(&host);
                }
            }
        }
        for backend in backends {
            if let Some(set) = self.by_backend.get_mut(&backend) {
                set.remove(key);
                if set.is_empty() {
                    self.by_backend.remove(&backend);
                }
            }
        }
    }
}

impl IngressIndex {
    /// Adds or replaces an Ingress.
    pub fn apply(&mut self, key: Key, ingress: &IngressObject) {
        self.current.apply(key, ingress);
    }

    /// Removes an Ingress.
    pub fn delete(&mut self, key: &Key) {
        self.current.delete(key);
    }

    /// A re-list starts: entries are collected aside until [`IngressIndex::finish_relist`].
    pub fn start_relist(&mut self) {
        self.relisting = Some(Entries::default());
    }

    /// An Ingress of the re-list.
    pub fn relist_apply(&mut self, key: Key, ingress: &IngressObject) {
        self.relisting
            .get_or_insert_with(Entries::default)
            .apply(key, ingress);
    }

    /// The re-list is complete: it replaces the index.
    pub fn finish_relist(&mut self) {
        if let Some(entries) = self.relisting.take() {
            self.current = entries;
        }
    }

    /// Keys of the Ingresses with a rule for `host`.
    pub fn on_host(&self, host: &str) -> Vec<Key> {
        self.current
            .by_host
            .get(host)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Keys of the Ingresses with a backend naming `namespace/service`.
    pub fn with_backend(&self, namespace: &str, service: &str) -> Vec<Key> {
        self.current
            .by_backend
            .get(&(namespace.to_string(), service.to_string()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{Object, decode};
    use serde_json::json;

    fn ingress(host: &str, service: &str) -> IngressObject {
        let value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "namespace": "n"},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}});
        match decode(&value) {
            Ok(Some(Object::Ingress(i))) => *i,
            other => panic!("{other:?}"),
        }
    }

    fn key(name: &str) -> Key {
        ("n".into(), name.into())
    }

    #[test]
    fn apply_replace_delete() {
        let mut index = IngressIndex::default();
        index.apply(key("a"), &ingress("x.io", "web"));
        index.apply(key("b"), &ingress("x.io", "api"));
        assert_eq!(index.on_host("x.io"), vec![key("a"), key("b")]);
        assert_eq!(index.with_backend("n", "web"), vec![key("a")]);
        index.apply(key("a"), &ingress("y.io", "web"));
        assert_eq!(index.on_host("x.io"), vec![key("b")]);
        assert_eq!(index.on_host("y.io"), vec![key("a")]);
        index.delete(&key("a"));
        assert!(index.on_host("y.io").is_empty());
        assert!(index.with_backend("n", "web").is_empty());
    }

    #[test]
    fn relist_replaces_only_when_done() {
        let mut index = IngressIndex::default();
        index.apply(key("gone"), &ingress("x.io", "web"));
        index.start_relist();
        index.relist_apply(key("new"), &ingress("x.io", "web"));
        assert_eq!(
            index.on_host("x.io"),
            vec![key("gone")],
            "old index until InitDone"
        );
        index.finish_relist();
        assert_eq!(index.on_host("x.io"), vec![key("new")]);
    }
}

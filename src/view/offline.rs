//! The cluster view built from manifests.

use super::index::{IngressIndex, Key};
use super::{ClusterView, Lookup, namespace_of};
use crate::objects::{IngressObject, Object};
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The objects of a manifest bundle, indexed like the live caches. A later document with the
/// same kind, namespace and name replaces an earlier one (as `kubectl apply` would).
///
/// A bundle is rarely the whole cluster, so by default an object it does not hold is
/// [`Lookup::Unknown`], not [`Lookup::Absent`]: `check` on an Ingress file says nothing about a
/// backend Service defined elsewhere. A view of everything a cluster holds (`audit`) is
/// [`OfflineView::complete`], and there a missing object is absent.
#[derive(Debug, Default)]
pub struct OfflineView {
    complete: bool,
    services: HashMap<Key, Arc<Service>>,
    ingresses: HashMap<Key, Arc<IngressObject>>,
    index: IngressIndex,
    backend_configs: HashMap<Key, Arc<Value>>,
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

    fn missing<T>(&self) -> Lookup<T> {
        if self.complete {
            Lookup::Absent
        } else {
            Lookup::Unknown
        }
    }

    /// Adds a decoded object.
    pub fn add(&mut self, object: &Object) {
        match object {
            Object::Ingress(ingress) => {
                let key = key(&ingress.meta);
                self.index.apply(key.clone(), ingress);
                self.ingresses.insert(key, Arc::new((**ingress).clone()));
            }
            Object::Service(service) => {
                self.services
                    .insert(key(&service.metadata), Arc::new((**service).clone()));
            }
        }
    }

    /// Adds a raw document if it is a GKE BackendConfig (`cloud.google.com/*`,
    /// `kind: BackendConfig`); other documents are ignored. Returns whether it was one.
    pub fn add_raw(&mut self, value: &Value) -> bool {
        let is_backend_config = value.get("kind").and_then(Value::as_str) == Some("BackendConfig")
            && value
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("cloud.google.com/"));
        if !is_backend_config {
            return false;
        }
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let Some(name) = value.pointer("/metadata/name").and_then(Value::as_str) else {
            return false;
        };
        self.backend_configs.insert(
            (namespace.to_string(), name.to_string()),
            Arc::new(value.clone()),
        );
        true
    }
}

fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    (
        namespace_of(meta).to_string(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl ClusterView for OfflineView {
    fn service(&self, namespace: &str, name: &str) -> Lookup<Arc<Service>> {
        match self
            .services
            .get(&(namespace.to_string(), name.to_string()))
        {
            Some(service) => Lookup::Found(service.clone()),
            None => self.missing(),
        }
    }

    fn ingresses_on_host(&self, host: &str) -> Vec<Arc<IngressObject>> {
        self.index
            .on_host(host)
            .iter()
            .filter_map(|k| self.ingresses.get(k).cloned())
            .collect()
    }

    fn ingresses_with_backend(&self, namespace: &str, service: &str) -> Vec<Arc<IngressObject>> {
        self.index
            .with_backend(namespace, service)
            .iter()
            .filter_map(|k| self.ingresses.get(k).cloned())
            .collect()
    }

    fn backend_config(&self, namespace: &str, name: &str) -> Lookup<Arc<Value>> {
        match self
            .backend_configs
            .get(&(namespace.to_string(), name.to_string()))
        {
            Some(value) => Lookup::Found(value.clone()),
            None => self.missing(),
        }
    }
}

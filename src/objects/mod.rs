//! Kubernetes objects as the rules see them.
//!
//! Both front doors (the webhook's AdmissionRequest `object`, and documents read from manifest
//! files) hand [`decode`] a JSON value; what comes out is an [`Object`] of a kind sticky-guard
//! judges, or `None` for every other kind. Legacy Ingress APIs are converted to
//! `networking.k8s.io/v1` here, the way the API server converts them, so a rule is written once.

mod decode;
mod ingress;

pub use decode::{DecodeError, decode};
pub use ingress::{BackendRef, IngressObject, PathRef};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::fmt;

/// An object of a kind that sticky-guard judges.
#[derive(Clone, Debug)]
pub enum Object {
    /// An Ingress, from any served or legacy API version, in `networking.k8s.io/v1` shape.
    Ingress(Box<IngressObject>),
    /// A core `v1` Service.
    Service(Box<Service>),
}

impl Object {
    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Ingress(ingress) => &ingress.meta,
            Object::Service(service) => &service.metadata,
        }
    }

    /// Kind, namespace and name, for messages and reports.
    pub fn reference(&self) -> ObjectRef {
        let kind = match self {
            Object::Ingress(_) => "Ingress",
            Object::Service(_) => "Service",
        };
        ObjectRef::new(kind, self.meta())
    }
}

/// Kind, namespace and name of an object, for messages and reports.
///
/// Displays as `Kind namespace/name`, or `Kind name` when the object carries no namespace (a
/// manifest that leaves it to `kubectl -n`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ObjectRef {
    /// `Ingress` or `Service`.
    pub kind: &'static str,
    /// `metadata.namespace`, if the object carries one.
    pub namespace: Option<String>,
    /// `metadata.name` (empty when the manifest uses `generateName`).
    pub name: String,
}

impl ObjectRef {
    fn new(kind: &'static str, meta: &ObjectMeta) -> Self {
        ObjectRef {
            kind,
            namespace: meta.namespace.clone(),
            name: meta
                .name
                .clone()
                .or_else(|| meta.generate_name.clone())
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// The annotations of an object (an empty map when it has none).
pub fn annotations(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    meta.annotations.as_ref().unwrap_or(&EMPTY)
}

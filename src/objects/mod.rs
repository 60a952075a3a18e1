//! Kubernetes objects as the rules see them.
//!
//! Both front doors (the webhook's AdmissionRequest `object` as a slice of the request body,
//! and documents read from manifest files as JSON values) go through [`decode_as`]; what comes out is an [`Object`] of a kind sticky-guard
//! judges, or `None` for every other kind. Legacy Ingress APIs are converted to
//! `networking.k8s.io/v1` here, the way the API server converts them, so a rule is written once.

mod decode;
pub mod gateway;
mod ingress;
pub mod ingress_class;
pub mod kinds;

pub use decode::{DecodeError, Input, LAST_APPLIED, Shape, decode, decode_as, decode_json};
pub use ingress::{BackendRef, BackendShapeError, IngressObject, PathRef, port_as_written};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kinds::Kind;
use std::collections::BTreeMap;
use std::fmt;

/// An object of a kind that sticky-guard judges or reads (a row of [`crate::objects::kinds::KINDS`]).
#[derive(Clone, Debug)]
pub enum Object {
    /// An Ingress, from any served or legacy API version, in `networking.k8s.io/v1` shape.
    Ingress(Box<IngressObject>),
    /// A core `v1` Service.
    Service(Box<Service>),
    /// A GKE BackendConfig.
    BackendConfig(Box<BackendConfigObject>),
    /// A Gateway API HTTPRoute or GRPCRoute ([`gateway::RouteObject::kind`] says which).
    Route(Box<gateway::RouteObject>),
    /// A Gateway API Gateway.
    Gateway(Box<gateway::GatewayObject>),
    /// An IngressClass (cluster-scoped).
    IngressClass(Box<ingress_class::IngressClassObject>),
    /// A Gateway API GatewayClass (cluster-scoped).
    GatewayClass(Box<gateway::GatewayClassObject>),
    /// A Gateway API ReferenceGrant.
    ReferenceGrant(Box<gateway::ReferenceGrantObject>),
}

/// A GKE BackendConfig (`cloud.google.com/v1` CRD): metadata and `spec` as JSON (the rules read
/// `spec.sessionAffinity` only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackendConfigObject {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec`, `null` when absent.
    pub spec: serde_json::Value,
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Ingress(_) => Kind::Ingress,
            Object::Service(_) => Kind::Service,
            Object::BackendConfig(_) => Kind::BackendConfig,
            Object::Route(route) => match route.kind {
                gateway::RouteKind::Http => Kind::HttpRoute,
                gateway::RouteKind::Grpc => Kind::GrpcRoute,
            },
            Object::Gateway(_) => Kind::Gateway,
            Object::GatewayClass(_) => Kind::GatewayClass,
            Object::IngressClass(_) => Kind::IngressClass,
            Object::ReferenceGrant(_) => Kind::ReferenceGrant,
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Ingress(ingress) => &ingress.meta,
            Object::Service(service) => &service.metadata,
            Object::BackendConfig(config) => &config.meta,
            Object::Route(route) => &route.meta,
            Object::Gateway(gateway) => &gateway.meta,
            Object::GatewayClass(class) => &class.meta,
            Object::IngressClass(class) => &class.meta,
            Object::ReferenceGrant(grant) => &grant.meta,
        }
    }

    /// The object's metadata, to fill in what the request carries beside it.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Ingress(ingress) => &mut ingress.meta,
            Object::Service(service) => &mut service.metadata,
            Object::BackendConfig(config) => &mut config.meta,
            Object::Route(route) => &mut route.meta,
            Object::Gateway(gateway) => &mut gateway.meta,
            Object::GatewayClass(class) => &mut class.meta,
            Object::IngressClass(class) => &mut class.meta,
            Object::ReferenceGrant(grant) => &mut grant.meta,
        }
    }

    /// Kind, namespace and name, for messages and reports.
    pub fn reference(&self) -> ObjectRef {
        ObjectRef::new(self.kind().name(), self.meta())
    }

    /// The Ingress, if this is one.
    pub fn as_ingress(&self) -> Option<&IngressObject> {
        match self {
            Object::Ingress(ingress) => Some(ingress),
            _ => None,
        }
    }

    /// The Service, if this is one.
    pub fn as_service(&self) -> Option<&Service> {
        match self {
            Object::Service(service) => Some(service),
            _ => None,
        }
    }

    /// The BackendConfig, if this is one.
    pub fn as_backend_config(&self) -> Option<&BackendConfigObject> {
        match self {
            Object::BackendConfig(config) => Some(config),
            _ => None,
        }
    }

    /// The HTTPRoute or GRPCRoute, if this is one.
    pub fn as_route(&self) -> Option<&gateway::RouteObject> {
        match self {
            Object::Route(route) => Some(route),
            _ => None,
        }
    }

    /// The Gateway, if this is one.
    pub fn as_gateway(&self) -> Option<&gateway::GatewayObject> {
        match self {
            Object::Gateway(gateway) => Some(gateway),
            _ => None,
        }
    }

    /// The GatewayClass, if this is one.
    pub fn as_gateway_class(&self) -> Option<&gateway::GatewayClassObject> {
        match self {
            Object::GatewayClass(class) => Some(class),
            _ => None,
        }
    }

    /// The IngressClass, if this is one.
    pub fn as_ingress_class(&self) -> Option<&ingress_class::IngressClassObject> {
        match self {
            Object::IngressClass(class) => Some(class),
            _ => None,
        }
    }

    /// The ReferenceGrant, if this is one.
    pub fn as_reference_grant(&self) -> Option<&gateway::ReferenceGrantObject> {
        match self {
            Object::ReferenceGrant(grant) => Some(grant),
            _ => None,
        }
    }
}

/// `metadata.namespace`, or `default` (where `kubectl apply` without `-n` puts an object that
/// names none).
pub fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

/// Kind, namespace and name of an object, for messages and reports.
///
/// Displays as `Kind namespace/name`, or `Kind name` when the object carries no namespace (a
/// manifest that leaves it to `kubectl -n`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ObjectRef {
    /// `Ingress`, `Service`, … (a [`Kind`] name).
    pub kind: &'static str,
    /// `metadata.namespace`, if the object carries one.
    pub namespace: Option<String>,
    /// `metadata.name` (empty when the manifest uses `generateName`).
    pub name: String,
}

impl ObjectRef {
    /// `Ingress namespace/name` of an Ingress.
    pub fn ingress(ingress: &IngressObject) -> Self {
        ObjectRef::new(Kind::Ingress.name(), &ingress.meta)
    }

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

/// The DNS name of an ExternalName Service (`""` when the field is missing), `None` for any
/// other type. Every controller family reads it: an ExternalName Service is one DNS name, with
/// no endpoints to pin.
pub fn external_name(service: &Service) -> Option<String> {
    let spec = service.spec.as_ref()?;
    (spec.type_.as_deref() == Some("ExternalName"))
        .then(|| spec.external_name.clone().unwrap_or_default())
}

/// The DNS name of a Service that is ExternalName now and was not before (`old`: the object
/// an UPDATE replaces, `None` on CREATE and offline), else `None`: the write that takes a
/// Service's endpoints away.
pub fn becomes_external_name(service: &Service, old: Option<&Object>) -> Option<String> {
    let target = external_name(service)?;
    match old {
        Some(Object::Service(old)) if external_name(old).is_some() => None,
        _ => Some(target),
    }
}

/// DNS-1035 label, as the API server validates `backend.service.name`: at most 63 characters of
/// `[a-z0-9-]`, starting with a letter and ending with a letter or digit
/// (`k8s.io/apimachinery/pkg/util/validation.IsDNS1035Label`).
pub fn is_dns1035_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Reads `svc.ns`, `svc.ns.svc` and `svc.ns.svc.<cluster-domain>` (the Service DNS names of the
/// Kubernetes DNS specification), with or without a final `.`, as `(service, namespace)`.
pub fn service_and_namespace<'n>(
    name: &'n str,
    cluster_domain: &str,
) -> Option<(&'n str, &'n str)> {
    // A fully qualified name may end with the root's `.` (ingress-nginx trims it from an
    // ExternalName, endpointslices.go L70).
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut parts = name.splitn(3, '.');
    let service = parts.next()?;
    let namespace = parts.next()?;
    let rest = parts.next();
    let service_dns = match rest {
        None => true,
        Some(rest) => rest == "svc" || rest.strip_prefix("svc.") == Some(cluster_domain),
    };
    (service_dns && is_dns1035_label(service) && !namespace.is_empty())
        .then_some((service, namespace))
}

#[cfg(test)]
mod tests {
    use super::service_and_namespace;

    #[test]
    fn service_dns_names() {
        let cases = [
            ("mysvc.otherns", Some(("mysvc", "otherns"))),
            ("mysvc.otherns.svc", Some(("mysvc", "otherns"))),
            (
                "mysvc.otherns.svc.cluster.local",
                Some(("mysvc", "otherns")),
            ),
            // A fully qualified name (endpointslices.go L70 trims the final dot).
            (
                "mysvc.otherns.svc.cluster.local.",
                Some(("mysvc", "otherns")),
            ),
            ("mysvc.otherns.svc.corp.local", None),
            ("example.com.", Some(("example", "com"))),
            ("mysvc", None),
        ];
        for (name, expected) in cases {
            assert_eq!(
                service_and_namespace(name, "cluster.local"),
                expected,
                "{name}"
            );
        }
    }
}

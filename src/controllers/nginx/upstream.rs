//! Per backend (Service:port) of an Ingress: is it sticky, and how does ingress-nginx reach it.
//!
//! ingress-nginx builds one upstream per Service and port and balances over the Service's
//! **endpoints** (pod IPs), so the sticky balancer can pin a pod
//! (`internal/ingress/controller/controller.go` `createUpstreams`, L1020-1135). Three things
//! take that away:
//! - `service-upstream: "true"`: the Service's ClusterIP becomes the only endpoint
//!   (controller.go L1115-1121; annotations.md L614: "Sticky Sessions will not work as only
//!   round-robin load balancing is supported"), and kube-proxy picks the pod;
//! - `ssl-passthrough: "true"`: TLS is passed through at layer 4 to the ClusterIP, and every
//!   other annotation is ignored (annotations.md L598-600; tls.md L66-68);
//! - an **ExternalName** Service: one DNS name, nothing to pin.

use super::{Annotations, annotation};
use crate::objects::{BackendRef, IngressObject, external_name, namespace_of};
use crate::view::{ClusterView, Lookup};
use k8s_openapi::api::core::v1::Service;
use std::sync::Arc;

/// How the controller reaches a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The Service's endpoints (pod IPs): what sticky sessions need.
    Endpoints,
    /// The Service's ClusterIP, because of this annotation (`service-upstream` or
    /// `ssl-passthrough`): kube-proxy picks the pod.
    ClusterIp {
        /// The annotation name, without prefix.
        because: &'static str,
    },
    /// An ExternalName Service: this DNS name.
    DnsName(String),
    /// The Service is not known to the view (single-object mode, a partial bundle, no answer).
    Unknown,
    /// The Service does not exist.
    Absent,
}

/// One backend of an Ingress, as the controller's upstream.
#[derive(Debug)]
pub struct Upstream<'a> {
    /// The backend as written.
    pub backend: BackendRef<'a>,
    /// The Service, when the view has it.
    pub service: Option<Arc<crate::objects::Object>>,
    /// How the controller reaches it.
    pub reach: Reach,
}

impl Upstream<'_> {
    /// The Service, when the view has it.
    pub fn service(&self) -> Option<&Service> {
        self.service.as_deref().and_then(|o| o.as_service())
    }
}

/// The annotation that makes the controller proxy every backend of this Ingress to the
/// ClusterIP, if any: `ssl-passthrough` first (it also turns off every other annotation),
/// then `service-upstream`.
pub fn cluster_ip_because(ingress: &IngressObject, prefix: &str) -> Option<&'static str> {
    let annotations = Annotations::new(ingress, prefix);
    if annotations.flag(annotation::SSL_PASSTHROUGH) {
        Some(annotation::SSL_PASSTHROUGH)
    } else if annotations.flag(annotation::SERVICE_UPSTREAM) {
        Some(annotation::SERVICE_UPSTREAM)
    } else {
        None
    }
}

/// Every Service backend of `ingress` with how the controller reaches it. Backends whose name
/// is not a Service name in the Ingress's namespace (dotted, invalid) are looked up as
/// written, and so come out [`Reach::Unknown`] or [`Reach::Absent`].
pub fn upstreams<'a>(
    ingress: &'a IngressObject,
    prefix: &str,
    view: &dyn ClusterView,
) -> Vec<Upstream<'a>> {
    let namespace = namespace_of(&ingress.meta);
    let because = cluster_ip_because(ingress, prefix);
    ingress
        .backends()
        .into_iter()
        .map(|backend| {
            let lookup = view.service(namespace, backend.service_name);
            let service = match &lookup {
                Lookup::Found(object) => Some(object.clone()),
                _ => None,
            };
            let external = service
                .as_deref()
                .and_then(|o| o.as_service())
                .and_then(external_name);
            let reach = match (&lookup, external, because) {
                (_, Some(name), _) => Reach::DnsName(name),
                (Lookup::Found(_), None, Some(because)) => Reach::ClusterIp { because },
                (Lookup::Found(_), None, None) => Reach::Endpoints,
                (Lookup::Absent, ..) => Reach::Absent,
                (Lookup::Unknown, ..) => Reach::Unknown,
            };
            Upstream {
                backend,
                service,
                reach,
            }
        })
        .collect()
}

/// Whether the Service asks kube-proxy for ClientIP session affinity
/// (`spec.sessionAffinity: ClientIP`). kube-proxy applies it to connections to the Service's
/// ClusterIP; ingress-nginx reaches a Service through its endpoints
/// ([`Reach::Endpoints`]), past kube-proxy, so it does not apply to traffic through the
/// controller.
pub fn client_ip_affinity(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.session_affinity.as_deref())
        == Some("ClientIP")
}

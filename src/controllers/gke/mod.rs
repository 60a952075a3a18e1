//! The GKE Ingress controller family (`gce` ingress class): BackendConfig session affinity and
//! container-native load balancing (NEGs).
//!
//! Sources: GKE docs, "Configuring Ingress features through BackendConfig parameters"
//! (`sessionAffinity`, `affinityCookieTtlSec` 0..86400) and "Container-native load balancing
//! through Ingress" (<https://cloud.google.com/kubernetes-engine/docs/how-to/container-native-load-balancing>):
//! "for GKE clusters running version 1.17 or later and under certain conditions,
//! container-native load balancing is default and does not require an explicit
//! `cloud.google.com/neg: '{"ingress": true}'` Service annotation", and it needs a VPC-native
//! (alias IP) cluster.

use crate::objects::annotations;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

/// Annotations naming a Service's BackendConfig (GA and beta).
pub const BACKEND_CONFIG_ANNOTATIONS: [&str; 2] = [
    "cloud.google.com/backend-config",
    "beta.cloud.google.com/backend-config",
];

/// The ingress classes of the GKE Ingress controller (external and internal Application Load
/// Balancers). It reads no session affinity annotation: affinity is a BackendConfig setting
/// (`sessionAffinity.affinityType`, e.g. `GENERATED_COOKIE`).
pub const INGRESS_CLASSES: [&str; 2] = ["gce", "gce-internal"];

/// The container-native load balancing annotation.
pub const NEG_ANNOTATION: &str = "cloud.google.com/neg";

/// Whether the load balancer's backends for this Service are pods (NEGs) or nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backends {
    /// `cloud.google.com/neg: '{"ingress": true}'`: network endpoint groups of pods.
    Neg,
    /// A `ClusterIP` Service (or one with no type): a GKE Ingress can only reach it through
    /// NEGs, which GKE 1.17+ creates by default on VPC-native clusters (the how-to page above);
    /// without them the Ingress does not sync at all, so there is no node-level affinity to
    /// warn about.
    NegByDefault,
    /// `NodePort` or `LoadBalancer` without the NEG annotation (or with `"ingress": false`):
    /// instance groups of nodes, so a generated cookie pins a node and kube-proxy spreads
    /// requests over the pods.
    Nodes,
}

/// How the GKE load balancer reaches `service`'s pods.
pub fn backends(service: &Service) -> Backends {
    let neg = annotations(&service.metadata)
        .get(NEG_ANNOTATION)
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|v| v.get("ingress").and_then(Value::as_bool));
    match neg {
        Some(true) => Backends::Neg,
        Some(false) => Backends::Nodes,
        None => {
            let service_type = service.spec.as_ref().and_then(|s| s.type_.as_deref());
            match service_type {
                None | Some("ClusterIP") => Backends::NegByDefault,
                _ => Backends::Nodes,
            }
        }
    }
}

/// BackendConfig names in `{"default": "a"}` or `{"ports": {"80": "b"}}`, sorted and
/// deduplicated; nothing for other text.
pub fn backend_config_names(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    if let Some(name) = value.get("default").and_then(Value::as_str) {
        names.push(name.to_string());
    }
    if let Some(ports) = value.get("ports").and_then(Value::as_object) {
        names.extend(ports.values().filter_map(Value::as_str).map(String::from));
    }
    names.sort();
    names.dedup();
    names
}

//! `traefik-sticky-externalname`: a Traefik sticky cookie on an ExternalName Service.

use super::{Check, Context, Finding, Reads, Rule};
use crate::controllers::traefik;
use crate::objects::external_name;
use crate::policy::Action;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "traefik-sticky-externalname",
    title: "Traefik sticky cookie on an ExternalName Service (one server: nothing to pin)",
    any_class: false,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: false,
    why: "Traefik reads its sticky cookie from the Service's annotations \
(traefik.ingress.kubernetes.io/service.sticky.cookie*). An ExternalName Service is refused by \
Traefik's Kubernetes providers unless allowExternalNameServices is on, and then becomes one \
server, externalName:port: the cookie pins that single server, and DNS or the target's own \
load balancing picks the pod. Sticky sessions cannot work through it.",
    fix: "Point Traefik at a Service with a selector (endpoints) in the namespace of the pods \
(an IngressRoute or Ingress there), or drop the sticky annotations from this Service.",
    source: "traefik/traefik v3.7.9 pkg/provider/kubernetes/ingress/kubernetes.go L569-571 \
(allowExternalNameServices), L594 (sticky from the Service's annotations), L661-670 (one server \
externalName:port); pkg/provider/kubernetes/crd/kubernetes_http.go L535-548 (the same for \
IngressRoute); docs/facts/gateway-api-traefik.md §4.2",
    match_condition: Some(
        "has(object.spec.type) && object.spec.type == 'ExternalName' && \
has(object.metadata.annotations) && ('traefik.ingress.kubernetes.io/service.sticky.cookie' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.name' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.secure' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.httponly' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.samesite' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.maxage' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.path' in object.metadata.annotations || \
'traefik.ingress.kubernetes.io/service.sticky.cookie.domain' in object.metadata.annotations)",
    ),
    check: Check::Service(check),
};

fn check(service: &Service, _context: &Context<'_>) -> Vec<Finding> {
    let external = external_name(service).is_some();
    if !external || !traefik::sticky(service) {
        return Vec::new();
    }
    vec![
        Finding::deny(
            &RULE,
            "Traefik's sticky cookie cannot pin an ExternalName Service (one server): route to a \
             Service with a selector in the pods' namespace, or drop the sticky annotations",
        )
        .at_annotation(traefik::STICKY_COOKIE),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "traefik-sticky-externalname";

    fn service(service_type: &str, annotations: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app", "annotations": annotations},
            "spec": {"type": service_type, "externalName": "web.other.svc.cluster.local"}})
    }

    /// kubernetes.go L661-670: an ExternalName Service is one server.
    #[test]
    fn fires_on_a_sticky_external_name_service() {
        let findings = of(
            ID,
            run(
                service(
                    "ExternalName",
                    json!({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"}),
                ),
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("metadata.annotations[\"traefik.ingress.kubernetes.io/service.sticky.cookie\"]")
        );
        assert!(findings[0].fix.is_none());
    }

    #[test]
    fn does_not_fire() {
        for value in [
            service(
                "ClusterIP",
                json!({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"}),
            ),
            service(
                "ExternalName",
                json!({"traefik.ingress.kubernetes.io/service.sticky.cookie": "false"}),
            ),
            service("ExternalName", json!({"team": "shop"})),
        ] {
            assert!(
                of(ID, run(value.clone(), Phase::Validating)).is_empty(),
                "{value}"
            );
        }
    }
}

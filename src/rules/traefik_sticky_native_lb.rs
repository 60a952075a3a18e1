//! `traefik-sticky-native-lb`: a Traefik sticky cookie on a Service Traefik reaches through its
//! ClusterIP.

use super::{Check, Context, Finding, Reads, Rule};
use crate::controllers::traefik;
use crate::objects::external_name;
use crate::policy::Action;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "traefik-sticky-native-lb",
    title: "Traefik sticky cookie with service.nativelb (the ClusterIP is the only server)",
    any_class: false,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: false,
    why: "With traefik.ingress.kubernetes.io/service.nativelb: \"true\" (or the provider's \
nativeLBByDefault) Traefik sends a Service's traffic to its ClusterIP, one server, and \
kube-proxy picks the pod: the sticky cookie pins that single server and sessions move between \
pods. (The provider default is not visible in a Service, so only the annotation is judged.)",
    fix: "Remove service.nativelb (or set it to \"false\") on this Service to keep the sticky \
cookie, or drop the sticky annotations.",
    source: "traefik/traefik v3.7.9 pkg/provider/kubernetes/ingress/kubernetes.go L599, L617-619 \
(nativeLB from the annotation over nativeLBByDefault), L672-684 and L888-898 (the ClusterIP as \
the only server); docs/facts/gateway-api-traefik.md §4.2",
    match_condition: Some(
        "has(object.metadata.annotations) && \
'traefik.ingress.kubernetes.io/service.nativelb' in object.metadata.annotations",
    ),
    check: Check::Service(check),
};

fn check(service: &Service, _context: &Context<'_>) -> Vec<Finding> {
    // An ExternalName Service is traefik-sticky-externalname's (that branch runs first in
    // Traefik, L661 before L672).
    let external = external_name(service).is_some();
    if external || !traefik::native_lb(service) || !traefik::sticky(service) {
        return Vec::new();
    }
    vec![
        Finding::deny(
            &RULE,
            "service.nativelb sends Traefik to the ClusterIP alone, so the sticky cookie pins \
             nothing: remove service.nativelb or the sticky annotations",
        )
        .at_annotation(traefik::NATIVE_LB),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "traefik-sticky-native-lb";

    fn service(annotations: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app", "annotations": annotations},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    }

    /// kubernetes.go L617-619 and L672-684: nativelb makes the ClusterIP the only server.
    #[test]
    fn fires_on_sticky_with_native_lb() {
        let findings = of(
            ID,
            run(
                service(
                    json!({"traefik.ingress.kubernetes.io/service.nativelb": "true",
                    "traefik.ingress.kubernetes.io/service.sticky.cookie.name": "route"}),
                ),
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("metadata.annotations[\"traefik.ingress.kubernetes.io/service.nativelb\"]")
        );
    }

    #[test]
    fn does_not_fire() {
        for annotations in [
            json!({"traefik.ingress.kubernetes.io/service.nativelb": "false",
                   "traefik.ingress.kubernetes.io/service.sticky.cookie": "true"}),
            json!({"traefik.ingress.kubernetes.io/service.nativelb": "true"}),
            json!({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"}),
        ] {
            assert!(
                of(ID, run(service(annotations.clone()), Phase::Validating)).is_empty(),
                "{annotations}"
            );
        }
    }
}

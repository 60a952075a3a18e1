//! `affinity-with-service-upstream`: cookie affinity on an Ingress whose backends are reached
//! through the Service's ClusterIP.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::{Annotations, annotation};
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "affinity-with-service-upstream",
    title: "Cookie affinity with service-upstream (the ClusterIP is the only endpoint)",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92); Traefik NGINX provider v3.6.24, v3.7.9",
    controllers: Controllers::NginxAnnotations,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: false,
    why: "With `<prefix>/service-upstream: \"true\"` ingress-nginx puts the Service's ClusterIP \
in the upstream as its single endpoint instead of the pod IPs, so the sticky balancer has one \
node to choose and kube-proxy picks the pod for every connection: the cookie is set but pins \
nothing. The annotations doc says it outright: \"Sticky Sessions will not work as only \
round-robin load balancing is supported.\" Only a value Go's ParseBool reads as true counts: \
the controller reads an invalid value (`yes`) as false, even when the ConfigMap's \
`service-upstream` is true. The ConfigMap default itself is not visible to sticky-guard, and \
neither is a headless Service (no ClusterIP: the controller logs an error and keeps the pod \
endpoints).",
    fix: "Remove <prefix>/service-upstream (or set it to \"false\") to keep cookie affinity, or \
drop the affinity annotations if proxying to the ClusterIP is what you want.",
    source: "ingress-nginx internal/ingress/controller/controller.go L1115-1121 (service-upstream: \
the ClusterIP as the only endpoint); internal/ingress/annotations/serviceupstream/main.go L56-66 \
(Parse: an invalid value is false); docs/user-guide/nginx-configuration/annotations.md L602-614; Traefik NGINX provider, the same: `service-upstream` makes one server, the ClusterIP (traefik v3.6.24 pkg/provider/kubernetes/ingress-nginx/kubernetes.go L620-623; v3.7.9 build.go L666-667)",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::sticky(policy),
            condition::nginx_annotation(policy, annotation::SERVICE_UPSTREAM)
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/service-upstream: 'true'
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: ImplementationSpecific
        backend:
          service:
            name: web
            port:
              number: 80
"#,
        passes: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/service-upstream: 'false'
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: ImplementationSpecific
        backend:
          service:
            name: web
            port:
              number: 80
"#,
        policy: "",
    },
    check: Check::Ingress(check),
};

/// The finding's message (also the exported policy's).
pub const MESSAGE: &str = "service-upstream makes the Service's ClusterIP the only endpoint, so kube-proxy \
             picks the pod and cookie affinity pins nothing: remove service-upstream (or set it \
             to \"false\") to keep affinity, or drop affinity";

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let annotations = Annotations::new(ingress, &context.policy.annotation_prefix);
    if !annotations.cookie_affinity() || !annotations.flag(annotation::SERVICE_UPSTREAM) {
        return Vec::new();
    }
    vec![
        Finding::deny(&RULE, MESSAGE).at_annotation(&annotations.key(annotation::SERVICE_UPSTREAM)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "affinity-with-service-upstream";

    fn with(annotations: Value) -> Value {
        ingress(annotations, &["/"])
    }

    /// controller.go L1115-1121: with ServiceUpstream the ClusterIP is the single endpoint;
    /// annotations.md L614: "Sticky Sessions will not work".
    #[test]
    fn fires_on_sticky_with_service_upstream() {
        for value in ["true", "True", "1"] {
            let findings = of(
                ID,
                run(
                    with(json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                                "nginx.ingress.kubernetes.io/service-upstream": value})),
                    Phase::Validating,
                ),
            );
            assert_eq!(findings.len(), 1, "{value}");
            assert_eq!(findings[0].level, Level::Deny);
            assert_eq!(
                findings[0].message,
                "service-upstream makes the Service's ClusterIP the only endpoint, so kube-proxy \
                 picks the pod and cookie affinity pins nothing: remove service-upstream (or set \
                 it to \"false\") to keep affinity, or drop affinity"
            );
            assert_eq!(
                findings[0].field.as_deref(),
                Some("metadata.annotations[\"nginx.ingress.kubernetes.io/service-upstream\"]")
            );
            assert!(findings[0].fix.is_none());
        }
    }

    /// serviceupstream/main.go L56-66: only a missing annotation takes the ConfigMap default;
    /// any other value goes through GetBoolAnnotation, and an invalid one (`yes`, ` true`)
    /// comes back false. validators.go L161-164: ParseBool, untrimmed.
    #[test]
    fn does_not_fire() {
        for annotations in [
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/service-upstream": "false"}),
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/service-upstream": "yes"}),
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/service-upstream": " true"}),
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            // No cookie affinity: nothing to pin.
            json!({"nginx.ingress.kubernetes.io/service-upstream": "true"}),
            // `Cookie` fails the case-sensitive validator (sessionaffinity/main.go L73-78).
            json!({"nginx.ingress.kubernetes.io/affinity": "Cookie",
                   "nginx.ingress.kubernetes.io/service-upstream": "true"}),
            // Another prefix is not read by the controller.
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "ingress.kubernetes.io/service-upstream": "true"}),
        ] {
            assert!(
                of(ID, run(with(annotations.clone()), Phase::Validating)).is_empty(),
                "{annotations}"
            );
        }
    }
}

//! `client-ip-affinity-behind-ingress`: a Service's ClientIP affinity does nothing for traffic
//! through ingress-nginx.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::upstream::{self, Reach, client_ip_affinity};
use crate::controllers::nginx::{Annotations, annotation};
use crate::objects::kinds::Kind;
use crate::objects::{IngressObject, ObjectRef, namespace_of};
use crate::policy::Action;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "client-ip-affinity-behind-ingress",
    title: "Service with ClientIP session affinity behind an ingress-nginx Ingress",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads {
        kinds: &[Kind::Ingress, Kind::Service],
        needs_view: true,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "`sessionAffinity: ClientIP` is kube-proxy's: it pins connections made to the Service's \
ClusterIP. ingress-nginx does not go through the ClusterIP: it balances over the Service's \
endpoints (pod IPs) itself, so kube-proxy never sees that traffic, and the client IP it would \
see is the controller's anyway. Requests through the Ingress are spread over the pods as if \
the Service had no affinity. Only Ingresses that reach the pods directly count: with \
service-upstream or ssl-passthrough the controller does use the ClusterIP, and cookie affinity \
would not work there either. An Ingress that is already sticky (affinity: cookie) or is a \
canary (its own affinity annotations are never used) and one that hashes requests with \
upstream-hash-by (e.g. `$remote_addr`: client-IP stickiness in the controller) are left alone.",
    fix: "Set <prefix>/affinity: \"cookie\" on the Ingress (ingress-nginx's own sticky sessions); \
keep or drop the Service's ClientIP affinity for in-cluster clients as you see fit.",
    source: "ingress-nginx internal/ingress/controller/controller.go createUpstreams \
L1020-1135 (upstream endpoints are the Service's endpoints, L1131-1135; the ClusterIP only with \
service-upstream, L1115-1123); Kubernetes API reference, ServiceSpec.sessionAffinity",
    match_condition: |policy| {
        condition::ingress_or_service(
            &condition::judged(policy),
            "has(object.spec) && has(object.spec.sessionAffinity) && \
object.spec.sessionAffinity == 'ClientIP'",
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
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
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  selector:
    app: web
  sessionAffinity: ClientIP
  ports:
  - port: 80
"#,
        passes: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
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
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  selector:
    app: web
  sessionAffinity: ClientIP
  ports:
  - port: 80
"#,
        policy: "",
    },
    check: Check::IngressAndService(on_ingress, on_service),
};

/// Whether the Ingress is one whose stickiness this rule can speak for: not sticky already,
/// not a canary (controller.go L807 skips canary upstreams before the affinity block, and
/// L1597-1598 copies the primary's affinity into them), and not hashing requests with
/// `upstream-hash-by` (e.g. `$remote_addr`, ingress-nginx's own client-IP stickiness, which
/// cookie affinity would override: balancer.lua L45-73).
fn could_be_sticky(ingress: &IngressObject, prefix: &str) -> bool {
    let annotations = Annotations::new(ingress, prefix);
    !annotations.cookie_affinity()
        && !annotations.flag(annotation::CANARY)
        && annotations.accepted("upstream-hash-by").is_none()
}

fn on_ingress(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let prefix = &context.policy.annotation_prefix;
    if !could_be_sticky(ingress, prefix) {
        return Vec::new();
    }
    let mut seen = Vec::new();
    let mut findings = Vec::new();
    for upstream in upstream::upstreams(ingress, prefix, context.view) {
        let name = upstream.backend.service_name;
        if upstream.reach != Reach::Endpoints
            || seen.contains(&name)
            || !upstream.service().is_some_and(client_ip_affinity)
        {
            continue;
        }
        seen.push(name);
        findings.push(
            Finding::warn(
                &RULE,
                format!(
                    "ingress-nginx bypasses ClientIP affinity of Service `{name}`: set affinity: \
                     cookie"
                ),
            )
            .at(upstream.backend.field.clone()),
        );
    }
    findings
}

fn on_service(service: &Service, context: &Context<'_>) -> Vec<Finding> {
    if !client_ip_affinity(service) {
        return Vec::new();
    }
    let namespace = namespace_of(&service.metadata);
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let prefix = &context.policy.annotation_prefix;
    let listing = context.view.ingresses_with_backend(namespace, name);
    let behind: Vec<ObjectRef> = listing
        .ingresses()
        .filter(|i| {
            RULE.controllers
                .judge(&context.policy.serving(i, context.view))
        })
        .filter(|i| could_be_sticky(i, prefix))
        .filter(|i| upstream::cluster_ip_because(i, prefix).is_none())
        .map(ObjectRef::ingress)
        .collect();
    let Some(first) = behind.first() else {
        return Vec::new();
    };
    let more = match behind.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    vec![
        Finding::warn(
            &RULE,
            format!(
                "ingress-nginx bypasses ClientIP for {first}{more}: set affinity: cookie there"
            ),
        )
        .at("spec.sessionAffinity"),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "client-ip-affinity-behind-ingress";

    fn service(affinity: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "app"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}],
                        "sessionAffinity": affinity}})
    }

    fn plain() -> Value {
        ingress(json!({}), &["/", "/static"])
    }

    /// controller.go L1131-1135: the upstream's endpoints are the Service's endpoints, so
    /// kube-proxy's ClientIP affinity never applies to traffic through the controller.
    #[test]
    fn fires_on_the_ingress_once_per_service() {
        let findings = of(
            ID,
            run_among(plain(), &[service("ClientIP")], Phase::Validating),
        );
        assert_eq!(findings.len(), 1, "two paths, one Service");
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].http.paths[0].backend.service.name")
        );
        assert_eq!(
            findings[0].message,
            "ingress-nginx bypasses ClientIP affinity of Service `web`: set affinity: cookie"
        );
    }

    #[test]
    fn fires_on_the_service() {
        let findings = of(
            ID,
            run_among(service("ClientIP"), &[plain()], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(findings[0].field.as_deref(), Some("spec.sessionAffinity"));
        assert_eq!(
            findings[0].message,
            "ingress-nginx bypasses ClientIP for Ingress app/site: set affinity: cookie there"
        );
        let mut second = plain();
        second["metadata"]["name"] = json!("second");
        let findings = of(
            ID,
            run_among(service("ClientIP"), &[plain(), second], Phase::Validating),
        );
        assert!(
            findings[0].message.contains(" (+1 more): "),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn does_not_fire() {
        // No ClientIP affinity.
        assert!(
            of(
                ID,
                run_among(plain(), &[service("None")], Phase::Validating)
            )
            .is_empty()
        );
        assert!(
            of(
                ID,
                run_among(service("None"), &[plain()], Phase::Validating)
            )
            .is_empty()
        );
        // The Ingress is sticky already: the cookie pins the pod.
        let sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/"],
        );
        assert!(
            of(
                ID,
                run_among(sticky.clone(), &[service("ClientIP")], Phase::Validating)
            )
            .is_empty()
        );
        assert!(
            of(
                ID,
                run_among(service("ClientIP"), &[sticky], Phase::Validating)
            )
            .is_empty()
        );
        // service-upstream: the controller does use the ClusterIP (controller.go L1115-1123).
        let upstream = ingress(
            json!({"nginx.ingress.kubernetes.io/service-upstream": "true"}),
            &["/"],
        );
        assert!(
            of(
                ID,
                run_among(upstream.clone(), &[service("ClientIP")], Phase::Validating)
            )
            .is_empty()
        );
        assert!(
            of(
                ID,
                run_among(service("ClientIP"), &[upstream], Phase::Validating)
            )
            .is_empty()
        );
        // A canary's own affinity annotations are never used (controller.go L807).
        let canary = ingress(
            json!({"nginx.ingress.kubernetes.io/canary": "true"}),
            &["/"],
        );
        assert!(
            of(
                ID,
                run_among(service("ClientIP"), &[canary], Phase::Validating)
            )
            .is_empty()
        );
        // Client-IP hashing in the controller (balancer.lua L45-73): cookie affinity would
        // override it, so the advice would be wrong.
        let hashed = ingress(
            json!({"nginx.ingress.kubernetes.io/upstream-hash-by": "$remote_addr"}),
            &["/"],
        );
        assert!(
            of(
                ID,
                run_among(service("ClientIP"), &[hashed], Phase::Validating)
            )
            .is_empty()
        );
        // An Ingress of another class is another controller's.
        let mut gce = plain();
        gce["spec"]["ingressClassName"] = json!("gce");
        assert!(
            of(
                ID,
                run_among(service("ClientIP"), &[gce], Phase::Validating)
            )
            .is_empty()
        );
        // No Ingress routes to it; no view at all.
        assert!(of(ID, run_among(service("ClientIP"), &[], Phase::Validating)).is_empty());
        assert!(of(ID, run(plain(), Phase::Validating)).is_empty());
    }
}

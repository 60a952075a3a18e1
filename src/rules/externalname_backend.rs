//! `externalname-backend`: an Ingress backend Service of type ExternalName has no endpoints.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::affinity::Affinity;
use crate::controllers::nginx::upstream::{self, Reach};
use crate::objects::kinds::Kind;
use crate::objects::{IngressObject, is_dns1035_label, service_and_namespace};
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "externalname-backend",
    title: "Ingress backend Service is type ExternalName",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92); Traefik NGINX provider v3.6.24, v3.7.9",
    controllers: Controllers::NginxAnnotations,
    reads: Reads {
        kinds: &[Kind::Service],
        needs_view: true,
    },
    default_action: Action::Deny,
    mutating: false,
    why: "ingress-nginx routes to a Service's endpoints (pod IPs), which is how cookie affinity \
pins a pod. An ExternalName Service has no endpoints: the controller makes one upstream of the \
external host name and resolves it by DNS, so when it points at `svc.otherns.svc.cluster.local` \
kube-proxy picks the pod and stickiness is silently lost. A sticky Ingress is denied; a \
non-sticky one is left alone (proxying to an external host is a pattern ingress-nginx \
documents). A backend Service that does not exist yet gets a warning, never a \
denial (apply order varies).",
    fix: "Put the Ingress in the namespace of the Service that has the pods and route to it \
directly (an Ingress cannot route across namespaces; an ExternalName \"proxy\" is no way round \
for sticky sessions).",
    source: "ingress-nginx internal/ingress/controller/endpointslices.go L58-80, \
rootfs/etc/nginx/lua/balancer.lua; docs/user-guide/nginx-configuration/annotations.md \
#service-upstream (\"Sticky Sessions will not work\"); Traefik NGINX provider, the same: an ExternalName Service is one server, externalName:port (traefik v3.6.24 pkg/provider/kubernetes/ingress-nginx/kubernetes.go L616-618; v3.7.9 build.go L662-663)",
    match_condition: condition::sticky,
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
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
  type: ExternalName
  externalName: web.other.svc.cluster.local
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
  ports:
  - port: 80
"#,
        policy: "",
    },
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let prefix = &context.policy.annotation_prefix;
    // Without cookie affinity there is nothing to pin: proxying to an external host through
    // an ExternalName Service is a pattern ingress-nginx documents.
    if !Affinity::of(ingress, prefix).cookie {
        return Vec::new();
    }
    let mut seen = Vec::new();
    let mut findings = Vec::new();
    for upstream in upstream::upstreams(ingress, prefix, context.view) {
        let name = upstream.backend.service_name;
        // Dotted and invalid names are cross-namespace-backend's.
        if !is_dns1035_label(name) || seen.contains(&name) {
            continue;
        }
        seen.push(name);
        match &upstream.reach {
            Reach::DnsName(target) => {
                let advice = match service_and_namespace(target, &context.policy.cluster_domain) {
                    Some((svc, ns)) => format!(
                        "put this Ingress in namespace `{ns}`, next to Service `{svc}`, and route to `{svc}` directly"
                    ),
                    None => "route to a Service with a selector (endpoints) instead".into(),
                };
                findings.push(
                    Finding::deny(
                        &RULE,
                        format!(
                            "backend Service `{name}` is type ExternalName (→ {target}): it has no \
                             endpoints, so ingress-nginx cannot pin a pod and cookie affinity is \
                             lost; {advice}"
                        ),
                    )
                    .at(upstream.backend.field.clone()),
                );
            }
            Reach::Absent => findings.push(
                Finding::warn(
                    &RULE,
                    format!("create backend Service `{name}` with a selector, not as ExternalName: it does not exist yet"),
                )
                .at(upstream.backend.field.clone()),
            ),
            _ => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "externalname-backend";

    fn proxy() -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "app"},
               "spec": {"type": "ExternalName", "externalName": "mysvc.otherns.svc.cluster.local"}})
    }

    fn sticky() -> Value {
        ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/"],
        )
    }

    /// ingress-nginx endpointslices.go L58-80: an ExternalName Service becomes one endpoint, its
    /// external name and port; the sticky balancer has nothing but that one server to pin.
    #[test]
    fn fires_on_a_sticky_ingress_and_names_the_namespace() {
        let findings = of(ID, run_among(sticky(), &[proxy()], Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].message,
            "backend Service `web` is type ExternalName (→ mysvc.otherns.svc.cluster.local): it has \
             no endpoints, so ingress-nginx cannot pin a pod and cookie affinity is lost; put this \
             Ingress in namespace `otherns`, next to Service `mysvc`, and route to `mysvc` directly"
        );
    }

    #[test]
    fn silent_on_a_plain_ingress_and_warns_on_a_missing_service() {
        // Not sticky: proxying to an external host is a documented pattern.
        let plain = ingress(json!({}), &["/"]);
        assert!(of(ID, run_among(plain.clone(), &[proxy()], Phase::Validating)).is_empty());
        // In a cluster view, a missing Service is absent: a warning, never a denial.
        let missing = of(ID, run_in_cluster(sticky(), &[], Phase::Validating));
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].level, Level::Warn);
        assert!(missing[0].message.contains("does not exist yet"));
        assert!(of(ID, run_in_cluster(plain, &[], Phase::Validating)).is_empty());
        // A manifest bundle is not the whole cluster: a Service it lacks is unknown.
        assert!(of(ID, run_among(sticky(), &[], Phase::Validating)).is_empty());
    }

    #[test]
    fn does_not_fire() {
        let cluster_ip = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app"}, "spec": {"type": "ClusterIP"}});
        assert!(of(ID, run_among(sticky(), &[cluster_ip], Phase::Validating)).is_empty());
        // Another namespace's ExternalName Service of the same name is not the backend.
        let mut elsewhere = proxy();
        elsewhere["metadata"]["namespace"] = json!("other");
        let findings = of(
            ID,
            run_in_cluster(sticky(), &[elsewhere], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.contains("does not exist yet"));
        // No cluster view: nothing can be said.
        assert!(of(ID, run(sticky(), Phase::Validating)).is_empty());
    }
}

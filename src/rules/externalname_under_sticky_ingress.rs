//! `externalname-under-sticky-ingress`: a Service becoming ExternalName under a sticky Ingress.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::Annotations;
use crate::objects::kinds::Kind;
use crate::objects::{ObjectRef, becomes_external_name, namespace_of, service_and_namespace};
use crate::policy::Action;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "externalname-under-sticky-ingress",
    title: "Service created or changed to ExternalName under a sticky Ingress",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92); Traefik NGINX provider v3.6.24, v3.7.9",
    controllers: Controllers::NginxAnnotations,
    reads: Reads {
        kinds: &[Kind::Ingress],
        needs_view: true,
    },
    default_action: Action::Deny,
    mutating: false,
    why: "The other half of externalname-backend: the Ingress may come first and the ExternalName \
\"proxy\" Service after it, or a ClusterIP Service may be changed to ExternalName. Either way the \
sticky Ingress that routes to it loses its endpoints and with them cookie affinity. A Service \
that already was ExternalName before the update is left to externalname-backend.",
    fix: "Keep the Service a selector-based Service with endpoints, or move the sticky Ingress to \
the namespace of the Service that has the pods.",
    source: "ingress-nginx internal/ingress/controller/endpointslices.go L58-80; \
docs/user-guide/nginx-configuration/annotations.md#service-upstream; Traefik NGINX provider, the same: an ExternalName Service is one server, externalName:port (traefik v3.6.24 pkg/provider/kubernetes/ingress-nginx/kubernetes.go L616-618; v3.7.9 build.go L662-663)",
    match_condition: |_| condition::BECOMES_EXTERNAL_NAME.into(),
    examples: Examples {
        fires: r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  type: ExternalName
  externalName: web.other.svc.cluster.local
---
apiVersion: networking.k8s.io/v1
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
"#,
        passes: r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
spec:
  type: ExternalName
  externalName: web.other.svc.cluster.local
---
apiVersion: networking.k8s.io/v1
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
"#,
        policy: "",
    },
    check: Check::Service(check),
};

fn check(service: &Service, context: &Context<'_>) -> Vec<Finding> {
    let Some(target) = becomes_external_name(service, context.old) else {
        return Vec::new();
    };
    let namespace = namespace_of(&service.metadata);
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let prefix = &context.policy.annotation_prefix;
    let sticky: Vec<String> = context
        .view
        .ingresses_with_backend(namespace, name)
        .ingresses()
        .filter(|i| {
            RULE.controllers
                .judge(&context.policy.serving(i, context.view))
        })
        .filter(|i| Annotations::new(i, prefix).cookie_affinity())
        .map(|i| ObjectRef::ingress(i).to_string())
        .collect();
    if sticky.is_empty() {
        return Vec::new();
    }
    let advice = match service_and_namespace(&target, &context.policy.cluster_domain) {
        Some((svc, ns)) => format!(
            "move the Ingress to namespace `{ns}`, next to Service `{svc}`, instead of proxying"
        ),
        None => "keep a Service with a selector (endpoints) behind the sticky Ingress".into(),
    };
    vec![
        Finding::deny(
            &RULE,
            format!(
                "Service `{name}` would be type ExternalName (→ {target}), but sticky {} routes \
                 to it: an ExternalName Service has no endpoints, so cookie affinity would be \
                 lost; {advice}",
                sticky.join(", ")
            ),
        )
        .at("spec.type"),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Context, Level, Phase, evaluate};
    use crate::policy::Policy;
    use crate::view::offline::OfflineView;
    use serde_json::{Value, json};

    const ID: &str = "externalname-under-sticky-ingress";

    fn service(kind: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "app"},
               "spec": {"type": kind, "externalName": "mysvc.otherns.svc.cluster.local"}})
    }

    fn sticky() -> Value {
        ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/"],
        )
    }

    /// endpointslices.go L58-80: once the Service is ExternalName, the sticky Ingress's upstream is
    /// one DNS name.
    #[test]
    fn fires_when_a_sticky_ingress_routes_to_it() {
        let findings = of(
            ID,
            run_among(service("ExternalName"), &[sticky()], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert!(findings[0].message.starts_with(
            "Service `web` would be type ExternalName (→ mysvc.otherns.svc.cluster.local), but sticky Ingress app/site routes to it"
        ));
        assert!(findings[0].message.ends_with(
            "move the Ingress to namespace `otherns`, next to Service `mysvc`, instead of proxying"
        ));
    }

    #[test]
    fn does_not_fire() {
        assert!(
            of(
                ID,
                run_among(service("ClusterIP"), &[sticky()], Phase::Validating)
            )
            .is_empty()
        );
        let plain = ingress(json!({}), &["/"]);
        assert!(
            of(
                ID,
                run_among(service("ExternalName"), &[plain], Phase::Validating)
            )
            .is_empty()
        );
        assert!(of(ID, run(service("ExternalName"), Phase::Validating)).is_empty());
    }

    #[test]
    fn an_update_of_an_existing_external_name_service_is_not_a_change_to_it() {
        let mut view = OfflineView::new();
        view.add(&object(sticky()));
        let policy = Policy::default();
        let old = object(service("ExternalName"));
        let with_old = Context {
            policy: &policy,
            view: &view,
            old: Some(&old),
        };
        assert!(
            of(
                ID,
                evaluate(
                    &object(service("ExternalName")),
                    Phase::Validating,
                    &with_old
                )
            )
            .is_empty()
        );
        let was_cluster_ip = object(service("ClusterIP"));
        let changed = Context {
            policy: &policy,
            view: &view,
            old: Some(&was_cluster_ip),
        };
        assert_eq!(
            of(
                ID,
                evaluate(
                    &object(service("ExternalName")),
                    Phase::Validating,
                    &changed
                )
            )
            .len(),
            1
        );
    }
}

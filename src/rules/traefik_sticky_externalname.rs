//! `traefik-sticky-externalname`: a Traefik sticky cookie on an ExternalName Service.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::traefik;
use crate::objects::IngressObject;
use crate::objects::external_name;
use crate::objects::kinds::Kind;
use crate::policy::Action;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "traefik-sticky-externalname",
    title: "Traefik sticky cookie on an ExternalName Service (one server: nothing to pin)",
    knows: "Traefik v3.0 to v3.7.9 (Kubernetes Ingress and CRD providers)",
    controllers: Controllers::Any,
    reads: Reads {
        kinds: &[Kind::Service],
        needs_view: false,
    },
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
    // The Ingress side: the Ingress webhook has no matchConditions (every Ingress is sent).
    match_condition: |_| {
        condition::ingress_or_service(
            &crate::cel::ingress_class_is(traefik::INGRESS_CLASS),
            &format!(
                "has(object.spec.type) && object.spec.type == 'ExternalName' && {}",
                condition::traefik_sticky()
            ),
        )
    },
    examples: Examples {
        fires: r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
  annotations:
    traefik.ingress.kubernetes.io/service.sticky.cookie: 'true'
spec:
  type: ExternalName
  externalName: web.other
"#,
        passes: r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
  annotations:
    traefik.ingress.kubernetes.io/service.sticky.cookie: 'true'
spec:
  selector:
    app: web
  ports:
  - port: 80
"#,
        policy: "",
    },
    check: Check::IngressAndService(check_ingress, check),
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

/// A Traefik-class Ingress whose backend Service (in the view) has the same problem: judged on
/// the Ingress too, as it is the write that puts the Service behind Traefik (`Controllers::Any`: the
/// Traefik class is not one the policy judges).
fn check_ingress(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    traefik::backends_where(ingress, context.view, |s| external_name(s).is_some() && traefik::sticky(s))
        .into_iter()
        .map(|(field, service)| {
            Finding::deny(&RULE, format!("backend Service `{}` is ExternalName with a Traefik sticky cookie: one server, nothing to pin; use a Service with a selector", crate::echo::bounded(&service))).at(field)
        })
        .collect()
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

    /// The Ingress side (Traefik's docs, "Kubernetes Ingress": an Ingress of class `traefik` to
    /// Service `web`): the write that puts the Service behind Traefik is denied too, when the
    /// view holds the Service.
    #[test]
    fn fires_on_a_traefik_ingress_to_such_a_service() {
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app", "annotations":
                {"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"}},
            "spec": {"type": "ExternalName", "externalName": "web.other.svc.cluster.local"}});
        let mut traefik_ingress = ingress(json!({}), &["/"]);
        traefik_ingress["spec"]["ingressClassName"] = json!("traefik");
        let findings = of(
            ID,
            run_among(
                traefik_ingress.clone(),
                std::slice::from_ref(&service),
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].http.paths[0].backend.service.name")
        );
        assert_eq!(
            findings[0].message,
            "backend Service `web` is ExternalName with a Traefik sticky cookie: one server, nothing to pin; use a Service with a selector"
        );
        // Not without the Service, nor on an Ingress Traefik does not serve.
        assert!(of(ID, run(traefik_ingress, Phase::Validating)).is_empty());
        let nginx = ingress(json!({}), &["/"]);
        assert!(of(ID, run_among(nginx, &[service], Phase::Validating)).is_empty());
    }
}

//! `traefik-sticky-native-lb`: a Traefik sticky cookie on a Service Traefik reaches through its
//! ClusterIP.

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
    id: "traefik-sticky-native-lb",
    title: "Traefik sticky cookie with service.nativelb (the ClusterIP is the only server)",
    knows: "Traefik v3.0 to v3.7.9 (service.nativelb and nativeLBByDefault since v3.0)",
    controllers: Controllers::Any,
    reads: Reads {
        kinds: &[Kind::Service],
        needs_view: false,
    },
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
    // The Ingress side: the Ingress webhook has no matchConditions (every Ingress is sent).
    match_condition: |_| {
        condition::ingress_or_service(
            &crate::cel::ingress_class_is(traefik::INGRESS_CLASS),
            &crate::cel::has_annotation(traefik::NATIVE_LB),
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
    traefik.ingress.kubernetes.io/service.nativelb: 'true'
spec:
  selector:
    app: web
  ports:
  - port: 80
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

/// A Traefik-class Ingress whose backend Service (in the view) has the same problem: judged on
/// the Ingress too, as it is the write that puts the Service behind Traefik (`Controllers::Any`: the
/// Traefik class is not one the policy judges).
fn check_ingress(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    traefik::backends_where(ingress, context.view, |s| external_name(s).is_none() && traefik::native_lb(s) && traefik::sticky(s))
        .into_iter()
        .map(|(field, service)| {
            Finding::deny(&RULE, format!("backend Service `{}` has service.nativelb and a sticky cookie: Traefik sends to the ClusterIP alone; remove nativelb", crate::echo::bounded(&service))).at(field)
        })
        .collect()
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

    /// The Ingress side (Traefik's docs, "Kubernetes Ingress": an Ingress of class `traefik` to
    /// Service `web`): the write that puts the Service behind Traefik is denied too, when the
    /// view holds the Service.
    #[test]
    fn fires_on_a_traefik_ingress_to_such_a_service() {
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app", "annotations":
                {"traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
                 "traefik.ingress.kubernetes.io/service.nativelb": "true"}},
            "spec": {"type": "ClusterIP"}});
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
            "backend Service `web` has service.nativelb and a sticky cookie: Traefik sends to the ClusterIP alone; remove nativelb"
        );
        // Not without the Service, nor on an Ingress Traefik does not serve.
        assert!(of(ID, run(traefik_ingress, Phase::Validating)).is_empty());
        let nginx = ingress(json!({}), &["/"]);
        assert!(of(ID, run_among(nginx, &[service], Phase::Validating)).is_empty());
    }
}

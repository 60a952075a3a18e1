//! `gateway-externalname-backend`: session persistence on a route rule whose backendRef is an
//! ExternalName Service, judged on the route and on the Service (one becoming ExternalName
//! under such a rule).

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::objects::gateway::RouteObject;
use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{becomes_external_name, external_name, namespace_of};
use crate::policy::Action;
use crate::view::Lookup;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "gateway-externalname-backend",
    title: "Session persistence on a route rule whose backendRef is an ExternalName Service",
    knows: "Gateway API v1.1.0+ (sessionPersistence); Envoy Gateway v1.7.5, v1.8.2, v1.9.0 refuse it; NGINX Gateway Fabric v2.2.0+ one DNS upstream",
    controllers: Controllers::IngressNginx,
    reads: Reads {
        kinds: &[Kind::Service, Kind::HttpRoute, Kind::GrpcRoute],
        needs_view: true,
    },
    default_action: Action::Deny,
    mutating: false,
    why: "Session persistence pins a client to one endpoint of the backend. An ExternalName \
Service has no endpoints: it is one DNS name. Gateway API says implementations SHOULD NOT \
support ExternalName backendRefs; Envoy Gateway refuses them (ResolvedRefs=False, \
UnsupportedValue) since v1.9.0, v1.8.2 and v1.7.5 and built a broken cluster before; NGINX \
Gateway Fabric (v2.2.0+, with a DNS resolver in its NginxProxy) makes one DNS upstream, so its \
sticky cookie pins nothing. The Service side (the route first, the Service made ExternalName \
after it) is judged when a Service becomes ExternalName; one that already was is left to the \
route side.",
    fix: "Point the rule at a Service with a selector (its endpoints are the pods), in the pods' \
namespace if need be, with `namespace:` on the backendRef and a ReferenceGrant there.",
    source: "Gateway API v1.6.1 apis/v1/object_reference_types.go L117-125; Envoy Gateway \
v1.9.0 internal/gatewayapi/route.go L3086-3096 (ee16b3fc, #9190); NGINX Gateway Fabric \
internal/controller/state/dataplane/configuration.go L2819-2845, graph/backend_refs.go L596-609",
    // The Service webhook: only a Service becoming ExternalName. (Route webhooks have no
    // matchConditions.)
    match_condition: |_| {
        format!(
            "{} ? ({}) : {}",
            crate::cel::kind_is("Service"),
            condition::BECOMES_EXTERNAL_NAME,
            crate::cel::some_route_rule("has(r.sessionPersistence) && has(r.backendRefs)")
        )
    },
    examples: Examples {
        fires: r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: site
  namespace: app
spec:
  parentRefs:
  - name: eg
  rules:
  - sessionPersistence:
      sessionName: s
    backendRefs:
    - name: web
      port: 80
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
        passes: r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: site
  namespace: app
spec:
  parentRefs:
  - name: eg
  rules:
  - sessionPersistence:
      sessionName: s
    backendRefs:
    - name: web
      port: 80
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
    check: Check::RouteAndService(check, check_service),
};

fn check(route: &RouteObject, context: &Context<'_>) -> Vec<Finding> {
    route
        .backends()
        .into_iter()
        .filter(|b| {
            b.backend.is_service() && route.spec.rules[b.rule].session_persistence.is_some()
        })
        .filter_map(|b| {
            let Lookup::Found(object) = context.view.service(b.namespace, &b.backend.name) else {
                return None;
            };
            let target = external_name(object.as_service()?)?;
            let message = format!(
                "sessionPersistence cannot pin backendRef `{}`: Service {}/{} is ExternalName \
                 (`{}`), one DNS name with no endpoints (Envoy Gateway refuses it): use a Service \
                 with a selector",
                crate::echo::bounded(&b.backend.name),
                crate::echo::bounded(b.namespace),
                crate::echo::bounded(&b.backend.name),
                crate::echo::bounded(&target),
            );
            Some(Finding::deny(&RULE, message).at(b.field))
        })
        .collect()
}

/// A Service becoming ExternalName while a session-persistent route rule sends to it.
fn check_service(service: &Service, context: &Context<'_>) -> Vec<Finding> {
    let Some(target) = becomes_external_name(service, context.old) else {
        return Vec::new();
    };
    let namespace = namespace_of(&service.metadata);
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let key = IndexKey::Backend {
        namespace: namespace.to_string(),
        service: name.to_string(),
    };
    let mut sticky: Vec<String> = Vec::new();
    for kind in [Kind::HttpRoute, Kind::GrpcRoute] {
        for object in context.view.find(kind, &key).objects {
            let Some(route) = object.as_route() else {
                continue;
            };
            let persistent = route.backends().iter().any(|b| {
                b.backend.is_service()
                    && b.namespace == namespace
                    && b.backend.name == name
                    && route.spec.rules[b.rule].session_persistence.is_some()
            });
            if persistent {
                sticky.push(object.reference().to_string());
            }
        }
    }
    if sticky.is_empty() {
        return Vec::new();
    }
    vec![
        Finding::deny(
            &RULE,
            format!(
                "Service `{}` would be ExternalName (`{}`), but {} send it sessions to pin: it \
                 would have no endpoints; keep a Service with a selector",
                crate::echo::bounded(name),
                crate::echo::bounded(&target),
                sticky.join(", ")
            ),
        )
        .at("spec.type"),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "gateway-externalname-backend";

    /// Envoy Gateway's test input `httproute-with-externalname-service-backend` (an HTTPRoute
    /// to Service `service-externalname`), with the session persistence of its
    /// session-persistence task.
    fn sticky_route(persistence: bool) -> serde_json::Value {
        let mut rule = json!({"backendRefs": [{"name": "service-externalname", "port": 8080}]});
        if persistence {
            rule["sessionPersistence"] = json!({"sessionName": "Session-A"});
        }
        http_route(json!([rule]))
    }

    fn service(type_: &str) -> serde_json::Value {
        let mut spec = json!({"type": type_});
        if type_ == "ExternalName" {
            spec["externalName"] = json!("foo.bar");
        }
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "service-externalname", "namespace": "app"}, "spec": spec})
    }

    #[test]
    fn fires_on_a_sticky_rule_to_an_externalname_service() {
        let findings = of(
            ID,
            run_among(
                sticky_route(true),
                &[service("ExternalName")],
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].backendRefs[0].name")
        );
        assert_eq!(
            findings[0].message,
            "sessionPersistence cannot pin backendRef `service-externalname`: Service \
             app/service-externalname is ExternalName (`foo.bar`), one DNS name with no endpoints \
             (Envoy Gateway refuses it): use a Service with a selector"
        );
    }

    #[test]
    fn does_not_fire_without_persistence_a_clusterip_service_or_a_view() {
        assert!(
            of(
                ID,
                run_among(
                    sticky_route(false),
                    &[service("ExternalName")],
                    Phase::Validating
                )
            )
            .is_empty()
        );
        assert!(
            of(
                ID,
                run_among(
                    sticky_route(true),
                    &[service("ClusterIP")],
                    Phase::Validating
                )
            )
            .is_empty()
        );
        assert!(
            of(ID, run(sticky_route(true), Phase::Validating)).is_empty(),
            "single-object mode"
        );
        assert!(
            of(ID, run_among(sticky_route(true), &[], Phase::Validating)).is_empty(),
            "Service unknown"
        );
    }

    /// No automatic fix: `fix` leaves the bundle alone and the finding remains.
    #[test]
    fn fix_changes_nothing() {
        let text = format!(
            "{}---\n{}",
            serde_norway::to_string(&service("ExternalName")).unwrap(),
            serde_norway::to_string(&sticky_route(true)).unwrap()
        );
        let fixed = crate::engine::fix_text("b.yaml", &text, &crate::policy::Policy::default());
        assert_eq!(fixed.files[0].after, text);
        // Both sides remain: the Service and the route.
        let rules: Vec<&str> = fixed.remaining.findings.iter().map(|f| f.rule).collect();
        assert_eq!(rules, [ID, ID]);
    }

    /// The Service side: the route came first, the Service is made ExternalName after it.
    #[test]
    fn fires_on_a_service_becoming_externalname_under_a_sticky_route() {
        let findings = of(
            ID,
            run_among(
                service("ExternalName"),
                &[sticky_route(true)],
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].field.as_deref(), Some("spec.type"));
        assert_eq!(
            findings[0].message,
            "Service `service-externalname` would be ExternalName (`foo.bar`), but HTTPRoute \
             app/site send it sessions to pin: it would have no endpoints; keep a Service with a \
             selector"
        );
        // Not under a route without persistence, nor when it already was ExternalName.
        assert!(
            of(
                ID,
                run_among(
                    service("ExternalName"),
                    &[sticky_route(false)],
                    Phase::Validating
                )
            )
            .is_empty()
        );
        let policy = crate::policy::Policy::default();
        let mut view = crate::view::offline::OfflineView::new();
        view.add(&object(sticky_route(true)));
        let old = object(service("ExternalName"));
        let context = super::super::Context {
            policy: &policy,
            view: &view,
            old: Some(&old),
        };
        let findings = super::super::evaluate(
            &object(service("ExternalName")),
            Phase::Validating,
            &context,
        );
        assert!(of(ID, findings).is_empty());
    }
}

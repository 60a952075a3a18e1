//! `gateway-dotted-backend-name`: a Gateway API backendRef names a Service by `name` and
//! `namespace`, never by DNS name.

use super::{Check, Context, Controllers, Examples, Finding, Fix, Reads, Rule};
use crate::objects::gateway::RouteObject;
use crate::objects::service_and_namespace;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "gateway-dotted-backend-name",
    title: "HTTPRoute/GRPCRoute backendRef names a Service by DNS name",
    knows: "Gateway API v1.0.0 to v1.6.1, any implementation",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: true,
    why: "A backendRef's `name` is the metadata.name of the Service, looked up in `namespace` \
(default: the route's). `mysvc.otherns.svc.cluster.local` passes the CRD's validation (ObjectName \
has no pattern) but names no Service, so the route's ResolvedRefs condition turns False \
(BackendNotFound) and the rule answers 500. Unlike an Ingress, a route can reach another \
namespace: that is what `namespace` plus a ReferenceGrant are for. sticky-guard denies it in the \
mutating webhook so the user sees this first.",
    fix: "Write `name: mysvc` and `namespace: otherns`, and create a ReferenceGrant in `otherns` \
with `from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: <route's>}]` and \
`to: [{group: \"\", kind: Service, name: mysvc}]`. A dotted name of the route's own namespace is \
rewritten to the bare name (mutating webhook and `fix`).",
    source: "Gateway API v1.6.1 apis/v1/object_reference_types.go L135-141 (a cross-namespace \
backendRef needs a ReferenceGrant in the referent namespace) and apis/v1/referencegrant_types.go \
L66-157; apis/v1/shared_types.go L427 (RefNotPermitted); Kubernetes DNS for Services \
(svc.ns.svc.<cluster-domain>)",
    match_condition: |_| crate::cel::some_route_backend("has(b.name) && b.name.contains('.')"),
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
  - backendRefs:
    - name: web.other.svc
      port: 80
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
  - backendRefs:
    - name: web
      namespace: other
      port: 80
"#,
        policy: "",
    },
    check: Check::Route(check),
};

fn check(route: &RouteObject, context: &Context<'_>) -> Vec<Finding> {
    let kind = route.kind.name();
    let own_namespace = route.meta.namespace.as_deref();
    let from = crate::echo::bounded(own_namespace.unwrap_or("the route's namespace"));
    route
        .backends()
        .into_iter()
        .filter(|b| b.backend.is_service() && b.backend.name.contains('.'))
        .map(|b| {
            let name = crate::echo::bounded(&b.backend.name);
            let message = match service_and_namespace(
                &b.backend.name,
                &context.policy.cluster_domain,
            ) {
                // Only with the namespace written in the object (`kubectl -n` may put a
                // manifest without one anywhere), and only without a `namespace` of its own.
                Some((service, namespace))
                    if Some(namespace) == own_namespace && b.backend.namespace.is_none() =>
                {
                    return Finding::deny(
                        &RULE,
                        format!(
                            "backendRef `{name}` names this {kind}'s own namespace: sticky-guard \
                             rewrites it to the bare name `{service}`"
                        ),
                    )
                    .at(b.field.clone())
                    .with_fix(Fix::SetBackendName {
                        field: b.field,
                        pointer: b.pointer,
                        value: service.to_string(),
                    });
                }
                Some((service, namespace)) if Some(namespace) == own_namespace => format!(
                    "backendRef `{name}` is a DNS name, but a backendRef names a Service by \
                     `name`: write `name: {}`",
                    crate::echo::bounded(service)
                ),
                Some((service, namespace)) => {
                    let (service, namespace) = (
                        crate::echo::bounded(service),
                        crate::echo::bounded(namespace),
                    );
                    format!(
                        "backendRef `{name}` is a DNS name, but a backendRef names a Service by \
                     `name` and `namespace`: write `name: {service}` and `namespace: {namespace}`, \
                     and create a ReferenceGrant in `{namespace}` with `from: [{{group: \
                     gateway.networking.k8s.io, kind: {kind}, namespace: {from}}}]` and `to: \
                     [{{group: \"\", kind: Service, name: {service}}}]`"
                    )
                }
                None => format!(
                    "backendRef `{name}` looks like a host name, but a backendRef of kind Service \
                     names a Service: create a Service for it (an ExternalName Service routes on \
                     some implementations, without session persistence; Envoy Gateway wants a \
                     Backend resource with an FQDN endpoint)"
                ),
            };
            Finding::deny(&RULE, message).at(b.field)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Fix, Level, Phase, json_patch};
    use crate::admission::Verdict;
    use serde_json::json;

    const ID: &str = "gateway-dotted-backend-name";

    /// The HTTPRoute of the Gateway API guide "Cross-Namespace routing"
    /// (gateway-api.sigs.k8s.io/guides/multiple-ns/), with the backend written as a DNS name.
    fn with_backend(name: &str) -> serde_json::Value {
        let mut value = http_route(json!([{"backendRefs": [{"name": "home", "port": 8080}]}]));
        value["spec"]["rules"][0]["backendRefs"][0]["name"] = json!(name);
        value
    }

    #[test]
    fn fires_on_a_service_dns_name_and_gives_the_referencegrant_form() {
        let findings = of(
            ID,
            run(
                with_backend("home.site-ns.svc.cluster.local"),
                Phase::Mutating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].backendRefs[0].name")
        );
        assert_eq!(findings[0].fix, None);
        assert_eq!(
            findings[0].message,
            "backendRef `home.site-ns.svc.cluster.local` is a DNS name, but a backendRef names a \
             Service by `name` and `namespace`: write `name: home` and `namespace: site-ns`, and \
             create a ReferenceGrant in `site-ns` with `from: [{group: gateway.networking.k8s.io, \
             kind: HTTPRoute, namespace: app}]` and `to: [{group: \"\", kind: Service, name: \
             home}]`"
        );
        assert!(!Verdict::decide(&findings, Phase::Mutating, None, "HTTPRoute app/site").allowed);
    }

    #[test]
    fn fires_on_grpc_routes_and_host_names() {
        let mut value = with_backend("api.example.com");
        value["kind"] = json!("GRPCRoute");
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("looks like a host name"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn does_not_fire_on_names_or_other_kinds() {
        assert!(of(ID, run(with_backend("home"), Phase::Mutating)).is_empty());
        let mut value = with_backend("backend.example.com");
        value["spec"]["rules"][0]["backendRefs"][0]["group"] = json!("gateway.envoyproxy.io");
        value["spec"]["rules"][0]["backendRefs"][0]["kind"] = json!("Backend");
        assert!(
            of(ID, run(value, Phase::Mutating)).is_empty(),
            "an Envoy Gateway Backend is not a Service"
        );
    }

    /// A dotted name of the route's own namespace can only mean the bare name: the mutating
    /// webhook patches it and warns; `fix` rewrites it.
    #[test]
    fn own_namespace_is_rewritten_to_the_bare_name() {
        let value = with_backend("home.app.svc");
        let findings = of(ID, run(value.clone(), Phase::Mutating));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].fix,
            Some(Fix::SetBackendName {
                field: "spec.rules[0].backendRefs[0].name".into(),
                pointer: "/spec/rules/0/backendRefs/0/name".into(),
                value: "home".into(),
            })
        );
        let patch = json_patch(findings[0].fix.as_ref(), None);
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "replace", "path": "/spec/rules/0/backendRefs/0/name", "value": "home"}])
        );
        let mut fixed = value;
        json_patch::patch(&mut fixed, &patch).unwrap();
        assert!(of(ID, run(fixed, Phase::Mutating)).is_empty(), "idempotent");
        let verdict = Verdict::decide(&findings, Phase::Mutating, None, "HTTPRoute app/site");
        assert!(verdict.allowed);
        assert_eq!(
            verdict.warnings,
            [
                "gateway-dotted-backend-name: sticky-guard set spec.rules[0].backendRefs[0].name to home"
            ]
        );

        // With an explicit `namespace`, the name is not rewritten (it may mean something else).
        let mut value = with_backend("home.app.svc");
        value["spec"]["rules"][0]["backendRefs"][0]["namespace"] = json!("other");
        assert_eq!(of(ID, run(value, Phase::Mutating))[0].fix, None);
        // Nor with `namespace` equal to the route's; no ReferenceGrant is needed then.
        let mut value = with_backend("home.app.svc");
        value["spec"]["rules"][0]["backendRefs"][0]["namespace"] = json!("app");
        let findings = of(ID, run(value, Phase::Mutating));
        assert_eq!(findings[0].fix, None);
        assert_eq!(
            findings[0].message,
            "backendRef `home.app.svc` is a DNS name, but a backendRef names a Service by `name`: \
             write `name: home`"
        );
    }

    #[test]
    fn fix_rewrites_the_manifest_in_place() {
        let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  \
                    name: site\n  namespace: app\nspec:\n  rules:\n  - backendRefs:\n    - name: \
                    \"home.app.svc.cluster.local\"  # the home page\n      port: 8080\n";
        let fixed = crate::engine::fix_text("r.yaml", text, &crate::policy::Policy::default());
        assert!(fixed.remaining.findings.is_empty());
        assert_eq!(
            fixed.files[0].after,
            text.replace("\"home.app.svc.cluster.local\"", "\"home\"")
        );
        let other = text.replace("home.app.svc", "home.other.svc");
        let unchanged =
            crate::engine::fix_text("r.yaml", &other, &crate::policy::Policy::default());
        assert_eq!(
            unchanged.files[0].after, other,
            "another namespace: nothing to rewrite"
        );
    }
}

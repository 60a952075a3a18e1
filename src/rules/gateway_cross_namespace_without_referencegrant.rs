//! `gateway-cross-namespace-without-referencegrant`: a backendRef into another namespace with
//! no ReferenceGrant there that allows it.

use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::objects::gateway::RouteObject;
use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::namespace_of;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "gateway-cross-namespace-without-referencegrant",
    title: "backendRef into another namespace without a ReferenceGrant there",
    knows: "Gateway API v1.0.0 to v1.6.1 ReferenceGrant (v1beta1; v1 since v1.5.0), any implementation",
    controllers: Controllers::IngressNginx,
    reads: Reads {
        kinds: &[Kind::ReferenceGrant],
        needs_view: true,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "A backendRef with a `namespace` other than the route's needs a ReferenceGrant in that \
namespace allowing the route's kind from the route's namespace to the Service; without one \
implementations MUST NOT follow it: the route's ResolvedRefs turns False (RefNotPermitted) and \
the rule answers 500. The rule speaks only when the view holds every ReferenceGrant of the \
namespace: a synced watch, `audit`, or a bundle that holds some ReferenceGrant of that \
namespace (taken to hold all of them); where that is not known it is silent. A grant applied after the route fixes it, hence a warning.",
    fix: "Create, in the Service's namespace, a ReferenceGrant with `from: [{group: \
gateway.networking.k8s.io, kind: HTTPRoute (or GRPCRoute), namespace: <route's>}]` and `to: \
[{group: \"\", kind: Service, name: <service>}]` (leave out `name` to allow every Service).",
    source: "Gateway API v1.6.1 apis/v1/object_reference_types.go L135-141, \
apis/v1/referencegrant_types.go L34-46 and L66-157, apis/v1/shared_types.go L427 \
(RefNotPermitted)",
    match_condition: |_| {
        crate::cel::some_route_backend(
            "has(b.namespace) && (!has(object.metadata.namespace) || b.namespace != \
object.metadata.namespace)",
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
  - backendRefs:
    - name: web
      namespace: b
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata:
  name: g
  namespace: b
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: app
  to:
  - group: ''
    kind: Service
    name: api
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
      namespace: b
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata:
  name: g
  namespace: b
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: app
  to:
  - group: ''
    kind: Service
    name: web
"#,
        policy: "",
    },
    check: Check::Route(check),
};

fn check(route: &RouteObject, context: &Context<'_>) -> Vec<Finding> {
    // A manifest without a namespace may be applied into any (`kubectl -n`): which grants it
    // needs is not known. (In the webhook the request always carries the namespace.)
    if route.meta.namespace.is_none() {
        return Vec::new();
    }
    let own = namespace_of(&route.meta);
    route
        .backends()
        .into_iter()
        .filter(|b| b.backend.is_service() && b.namespace != own)
        .filter_map(|b| {
            let grants = context.view.find(
                Kind::ReferenceGrant,
                &IndexKey::Namespace(b.namespace.to_string()),
            );
            let permitted = grants.objects.iter().any(|o| {
                o.as_reference_grant()
                    .is_some_and(|g| g.permits(route.kind, own, &b.backend.name))
            });
            // A partial bundle that holds grants of that namespace is taken to hold all of them
            // (a deploy bundle ships its grants together).
            if permitted || !grants.complete && grants.objects.is_empty() {
                return None;
            }
            let message = format!(
                "no ReferenceGrant in `{}` covers Service `{}`: add one",
                crate::echo::bounded(b.namespace),
                crate::echo::bounded(&b.backend.name),
            );
            Some(Finding::warn(&RULE, message).at(b.field))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "gateway-cross-namespace-without-referencegrant";

    /// The route and grant of the Gateway API ReferenceGrant reference
    /// (gateway-api.sigs.k8s.io/api-types/referencegrant/): an HTTPRoute in `foo` to Service
    /// `bar` in `bar`, allowed by ReferenceGrant `bar/allow-foo-httproutes` (here the route's
    /// namespace is the test helpers' `app`).
    fn route() -> serde_json::Value {
        http_route(json!([{"backendRefs": [{"name": "bar", "namespace": "bar", "port": 80}]}]))
    }

    fn grant(from_kind: &str, to_name: Option<&str>) -> serde_json::Value {
        let mut to = json!({"group": "", "kind": "Service"});
        if let Some(name) = to_name {
            to["name"] = json!(name);
        }
        json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
            "metadata": {"name": "allow-foo-httproutes", "namespace": "bar"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": from_kind,
                               "namespace": "app"}], "to": [to]}})
    }

    #[test]
    fn warns_in_a_whole_cluster_without_a_grant() {
        let findings = of(ID, run_in_cluster(route(), &[], Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].backendRefs[0].name")
        );
        assert_eq!(
            findings[0].message,
            "no ReferenceGrant in `bar` covers Service `bar`: add one"
        );
        // A grant for another kind or another Service does not count.
        for other in [grant("GRPCRoute", None), grant("HTTPRoute", Some("baz"))] {
            assert_eq!(
                of(ID, run_in_cluster(route(), &[other], Phase::Validating)).len(),
                1
            );
        }
    }

    #[test]
    fn silent_with_a_grant_or_when_the_view_cannot_tell() {
        for g in [grant("HTTPRoute", None), grant("HTTPRoute", Some("bar"))] {
            assert!(of(ID, run_in_cluster(route(), &[g], Phase::Validating)).is_empty());
        }
        // A partial bundle without grants of `bar` and single-object mode do not know.
        assert!(of(ID, run_among(route(), &[], Phase::Validating)).is_empty());
        // A bundle with a grant of `bar` for another Service is taken to hold all of them.
        assert_eq!(
            of(
                ID,
                run_among(
                    route(),
                    &[grant("HTTPRoute", Some("baz"))],
                    Phase::Validating
                )
            )
            .len(),
            1
        );
        assert!(of(ID, run(route(), Phase::Validating)).is_empty());
        // No namespace written (applied with `kubectl -n`): which grant it needs is unknown.
        let mut anywhere = route();
        anywhere["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        assert!(of(ID, run_in_cluster(anywhere, &[], Phase::Validating)).is_empty());
        // Same namespace: no grant needed.
        let mut same = route();
        same["spec"]["rules"][0]["backendRefs"][0]["namespace"] = json!("app");
        assert!(of(ID, run_in_cluster(same, &[], Phase::Validating)).is_empty());
    }

    /// The grant the fix hint describes, added to the bundle, clears the finding; `fix` itself
    /// writes no grant and leaves the file alone.
    #[test]
    fn the_grant_of_the_hint_clears_it_and_fix_changes_nothing() {
        assert!(
            of(
                ID,
                run_in_cluster(
                    route(),
                    &[grant("HTTPRoute", Some("bar"))],
                    Phase::Validating
                )
            )
            .is_empty()
        );
        let text = serde_norway::to_string(&route()).unwrap();
        let fixed = crate::engine::fix_text("r.yaml", &text, &crate::policy::Policy::default());
        assert_eq!(fixed.files[0].after, text);
    }
}

//! `cross-namespace-backend`: an Ingress backend must name a Service in the Ingress's namespace.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Fix, Reads, Rule};
use crate::objects::IngressObject;
use crate::objects::{is_dns1035_label, service_and_namespace};
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "cross-namespace-backend",
    title: "Ingress backend names a Service in another namespace, or no valid Service name",
    knows: "any controller (Kubernetes networking.k8s.io/v1 validation)",
    controllers: Controllers::Judged,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: true,
    why: "An Ingress routes only to Services in its own namespace, and backend.service.name must \
be a DNS-1035 label. A dotted name like `mysvc.otherns.svc.cluster.local` is the tell-tale \
attempt to reach another namespace; the API server refuses it with a generic validation error \
after mutating admission, so sticky-guard denies it in the mutating webhook with a message that \
says what to do.",
    fix: "Put the Ingress in the Service's namespace and use the Service's short name. An \
ExternalName \"proxy\" Service would route, but it has no endpoints, so cookie affinity is lost.",
    source: "Kubernetes networking.k8s.io/v1 IngressServiceBackend (name: DNS-1035 label, same \
namespace); kubernetes/kubernetes#17088; ingress-nginx service-upstream docs (\"Sticky Sessions \
will not work\")",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::judged(policy),
            crate::cel::some_ingress_service_name(condition::not_dns1035_label)
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
            name: web.other
            port:
              number: 80
"#,
        passes: r#"apiVersion: networking.k8s.io/v1
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
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let own_namespace = ingress.meta.namespace.as_deref();
    let here = own_namespace.map_or("the Ingress's namespace".to_string(), |ns| {
        format!("`{ns}`")
    });
    ingress
        .backends()
        .into_iter()
        .filter(|b| !is_dns1035_label(b.service_name))
        .map(|b| {
            let name = b.service_name;
            let message = match service_and_namespace(name, &context.policy.cluster_domain) {
                // Only with the namespace written in the object: a manifest without one may be
                // applied anywhere (`kubectl -n`), and the name may then mean another namespace.
                Some((service, namespace)) if Some(namespace) == own_namespace => {
                    return Finding::deny(
                        &RULE,
                        format!(
                            "backend `{name}` names this Ingress's own namespace: sticky-guard \
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
                Some((service, namespace)) => format!(
                    "backend `{name}` names Service `{service}` in namespace `{namespace}`, but an \
                     Ingress can only route to Services in its own namespace ({here}): put this \
                     Ingress in namespace `{namespace}`, next to Service `{service}`, and set the \
                     backend to `{service}` (an ExternalName Service in {here} would route, but \
                     loses sticky sessions: it has no endpoints to pin)"
                ),
                None if name.contains('.') => format!(
                    "backend `{name}` looks like a host name, but an Ingress backend must be a \
                     Service in {here}: create a Service there and name it as the backend (an \
                     ExternalName Service can point at an external host, without sticky sessions)"
                ),
                None => format!(
                    "backend `{name}` is not a valid Service name (a DNS-1035 label: lower-case \
                     letters, digits and '-', starting with a letter, at most 63 characters): use \
                     the metadata.name of a Service in {here}"
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
    use crate::objects::{is_dns1035_label, service_and_namespace};
    use serde_json::json;

    const ID: &str = "cross-namespace-backend";

    fn with_backend(name: &str) -> serde_json::Value {
        let mut value = ingress(json!({}), &["/"]);
        value["metadata"]["namespace"] = json!("ingress-shared");
        value["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!(name);
        value
    }

    #[test]
    fn fires_on_a_dotted_name_and_names_the_namespace() {
        let findings = of(
            ID,
            run(
                with_backend("mysvc.otherns.svc.cluster.local"),
                Phase::Mutating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].http.paths[0].backend.service.name")
        );
        assert!(
            findings[0]
                .message
                .contains("put this Ingress in namespace `otherns`, next to Service `mysvc`")
        );
    }

    #[test]
    fn fires_on_short_forms_hosts_and_invalid_names() {
        let cases = [
            ("mysvc.otherns", "namespace `otherns`"),
            ("mysvc.otherns.svc", "namespace `otherns`"),
            (
                "mysvc.ingress-shared.svc.cluster.local",
                "rewrites it to the bare name `mysvc`",
            ),
            ("api.example.com", "looks like a host name"),
            ("MySvc", "not a valid Service name"),
        ];
        for (name, expected) in cases {
            let findings = of(ID, run(with_backend(name), Phase::Validating));
            assert_eq!(findings.len(), 1, "{name}");
            assert!(
                findings[0].message.contains(expected),
                "{name}: {}",
                findings[0].message
            );
        }
    }

    #[test]
    fn fires_on_the_default_backend_of_a_legacy_ingress() {
        let value = json!({
            "apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "x", "namespace": "a"},
            "spec": {"backend": {"serviceName": "web.b", "servicePort": 80}}
        });
        let findings = of(ID, run(value, Phase::Mutating));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.backend.serviceName")
        );
    }

    /// A dotted name of the Ingress's own namespace can only mean the bare Service name:
    /// the finding carries the rewrite, which the mutating webhook applies (and then only
    /// warns: admission/verdict.rs).
    #[test]
    fn own_namespace_is_rewritten_to_the_bare_name() {
        let value = with_backend("mysvc.ingress-shared.svc.cluster.local");
        let findings = of(ID, run(value.clone(), Phase::Mutating));
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(finding.level, Level::Deny);
        assert_eq!(
            finding.message,
            "backend `mysvc.ingress-shared.svc.cluster.local` names this Ingress's own namespace: \
             sticky-guard rewrites it to the bare name `mysvc`"
        );
        let field = "spec.rules[0].http.paths[0].backend.service.name";
        assert_eq!(finding.field.as_deref(), Some(field));
        assert_eq!(
            finding.fix,
            Some(Fix::SetBackendName {
                field: field.into(),
                pointer: "/spec/rules/0/http/paths/0/backend/service/name".into(),
                value: "mysvc".into(),
            })
        );
        let patch = json_patch(finding.fix.as_ref(), None);
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/name",
                    "value": "mysvc"}])
        );
        let mut fixed = value;
        json_patch::patch(&mut fixed, &patch).unwrap();
        assert_eq!(
            fixed["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
            "mysvc"
        );
        // Idempotent: the fixed object has nothing to fix.
        assert!(of(ID, run(fixed, Phase::Mutating)).is_empty());

        // The mutating webhook admits with the patch and a warning.
        let verdict = Verdict::decide(&findings, Phase::Mutating, None, "Ingress x");
        assert!(verdict.allowed);
        assert_eq!(patch, verdict.patch);
        assert_eq!(
            verdict.warnings,
            ["cross-namespace-backend: sticky-guard set \
              spec.rules[0].http.paths[0].backend.service.name to mysvc"]
        );
        // Unpatched in the validating webhook (the mutating one failed open): denied.
        assert!(!Verdict::decide(&findings, Phase::Validating, None, "Ingress x").allowed);
    }

    #[test]
    fn own_namespace_rewrite_on_a_legacy_ingress_points_at_service_name() {
        let value = json!({
            "apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
            "metadata": {"name": "x", "namespace": "a"},
            "spec": {"rules": [{"http": {"paths": [
                {"path": "/", "backend": {"serviceName": "web.a.svc", "servicePort": 80}}]}}]}
        });
        let findings = of(ID, run(value.clone(), Phase::Mutating));
        assert_eq!(
            findings[0].fix,
            Some(Fix::SetBackendName {
                field: "spec.rules[0].http.paths[0].backend.serviceName".into(),
                pointer: "/spec/rules/0/http/paths/0/backend/serviceName".into(),
                value: "web".into(),
            })
        );
        let mut fixed = value;
        json_patch::patch(&mut fixed, &json_patch(findings[0].fix.as_ref(), None)).unwrap();
        assert_eq!(
            fixed["spec"]["rules"][0]["http"]["paths"][0]["backend"]["serviceName"],
            "web"
        );
        assert!(of(ID, run(fixed, Phase::Mutating)).is_empty());
    }

    #[test]
    fn other_namespaces_and_unknown_namespaces_are_denied_without_fix() {
        let findings = of(
            ID,
            run(
                with_backend("mysvc.otherns.svc.cluster.local"),
                Phase::Mutating,
            ),
        );
        assert_eq!(findings[0].fix, None);
        assert!(
            !Verdict::decide(&findings, Phase::Mutating, None, "Ingress x").allowed,
            "denied in the mutating webhook"
        );
        // A manifest without a namespace may be applied into any (`kubectl -n`): `mysvc.default`
        // is not known to be its own namespace, so no rewrite.
        let mut value = with_backend("mysvc.default");
        value["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        let findings = of(ID, run(value, Phase::Mutating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].fix, None);
        assert!(findings[0].message.contains("in namespace `default`"));
    }

    #[test]
    fn does_not_fire_on_plain_names() {
        assert!(of(ID, run(with_backend("mysvc"), Phase::Mutating)).is_empty());
        assert!(of(ID, run(with_backend("my-svc-2"), Phase::Mutating)).is_empty());
    }

    #[test]
    fn dns1035() {
        assert!(is_dns1035_label("a"));
        assert!(is_dns1035_label(&"a".repeat(63)));
        assert!(!is_dns1035_label(&"a".repeat(64)));
        assert!(!is_dns1035_label("1abc"));
        assert!(!is_dns1035_label("abc-"));
        assert!(!is_dns1035_label(""));
    }

    #[test]
    fn other_cluster_domains_are_read_from_the_policy() {
        assert_eq!(
            service_and_namespace("s.n.svc.corp.local", "corp.local"),
            Some(("s", "n"))
        );
        assert_eq!(
            service_and_namespace("s.n.svc.cluster.local", "corp.local"),
            None
        );
    }
}

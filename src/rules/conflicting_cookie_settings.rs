//! `conflicting-cookie-settings`: sticky Ingresses sharing an upstream disagree on the cookie.

use super::regex_mode::{same_controller, same_object};
use super::{Check, Context, Finding, Reads, Rule};
use crate::controllers::nginx::affinity::Affinity;
use crate::objects::kinds::Kind;
use crate::objects::{IngressObject, ObjectRef, is_dns1035_label, namespace_of};
use crate::policy::Action;
use crate::view::Lookup;
use k8s_openapi::api::networking::v1::ServiceBackendPort;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "conflicting-cookie-settings",
    title: "Sticky Ingresses share a backend Service:port with different cookie settings",
    any_class: false,
    reads: Reads {
        kinds: &[Kind::Ingress, Kind::Service],
        needs_view: true,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx keeps session affinity settings per upstream (Service:port), not per \
Ingress. When several sticky Ingresses point at the same Service:port with different \
session-cookie-* or affinity-mode values, the last one the controller reads wins for all of \
them, so one Ingress's cookie name, path or lifetime silently applies to the others.",
    fix: "Give every sticky Ingress of the same Service:port the same cookie settings, or point \
them at different Service ports.",
    source: "ingress-nginx internal/ingress/controller/controller.go (upstream SessionAffinity \
is taken from the first/last Ingress that sets it); \
docs/user-guide/nginx-configuration/annotations.md#session-affinity",
    match_condition: None,
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let prefix = &context.policy.annotation_prefix;
    let mine = Affinity::of(ingress, prefix);
    if !mine.cookie {
        return Vec::new();
    }
    let namespace = namespace_of(&ingress.meta);
    let mut reported = Vec::new();
    let mut findings = Vec::new();
    for backend in ingress.backends() {
        if !is_dns1035_label(backend.service_name) {
            continue;
        }
        let port = port_key(context, namespace, backend.service_name, backend.port);
        let listing = context
            .view
            .ingresses_with_backend(namespace, backend.service_name);
        for other in listing.ingresses() {
            if !same_controller(ingress, other, context) || reported.contains(&same_object(other)) {
                continue;
            }
            let theirs = Affinity::of(other, prefix);
            if !theirs.cookie {
                continue;
            }
            let shares_port = other.backends().iter().any(|b| {
                b.service_name == backend.service_name
                    && port_key(context, namespace, b.service_name, b.port) == port
            });
            let differing = mine.differences(&theirs);
            if !shares_port || differing.is_empty() {
                continue;
            }
            reported.push(same_object(other));
            findings.push(
                Finding::warn(
                    &RULE,
                    format!(
                        "make {} match {}: both pin {}:{port}, the last read wins",
                        differing.join(", "),
                        ObjectRef::ingress(other),
                        backend.service_name,
                    ),
                )
                .at(backend.field.clone()),
            );
        }
    }
    findings
}

/// The port as a number when it can be resolved (a named port through the Service's ports).
fn port_key(
    context: &Context<'_>,
    namespace: &str,
    service: &str,
    port: Option<&ServiceBackendPort>,
) -> String {
    let Some(port) = port else {
        return String::new();
    };
    if let Some(number) = port.number {
        return number.to_string();
    }
    let name = port.name.as_deref().unwrap_or_default();
    if let Lookup::Found(object) = context.view.service(namespace, service)
        && let Some(number) = object
            .as_service()
            .and_then(|svc| svc.spec.as_ref())
            .and_then(|s| s.ports.as_ref())
            .and_then(|ports| ports.iter().find(|p| p.name.as_deref() == Some(name)))
            .map(|p| p.port)
    {
        return number.to_string();
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "conflicting-cookie-settings";

    fn sticky(name: &str, cookie: &str) -> Value {
        let mut v = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-name": cookie}),
            &["/"],
        );
        v["metadata"]["name"] = json!(name);
        v
    }

    #[test]
    fn fires_on_different_settings_for_the_same_upstream() {
        let findings = of(
            ID,
            run_among(sticky("a", "one"), &[sticky("b", "two")], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "make session-cookie-name match Ingress app/b: both pin web:80, the last read wins"
        );
    }

    #[test]
    fn named_and_numbered_ports_are_the_same_upstream() {
        let mut named = sticky("b", "two");
        named["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] =
            json!({"name": "http"});
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app"},
            "spec": {"ports": [{"name": "http", "port": 80}]}});
        let findings = of(
            ID,
            run_among(
                sticky("a", "one"),
                &[named.clone(), service],
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        // Without the Service the name cannot be resolved: no claim.
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[named], Phase::Validating)
            )
            .is_empty()
        );
    }

    #[test]
    fn does_not_fire() {
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[sticky("b", "one")], Phase::Validating)
            )
            .is_empty()
        );
        let mut other_port = sticky("b", "two");
        other_port["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] =
            json!({"number": 81});
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[other_port], Phase::Validating)
            )
            .is_empty()
        );
        let mut not_sticky = sticky("b", "two");
        not_sticky["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("nginx.ingress.kubernetes.io/affinity");
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[not_sticky], Phase::Validating)
            )
            .is_empty()
        );
    }
}

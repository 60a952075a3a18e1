//! `externalname-backend`: an Ingress backend Service of type ExternalName has no endpoints.

use super::{Applies, Context, Finding, Rule, Subject};
use crate::nginx::Annotations;
use crate::objects::{is_dns1035_label, service_and_namespace};
use crate::policy::Action;
use crate::view::{Lookup, namespace_of};
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "externalname-backend",
    title: "Ingress backend Service is type ExternalName",
    applies: Applies::Ingress,
    default_action: Action::Deny,
    mutating: false,
    why: "ingress-nginx routes to a Service's endpoints (pod IPs), which is how cookie affinity \
pins a pod. An ExternalName Service has no endpoints: the controller makes one upstream of the \
external host name and resolves it by DNS, so when it points at `svc.otherns.svc.cluster.local` \
kube-proxy picks the pod and stickiness is silently lost. A sticky Ingress is denied; a \
non-sticky one gets a warning. A backend Service that does not exist yet gets a warning, never a \
denial (apply order varies).",
    fix: "Put the Ingress in the namespace of the Service that has the pods and route to it \
directly (an Ingress cannot route across namespaces; an ExternalName \"proxy\" is no way round \
for sticky sessions).",
    source: "ingress-nginx internal/ingress/controller/endpointslices.go, \
rootfs/etc/nginx/lua/balancer.lua; docs/user-guide/nginx-configuration/annotations.md \
#service-upstream (\"Sticky Sessions will not work\")",
    match_condition: None,
    check,
};

fn check(subject: &Subject<'_>, context: &Context<'_>) -> Vec<Finding> {
    let Subject::Ingress(ingress) = subject else {
        return Vec::new();
    };
    let sticky = Annotations::new(ingress, &context.policy.annotation_prefix).cookie_affinity();
    let namespace = namespace_of(&ingress.meta);
    let mut seen = Vec::new();
    let mut findings = Vec::new();
    for backend in ingress.backends() {
        let name = backend.service_name;
        // Dotted and invalid names are cross-namespace-backend's.
        if !is_dns1035_label(name) || seen.contains(&name) {
            continue;
        }
        seen.push(name);
        match context.view.service(namespace, name) {
            Lookup::Found(service) if is_external_name(&service) => {
                let target = external_name(&service);
                let finding = if sticky {
                    let advice = match service_and_namespace(target, &context.policy.cluster_domain)
                    {
                        Some((svc, ns)) => format!(
                            "put this Ingress in namespace `{ns}`, next to Service `{svc}`, and route to `{svc}` directly"
                        ),
                        None => "route to a Service with a selector (endpoints) instead".into(),
                    };
                    Finding::deny(
                        &RULE,
                        format!(
                            "backend Service `{name}` is type ExternalName (→ {target}): it has no \
                             endpoints, so ingress-nginx cannot pin a pod and cookie affinity is \
                             lost; {advice}"
                        ),
                    )
                } else {
                    Finding::warn(
                        &RULE,
                        format!("backend `{name}` is ExternalName: no endpoints, so cookie affinity could never work here"),
                    )
                };
                findings.push(finding.at(backend.field));
            }
            Lookup::Absent if sticky => findings.push(
                Finding::warn(
                    &RULE,
                    format!("create backend Service `{name}` with a selector, not as ExternalName: it does not exist yet"),
                )
                .at(backend.field),
            ),
            _ => {}
        }
    }
    findings
}

/// `spec.type` is `ExternalName`.
pub fn is_external_name(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
}

/// `spec.externalName`, or `""`.
pub fn external_name(service: &Service) -> &str {
    service
        .spec
        .as_ref()
        .and_then(|s| s.external_name.as_deref())
        .unwrap_or("")
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
    fn warns_on_a_plain_ingress_and_on_a_missing_service() {
        let plain = ingress(json!({}), &["/"]);
        let findings = of(ID, run_among(plain.clone(), &[proxy()], Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
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

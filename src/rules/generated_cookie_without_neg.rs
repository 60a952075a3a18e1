//! `generated-cookie-without-neg`: GKE cookie affinity that cannot pin a pod.

use super::{Applies, Context, Finding, Rule, Subject};
use crate::objects::annotations;
use crate::policy::Action;
use crate::view::{Lookup, namespace_of};
use serde_json::Value;

/// Annotations naming a Service's BackendConfig (GA and beta).
const BACKEND_CONFIG_ANNOTATIONS: [&str; 2] = [
    "cloud.google.com/backend-config",
    "beta.cloud.google.com/backend-config",
];
/// The container-native load balancing annotation.
const NEG_ANNOTATION: &str = "cloud.google.com/neg";

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "generated-cookie-without-neg",
    title: "GKE GENERATED_COOKIE affinity without container-native load balancing",
    applies: Applies::Service,
    default_action: Action::Warn,
    mutating: false,
    why: "On GKE, cookie affinity for an Ingress is set by the Service's BackendConfig \
(`sessionAffinity.affinityType: GENERATED_COOKIE`). Without network endpoint groups \
(`cloud.google.com/neg: '{\"ingress\": true}'` on the Service) the load balancer's backends are \
nodes, not pods, so the generated cookie pins a node and kube-proxy still spreads requests over \
the pods. `affinityCookieTtlSec` must be between 0 and 86400 seconds.",
    fix: "Add the annotation cloud.google.com/neg: '{\"ingress\": true}' to the Service (needs a \
VPC-native cluster), and keep affinityCookieTtlSec within 0..86400.",
    source: "GKE docs: Ingress features (BackendConfig sessionAffinity), container-native load \
balancing (cloud.google.com/neg); BackendConfig CRD cloud.google.com/v1",
    match_condition: Some(
        "has(object.metadata.annotations) && ('cloud.google.com/backend-config' in \
object.metadata.annotations || 'beta.cloud.google.com/backend-config' in \
object.metadata.annotations)",
    ),
    check,
};

fn check(subject: &Subject<'_>, context: &Context<'_>) -> Vec<Finding> {
    let Subject::Service(service) = subject else {
        return Vec::new();
    };
    let annotations = annotations(&service.metadata);
    let namespace = namespace_of(&service.metadata);
    let neg = annotations
        .get(NEG_ANNOTATION)
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .is_some_and(|v| v.get("ingress") == Some(&Value::Bool(true)));
    let mut findings = Vec::new();
    for key in BACKEND_CONFIG_ANNOTATIONS {
        let Some(text) = annotations.get(key) else {
            continue;
        };
        for name in backend_config_names(text) {
            let Lookup::Found(config) = context.view.backend_config(namespace, &name) else {
                continue;
            };
            let affinity = config.pointer("/spec/sessionAffinity");
            let generated = affinity
                .and_then(|a| a.get("affinityType"))
                .and_then(Value::as_str)
                == Some("GENERATED_COOKIE");
            if generated && !neg {
                findings.push(
                    Finding::warn(
                        &RULE,
                        format!(
                            "add {NEG_ANNOTATION}: '{{\"ingress\": true}}': GENERATED_COOKIE needs NEGs to pin pods"
                        ),
                    )
                    .at(format!("metadata.annotations[\"{NEG_ANNOTATION}\"]")),
                );
            }
            if let Some(ttl) = affinity.and_then(|a| a.get("affinityCookieTtlSec"))
                && !ttl.as_i64().is_some_and(|t| (0..=86_400).contains(&t))
            {
                findings.push(
                    Finding::warn(
                        &RULE,
                        format!("set affinityCookieTtlSec of BackendConfig `{name}` within 0..86400 (it is {ttl})"),
                    )
                    .at(format!("metadata.annotations[\"{key}\"]")),
                );
            }
        }
    }
    findings
}

/// Names in `{"default": "a"}` or `{"ports": {"80": "b"}}`; nothing for other text.
fn backend_config_names(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    if let Some(name) = value.get("default").and_then(Value::as_str) {
        names.push(name.to_string());
    }
    if let Some(ports) = value.get("ports").and_then(Value::as_object) {
        names.extend(ports.values().filter_map(Value::as_str).map(String::from));
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "generated-cookie-without-neg";

    fn backend_config(ttl: i64) -> Value {
        json!({"apiVersion": "cloud.google.com/v1", "kind": "BackendConfig",
               "metadata": {"name": "bc", "namespace": "default"},
               "spec": {"sessionAffinity": {"affinityType": "GENERATED_COOKIE", "affinityCookieTtlSec": ttl}}})
    }

    fn service(neg: bool) -> Value {
        let mut annotations =
            json!({"cloud.google.com/backend-config": "{\"ports\": {\"80\": \"bc\"}}"});
        if neg {
            annotations["cloud.google.com/neg"] = json!("{\"ingress\": true}");
        }
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "s", "namespace": "default", "annotations": annotations},
               "spec": {"ports": [{"port": 80}]}})
    }

    #[test]
    fn fires_without_neg() {
        let findings = of(
            ID,
            run_among(service(false), &[backend_config(50)], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "add cloud.google.com/neg: '{\"ingress\": true}': GENERATED_COOKIE needs NEGs to pin pods"
        );
    }

    #[test]
    fn fires_on_a_ttl_out_of_range() {
        let findings = of(
            ID,
            run_among(service(true), &[backend_config(90_000)], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "set affinityCookieTtlSec of BackendConfig `bc` within 0..86400 (it is 90000)"
        );
    }

    #[test]
    fn does_not_fire() {
        assert!(
            of(
                ID,
                run_among(service(true), &[backend_config(50)], Phase::Validating)
            )
            .is_empty()
        );
        // BackendConfig not known: nothing to say.
        assert!(of(ID, run_among(service(false), &[], Phase::Validating)).is_empty());
        let mut client_ip = backend_config(50);
        client_ip["spec"]["sessionAffinity"]["affinityType"] = json!("CLIENT_IP");
        assert!(
            of(
                ID,
                run_among(service(false), &[client_ip], Phase::Validating)
            )
            .is_empty()
        );
    }
}

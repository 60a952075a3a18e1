//! `generated-cookie-without-neg`: GKE cookie affinity that cannot pin a pod.

use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::gke::{
    self, BACKEND_CONFIG_ANNOTATIONS, NEG_ANNOTATION, backend_config_names,
};
use crate::objects::kinds::Kind;
use crate::objects::{annotations, namespace_of};
use crate::policy::Action;
use crate::view::Lookup;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "generated-cookie-without-neg",
    title: "GKE GENERATED_COOKIE affinity without container-native load balancing",
    knows: "GKE Ingress (NEGs by default on 1.17+ VPC-native clusters)",
    controllers: Controllers::IngressNginx,
    reads: Reads {
        kinds: &[Kind::BackendConfig],
        needs_view: true,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "On GKE, cookie affinity for an Ingress is set by the Service's BackendConfig \
(`sessionAffinity.affinityType: GENERATED_COOKIE`). Without network endpoint groups \
(`cloud.google.com/neg: '{\"ingress\": true}'` on the Service) the load balancer's backends are \
nodes, not pods, so the generated cookie pins a node and kube-proxy still spreads requests over \
the pods. A ClusterIP Service is not flagged: a GKE Ingress reaches one only through NEGs, \
which GKE 1.17+ creates by default on VPC-native clusters. `affinityCookieTtlSec` must be \
between 0 and 86400 seconds.",
    fix: "Add the annotation cloud.google.com/neg: '{\"ingress\": true}' to the Service (needs a \
VPC-native cluster), and keep affinityCookieTtlSec within 0..86400.",
    source: "GKE docs: Ingress features (BackendConfig sessionAffinity), container-native load \
balancing (https://cloud.google.com/kubernetes-engine/docs/how-to/container-native-load-balancing: \
\"for GKE clusters running version 1.17 or later and under certain conditions, container-native \
load balancing is default\"); BackendConfig CRD cloud.google.com/v1",
    match_condition: |_| {
        "has(object.metadata.annotations) && ('cloud.google.com/backend-config' in \
object.metadata.annotations || 'beta.cloud.google.com/backend-config' in \
object.metadata.annotations)"
            .into()
    },
    examples: Examples {
        fires: r#"apiVersion: v1
kind: Service
metadata:
  name: s
  namespace: app
  annotations:
    cloud.google.com/backend-config: '{"default": "bc"}'
spec:
  type: NodePort
  selector:
    app: s
  ports:
  - port: 80
---
apiVersion: cloud.google.com/v1
kind: BackendConfig
metadata:
  name: bc
  namespace: app
spec:
  sessionAffinity:
    affinityType: GENERATED_COOKIE
"#,
        passes: r#"apiVersion: v1
kind: Service
metadata:
  name: s
  namespace: app
  annotations:
    cloud.google.com/backend-config: '{"default": "bc"}'
    cloud.google.com/neg: '{"ingress": true}'
spec:
  selector:
    app: s
  ports:
  - port: 80
---
apiVersion: cloud.google.com/v1
kind: BackendConfig
metadata:
  name: bc
  namespace: app
spec:
  sessionAffinity:
    affinityType: GENERATED_COOKIE
"#,
        policy: "",
    },
    check: Check::Service(check),
};

fn check(service: &Service, context: &Context<'_>) -> Vec<Finding> {
    let annotations = annotations(&service.metadata);
    let namespace = namespace_of(&service.metadata);
    let nodes = gke::backends(service) == gke::Backends::Nodes;
    let mut findings = Vec::new();
    for key in BACKEND_CONFIG_ANNOTATIONS {
        let Some(text) = annotations.get(key) else {
            continue;
        };
        for name in backend_config_names(text) {
            let Lookup::Found(object) = context.view.get(Kind::BackendConfig, namespace, &name)
            else {
                continue;
            };
            let Some(config) = object.as_backend_config() else {
                continue;
            };
            let affinity = config.spec.get("sessionAffinity");
            let generated = affinity
                .and_then(|a| a.get("affinityType"))
                .and_then(Value::as_str)
                == Some("GENERATED_COOKIE");
            if generated && nodes {
                findings.push(
                    Finding::warn(
                        &RULE,
                        format!(
                            "add {NEG_ANNOTATION}: '{{\"ingress\": true}}': GENERATED_COOKIE needs NEGs to pin pods"
                        ),
                    )
                    .at_annotation(NEG_ANNOTATION),
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
                    .at_annotation(key),
                );
            }
        }
    }
    findings
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
               "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
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
    fn does_not_fire_on_a_cluster_ip_service() {
        // A GKE Ingress reaches a ClusterIP Service only through NEGs (default on GKE 1.17+).
        for service_type in [json!("ClusterIP"), Value::Null] {
            let mut cluster_ip = service(false);
            cluster_ip["spec"]["type"] = service_type;
            assert!(
                of(
                    ID,
                    run_among(cluster_ip, &[backend_config(50)], Phase::Validating)
                )
                .is_empty()
            );
        }
        // An explicit opt-out of NEGs is instance groups again.
        let mut opted_out = service(false);
        opted_out["spec"]["type"] = json!("ClusterIP");
        opted_out["metadata"]["annotations"]["cloud.google.com/neg"] =
            json!("{\"ingress\": false}");
        assert_eq!(
            of(
                ID,
                run_among(opted_out, &[backend_config(50)], Phase::Validating)
            )
            .len(),
            1
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

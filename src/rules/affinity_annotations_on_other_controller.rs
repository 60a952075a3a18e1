//! `affinity-annotations-on-other-controller`: ingress-nginx affinity annotations on an Ingress
//! another controller serves: one of another class, or one written for NGINX Inc's controller.

use super::condition;
use super::{Check, Context, Examples, Finding, Reads, Rule};
use crate::controllers::gke;
use crate::controllers::nginx::Annotations;
use crate::objects::{IngressObject, annotations};
use crate::policy::Action;

/// The prefix ingress-nginx used before 0.9 and 2017-era guides still show
/// (`ingress.kubernetes.io/affinity`). Counted only on GKE classes: other controllers
/// (haproxy-ingress) read affinity annotations under this prefix themselves.
const LEGACY_PREFIX: &str = "ingress.kubernetes.io";

/// NGINX Inc's session persistence annotation (NGINX Plus only): nginxinc/kubernetes-ingress
/// `examples/session-persistence`.
const NGINX_PLUS_STICKY: &str = "nginx.com/sticky-cookie-services";

/// The annotation prefixes of NGINX Inc's controller (nginxinc/kubernetes-ingress), whose
/// default class is also `nginx`: an Ingress carrying them is written for that controller.
const NGINX_INC_PREFIXES: [&str; 2] = ["nginx.org/", "nginx.com/"];

/// The longest class name that keeps the message within kubectl's 120 characters.
const MAX_CLASS_IN_MESSAGE: usize = 14;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "affinity-annotations-on-other-controller",
    title: "Session affinity annotations for a controller that does not serve the Ingress",
    knows: "ingress-nginx v1.15.1 annotations on other classes; NGINX Inc Ingress (nginx.org, nginx.com); GKE",
    any_class: true,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "This rule also looks at Ingresses outside the judged ingress classes. ingress-nginx \
ignores an Ingress of another class altogether, so its affinity annotations (`<prefix>/affinity`, \
`<prefix>/session-cookie-*`) do nothing there: the controller of that class (GKE's `gce`, \
Traefik, …) has its own way to stick sessions, and requests are spread over the pods. On the \
GKE classes (`gce`, `gce-internal`), which read no affinity annotation at all, the old \
`ingress.kubernetes.io/` prefix counts too. An Ingress of a judged class (or none) that also \
carries NGINX Inc's `nginx.org/` or `nginx.com/` annotations is written for NGINX Inc's \
controller (whose default class is also `nginx`), which ignores ingress-nginx's affinity \
annotations: its sticky sessions are `nginx.com/sticky-cookie-services` (NGINX Plus). A controller that reads ingress-nginx's annotations under another \
class (a compatibility provider) should have that class added to the judged classes.",
    fix: "Use the serving controller's own session affinity: on GKE a BackendConfig with \
`sessionAffinity.affinityType: GENERATED_COOKIE` on the Service (and NEGs). Or give the Ingress \
the ingress-nginx class if that is the controller meant to serve it. On an Ingress ingress-nginx \
serves for NGINX Inc's controller, use nginx.com/sticky-cookie-services; if ingress-nginx \
serves it, remove the nginx.org/nginx.com annotations.",
    source: "ingress-nginx internal/ingress/controller/store/store.go L404-407 and L1066-1090 \
(Ingresses of other classes are ignored); pkg/flags/flags.go L159 (--annotations-prefix); GKE \
\"Configuring Ingress features through BackendConfig\" (sessionAffinity); nginxinc/kubernetes-ingress \
examples/session-persistence (nginx.com/sticky-cookie-services, NGINX Plus)",
    match_condition: |_| {
        // Any class: an affinity-family name under any prefix (this prefix, the legacy one on
        // GKE classes) is a superset of what the rule reads.
        crate::cel::some_annotation(condition::AFFINITY_FAMILY_KEY)
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
spec:
  ingressClassName: gce
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
        passes: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
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
    },
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let policy = context.policy;
    if policy.judges_ingress_class(ingress) {
        return for_nginx_inc(ingress, &policy.annotation_prefix);
    }
    // Not judged, so the Ingress names a class.
    let class = ingress.ingress_class().unwrap_or_default();
    let on_gke = gke::INGRESS_CLASSES.contains(&class);
    let mut keys: Vec<&str> = Annotations::new(ingress, &policy.annotation_prefix)
        .affinity_family()
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    if on_gke && policy.annotation_prefix != LEGACY_PREFIX {
        keys.extend(
            Annotations::new(ingress, LEGACY_PREFIX)
                .affinity_family()
                .into_iter()
                .map(|(_, key)| key),
        );
    }
    keys.sort_unstable();
    let Some(first) = keys.first() else {
        return Vec::new();
    };
    let message = if on_gke {
        "GKE Ingress ignores affinity annotations: use BackendConfig GENERATED_COOKIE".to_string()
    } else if class.chars().count() <= MAX_CLASS_IN_MESSAGE {
        format!("class {class} ignores affinity annotations: use its own sticky sessions")
    } else {
        "its ingress class ignores affinity annotations: use its own sticky sessions".to_string()
    };
    vec![Finding::warn(&RULE, message).at_annotation(first)]
}

/// ingress-nginx affinity annotations on an Ingress written for NGINX Inc's controller (it
/// carries `nginx.org/` or `nginx.com/` annotations).
fn for_nginx_inc(ingress: &IngressObject, prefix: &str) -> Vec<Finding> {
    let nginx_inc = annotations(&ingress.meta)
        .keys()
        .any(|k| NGINX_INC_PREFIXES.iter().any(|p| k.starts_with(p)));
    if !nginx_inc {
        return Vec::new();
    }
    let mut keys: Vec<&str> = Annotations::new(ingress, prefix)
        .affinity_family()
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    keys.sort_unstable();
    let Some(first) = keys.first() else {
        return Vec::new();
    };
    vec![
        Finding::warn(
            &RULE,
            format!("NGINX Inc's controller ignores these; use {NGINX_PLUS_STICKY}"),
        )
        .at_annotation(first),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use crate::policy::Policy;
    use serde_json::{Value, json};

    const ID: &str = "affinity-annotations-on-other-controller";

    fn with_class(class: &str, annotations: Value) -> Value {
        let mut value = ingress(annotations, &["/"]);
        value["spec"]["ingressClassName"] = json!(class);
        value
    }

    fn one(value: Value) -> (String, Option<String>) {
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].level, Level::Warn);
        assert!(findings[0].fix.is_none());
        (findings[0].message.clone(), findings[0].field.clone())
    }

    /// store.go L404-407, L1066-1090: ingress-nginx ignores an Ingress of another class.
    #[test]
    fn fires_on_a_gce_ingress_with_nginx_affinity() {
        let (message, field) = one(with_class(
            "gce",
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-name": "route"}),
        ));
        assert_eq!(
            message,
            "GKE Ingress ignores affinity annotations: use BackendConfig GENERATED_COOKIE"
        );
        assert_eq!(
            field.as_deref(),
            Some("metadata.annotations[\"nginx.ingress.kubernetes.io/affinity\"]")
        );
    }

    /// The shape of real-world 058 (kubernetes/contrib#2631): `kubernetes.io/ingress.class:
    /// gce` with the old `ingress.kubernetes.io/` affinity annotations.
    #[test]
    fn fires_on_a_gce_ingress_with_the_old_prefix() {
        let value = json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "lb", "namespace": "app", "annotations": {
                "kubernetes.io/ingress.class": "gce",
                "ingress.kubernetes.io/affinity": "cookie",
                "ingress.kubernetes.io/session-cookie-name": "route",
                "ingress.kubernetes.io/session-cookie-hash": "sha1"}},
            "spec": {"rules": [{"http": {"paths": [{"path": "/",
                "backend": {"serviceName": "red", "servicePort": 80}}]}}]}});
        let (message, field) = one(value);
        assert_eq!(
            message,
            "GKE Ingress ignores affinity annotations: use BackendConfig GENERATED_COOKIE"
        );
        assert_eq!(
            field.as_deref(),
            Some("metadata.annotations[\"ingress.kubernetes.io/affinity\"]")
        );
    }

    #[test]
    fn names_another_class_when_it_fits() {
        let (message, _) = one(with_class(
            "nginx-example",
            json!({"nginx.ingress.kubernetes.io/affinity-mode": "persistent"}),
        ));
        assert_eq!(
            message,
            "class nginx-example ignores affinity annotations: use its own sticky sessions"
        );
        let (message, _) = one(with_class(
            "azure-application-gateway",
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
        ));
        assert_eq!(
            message,
            "its ingress class ignores affinity annotations: use its own sticky sessions"
        );
    }

    /// An Ingress written for NGINX Inc's controller (nginxinc/kubernetes-ingress, default class
    /// also `nginx`; examples/session-persistence) with ingress-nginx affinity annotations.
    #[test]
    fn fires_on_nginx_affinity_next_to_nginx_inc_annotations() {
        let both = json!({"nginx.org/lb-method": "round_robin",
                          "nginx.ingress.kubernetes.io/affinity": "cookie"});
        for value in [ingress(both.clone(), &["/"]), {
            let mut v = ingress(both.clone(), &["/"]);
            v["spec"]
                .as_object_mut()
                .unwrap()
                .remove("ingressClassName");
            v
        }] {
            let (message, field) = one(value);
            assert_eq!(
                message,
                "NGINX Inc's controller ignores these; use nginx.com/sticky-cookie-services"
            );
            assert_eq!(
                field.as_deref(),
                Some("metadata.annotations[\"nginx.ingress.kubernetes.io/affinity\"]")
            );
        }
    }

    #[test]
    fn does_not_fire() {
        for value in [
            // A judged nginx Ingress: its affinity annotations are read.
            ingress(
                json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
                &["/"],
            ),
            // Another class without ingress-nginx affinity annotations.
            with_class(
                "gce",
                json!({"kubernetes.io/ingress.global-static-ip-name": "ip"}),
            ),
            // haproxy-ingress reads `ingress.kubernetes.io/affinity` itself: the old prefix
            // counts only on the GKE classes.
            with_class(
                "haproxy",
                json!({"ingress.kubernetes.io/affinity": "cookie"}),
            ),
            // Other ingress-nginx annotations are not this rule's.
            with_class(
                "traefik",
                json!({"nginx.ingress.kubernetes.io/ssl-redirect": "false"}),
            ),
            // An empty value is unset.
            with_class("gce", json!({"nginx.ingress.kubernetes.io/affinity": ""})),
            // NGINX Plus's annotation on another class is that controller's business.
            with_class(
                "nginx-plus",
                json!({"nginx.com/sticky-cookie-services": "serviceName=web srv_id"}),
            ),
            // NGINX Inc's own sticky annotation alone (real-world 016): no ingress-nginx
            // affinity annotation to warn about.
            ingress(
                json!({"nginx.com/sticky-cookie-services": "serviceName=web srv_id"}),
                &["/"],
            ),
        ] {
            assert!(
                of(ID, run(value.clone(), Phase::Validating)).is_empty(),
                "{value}"
            );
        }
    }

    #[test]
    fn follows_the_policy() {
        let gce = with_class(
            "gce",
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
        );
        // gce judged: the annotations are read, nothing to say.
        let judged = Policy {
            ingress_classes: vec!["nginx".into(), "gce".into()],
            ..Policy::default()
        };
        assert!(of(ID, run_with(gce.clone(), Phase::Validating, &judged)).is_empty());
        // Excluded namespaces stay excluded.
        let excluded = Policy {
            excluded_namespaces: vec!["app".into()],
            ..Policy::default()
        };
        assert!(of(ID, run_with(gce, Phase::Validating, &excluded)).is_empty());
    }
}

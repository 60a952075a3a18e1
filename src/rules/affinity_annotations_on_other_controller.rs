//! `affinity-annotations-on-other-controller`: ingress-nginx affinity annotations on an Ingress
//! another controller serves: by its IngressClass or the policy's `servedBy` (F5 NGINX, Traefik,
//! another), by its class name (GKE, another), or, without an IngressClass, one written for F5's
//! controller.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::Annotations;
use crate::controllers::{IngressController as C, f5_nginx, traefik};
use crate::objects::IngressObject;
use crate::objects::kinds::Kind;
use crate::policy::{Action, ServedBy};

/// The prefix ingress-nginx used before 0.9 and 2017-era guides still show
/// (`ingress.kubernetes.io/affinity`). Counted only on GKE classes: other controllers
/// (haproxy-ingress) read affinity annotations under this prefix themselves.
const LEGACY_PREFIX: &str = "ingress.kubernetes.io";

/// The longest class name that keeps the message within kubectl's 120 characters.
const MAX_CLASS_IN_MESSAGE: usize = 14;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "affinity-annotations-on-other-controller",
    title: "Session affinity annotations for a controller that does not serve the Ingress",
    knows: "ingress-nginx v1.15.1 annotations on other classes; F5 NGINX Ingress Controller v5.5.4; \
Traefik v3.6.24, v3.7.9 (Ingress provider); GKE",
    controllers: Controllers::Any,
    reads: Reads {
        kinds: &[Kind::IngressClass],
        needs_view: false,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "This rule looks at every Ingress, judged class or not, and asks which controller \
serves it: the policy's `servedBy`, else its IngressClass's `spec.controller` (the cluster's \
default IngressClass for an Ingress without a class), else the class name. Only ingress-nginx \
and Traefik's NGINX provider read ingress-nginx's affinity annotations (`<prefix>/affinity`, \
`<prefix>/session-cookie-*`). On an Ingress served by the F5 NGINX Ingress Controller \
(`nginx.org/ingress-controller`, whose default class is also `nginx`), by Traefik's own Ingress \
provider (`traefik.io/ingress-controller`), by GKE (`gce`, `gce-internal`, where the old \
`ingress.kubernetes.io/` prefix counts too) or by another controller, they do nothing and \
requests are spread over the pods. Without an IngressClass to say so, an Ingress of a judged \
class that carries `nginx.org/` or `nginx.com/` annotations is taken as written for F5's \
controller.",
    fix: "Use the serving controller's own session affinity: F5 NGINX, \
`nginx.org/sticky-cookie-services: \"serviceName=<svc> <cookie> [expires=1h] [path=/]\"` (NGINX \
OSS and Plus since v5.4.0) or a VirtualServer's `sessionCookie`; Traefik, \
`traefik.ingress.kubernetes.io/service.sticky.cookie: \"true\"` on the Service; GKE, a \
BackendConfig with `sessionAffinity.affinityType: GENERATED_COOKIE` on the Service (and NEGs). \
Or give the Ingress the class of the ingress-nginx controller meant to serve it; if Traefik's \
NGINX provider serves the class, say so with the policy's `servedBy`.",
    source: "ingress-nginx internal/ingress/controller/store/store.go L404-407 and L1066-1090 \
(Ingresses of other classes are ignored); pkg/flags/flags.go L159 (--annotations-prefix); \
nginx/kubernetes-ingress v5.5.4 internal/k8s/controller.go L79, internal/configs/annotations.go \
L15-102 and L90, examples/ingress-resources/session-persistence/README.md L3-9 and L33; traefik \
v3.6.24 pkg/provider/kubernetes/ingress/kubernetes.go L38-39 and L594 (sticky from the Service's \
annotations); GKE \"Configuring Ingress features through BackendConfig\" (sessionAffinity)",
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
        policy: "",
    },
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let policy = context.policy;
    let prefix = policy.annotation_prefix.as_str();
    let mut keys: Vec<&str> = Annotations::new(ingress, prefix)
        .affinity_family()
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    let legacy: Vec<&str> = if prefix == LEGACY_PREFIX {
        Vec::new()
    } else {
        Annotations::new(ingress, LEGACY_PREFIX)
            .affinity_family()
            .into_iter()
            .map(|(_, key)| key)
            .collect()
    };
    // Most Ingresses carry no affinity annotation: nothing to say, and no need to ask the view
    // who serves them (the engine already did, for its own gate).
    if keys.is_empty() && legacy.is_empty() {
        return Vec::new();
    }
    let serving = policy.serving(ingress, context.view);
    let message = match serving.controller {
        // Written for F5's controller, though nothing says F5 serves it.
        C::IngressNginx if serving.judged && serving.by == ServedBy::ClassName => {
            if !f5_nginx::annotated(ingress) {
                return Vec::new();
            }
            format!(
                "for F5 NGINX, which ignores these: use {}",
                f5_nginx::STICKY_COOKIE_SERVICES
            )
        }
        C::IngressNginx | C::TraefikIngressNginx => return Vec::new(),
        C::F5Nginx => format!(
            "F5 NGINX Ingress ignores these; use {}",
            f5_nginx::STICKY_COOKIE_SERVICES
        ),
        C::Traefik => format!("Traefik ignores these: use {}", traefik::STICKY_COOKIE),
        C::Gke => "GKE Ingress ignores affinity annotations: use BackendConfig GENERATED_COOKIE"
            .to_string(),
        C::Other => match serving.class.as_deref() {
            Some(class) if class.chars().count() <= MAX_CLASS_IN_MESSAGE => {
                format!("class {class} ignores affinity annotations: use its own sticky sessions")
            }
            _ => "its ingress class ignores affinity annotations: use its own sticky sessions"
                .to_string(),
        },
    };
    // The old prefix counts only on GKE, which reads no affinity annotation at all.
    if serving.controller == C::Gke {
        keys.extend(legacy);
    }
    keys.sort_unstable();
    let Some(first) = keys.first() else {
        return Vec::new();
    };
    vec![Finding::warn(&RULE, message).at_annotation(first)]
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

    /// An Ingress written for F5's controller (nginx/kubernetes-ingress, default class also
    /// `nginx`; examples/ingress-resources/session-persistence) with ingress-nginx affinity
    /// annotations, and no IngressClass to say who serves it.
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
                "for F5 NGINX, which ignores these: use nginx.org/sticky-cookie-services"
            );
            assert_eq!(
                field.as_deref(),
                Some("metadata.annotations[\"nginx.ingress.kubernetes.io/affinity\"]")
            );
        }
    }

    /// IngressClasses as each controller's docs install them.
    fn ingress_class(name: &str, controller: &str, default: bool) -> Value {
        let mut value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name}, "spec": {"controller": controller}});
        if default {
            value["metadata"]["annotations"] =
                json!({"ingressclass.kubernetes.io/is-default-class": "true"});
        }
        value
    }

    /// F5 NGINX Ingress Controller's IngressClass, as its manifests install it
    /// (nginx/kubernetes-ingress v5.5.4 `deployments/common/ingress-class.yaml`; the Helm
    /// chart's `templates/controller-ingress-class.yaml`, name `controller.ingressClass.name`,
    /// default `nginx`, `values.yaml` L418).
    fn f5_class() -> Value {
        ingress_class("nginx", "nginx.org/ingress-controller", false)
    }

    fn one_among(subject: Value, others: &[Value], policy: &Policy) -> Vec<crate::rules::Finding> {
        run_among_with(subject, others, Phase::Validating, policy)
    }

    /// Class `nginx` served by F5's controller: the affinity annotation is named, and no
    /// ingress-nginx rule runs (the regex path without session-cookie-path would be a deny
    /// under ingress-nginx).
    #[test]
    fn fires_on_an_f5_class_and_no_ingress_nginx_rule_runs() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/app(/|$)(.*)"],
        );
        let findings = one_among(value.clone(), &[f5_class()], &Policy::default());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, ID);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "F5 NGINX Ingress ignores these; use nginx.org/sticky-cookie-services"
        );
        // The same Ingress under ingress-nginx's IngressClass: ingress-nginx's rules run.
        let nginx = ingress_class("nginx", "k8s.io/ingress-nginx", false);
        let findings = one_among(value, &[nginx], &Policy::default());
        assert!(
            findings.iter().any(|f| f.rule == "cookie-path-for-regex"),
            "{findings:?}"
        );
        assert!(!findings.iter().any(|f| f.rule == ID), "{findings:?}");
    }

    /// Traefik's own Ingress provider reads sticky settings from the Service
    /// (`pkg/provider/kubernetes/ingress/kubernetes.go` L594 at v3.6.24).
    #[test]
    fn fires_on_a_traefik_class_of_any_name() {
        let mut value = with_class(
            "edge",
            json!({"nginx.ingress.kubernetes.io/session-cookie-name": "route"}),
        );
        value["metadata"]["name"] = json!("site");
        let class = ingress_class("edge", "traefik.io/ingress-controller", false);
        let findings = one_among(value, &[class], &Policy::default());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].message,
            "Traefik ignores these: use traefik.ingress.kubernetes.io/service.sticky.cookie"
        );
        assert_eq!(
            findings[0].field.as_deref(),
            Some("metadata.annotations[\"nginx.ingress.kubernetes.io/session-cookie-name\"]")
        );
    }

    /// An Ingress without a class gets the default IngressClass's controller.
    #[test]
    fn the_default_class_applies_to_an_ingress_without_one() {
        let mut value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/"],
        );
        value["spec"]
            .as_object_mut()
            .unwrap()
            .remove("ingressClassName");
        let f5 = ingress_class("nginx-plus", "nginx.org/ingress-controller", true);
        let nginx = ingress_class("nginx", "k8s.io/ingress-nginx", false);
        let findings = one_among(
            value.clone(),
            &[f5.clone(), nginx.clone()],
            &Policy::default(),
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].message,
            "F5 NGINX Ingress ignores these; use nginx.org/sticky-cookie-services"
        );
        // Default ingress-nginx: read, nothing to say.
        let nginx_default = ingress_class("nginx", "k8s.io/ingress-nginx", true);
        let f5_plain = ingress_class("nginx-plus", "nginx.org/ingress-controller", false);
        assert!(
            of(
                ID,
                one_among(
                    value.clone(),
                    &[f5_plain, nginx_default.clone()],
                    &Policy::default()
                )
            )
            .is_empty()
        );
        // Two defaults: none is taken, and the Ingress is judged as ingress-nginx's.
        assert!(
            of(
                ID,
                one_among(value, &[f5, nginx_default], &Policy::default())
            )
            .is_empty()
        );
    }

    /// `servedBy` beats the IngressClass; a class of ingress-nginx that the policy does not
    /// judge is still ingress-nginx's (its annotations are read).
    #[test]
    fn the_policy_says_who_serves_a_class() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/"],
        );
        let policy = Policy {
            served_by: [(
                "nginx".to_string(),
                crate::controllers::IngressController::F5Nginx,
            )]
            .into_iter()
            .collect(),
            ..Policy::default()
        };
        let nginx = ingress_class("nginx", "k8s.io/ingress-nginx", false);
        assert_eq!(
            of(
                ID,
                one_among(value.clone(), std::slice::from_ref(&nginx), &policy)
            )
            .len(),
            1
        );
        let traefik_nginx = Policy {
            served_by: [(
                "nginx".to_string(),
                crate::controllers::IngressController::TraefikIngressNginx,
            )]
            .into_iter()
            .collect(),
            ..Policy::default()
        };
        assert!(of(ID, one_among(value, &[nginx], &traefik_nginx)).is_empty());
        let internal = with_class(
            "internal",
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
        );
        let class = ingress_class("internal", "k8s.io/ingress-nginx", false);
        assert!(
            of(
                ID,
                one_among(internal.clone(), &[class], &Policy::default())
            )
            .is_empty()
        );
        // Without its IngressClass, `internal` is another controller's.
        assert_eq!(
            of(ID, one_among(internal, &[], &Policy::default())).len(),
            1
        );
    }

    /// Every form of the message reaches kubectl whole: `<rule>: <message>` within 120
    /// characters (kubectl cuts warnings longer than that).
    #[test]
    fn every_message_fits_a_kubectl_warning() {
        let affinity = json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                              "nginx.org/lb-method": "round_robin"});
        let cases = [
            (with_class("nginx", affinity.clone()), vec![f5_class()]),
            (
                with_class("edge", affinity.clone()),
                vec![ingress_class(
                    "edge",
                    "traefik.io/ingress-controller",
                    false,
                )],
            ),
            (with_class("gce", affinity.clone()), vec![]),
            (with_class("abcdefghijklmn", affinity.clone()), vec![]),
            (with_class("abcdefghijklmno", affinity.clone()), vec![]),
            (ingress(affinity, &["/"]), vec![]),
        ];
        for (value, others) in cases {
            let found = of(ID, one_among(value.clone(), &others, &Policy::default()));
            assert_eq!(found.len(), 1, "{value}");
            let warning = format!("{ID}: {}", found[0].message);
            assert!(warning.chars().count() <= 120, "{warning}");
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

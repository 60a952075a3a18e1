//! `affinity-settings-without-affinity`: cookie settings without `affinity: cookie` do nothing.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::{Annotations, annotation, annotations as nginx_annotations};
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "affinity-settings-without-affinity",
    title: "Session cookie settings without cookie affinity",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92); Traefik NGINX provider v3.6.24, v3.7.9",
    controllers: Controllers::NginxAnnotations,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx reads the session-cookie-* settings only when <prefix>/affinity is \
`cookie`, and affinity-mode only matters with it (the balancer picks the sticky algorithm by \
affinity first). Without it (missing, or another value) the settings are silently ignored and \
no request is sticky, which is the opposite of what their presence says was meant. \
affinity-canary-behavior is left alone: it is read with or without affinity.",
    fix: "Add <prefix>/affinity: \"cookie\", or remove the session-cookie-* and affinity-mode \
annotations.",
    source: "ingress-nginx internal/ingress/annotations/sessionaffinity/main.go L281-283 \
(settings are parsed only for affinity type cookie), L271-276; rootfs/etc/nginx/lua/balancer.lua \
L45-73 (get_implementation); docs/user-guide/nginx-configuration/annotations.md \
#session-affinity; Traefik NGINX provider, the same: the cookie settings are read only under `affinity` (traefik v3.6.24 pkg/provider/kubernetes/ingress-nginx/kubernetes.go L541-550; v3.7.9 translator.go L372-390)",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::judged(policy),
            condition::nginx_annotation_starting(policy, &["affinity-", "session-cookie-"])
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/session-cookie-name: r
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
        passes: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/session-cookie-name: r
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
    let nginx = Annotations::new(ingress, &context.policy.annotation_prefix);
    // A canary's affinity annotations are canary-affinity's (it follows its primary).
    if nginx.cookie_affinity() || nginx.flag(annotation::CANARY) {
        return Vec::new();
    }
    // Known settings only (unknown names are ignored-annotation's); affinity-canary-behavior is
    // read with or without affinity (sessionaffinity/main.go L276, controller.go L1597).
    let settings: Vec<&str> = nginx
        .affinity_family()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            *name != annotation::AFFINITY
                && *name != "affinity-canary-behavior"
                && nginx_annotations::find(name).is_some()
        })
        .collect();
    if settings.is_empty() {
        return Vec::new();
    }
    let not = match nginx.get(annotation::AFFINITY) {
        Some(value) => format!(" (not `{value}`)"),
        None => String::new(),
    };
    let what = match settings.as_slice() {
        [one] => one.to_string(),
        many => format!("{} cookie settings", many.len()),
    };
    vec![
        Finding::warn(
            &RULE,
            format!("set affinity: \"cookie\"{not} or drop {what}: without it nothing is sticky"),
        )
        .at_annotation(&nginx.key(annotation::AFFINITY)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "affinity-settings-without-affinity";

    /// sessionaffinity/main.go L281-283: the cookie settings are parsed only when the affinity is
    /// `cookie`; otherwise they are never read.
    #[test]
    fn fires_when_affinity_is_missing() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/session-cookie-name": "route",
                   "nginx.ingress.kubernetes.io/affinity-mode": "persistent"}),
            &["/"],
        );
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "set affinity: \"cookie\" or drop 2 cookie settings: without it nothing is sticky"
        );
    }

    #[test]
    fn fires_when_affinity_has_another_value() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "Cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-name": "route"}),
            &["/"],
        );
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "set affinity: \"cookie\" (not `Cookie`) or drop session-cookie-name: without it nothing is sticky"
        );
    }

    /// sessionaffinity/main.go L276 and controller.go L1597: affinity-canary-behavior is read
    /// without affinity; a canary's own affinity is canary-affinity's; unknown names are
    /// ignored-annotation's.
    #[test]
    fn leaves_canary_behaviour_canaries_and_unknown_names_alone() {
        for annotations in [
            json!({"nginx.ingress.kubernetes.io/affinity-canary-behavior": "legacy"}),
            json!({"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/session-cookie-name": "r"}),
            json!({"nginx.ingress.kubernetes.io/session-cookie-age": "60"}),
            json!({"nginx.ingress.kubernetes.io/session-cookie-name": ""}),
        ] {
            let value = ingress(annotations.clone(), &["/"]);
            assert!(
                of(ID, run(value, Phase::Validating)).is_empty(),
                "{annotations}"
            );
        }
    }

    #[test]
    fn does_not_fire() {
        let sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-name": "route"}),
            &["/"],
        );
        assert!(of(ID, run(sticky, Phase::Validating)).is_empty());
        let plain = ingress(
            json!({"nginx.ingress.kubernetes.io/ssl-redirect": "true"}),
            &["/"],
        );
        assert!(of(ID, run(plain, Phase::Validating)).is_empty());
        // Settings under another prefix are ignored-annotation's business.
        let other = ingress(
            json!({"ingress.kubernetes.io/session-cookie-name": "r"}),
            &["/"],
        );
        assert!(of(ID, run(other, Phase::Validating)).is_empty());
    }

    #[test]
    fn not_in_the_mutating_webhook() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/session-cookie-name": "r"}),
            &["/"],
        );
        assert!(of(ID, run(value, Phase::Mutating)).is_empty());
    }
}

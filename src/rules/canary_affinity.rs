//! `canary-affinity`: affinity annotations on a canary Ingress, which the controller ignores.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::{Annotations, annotation};
use crate::objects::IngressObject;
use crate::policy::Action;

/// `affinity-canary-behavior` (sessionaffinity/main.go L32): the one affinity annotation a
/// canary's own value counts for (controller.go L1597).
const CANARY_BEHAVIOR: &str = "affinity-canary-behavior";

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "canary-affinity",
    title: "Affinity annotations on a canary Ingress (the primary's apply)",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "A canary Ingress (`<prefix>/canary: \"true\"`) gets no session affinity of its own: its \
upstreams are marked NoServer, the controller skips them where it copies an Ingress's affinity \
and cookie settings into the upstream, and when it merges the canary into the primary backend \
it copies the primary's affinity settings over the canary's (unless \
`affinity-canary-behavior: legacy`, which leaves the canary with none). So `affinity` and \
`session-cookie-*` on a canary do nothing; only `affinity-canary-behavior` is read there. The \
annotations doc says non-canary annotations are ignored on a canary \"except … annotations \
related to session affinity\"; the controller code only honours affinity-canary-behavior, and \
this rule follows the code.",
    fix: "Set the affinity annotations on the primary (non-canary) Ingress for the same host and \
path; on the canary keep at most <prefix>/affinity-canary-behavior.",
    source: "ingress-nginx internal/ingress/controller/controller.go L1125-1128 (canary upstreams \
are NoServer), L806-809 (getBackendServers skips them before the affinity block), L1583-1604 \
(mergeAlternativeBackend copies the primary's SessionAffinity unless legacy, L1597-1598); \
docs/user-guide/nginx-configuration/annotations.md L155 (says otherwise)",
    match_condition: |policy| {
        format!(
            "{} && {} && {}",
            condition::judged(policy),
            condition::nginx_annotation(policy, annotation::CANARY),
            condition::nginx_annotation_starting(policy, &["affinity", "session-cookie-"])
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/canary: 'true'
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
    nginx.ingress.kubernetes.io/canary: 'true'
    nginx.ingress.kubernetes.io/canary-weight: '10'
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
    let annotations = Annotations::new(ingress, &context.policy.annotation_prefix);
    if !annotations.flag(annotation::CANARY) {
        return Vec::new();
    }
    let ignored: Vec<&str> = annotations
        .affinity_family()
        .into_iter()
        .filter(|(name, _)| *name != CANARY_BEHAVIOR)
        .map(|(_, key)| key)
        .collect();
    let Some(first) = ignored.first() else {
        return Vec::new();
    };
    let count = match ignored.len() {
        1 => "1 affinity annotation is".to_string(),
        n => format!("{n} affinity annotations are"),
    };
    vec![
        Finding::warn(
            &RULE,
            format!("{count} ignored on a canary: set affinity on the primary Ingress"),
        )
        .at_annotation(first),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "canary-affinity";

    /// controller.go L1126-1128: a canary's upstreams are NoServer; L807: getBackendServers
    /// skips them before copying affinity; L1597-1598: the primary's affinity is copied over.
    #[test]
    fn fires_on_a_canary_with_affinity() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/canary-weight": "10",
                   "nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-name": "route",
                   "nginx.ingress.kubernetes.io/affinity-canary-behavior": "sticky"}),
            &["/"],
        );
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "2 affinity annotations are ignored on a canary: set affinity on the primary Ingress"
        );
        assert_eq!(
            findings[0].field.as_deref(),
            Some("metadata.annotations[\"nginx.ingress.kubernetes.io/affinity\"]")
        );
        assert!(findings[0].fix.is_none());

        let one = ingress(
            json!({"nginx.ingress.kubernetes.io/canary": "True",
                   "nginx.ingress.kubernetes.io/session-cookie-max-age": "60"}),
            &["/"],
        );
        assert_eq!(
            of(ID, run(one, Phase::Validating))[0].message,
            "1 affinity annotation is ignored on a canary: set affinity on the primary Ingress"
        );
    }

    #[test]
    fn does_not_fire() {
        for annotations in [
            // The primary Ingress: its affinity is what counts.
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            // controller.go L1597: the canary's own affinity-canary-behavior is read.
            json!({"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/affinity-canary-behavior": "legacy"}),
            // canary/main.go L41-46 (ValidateBool): `yes` is not a canary.
            json!({"nginx.ingress.kubernetes.io/canary": "yes",
                   "nginx.ingress.kubernetes.io/affinity": "cookie"}),
            json!({"nginx.ingress.kubernetes.io/canary": "false",
                   "nginx.ingress.kubernetes.io/affinity": "cookie"}),
            // An empty value is unset (validators.go L241).
            json!({"nginx.ingress.kubernetes.io/canary": "true",
                   "nginx.ingress.kubernetes.io/affinity": ""}),
        ] {
            assert!(
                of(
                    ID,
                    run(ingress(annotations.clone(), &["/"]), Phase::Validating)
                )
                .is_empty(),
                "{annotations}"
            );
        }
    }
}

//! `traefik-nginx-unsupported-affinity-setting`: an ingress-nginx affinity setting that
//! Traefik's Kubernetes Ingress NGINX provider does not carry out, on an Ingress it serves.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::Annotations;
use crate::controllers::traefik::ingress_nginx::{CHECKED, UNSUPPORTED};
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "traefik-nginx-unsupported-affinity-setting",
    title: "Affinity setting Traefik's NGINX provider does not carry out",
    knows: CHECKED,
    controllers: Controllers::TraefikIngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "Traefik's Kubernetes Ingress NGINX provider serves Ingresses written for ingress-nginx \
(it watches the same IngressClass controller, `k8s.io/ingress-nginx`, so the policy's \
`servedBy` says when it serves a class). It turns `<prefix>/affinity` into a Traefik sticky \
cookie with the name, Secure, SameSite, Max-Age, Domain and Path settings, HttpOnly always on, \
but it does not carry out: `affinity-mode: balanced` (only persistent), \
`session-cookie-change-on-failure: \"true\"` (the cookie keeps pointing at a failed server's \
replacement choice as Traefik decides), `session-cookie-conditional-samesite-none: \"true\"`, \
`affinity-canary-behavior: legacy` (only sticky), and, before Traefik v3.7, \
`session-cookie-expires` (a session cookie then, unless session-cookie-max-age is set). After \
a move from ingress-nginx these settings are silently lost.",
    fix: "Drop the setting, or get its effect another way: `session-cookie-max-age` instead of \
`session-cookie-expires` (read by every version); Traefik keeps sessions persistent whatever \
`affinity-mode` says. For what only ingress-nginx does, keep that class on ingress-nginx.",
    source: "traefik v3.6.24 pkg/provider/kubernetes/ingress-nginx/kubernetes.go L541-550 \
(sticky settings read), annotations.go L28-34 (no session-cookie-expires); v3.7.9 translator.go \
L372-390, annotations.go L49 and L56; docs/content/reference/routing-configuration/kubernetes/\
ingress-nginx.md L293 and L418-420 (v3.6.24), L306-307 and L478-479 (v3.7.9)",
    match_condition: |policy| {
        // Any affinity-family name under the prefix (a superset of the settings read).
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
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/affinity-mode: balanced
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: Prefix
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
    nginx.ingress.kubernetes.io/affinity-mode: persistent
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
"#,
        policy: "servedBy:\n  nginx: traefik-ingress-nginx\n",
    },
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let annotations = Annotations::new(ingress, &context.policy.annotation_prefix);
    UNSUPPORTED
        .iter()
        .filter_map(|setting| {
            let value = annotations.get(setting.name)?;
            let matters = setting
                .values
                .is_none_or(|values| values.contains(&value.trim()));
            matters.then(|| {
                Finding::warn(
                    &RULE,
                    format!(
                        "Traefik's NGINX provider does not do {}: {}",
                        setting.name, setting.instead
                    ),
                )
                .at_annotation(&annotations.key(setting.name))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use crate::controllers::IngressController;
    use crate::policy::Policy;
    use serde_json::json;

    const ID: &str = "traefik-nginx-unsupported-affinity-setting";

    fn traefik_nginx() -> Policy {
        Policy {
            served_by: [("nginx".to_string(), IngressController::TraefikIngressNginx)]
                .into_iter()
                .collect(),
            ..Policy::default()
        }
    }

    /// Each unsupported setting, with its message and field.
    #[test]
    fn fires_on_each_setting_traefik_does_not_do() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/affinity-mode": "balanced",
                   "nginx.ingress.kubernetes.io/session-cookie-change-on-failure": "true",
                   "nginx.ingress.kubernetes.io/session-cookie-conditional-samesite-none": "true",
                   "nginx.ingress.kubernetes.io/session-cookie-expires": "3600",
                   "nginx.ingress.kubernetes.io/affinity-canary-behavior": "legacy"}),
            &["/"],
        );
        let findings = of(ID, run_with(value, Phase::Validating, &traefik_nginx()));
        let got: Vec<(String, String)> = findings
            .iter()
            .map(|f| {
                assert_eq!(f.level, Level::Warn);
                assert!(f.fix.is_none());
                (f.message.clone(), f.field.clone().unwrap_or_default())
            })
            .collect();
        let key = |n: &str| format!("metadata.annotations[\"nginx.ingress.kubernetes.io/{n}\"]");
        assert_eq!(
            got,
            vec![
                (
                    "Traefik's NGINX provider does not do affinity-mode: only persistent mode".into(),
                    key("affinity-mode")
                ),
                (
                    "Traefik's NGINX provider does not do session-cookie-change-on-failure: the \
                     cookie is kept when its server fails"
                        .into(),
                    key("session-cookie-change-on-failure")
                ),
                (
                    "Traefik's NGINX provider does not do session-cookie-conditional-samesite-none: \
                     SameSite is sent as set"
                        .into(),
                    key("session-cookie-conditional-samesite-none")
                ),
                (
                    "Traefik's NGINX provider does not do session-cookie-expires: ignored before \
                     v3.7; use session-cookie-max-age"
                        .into(),
                    key("session-cookie-expires")
                ),
                (
                    "Traefik's NGINX provider does not do affinity-canary-behavior: only sticky"
                        .into(),
                    key("affinity-canary-behavior")
                ),
            ]
        );
    }

    #[test]
    fn does_not_fire() {
        let unsupported = json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/affinity-mode": "balanced"});
        // ingress-nginx serves the class (the default policy): the setting is carried out.
        assert!(of(ID, run(ingress(unsupported, &["/"]), Phase::Validating)).is_empty());
        // What Traefik does carry out, and the values that change nothing.
        for annotations in [
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/affinity-mode": "persistent",
                   "nginx.ingress.kubernetes.io/session-cookie-max-age": "3600",
                   "nginx.ingress.kubernetes.io/session-cookie-path": "/app",
                   "nginx.ingress.kubernetes.io/session-cookie-change-on-failure": "false",
                   "nginx.ingress.kubernetes.io/affinity-canary-behavior": "sticky"}),
            json!({}),
        ] {
            let value = ingress(annotations.clone(), &["/"]);
            assert!(
                of(ID, run_with(value, Phase::Validating, &traefik_nginx())).is_empty(),
                "{annotations}"
            );
        }
    }

    /// Traefik's facts instead of ingress-nginx's on class `nginx` served by Traefik's NGINX
    /// provider: a regex path without session-cookie-path is no problem (the cookie Path is `/`,
    /// v3.6.24 kubernetes.go L549), but an ExternalName backend still pins nothing (one server,
    /// L616-618).
    #[test]
    fn traefik_facts_replace_ingress_nginx_facts() {
        let regex = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/app(/|$)(.*)"],
        );
        let under_nginx = run(regex.clone(), Phase::Validating);
        assert!(
            under_nginx
                .iter()
                .any(|f| f.rule == "cookie-path-for-regex")
        );
        let under_traefik = run_with(regex, Phase::Validating, &traefik_nginx());
        assert!(
            under_traefik
                .iter()
                .all(|f| f.rule != "cookie-path-for-regex"
                    && f.rule != "regex-path-without-regex-mode"),
            "{under_traefik:?}"
        );
        let sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/"],
        );
        let external = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app"},
            "spec": {"type": "ExternalName", "externalName": "web.other.svc.cluster.local"}});
        let findings = run_among_with(sticky, &[external], Phase::Validating, &traefik_nginx());
        assert!(
            findings
                .iter()
                .any(|f| f.rule == "externalname-backend" && f.level == Level::Deny),
            "{findings:?}"
        );
    }
}

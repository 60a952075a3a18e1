//! `affinity-with-ssl-passthrough`: cookie affinity on an Ingress whose TLS is passed through.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::{Annotations, annotation};
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "affinity-with-ssl-passthrough",
    title: "Cookie affinity with ssl-passthrough (layer 4: no cookie)",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "With `<prefix>/ssl-passthrough: \"true\"` the controller hands the TLS connection to \
the backend at layer 4 (TCP) without decrypting it, so nginx never sees an HTTP request and \
cannot set or read a cookie: the annotations doc says passthrough \"invalidates all the other \
annotations set on an Ingress object\", and the TLS guide that passthrough traffic goes to the \
Service's ClusterIP, not to individual endpoints, so kube-proxy picks the pod. It is a warning, \
not a denial: passthrough only takes effect when the controller runs with \
`--enable-ssl-passthrough`.",
    fix: "If sessions must stick, terminate TLS at the controller (remove <prefix>/ssl-passthrough \
and give the Ingress a TLS secret; use backend-protocol HTTPS to re-encrypt); otherwise drop the \
affinity annotations.",
    source: "ingress-nginx docs/user-guide/nginx-configuration/annotations.md L594-600; \
docs/user-guide/tls.md L52-57, L66-68; internal/ingress/annotations/sslpassthrough/main.go L28-41",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::sticky(policy),
            condition::nginx_annotation(policy, annotation::SSL_PASSTHROUGH)
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
    nginx.ingress.kubernetes.io/ssl-passthrough: 'true'
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

/// The finding's message (also the exported policy's).
pub const MESSAGE: &str =
    "ssl-passthrough bypasses nginx (layer 4), so no cookie affinity: terminate TLS at nginx";

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let annotations = Annotations::new(ingress, &context.policy.annotation_prefix);
    if !annotations.cookie_affinity() || !annotations.flag(annotation::SSL_PASSTHROUGH) {
        return Vec::new();
    }
    vec![Finding::warn(&RULE, MESSAGE).at_annotation(&annotations.key(annotation::SSL_PASSTHROUGH))]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "affinity-with-ssl-passthrough";

    /// annotations.md L598-600: passthrough works at layer 4 and "invalidates all the other
    /// annotations"; tls.md L66-68: traffic goes to the ClusterIP.
    #[test]
    fn fires_on_sticky_with_passthrough() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/ssl-passthrough": "true"}),
            &["/"],
        );
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "ssl-passthrough bypasses nginx (layer 4), so no cookie affinity: terminate TLS at nginx"
        );
        assert_eq!(
            findings[0].field.as_deref(),
            Some("metadata.annotations[\"nginx.ingress.kubernetes.io/ssl-passthrough\"]")
        );
        assert!(findings[0].fix.is_none());
    }

    /// sslpassthrough/main.go L58-63: GetBoolAnnotation (validators.go L161-164, ParseBool):
    /// `yes` is not true.
    #[test]
    fn does_not_fire() {
        for annotations in [
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/ssl-passthrough": "false"}),
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/ssl-passthrough": "yes"}),
            // Passthrough without affinity is a plain TLS passthrough (real-world 034).
            json!({"nginx.ingress.kubernetes.io/ssl-passthrough": "true"}),
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
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

//! `cookie-path-not-literal`: `session-cookie-path` must be a literal absolute path.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::{self, Annotations, annotation, annotations};
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "cookie-path-not-literal",
    title: "session-cookie-path is not a literal absolute path",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92); Traefik NGINX provider v3.6.24, v3.7.9",
    controllers: Controllers::NginxAnnotations,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: true,
    why: "ingress-nginx validates session-cookie-path with URLIsValidRegex (letters, digits and \
`- . _ ~ / : , ? & =`, spaces removed first) and drops any other value, so the cookie Path falls \
back to the Ingress path, a regex in regex mode. A value it accepts is copied verbatim into the \
cookie's Path attribute. Browsers compare it literally with the request path (no regex), and \
only send the cookie when it is a prefix ending on a segment boundary, so a relative path, a \
space or a `?` means the cookie is never sent back.",
    fix: "Set <prefix>/session-cookie-path to a literal absolute path, such as the literal part \
of the Ingress paths (`/mysite` for `/mysite(/|$)(.*)`).",
    source: "ingress-nginx internal/ingress/annotations/parser/validators.go L65 \
(URLIsValidRegex), internal/ingress/annotations/sessionaffinity/main.go L119-124, L219-232; \
docs/user-guide/nginx-configuration/annotations.md (\"Session cookie \
paths do not support regex\"); RFC 6265 §4.1.1 (path-value), §5.1.4 (path-match); Traefik NGINX provider, the same: the cookie Path is session-cookie-path as written (traefik v3.6.24 pkg/provider/kubernetes/ingress-nginx/kubernetes.go L549; v3.7.9 translator.go L389)",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::sticky(policy),
            condition::nginx_annotation(policy, annotation::SESSION_COOKIE_PATH)
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
    nginx.ingress.kubernetes.io/session-cookie-path: /a(.*)
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /a
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
    nginx.ingress.kubernetes.io/session-cookie-path: /a
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /a
        pathType: Prefix
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
    if !annotations.cookie_affinity() {
        return Vec::new();
    }
    let Some(value) = annotations.get(annotation::SESSION_COOKIE_PATH) else {
        return Vec::new();
    };
    // What the cookie gets: an accepted value with each line trimmed (parser/main.go
    // L228-235), so `" /app"` is `/app`; a rejected one is judged as written.
    let used = match annotations.value(annotation::SESSION_COOKIE_PATH) {
        annotations::Value::Accepted(used) => used,
        _ => value.to_string(),
    };
    let Some(problem) = literal_problem(&used) else {
        return Vec::new();
    };
    let key = annotations.key(annotation::SESSION_COOKIE_PATH);
    let suggestion = super::cookie_path_for_regex::derive(ingress).path;
    vec![
        Finding::deny(
            &RULE,
            format!(
                "annotation {key} is `{value}`, which {problem}; set it to a literal absolute \
                 path such as \"{suggestion}\""
            ),
        )
        .at_annotation(&key),
    ]
}

/// Why `value` is not a literal absolute cookie path that ingress-nginx uses as written, or
/// `None` if it is one.
///
/// In order: not absolute; a character the controller's validator refuses (`URLIsValidRegex`,
/// `internal/ingress/annotations/parser/validators.go` L65, after removing spaces; the
/// controller then drops the value and the cookie Path falls back to the Ingress path,
/// `sessionaffinity/main.go` L219-232); whitespace or a control character (the validator
/// removes spaces before matching, but the cookie gets the value with them); `?`, which the
/// validator allows but a request path never contains.
pub(super) fn literal_problem(value: &str) -> Option<String> {
    if !value.starts_with('/') {
        return Some("does not start with `/`".into());
    }
    if let Some(c) = value
        .chars()
        .find(|c| *c != ' ' && !annotations::is_url_valid_char(*c))
    {
        let what = match nginx::regex_tell(value) {
            Some(tell) => format!("contains {tell}"),
            None => format!("contains {c:?}"),
        };
        return Some(format!(
            "{what}: ingress-nginx accepts only letters, digits and - . _ ~ / : , ? & = there, \
             drops the value and sets the cookie Path to the Ingress path"
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "contains {c:?}, which ends the cookie's Path attribute"
        ));
    }
    value
        .contains('?')
        .then(|| "contains `?`, which no request path holds, so the cookie is never sent".into())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use super::literal_problem;
    use serde_json::json;

    const ID: &str = "cookie-path-not-literal";

    fn sticky_with_path(cookie_path: &str) -> serde_json::Value {
        ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/use-regex": "true",
                   "nginx.ingress.kubernetes.io/session-cookie-path": cookie_path}),
            &["/mysite(/|$)(.*)"],
        )
    }

    #[test]
    fn fires_on_a_regex_cookie_path() {
        let findings = of(
            ID,
            run(sticky_with_path("/mysite(/|$)(.*)"), Phase::Mutating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].message,
            "annotation nginx.ingress.kubernetes.io/session-cookie-path is `/mysite(/|$)(.*)`, \
             which contains the regex metacharacter `(`: ingress-nginx accepts only letters, \
             digits and - . _ ~ / : , ? & = there, drops the value and sets the cookie Path to \
             the Ingress path; set it to a literal absolute path such as \"/mysite\""
        );
        assert!(
            findings[0].fix.is_none(),
            "an explicit value is never rewritten"
        );
    }

    #[test]
    fn fires_on_relative_and_broken_paths() {
        for bad in [
            "mysite", "/a;b", "/api/.*", "/api$", "/a b", "/a?b", "/a[0-9]",
            // Refused by URLIsValidRegex (validators.go L65): the controller drops them.
            "/a+b", "/~user!", "/it's", "/a@b", "/a%20b",
        ] {
            assert_eq!(
                of(ID, run(sticky_with_path(bad), Phase::Validating)).len(),
                1,
                "{bad}"
            );
        }
    }

    /// parser/main.go L228-235: the value is used with each line trimmed, so surrounding
    /// spaces do not reach the cookie.
    #[test]
    fn surrounding_spaces_are_trimmed_by_the_controller() {
        for good in [" /app", "/app ", " /app "] {
            assert!(
                of(ID, run(sticky_with_path(good), Phase::Validating)).is_empty(),
                "{good:?}"
            );
        }
    }

    #[test]
    fn does_not_fire_on_literal_paths() {
        for good in ["/", "/mysite", "/v1.0/api", "/~user", "/a-b_c:d,e=f&g"] {
            assert_eq!(literal_problem(good), None, "{good}");
            assert!(of(ID, run(sticky_with_path(good), Phase::Validating)).is_empty());
        }
        // Not sticky: the annotation is unused (affinity-settings-without-affinity's business).
        let not_sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/session-cookie-path": "/a(.*)"}),
            &["/a"],
        );
        assert!(of(ID, run(not_sticky, Phase::Validating)).is_empty());
    }
}

//! `regex-path-with-exact-or-prefix`: a path that ingress-nginx 1.12+ refuses for its pathType.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::paths::strict_path_type_accepts;
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "regex-path-with-exact-or-prefix",
    title: "Regex or special-character path with pathType Exact or Prefix",
    knows: "ingress-nginx v1.12.0 to v1.15.1 (strict path validation on)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "Since v1.12.0 ingress-nginx validates paths strictly by default \
(strict-validate-path-type): a path of type Exact or Prefix may hold only letters, digits and \
`. _ - /` after its leading `/`. Its admission webhook refuses any other such Ingress (\"path … \
cannot be used with pathType …\"), so a regex path like `/api/(.*)` must be \
ImplementationSpecific. Without the controller's webhook nothing is refused, but the path is \
still not what Exact or Prefix mean. A v1beta1 Ingress gets ImplementationSpecific when it \
writes no pathType.",
    fix: "Set pathType: ImplementationSpecific on regex paths (with <prefix>/use-regex: \"true\" \
on the Ingress), or write the path as a literal with pathType Prefix.",
    source: "ingress-nginx internal/ingress/inspector/rules.go L37 (validPathType), \
inspector.go L45-71 (ValidatePathType), controller.go L375-378 (CheckIngress), \
internal/ingress/controller/config/config.go L738-742 and L914, changelog/controller-1.12.0.md \
L149",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::judged(policy),
            crate::cel::some_ingress_path(&format!(
                "has(p.path) && p.path != '' && (!has(p.pathType) || p.pathType != \
'ImplementationSpecific') && !p.path.matches({})",
                crate::cel::lit(crate::controllers::nginx::paths::VALID_PATH_TYPE_REGEX)
            ))
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/use-regex: 'true'
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /api/(.*)
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
    nginx.ingress.kubernetes.io/use-regex: 'true'
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /api/(.*)
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

fn check(ingress: &IngressObject, _: &Context<'_>) -> Vec<Finding> {
    ingress
        .paths()
        .into_iter()
        .filter(|p| !strict_path_type_accepts(p.path, p.path_type))
        .map(|p| {
            let field = match p.field.strip_suffix(".path") {
                Some(parent) => format!("{parent}.pathType"),
                None => p.field.clone(),
            };
            // inspector.go L56-57: a missing pathType is checked like Exact and Prefix.
            let path_type = if p.path_type.is_empty() {
                "(unset)"
            } else {
                p.path_type
            };
            Finding::warn(
                &RULE,
                format!(
                    "ingress-nginx 1.12+ refuses pathType {path_type} on `{}`: use ImplementationSpecific",
                    p.path
                ),
            )
            .at(field)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "regex-path-with-exact-or-prefix";

    fn typed(path: &str, path_type: &str) -> Value {
        let mut v = ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            &[path],
        );
        v["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!(path_type);
        v
    }

    /// inspector.go L56-64: Exact and Prefix paths must match validPathType (rules.go L37).
    #[test]
    fn fires_on_a_regex_path_with_prefix_or_exact() {
        for path_type in ["Prefix", "Exact"] {
            let findings = of(ID, run(typed("/api/(.*)", path_type), Phase::Validating));
            assert_eq!(findings.len(), 1, "{path_type}");
            assert_eq!(findings[0].level, Level::Warn);
            assert_eq!(
                findings[0].field.as_deref(),
                Some("spec.rules[0].http.paths[0].pathType")
            );
            assert_eq!(
                findings[0].message,
                format!(
                    "ingress-nginx 1.12+ refuses pathType {path_type} on `/api/(.*)`: use \
                     ImplementationSpecific"
                )
            );
        }
        // Not only regexes: `~` is outside validPathType too (rules.go L31-37).
        assert_eq!(
            of(ID, run(typed("/~user", "Prefix"), Phase::Validating)).len(),
            1
        );
    }

    #[test]
    fn does_not_fire() {
        // inspector.go L56: ImplementationSpecific paths are not checked.
        assert!(
            of(
                ID,
                run(
                    typed("/api/(.*)", "ImplementationSpecific"),
                    Phase::Validating
                )
            )
            .is_empty()
        );
        // rules.go L37: letters, digits, `.`, `_`, `-`, `/` are accepted, in any case.
        assert!(
            of(
                ID,
                run(typed("/API/v1.0/my_app-x/", "Prefix"), Phase::Validating)
            )
            .is_empty()
        );
        // inspector.go L53: an empty path is skipped.
        assert!(of(ID, run(typed("", "Exact"), Phase::Validating)).is_empty());
    }

    /// A v1beta1 path without pathType is ImplementationSpecific after conversion (the API
    /// server's default); one that writes Prefix is judged like v1.
    #[test]
    fn legacy_ingresses_only_when_path_type_is_written() {
        let legacy = |path_type: Option<&str>| {
            let mut path = json!({"path": "/api/(.*)",
                "backend": {"serviceName": "web", "servicePort": 80}});
            if let Some(t) = path_type {
                path["pathType"] = json!(t);
            }
            json!({"apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress",
                "metadata": {"name": "old", "namespace": "app",
                    "annotations": {"nginx.ingress.kubernetes.io/use-regex": "true"}},
                "spec": {"rules": [{"host": "example.com", "http": {"paths": [path]}}]}})
        };
        assert!(of(ID, run(legacy(None), Phase::Validating)).is_empty());
        assert_eq!(
            of(ID, run(legacy(Some("Prefix")), Phase::Validating)).len(),
            1
        );
    }
}

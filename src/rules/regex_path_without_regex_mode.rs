//! `regex-path-without-regex-mode`: a regex-looking path on a host where regex mode is off.

use super::condition;
use super::regex_mode::RegexModes;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx;
use crate::objects::IngressObject;
use crate::objects::kinds::Kind;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "regex-path-without-regex-mode",
    title: "Regex-looking path on a host where regex mode is off",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    // Other Ingresses on the host can only clear the finding (one of them may turn regex mode
    // on host-wide); the object as written is what the rule judges, so it runs without a view.
    reads: Reads {
        kinds: &[Kind::Ingress],
        needs_view: false,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx treats paths as regular expressions only when regex mode is on for the \
host (any Ingress on it sets use-regex: \"true\", or a rewrite-target that differs from its \
path). Otherwise `/api/(.*)` is a literal prefix: it matches only requests that literally start \
with `/api/(.*)`, i.e. none that were meant.",
    fix: "Set <prefix>/use-regex: \"true\" (it applies to every path of the host), or write the \
path as a literal prefix with pathType Prefix.",
    source: "ingress-nginx docs/user-guide/ingress-path-matching.md; \
internal/ingress/controller/template/template.go L497-538 (needsRewrite, enforceRegexModifier, \
buildLocation)",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::judged(policy),
            crate::cel::some_ingress_path(&format!(
                "{}.matches({})",
                crate::cel::ingress_path("p"),
                crate::cel::lit(crate::controllers::nginx::REGEX_TELL)
            ))
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
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

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let mut modes = RegexModes::new(ingress, context);
    ingress
        .paths()
        .into_iter()
        .filter_map(|p| {
            nginx::regex_tell(p.path)?;
            if modes.of(p.host.unwrap_or("")).is_some() {
                return None;
            }
            Some(
                Finding::warn(
                    &RULE,
                    format!(
                        "path `{}` is matched literally (regex mode is off): set use-regex: \"true\"",
                        p.path
                    ),
                )
                .at(p.field),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "regex-path-without-regex-mode";

    /// template.go L523-538 (`buildLocation`): without regex mode a path is a literal prefix
    /// location (`"%s"`), or `= "%s"` for Exact; regex mode (L506-519) is what makes it `~*`.
    #[test]
    fn fires_on_a_regex_path_without_regex_mode() {
        let findings = of(
            ID,
            run(ingress(json!({}), &["/", "/api/(.*)"]), Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].http.paths[1].path")
        );
        assert_eq!(
            findings[0].message,
            "path `/api/(.*)` is matched literally (regex mode is off): set use-regex: \"true\""
        );
    }

    #[test]
    fn does_not_fire() {
        // Regex mode on.
        let on = ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/api/(.*)"],
        );
        assert!(of(ID, run(on, Phase::Validating)).is_empty());
        let rewrite = ingress(
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/$1"}),
            &["/api/(.*)"],
        );
        assert!(of(ID, run(rewrite, Phase::Validating)).is_empty());
        // Regex mode turned on by another Ingress on the same host.
        let mut other = ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/x"],
        );
        other["metadata"]["name"] = json!("other");
        let findings = run_among(
            ingress(json!({}), &["/api/(.*)"]),
            &[other],
            Phase::Validating,
        );
        assert!(of(ID, findings).is_empty());
        // Literal paths with characters that are fine in URLs.
        let literal = ingress(json!({}), &["/v1.0/files", "/a+b"]);
        assert!(of(ID, run(literal, Phase::Validating)).is_empty());
    }
}

//! `affinity-overrides-load-balancing`: `upstream-hash-by` or `load-balance` next to cookie
//! affinity, which silently wins over both.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::Annotations;
use crate::controllers::nginx::affinity::Affinity;
use crate::objects::IngressObject;
use crate::policy::Action;

/// `upstream-hash-by` (upstreamhashby/main.go L30).
const UPSTREAM_HASH_BY: &str = "upstream-hash-by";
/// `load-balance` (loadbalancing/main.go L29).
const LOAD_BALANCE: &str = "load-balance";

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "affinity-overrides-load-balancing",
    title: "upstream-hash-by or load-balance set next to cookie affinity, which overrides them",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx's Lua balancer picks one algorithm per upstream: cookie affinity first \
(`sticky_balanced`, or `sticky_persistent` with `affinity-mode: persistent`), then \
`upstream-hash-by` (`chash`/`chashsubset`), then `load-balance`. With `<prefix>/affinity: \
cookie` the hashing or algorithm you asked for is silently not used. A `load-balance` equal to \
the sticky algorithm the affinity mode already picks is left alone. Only accepted values count: \
a value the controller rejects makes it skip the whole Ingress, which is a different problem.",
    fix: "Keep one: remove <prefix>/upstream-hash-by or <prefix>/load-balance, or remove the \
affinity annotations if hashing or that algorithm is what you want.",
    source: "ingress-nginx rootfs/etc/nginx/lua/balancer.lua L45-73 (get_implementation: cookie \
affinity before upstream-hash-by before load-balance); \
internal/ingress/annotations/loadbalancing/main.go L32-43; \
internal/ingress/annotations/upstreamhashby/main.go L35-49; \
docs/user-guide/nginx-configuration/annotations.md L253",
    match_condition: |policy| {
        format!(
            "{} && ({} || {})",
            condition::sticky(policy),
            condition::nginx_annotation(policy, UPSTREAM_HASH_BY),
            condition::nginx_annotation(policy, LOAD_BALANCE)
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
    nginx.ingress.kubernetes.io/upstream-hash-by: $request_uri
    nginx.ingress.kubernetes.io/load-balance: sticky_persistent
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
    nginx.ingress.kubernetes.io/upstream-hash-by: $request_uri
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
    let prefix = &context.policy.annotation_prefix;
    let annotations = Annotations::new(ingress, prefix);
    if !annotations.cookie_affinity() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    let at = |name: &str| format!("metadata.annotations[\"{}\"]", annotations.key(name));
    // balancer.lua L48-57: `if sessionAffinityConfig.name == "cookie" … elseif
    // upstreamHashByConfig["upstream-hash-by"]`.
    if annotations.accepted(UPSTREAM_HASH_BY).is_some() {
        findings.push(
            Finding::warn(
                &RULE,
                "upstream-hash-by is ignored under cookie affinity: remove one of them",
            )
            .at(at(UPSTREAM_HASH_BY)),
        );
    }
    if let Some(algorithm) = annotations.accepted(LOAD_BALANCE) {
        // balancer.lua L50-54: the affinity mode picks sticky_persistent or sticky_balanced.
        let sticky = match Affinity::of(ingress, prefix).mode.as_str() {
            "persistent" => "sticky_persistent",
            _ => "sticky_balanced",
        };
        if algorithm != sticky {
            findings.push(
                Finding::warn(
                    &RULE,
                    format!(
                        "load-balance `{algorithm}` is ignored under cookie affinity: remove one of them"
                    ),
                )
                .at(at(LOAD_BALANCE)),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "affinity-overrides-load-balancing";

    fn sticky(extra: Value) -> Value {
        let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
        for (k, v) in extra.as_object().unwrap() {
            annotations[k] = v.clone();
        }
        ingress(annotations, &["/"])
    }

    /// balancer.lua L45-63: sessionAffinityConfig "cookie" is tested first, so neither
    /// upstream-hash-by nor load-balance is used.
    #[test]
    fn fires_on_each_overridden_annotation() {
        let value = sticky(
            json!({"nginx.ingress.kubernetes.io/upstream-hash-by": "$request_uri",
                                  "nginx.ingress.kubernetes.io/load-balance": " ewma "}),
        );
        let findings = of(ID, run(value, Phase::Validating));
        let got: Vec<(&str, Option<&str>, Level)> = findings
            .iter()
            .map(|f| (f.message.as_str(), f.field.as_deref(), f.level))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "upstream-hash-by is ignored under cookie affinity: remove one of them",
                    Some("metadata.annotations[\"nginx.ingress.kubernetes.io/upstream-hash-by\"]"),
                    Level::Warn
                ),
                (
                    // ValidateOptions trims (validators.go L145); normalizeString too.
                    "load-balance `ewma` is ignored under cookie affinity: remove one of them",
                    Some("metadata.annotations[\"nginx.ingress.kubernetes.io/load-balance\"]"),
                    Level::Warn
                ),
            ]
        );
        assert!(findings.iter().all(|f| f.fix.is_none()));
    }

    /// balancer.lua L50-54: persistent mode gives sticky_persistent, so load-balance
    /// `sticky_balanced` is overridden.
    #[test]
    fn a_sticky_algorithm_other_than_the_modes_is_overridden() {
        let value = sticky(
            json!({"nginx.ingress.kubernetes.io/affinity-mode": "persistent",
                                  "nginx.ingress.kubernetes.io/load-balance": "sticky_balanced"}),
        );
        let findings = of(ID, run(value, Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "load-balance `sticky_balanced` is ignored under cookie affinity: remove one of them"
        );
    }

    #[test]
    fn does_not_fire() {
        for value in [
            // No cookie affinity: hashing and the algorithm apply (balancer.lua L56-63).
            ingress(
                json!({"nginx.ingress.kubernetes.io/upstream-hash-by": "$request_uri",
                       "nginx.ingress.kubernetes.io/load-balance": "ewma"}),
                &["/"],
            ),
            // The same algorithm the affinity mode picks (balancer.lua L50-54).
            sticky(json!({"nginx.ingress.kubernetes.io/load-balance": "sticky_balanced"})),
            sticky(
                json!({"nginx.ingress.kubernetes.io/affinity-mode": "persistent",
                          "nginx.ingress.kubernetes.io/load-balance": "sticky_persistent"}),
            ),
            // Rejected values (loadbalancing/main.go L32-43 options, case-sensitive;
            // upstreamhashby/main.go L35-37 regex): not this rule's problem.
            sticky(json!({"nginx.ingress.kubernetes.io/load-balance": "EWMA"})),
            sticky(json!({"nginx.ingress.kubernetes.io/upstream-hash-by": "$host:$uri"})),
            sticky(json!({})),
        ] {
            assert!(
                of(ID, run(value.clone(), Phase::Validating)).is_empty(),
                "{value}"
            );
        }
    }
}

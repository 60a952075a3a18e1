//! `ignored-annotation`: affinity annotations the controller never reads.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::annotation;
use crate::controllers::nginx::annotations as table;
use crate::objects::IngressObject;
use crate::objects::annotations;
use crate::policy::Action;
use std::collections::BTreeMap;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "ignored-annotation",
    title: "Affinity annotation the controller does not read",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx reads annotations only under its annotation prefix (flag \
--annotations-prefix, default nginx.ingress.kubernetes.io). Affinity annotations under another \
prefix, such as the old `ingress.kubernetes.io/` of 2017-era guides, are ignored, so stickiness \
is off unless the controller runs with that prefix. `session-cookie-hash` was removed in \
ingress-nginx 0.24.0 and is ignored under any prefix. Under the controller's prefix, an \
`affinity-*` or `session-cookie-*` name the controller does not declare (a typo such as \
`session-cookie-age`, or a wished-for `session-cookie-partitioned`) is ignored too: the \
session affinity annotations are exactly those of sessionaffinity/main.go, and ingress-nginx \
has no Partitioned cookie attribute (nor has its lua-resty-cookie).",
    fix: "Move the annotations to the controller's prefix (<prefix>/); delete session-cookie-hash; \
rename or delete unknown names (the message suggests the closest known one).",
    source: "ingress-nginx cmd/nginx/flags.go (--annotations-prefix); CHANGELOG 0.24.0 \
(session-cookie-hash removed); internal/ingress/annotations/sessionaffinity/main.go L29-68 \
(every affinity annotation); `git grep -i partitioned` finds nothing (also in lua-resty-cookie \
f418d77, images/nginx/rootfs/build.sh L72); docs/user-guide/nginx-configuration/annotations.md",
    match_condition: |policy| {
        // An affinity-family name under any prefix (the rule reads every prefix).
        format!(
            "{} && {}",
            condition::judged(policy),
            crate::cel::some_annotation(condition::AFFINITY_FAMILY_KEY)
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    ingress.kubernetes.io/affinity: cookie
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

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let ours = context.policy.annotation_prefix.as_str();
    let mut foreign: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut findings = Vec::new();
    for key in annotations(&ingress.meta).keys() {
        let Some((prefix, name)) = key.rsplit_once('/') else {
            continue;
        };
        if !annotation::is_affinity_family(name) {
            continue;
        }
        if prefix != ours {
            foreign.entry(prefix).or_default().push(name);
        } else if name != annotation::SESSION_COOKIE_HASH && table::find(name).is_none() {
            findings.push(Finding::warn(&RULE, unknown(name)).at_annotation(key));
        }
        if name == annotation::SESSION_COOKIE_HASH {
            findings.push(
                Finding::warn(
                    &RULE,
                    "session-cookie-hash was removed in ingress-nginx 0.24.0 and is ignored: delete it",
                )
                .at_annotation(key),
            );
        }
    }
    for (prefix, names) in foreign {
        let field = format!("metadata.annotations[\"{prefix}/{}\"]", names[0]);
        findings.insert(
            0,
            Finding::warn(
                &RULE,
                format!(
                    "{} under {prefix}/ ignored (not sticky): use {ours}",
                    match names.len() {
                        1 => "1 annotation".to_string(),
                        n => format!("{n} annotations"),
                    }
                ),
            )
            .at(field),
        );
    }
    findings
}

/// The message for `name`, an affinity-family name the controller does not declare.
fn unknown(name: &str) -> String {
    if name == "session-cookie-partitioned" {
        // `git grep -i partitioned` in ingress-nginx (and its lua-resty-cookie): nothing.
        return format!(
            "{name} is unknown to ingress-nginx, which sets no Partitioned cookies: delete it"
        );
    }
    match did_you_mean(name) {
        Some(known) => {
            format!("{name} is unknown to ingress-nginx: did you mean {known}?")
        }
        None => format!("{name} is unknown to ingress-nginx and does nothing: delete it"),
    }
}

/// The known affinity annotation most likely meant by `name`, if any: one whose words after
/// `session-cookie-`/`affinity-` hold `name`'s, or are held by them (`session-cookie-age` →
/// `session-cookie-max-age`, `…-samesite-none` → `…-samesite`), else one at most 2 edits away
/// (Levenshtein distance, strsim: `session-cookie-expirse`, `session-cookie-same-site`); the
/// closest first. Nothing for names that are merely short and different
/// (`session-cookie-ttl` is 3 edits from `session-cookie-path`, which it does not mean).
fn did_you_mean(name: &str) -> Option<&'static str> {
    fn words(name: &str) -> &str {
        name.strip_prefix("session-cookie-")
            .or_else(|| name.strip_prefix("affinity-"))
            .unwrap_or(name)
    }
    let mine = words(name);
    table::TABLE
        .iter()
        .filter(|a| table::is_affinity_family(a.name))
        .map(|a| {
            let theirs = words(a.name);
            let holds = mine.len() >= 3 && (theirs.contains(mine) || mine.contains(theirs));
            (holds, strsim::levenshtein(name, a.name), a.name)
        })
        .filter(|&(holds, distance, _)| holds || distance <= 2)
        // Word matches before typos, then the closest; the first of equals in table order.
        .min_by_key(|&(holds, distance, _)| (!holds, distance))
        .map(|(_, _, known)| known)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "ignored-annotation";

    #[test]
    fn fires_on_the_old_prefix_and_on_hash() {
        let value = ingress(
            json!({"ingress.kubernetes.io/affinity": "cookie",
                   "ingress.kubernetes.io/session-cookie-name": "route",
                   "ingress.kubernetes.io/session-cookie-hash": "sha1"}),
            &["/foo"],
        );
        let findings = of(ID, run(value, Phase::Validating));
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "3 annotations under ingress.kubernetes.io/ ignored (not sticky): use nginx.ingress.kubernetes.io",
                "session-cookie-hash was removed in ingress-nginx 0.24.0 and is ignored: delete it",
            ]
        );
        assert!(findings.iter().all(|f| f.level == Level::Warn));
    }

    #[test]
    fn fires_on_hash_under_the_right_prefix() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-hash": "md5"}),
            &["/"],
        );
        assert_eq!(of(ID, run(value, Phase::Validating)).len(), 1);
    }

    #[test]
    fn does_not_fire() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "ingress.kubernetes.io/ssl-redirect": "false",
                   "example.com/owner": "team"}),
            &["/"],
        );
        assert!(of(ID, run(value, Phase::Validating)).is_empty());
    }

    /// sessionaffinity/main.go L29-68 declares every affinity annotation; other names under the
    /// prefix are never read.
    #[test]
    fn fires_on_unknown_affinity_names_under_the_prefix() {
        let cases = [
            (
                "session-cookie-age",
                "session-cookie-age is unknown to ingress-nginx: did you mean \
                 session-cookie-max-age?",
            ),
            (
                "session-cookie-maxage",
                "session-cookie-maxage is unknown to ingress-nginx: did you mean \
                 session-cookie-max-age?",
            ),
            (
                "session-cookie-same-site",
                "session-cookie-same-site is unknown to ingress-nginx: did you mean \
                 session-cookie-samesite?",
            ),
            (
                "session-cookie-expire",
                "session-cookie-expire is unknown to ingress-nginx: did you mean \
                 session-cookie-expires?",
            ),
            (
                "session-cookie-secure-flag",
                "session-cookie-secure-flag is unknown to ingress-nginx: did you mean \
                 session-cookie-secure?",
            ),
            (
                "session-cookie-samesite-none",
                "session-cookie-samesite-none is unknown to ingress-nginx: did you mean \
                 session-cookie-samesite?",
            ),
            (
                "affinity-canary",
                "affinity-canary is unknown to ingress-nginx: did you mean \
                 affinity-canary-behavior?",
            ),
            (
                "affinity-type",
                "affinity-type is unknown to ingress-nginx and does nothing: delete it",
            ),
            (
                "session-cookie-ttl",
                "session-cookie-ttl is unknown to ingress-nginx and does nothing: delete it",
            ),
            // No `partitioned` anywhere in ingress-nginx or its lua-resty-cookie (build.sh L72).
            (
                "session-cookie-partitioned",
                "session-cookie-partitioned is unknown to ingress-nginx, which sets no \
                 Partitioned cookies: delete it",
            ),
        ];
        for (name, message) in cases {
            let key = format!("nginx.ingress.kubernetes.io/{name}");
            let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
            annotations[&key] = json!("1");
            let findings = of(ID, run(ingress(annotations, &["/"]), Phase::Validating));
            assert_eq!(findings.len(), 1, "{name}");
            assert_eq!(findings[0].message, message);
            assert_eq!(findings[0].level, Level::Warn);
            assert_eq!(
                findings[0].field.as_deref(),
                Some(format!("metadata.annotations[\"{key}\"]").as_str())
            );
            let warning = format!("{ID}: {message}");
            assert!(warning.chars().count() <= 120, "{warning}");
        }
    }

    #[test]
    fn known_names_are_not_unknown() {
        let mut annotations = serde_json::Map::new();
        for a in crate::controllers::nginx::annotations::TABLE {
            annotations.insert(
                format!("nginx.ingress.kubernetes.io/{}", a.name),
                json!("x"),
            );
        }
        let value = ingress(serde_json::Value::Object(annotations), &["/"]);
        assert!(of(ID, run(value, Phase::Validating)).is_empty());
    }

    #[test]
    fn follows_the_configured_prefix() {
        let policy = crate::policy::Policy {
            annotation_prefix: "ingress.kubernetes.io".into(),
            ..Default::default()
        };
        let value = ingress(json!({"ingress.kubernetes.io/affinity": "cookie"}), &["/"]);
        assert!(of(ID, run_with(value, Phase::Validating, &policy)).is_empty());
    }
}

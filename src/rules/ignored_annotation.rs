//! `ignored-annotation`: affinity annotations the controller never reads.

use super::{Check, Context, Finding, Reads, Rule};
use crate::controllers::nginx::annotation;
use crate::objects::IngressObject;
use crate::objects::annotations;
use crate::policy::Action;
use std::collections::BTreeMap;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "ignored-annotation",
    title: "Affinity annotation the controller does not read",
    any_class: false,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx reads annotations only under its annotation prefix (flag \
--annotations-prefix, default nginx.ingress.kubernetes.io). Affinity annotations under another \
prefix, such as the old `ingress.kubernetes.io/` of 2017-era guides, are ignored, so stickiness \
is off unless the controller runs with that prefix. `session-cookie-hash` was removed in \
ingress-nginx 0.24.0 and is ignored under any prefix.",
    fix: "Move the annotations to the controller's prefix (<prefix>/); delete session-cookie-hash.",
    source: "ingress-nginx cmd/nginx/flags.go (--annotations-prefix); CHANGELOG 0.24.0 \
(session-cookie-hash removed); docs/user-guide/nginx-configuration/annotations.md",
    match_condition: None,
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
        }
        if name == annotation::SESSION_COOKIE_HASH {
            findings.push(
                Finding::warn(
                    &RULE,
                    "session-cookie-hash was removed in ingress-nginx 0.24.0 and is ignored: delete it",
                )
                .at(format!("metadata.annotations[\"{key}\"]")),
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

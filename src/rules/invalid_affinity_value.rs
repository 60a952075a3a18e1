//! `invalid-affinity-value`: affinity annotations with values the controller rejects.

use super::{Check, Context, Finding, Reads, Rule};
use crate::controllers::nginx::annotation;
use crate::objects::IngressObject;
use crate::objects::annotations;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "invalid-affinity-value",
    title: "Session affinity annotation with a value the controller rejects",
    any_class: false,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx validates each session affinity annotation and drops a value it does not \
accept, silently falling back to the default (or to no affinity at all): `affinity` must be \
`cookie`; `affinity-mode` `balanced` or `persistent`; `affinity-canary-behavior` `sticky` or \
`legacy`; `session-cookie-expires`/`-max-age` whole seconds (`^(0|-?[1-9]\\d*)$`); \
`session-cookie-samesite` `None`, `Lax` or `Strict`; the boolean flags (secure, \
change-on-failure, conditional-samesite-none, partitioned) a Go boolean; the \
cookie name an RFC 6265 token.",
    fix: "Write the value the controller accepts (the message names it).",
    source: "ingress-nginx internal/ingress/annotations/sessionaffinity/main.go (annotation \
validators); docs/user-guide/nginx-configuration/annotations.md#session-affinity; RFC 6265 §4.1.1",
    match_condition: None,
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let prefix = format!("{}/", context.policy.annotation_prefix);
    annotations(&ingress.meta)
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(&prefix)?;
            let expected = problem(name, value)?;
            Some(
                Finding::warn(
                    &RULE,
                    format!("{name} `{value}` is invalid: use {expected}"),
                )
                .at(format!("metadata.annotations[\"{key}\"]")),
            )
        })
        .collect()
}

/// What the value should be, if `value` is not acceptable for annotation `name`.
fn problem(name: &str, value: &str) -> Option<&'static str> {
    let ok = match name {
        annotation::AFFINITY => value == "cookie",
        "affinity-mode" => matches!(value, "balanced" | "persistent"),
        "affinity-canary-behavior" => matches!(value, "sticky" | "legacy"),
        "session-cookie-expires" | "session-cookie-max-age" => is_seconds(value),
        "session-cookie-samesite" => {
            let v = value.trim();
            ["none", "lax", "strict"]
                .iter()
                .any(|o| v.eq_ignore_ascii_case(o))
        }
        "session-cookie-secure"
        | "session-cookie-change-on-failure"
        | "session-cookie-conditional-samesite-none"
        | "session-cookie-partitioned" => is_go_bool(value),
        "session-cookie-name" => is_token(value),
        _ => return None,
    };
    if ok {
        return None;
    }
    Some(match name {
        annotation::AFFINITY => "\"cookie\" (the only value)",
        "affinity-mode" => "\"balanced\" or \"persistent\"",
        "affinity-canary-behavior" => "\"sticky\" or \"legacy\"",
        "session-cookie-expires" | "session-cookie-max-age" => "whole seconds, e.g. \"3600\"",
        "session-cookie-samesite" => "\"None\", \"Lax\" or \"Strict\"",
        "session-cookie-name" => "letters, digits and !#$%&'*+-.^_`|~",
        _ => "\"true\" or \"false\"",
    })
}

/// `^(0|-?[1-9]\d*)$`, the controller's validator for expires and max-age.
fn is_seconds(value: &str) -> bool {
    if value == "0" {
        return true;
    }
    let digits = value.strip_prefix('-').unwrap_or(value);
    let mut chars = digits.chars();
    matches!(chars.next(), Some('1'..='9')) && chars.all(|c| c.is_ascii_digit())
}

/// Go's `strconv.ParseBool`.
fn is_go_bool(value: &str) -> bool {
    matches!(
        value,
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    )
}

/// RFC 6265 §4.1.1 cookie-name = token (RFC 2616): visible ASCII except separators.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use super::*;
    use serde_json::json;

    const ID: &str = "invalid-affinity-value";

    fn with(name: &str, value: &str) -> serde_json::Value {
        let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
        annotations[format!("nginx.ingress.kubernetes.io/{name}")] = json!(value);
        ingress(annotations, &["/"])
    }

    #[test]
    fn fires_on_each_kind_of_bad_value() {
        for (name, value) in [
            ("affinity-mode", "sticky"),
            ("affinity-canary-behavior", "always"),
            ("session-cookie-max-age", "60s"),
            ("session-cookie-expires", "01"),
            ("session-cookie-samesite", "Sometimes"),
            ("session-cookie-secure", "yes"),
            ("session-cookie-change-on-failure", "on"),
            ("session-cookie-name", "my cookie"),
            ("session-cookie-name", "a=b"),
        ] {
            let findings = of(ID, run(with(name, value), Phase::Validating));
            assert_eq!(findings.len(), 1, "{name}={value}");
            assert_eq!(findings[0].level, Level::Warn);
            assert!(
                findings[0]
                    .message
                    .starts_with(&format!("{name} `{value}` is invalid"))
            );
        }
        let bad_affinity = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "ip"}),
            &["/"],
        );
        let findings = of(ID, run(bad_affinity, Phase::Validating));
        assert_eq!(
            findings[0].message,
            "affinity `ip` is invalid: use \"cookie\" (the only value)"
        );
    }

    #[test]
    fn does_not_fire_on_accepted_values() {
        for (name, value) in [
            ("affinity-mode", "persistent"),
            ("affinity-canary-behavior", "legacy"),
            ("session-cookie-max-age", "172800"),
            ("session-cookie-expires", "-1"),
            ("session-cookie-max-age", "0"),
            ("session-cookie-samesite", "lax"),
            ("session-cookie-secure", "True"),
            ("session-cookie-name", "INGRESSCOOKIE"),
            ("session-cookie-name", "lb_sticky-1.x"),
            ("session-cookie-domain", "anything goes"),
        ] {
            assert!(
                of(ID, run(with(name, value), Phase::Validating)).is_empty(),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn seconds_validator() {
        assert!(is_seconds("0") && is_seconds("10") && is_seconds("-5"));
        assert!(!is_seconds("-0") && !is_seconds("") && !is_seconds("1.5") && !is_seconds("+1"));
    }
}

//! `invalid-affinity-value`: affinity annotations with values the controller rejects, or
//! accepts only to fail on them later.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::affinity::Affinity;
use crate::objects::IngressObject;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "invalid-affinity-value",
    title: "Session affinity annotation with a value the controller rejects",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx validates each session affinity annotation with its own validators and \
drops a value that fails (a warning in its log, validators.go L244), falling back to the \
default or to no affinity at all (the cookie settings are validated only with cookie affinity): `affinity` must be `cookie`; `affinity-mode` `balanced` or `persistent`; \
`affinity-canary-behavior` `sticky` or `legacy` (all case-sensitive, trimmed); \
`session-cookie-samesite` None, Lax or Strict; the flags a Go boolean (untrimmed); cookie name \
and domain only letters, digits and `- . _ ~ / :`; the cookie path also `, ? & =`; expires and \
max-age must match the controller's regex `(^0|-?[1-9]\\d*$)`. That regex is mis-anchored: it \
also accepts `abc123` or `0abc`, which sticky.lua then cannot read as a number: for expires the \
Lua arithmetic fails when the cookie is set, for max-age the attribute is dropped. Accepted \
values can still end stickiness: expires or max-age of 0 or less expire the cookie at once, and \
lua-resty-cookie drops a SameSite spelled other than exactly Strict, Lax or None.",
    fix: "Write the value the controller accepts (the message names it); expires and max-age in \
whole seconds.",
    source: "ingress-nginx internal/ingress/annotations/sessionaffinity/main.go L73-154 \
(validators), L196-250 (fallbacks); internal/ingress/annotations/parser/validators.go L44-85, \
L111-170; rootfs/etc/nginx/lua/balancer/sticky.lua L104-111 (tonumber); lua-resty-cookie \
f418d77 lib/resty/cookie.lua L149-157 (SameSite); RFC 6265 §5.2.1-5.2.2",
    match_condition: |policy| {
        format!(
            "{} && {}",
            condition::judged(policy),
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
    nginx.ingress.kubernetes.io/affinity-mode: always
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
    nginx.ingress.kubernetes.io/affinity-mode: persistent
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
    let affinity = Affinity::of(ingress, &context.policy.annotation_prefix);
    let mut findings: Vec<Finding> = affinity
        .rejected
        .iter()
        // With cookie affinity on, a rejected session-cookie-path is cookie-path-not-literal's
        // (a denial: the cookie Path falls back to the Ingress path).
        .filter(|r| !(affinity.cookie && r.name == "session-cookie-path"))
        .map(|r| {
            let expected = match r.name {
                // The validator lowercases (sessionaffinity/main.go L131-137), but sticky.lua's
                // lua-resty-cookie drops any value other than exactly None, Lax or Strict.
                "session-cookie-samesite" => "None, Lax or Strict",
                _ => r.expected.as_str(),
            };
            Finding::warn(
                &RULE,
                format!(
                    "{} `{}` rejected ({} applies): use {expected}",
                    r.name, r.value, r.default
                ),
            )
            .at_annotation(&r.key)
        })
        .collect();
    let prefix = &context.policy.annotation_prefix;
    let settings = &affinity.cookie_settings;
    for (name, value) in [
        ("session-cookie-expires", &settings.expires),
        ("session-cookie-max-age", &settings.max_age),
    ] {
        let Some(value) = value else { continue };
        if is_whole_seconds(value) {
            // sticky.lua L104-110 sets Expires to now + value, or Max-Age to value: at 0 or
            // less the browser drops the cookie at once (RFC 6265 §5.2.1-5.2.2).
            if value.starts_with('-') || value.bytes().all(|b| b == b'0') {
                findings.push(
                    Finding::warn(
                        &RULE,
                        format!("{name} `{value}` expires the cookie at once: omit it or use > 0"),
                    )
                    .at_annotation(&format!("{prefix}/{name}")),
                );
            }
            continue;
        }
        let what = match (lua_number(value), name) {
            // sticky.lua L104-106: `ngx.time() + tonumber(expires)` is arithmetic on nil.
            (false, "session-cookie-expires") => "is not a number: sticky.lua errors",
            // sticky.lua L109-110: `max_age = tonumber(maxage)` is nil: no Max-Age.
            (false, _) => "is not a number: sticky.lua drops it",
            (true, _) => "is not whole seconds: use e.g. \"3600\"",
        };
        findings.push(
            Finding::warn(
                &RULE,
                format!("{name} `{value}` passes the controller but {what}"),
            )
            .at_annotation(&format!("{prefix}/{name}")),
        );
    }
    // lua-resty-cookie (pinned f418d77, lib/resty/cookie.lua L149-157) drops any SameSite other
    // than exactly Strict, Lax or None; `none` is samesite-none-without-secure's.
    if let Some(samesite) = &settings.samesite
        && !matches!(samesite.as_str(), "Strict" | "Lax" | "None")
        && !samesite.eq_ignore_ascii_case("none")
    {
        let fixed = if samesite.eq_ignore_ascii_case("lax") {
            "Lax"
        } else {
            "Strict"
        };
        findings.push(
            Finding::warn(
                &RULE,
                format!("session-cookie-samesite `{samesite}` is never sent: write {fixed}"),
            )
            .at_annotation(&format!("{prefix}/session-cookie-samesite")),
        );
    }
    findings
}

/// An optional `-` and ASCII digits: seconds as sticky.lua and browsers read them.
fn is_whole_seconds(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether OpenResty's `tonumber` (LuaJIT's `lj_strscan_scan`) reads `value` as a number:
/// surrounding spaces, an optional sign, then decimal digits with optional fraction and
/// exponent, `0x` and hexadecimal digits, or `0b` and binary digits. (Its `inf`/`nan` never
/// pass the controller's regex, so they are not modelled.)
fn lua_number(value: &str) -> bool {
    let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    let prefixed = |lower: &str, upper: &str| {
        unsigned
            .strip_prefix(lower)
            .or_else(|| unsigned.strip_prefix(upper))
    };
    if let Some(hex) = prefixed("0x", "0X") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(binary) = prefixed("0b", "0B") {
        return !binary.is_empty() && binary.bytes().all(|b| b == b'0' || b == b'1');
    }
    // Rust's float syntax without its words (`inf`, `NaN`): digits, `.`, `e`, signs.
    unsigned.bytes().any(|b| b.is_ascii_digit())
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && unsigned.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    /// sticky.lua L104-110 with RFC 6265 §5.2.1-5.2.2: 0 or less expires the cookie at once;
    /// lua-resty-cookie f418d77 cookie.lua L149-157 drops `lax` and `strict` spelled otherwise.
    #[test]
    fn values_that_end_stickiness_quietly() {
        use super::super::Phase;
        use super::super::testing::*;
        use serde_json::json;
        let messages = |extra: serde_json::Value| -> Vec<String> {
            let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
            for (k, v) in extra.as_object().unwrap() {
                annotations[k] = v.clone();
            }
            of(
                "invalid-affinity-value",
                run(ingress(annotations, &["/"]), Phase::Validating),
            )
            .into_iter()
            .map(|f| f.message)
            .collect()
        };
        assert_eq!(
            messages(json!({"nginx.ingress.kubernetes.io/session-cookie-max-age": "0"})),
            ["session-cookie-max-age `0` expires the cookie at once: omit it or use > 0"]
        );
        assert_eq!(
            messages(json!({"nginx.ingress.kubernetes.io/session-cookie-expires": "-1"})),
            ["session-cookie-expires `-1` expires the cookie at once: omit it or use > 0"]
        );
        assert_eq!(
            messages(json!({"nginx.ingress.kubernetes.io/session-cookie-samesite": "lax"})),
            ["session-cookie-samesite `lax` is never sent: write Lax"]
        );
        for fine in [
            json!({"nginx.ingress.kubernetes.io/session-cookie-max-age": "3600"}),
            json!({"nginx.ingress.kubernetes.io/session-cookie-samesite": "Strict"}),
        ] {
            assert!(messages(fine.clone()).is_empty(), "{fine}");
        }
    }

    /// A bad session-cookie-path on a sticky Ingress is reported once, by
    /// cookie-path-not-literal (a denial); without affinity it is never validated.
    #[test]
    fn a_sticky_cookie_path_is_left_to_cookie_path_not_literal() {
        use super::super::Phase;
        use super::super::testing::*;
        use serde_json::json;
        let sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-path": "/a(b)"}),
            &["/a"],
        );
        let findings = run(sticky, Phase::Validating);
        let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["cookie-path-not-literal"]);
        let plain = ingress(
            json!({"nginx.ingress.kubernetes.io/session-cookie-path": "/a(b)"}),
            &["/a"],
        );
        // sessionaffinity/main.go L281-283: without cookie affinity the cookie settings are
        // never validated; affinity-settings-without-affinity says they do nothing.
        let findings = run(plain, Phase::Validating);
        let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["affinity-settings-without-affinity"]);
    }

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

    fn messages(value: serde_json::Value) -> Vec<String> {
        let findings = of(ID, run(value, Phase::Validating));
        assert!(findings.iter().all(|f| f.level == Level::Warn));
        findings.into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn fires_on_values_the_controller_rejects() {
        for (name, value, message) in [
            // sessionaffinity/main.go L79-86: ValidateOptions({"balanced","persistent"}, true, true).
            (
                "affinity-mode",
                "sticky",
                "affinity-mode `sticky` rejected (balanced applies): use \"balanced\" or \
                 \"persistent\"",
            ),
            // L87-94.
            (
                "affinity-canary-behavior",
                "always",
                "affinity-canary-behavior `always` rejected (sticky applies): use \"sticky\" or \
                 \"legacy\"",
            ),
            // L113-118 + L154: `(^0|-?[1-9]\d*$)`, searched; `60s` neither starts with 0 nor
            // ends in digits.
            (
                "session-cookie-max-age",
                "60s",
                "session-cookie-max-age `60s` rejected (no Max-Age applies): use whole seconds, \
                 e.g. \"3600\"",
            ),
            // L107-112 then L207-211: spaces removed for the validator, kept for the second check.
            (
                "session-cookie-expires",
                "36 00",
                "session-cookie-expires `36 00` rejected (no Expires applies): use whole seconds, \
                 e.g. \"3600\"",
            ),
            // L131-137: lowercased then compared; sticky.lua wants None, Lax or Strict.
            (
                "session-cookie-samesite",
                "Sometimes",
                "session-cookie-samesite `Sometimes` rejected (no SameSite applies): use None, \
                 Lax or Strict",
            ),
            // L101-106: ValidateBool = strconv.ParseBool (validators.go L161-164).
            (
                "session-cookie-secure",
                "yes",
                "session-cookie-secure `yes` rejected (Secure if nginx ends TLS applies): use \
                 \"true\" or \"false\"",
            ),
            (
                "session-cookie-change-on-failure",
                "on",
                "session-cookie-change-on-failure `on` rejected (false applies): use \"true\" or \
                 \"false\"",
            ),
            // L95-100: ValidateRegex(BasicCharsRegex, true); validators.go L68 has no `$`.
            (
                "session-cookie-name",
                "SESS$ID",
                "session-cookie-name `SESS$ID` rejected (INGRESSCOOKIE applies): use only \
                 [A-Za-z0-9._~/:-]",
            ),
            (
                "session-cookie-name",
                "a=b",
                "session-cookie-name `a=b` rejected (INGRESSCOOKIE applies): use only \
                 [A-Za-z0-9._~/:-]",
            ),
        ] {
            assert_eq!(messages(with(name, value)), [message], "{name}={value}");
        }
        // L73-78: ValidateOptions({"cookie"}, true, true): case-sensitive.
        let bad_affinity = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "Cookie"}),
            &["/"],
        );
        assert_eq!(
            messages(bad_affinity),
            ["affinity `Cookie` rejected (no affinity applies): use \"cookie\" (the only value)"]
        );
    }

    #[test]
    fn does_not_fire_on_values_the_controller_accepts() {
        for (name, value) in [
            ("affinity-mode", "persistent"),
            ("affinity-mode", " balanced "),
            ("affinity-canary-behavior", "legacy"),
            ("session-cookie-max-age", "172800"),
            ("session-cookie-expires", "86400"),
            ("session-cookie-samesite", "Lax"),
            ("session-cookie-secure", "True"),
            ("session-cookie-name", "INGRESSCOOKIE"),
            ("session-cookie-name", "lb_sticky-1.x"),
            // BasicCharsRegex (validators.go L68) holds `/` and `:` (alphaNumericChars, L45).
            ("session-cookie-name", "ns/name"),
            ("session-cookie-name", "a:b"),
            // ValidateRegex removes spaces before matching (validators.go L113-114).
            ("session-cookie-name", "my cookie"),
            ("session-cookie-domain", ".example.com"),
        ] {
            assert!(messages(with(name, value)).is_empty(), "{name}={value}");
        }
        // ValidateOptions trims (validators.go L145), and so does normalizeString for the
        // consumer (parser/main.go L228-235): " cookie" is cookie affinity.
        let spaced = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": " cookie"}),
            &["/"],
        );
        assert!(messages(spaced).is_empty());
    }

    /// sessionaffinity/main.go L154: `(^0|-?[1-9]\d*$)` is searched, so `abc123` (digits at the
    /// end) and `0abc` (0 at the start) pass, also the second check (L207-217). sticky.lua
    /// L104-111 then reads them with `tonumber`, which gives nil.
    #[test]
    fn values_the_controller_passes_but_sticky_lua_cannot_read() {
        assert_eq!(
            messages(with("session-cookie-max-age", "abc123")),
            [
                "session-cookie-max-age `abc123` passes the controller but is not a number: \
              sticky.lua drops it"
            ]
        );
        assert_eq!(
            messages(with("session-cookie-expires", "0abc")),
            [
                "session-cookie-expires `0abc` passes the controller but is not a number: \
              sticky.lua errors"
            ]
        );
        // `1 2`: the expires validator sees `12`, the second check finds `2` at the end.
        assert_eq!(
            messages(with("session-cookie-expires", "1 2")),
            [
                "session-cookie-expires `1 2` passes the controller but is not a number: \
              sticky.lua errors"
            ]
        );
        // A number to Lua, but not whole seconds (a browser ignores `Max-Age=1.5`).
        assert_eq!(
            messages(with("session-cookie-max-age", "1.5")),
            [
                "session-cookie-max-age `1.5` passes the controller but is not whole seconds: use \
              e.g. \"3600\""
            ]
        );
        for value in ["1e3", "+5", "0x10", "00"] {
            let found = messages(with("session-cookie-max-age", value));
            assert!(
                found.iter().all(|m| !m.contains("not a number")),
                "{value}: {found:?}"
            );
        }
    }

    #[test]
    fn lua_numbers() {
        for yes in ["1", "-1", "+5", "1.5", "1e3", ".5", "0x1F", "0b101", " 7 "] {
            assert!(lua_number(yes), "{yes}");
        }
        for no in [
            "abc123", "0abc", "1 2", "", "-", "inf", "NaN", "0x", "0b2", "1e",
        ] {
            assert!(!lua_number(no), "{no}");
        }
        assert!(is_whole_seconds("0") && is_whole_seconds("-5") && is_whole_seconds("00"));
        assert!(!is_whole_seconds("-") && !is_whole_seconds("1.0") && !is_whole_seconds(""));
    }

    #[test]
    fn messages_fit_kubectl_warnings() {
        for (name, value) in [
            ("session-cookie-conditional-samesite-none", "yes"),
            ("session-cookie-domain", "*.example.com"),
            ("session-cookie-max-age", "abc123"),
        ] {
            for m in messages(with(name, value)) {
                let n = format!("{ID}: {m}").chars().count();
                assert!(n <= 120, "{n}: {m}");
            }
        }
    }
}

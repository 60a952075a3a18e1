//! `cookie-path-for-regex`: a sticky Ingress in regex mode needs a literal `session-cookie-path`.

use super::condition;
use super::regex_mode::{RegexMode, RegexModes};
use super::{Check, Context, Finding, Fix, Reads, Rule};
use crate::controllers::nginx::{self, Annotations, annotation};
use crate::cookie_path::{self, Derived};
use crate::objects::IngressObject;
use crate::objects::kinds::Kind;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "cookie-path-for-regex",
    title: "Sticky Ingress with regex paths has no session-cookie-path",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    any_class: false,
    reads: Reads {
        kinds: &[Kind::Ingress],
        needs_view: false,
    },
    default_action: Action::Deny,
    mutating: true,
    why: "With cookie affinity on and regex paths, ingress-nginx sets the session cookie's Path to \
the path string itself (e.g. `/mysite(/|$)(.*)`) unless session-cookie-path is set. Browsers \
compare cookie paths literally and never send such a cookie back, so no request is sticky. \
The derived path covers every request path the regexes match (RFC 6265 path-match), as written: \
nginx matches regex paths case-insensitively, but requests spelled in another case are not \
covered by the cookie.",
    fix: "Set <prefix>/session-cookie-path to the literal part of the paths; the mutating webhook \
adds it, and `sticky-guard fix` writes it into the manifest.",
    source: "ingress-nginx docs/user-guide/nginx-configuration/annotations.md (\"Session cookie \
paths do not support regex\"); internal/ingress/controller/controller.go L883-897; \
rootfs/etc/nginx/lua/balancer/sticky.lua L75-77; rootfs/etc/nginx/template/nginx.tmpl L1156 \
(`set $location_path`); RFC 6265 §5.1.4",
    match_condition: |policy| {
        // The sticky Ingress itself, and an Ingress that turns regex mode on for a host where
        // one lives (use-regex, or rewrite-target: regex_mode.rs).
        format!(
            "{} || ({} && ({} || {}))",
            condition::sticky(policy),
            condition::judged(policy),
            condition::nginx_annotation(policy, annotation::USE_REGEX),
            condition::nginx_annotation(policy, annotation::REWRITE_TARGET)
        )
    },
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let annotations = Annotations::new(ingress, &context.policy.annotation_prefix);
    if !annotations.cookie_affinity() || annotations.get(annotation::SESSION_COOKIE_PATH).is_some()
    {
        return Vec::new();
    }
    // The first regex path on a host in regex mode, and who turned regex mode on.
    let mut modes = RegexModes::new(ingress, context);
    let Some((regex_path, mode)) = ingress
        .paths()
        .into_iter()
        .filter(|p| nginx::regex_tell(p.path).is_some())
        .find_map(|p| modes.of(p.host.unwrap_or("")).map(|m| (p, m)))
    else {
        return Vec::new();
    };
    let derived = derive(ingress);
    let key = annotations.key(annotation::SESSION_COOKIE_PATH);
    let through = match mode {
        RegexMode::Own => String::new(),
        RegexMode::Other(other) => format!(
            " (regex mode is on for host `{}` through {other})",
            regex_path.host.unwrap_or("")
        ),
    };
    let mut findings = vec![
        Finding::deny(
            &RULE,
            format!(
                "cookie affinity is on and path `{}` is a regex{through}, so ingress-nginx would \
                 set the session cookie's Path to the regex and browsers would never send the \
                 cookie back; set annotation {key}: \"{}\" (the literal part of the paths)",
                regex_path.path, derived.path
            ),
        )
        .at_annotation(&key)
        .with_fix(Fix::SetAnnotation {
            key,
            value: derived.path.clone(),
        }),
    ];
    for (path, error) in derived.unparseable {
        findings.push(Finding::warn(
            &RULE,
            format!("path `{path}` is not a regex sticky-guard can read ({error}); cookie path falls back to /"),
        ));
    }
    findings
}

/// The cookie path derived from all paths of this Ingress (see [`cookie_path::derive`]).
pub(super) fn derive(ingress: &IngressObject) -> Derived {
    cookie_path::derive(ingress.paths().iter().map(|p| p.path))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase, json_patch};
    use serde_json::json;

    const ID: &str = "cookie-path-for-regex";

    fn sticky_regex(paths: &[&str]) -> serde_json::Value {
        ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/use-regex": "true"}),
            paths,
        )
    }

    /// ingress-nginx controller.go L883-897: without session-cookie-path the upstream's cookie Path
    /// is empty (and the controller logs "session-cookie-path should be set when use-regex is true",
    /// L886); sticky.lua L75-77 then uses `ngx.var.location_path`, the Ingress path as written
    /// (nginx.tmpl L1156).
    #[test]
    fn fires_on_sticky_regex_paths_without_cookie_path() {
        let findings = of(
            ID,
            run(sticky_regex(&["/mysite(/|$)(.*)"]), Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert!(
            findings[0]
                .message
                .contains("session-cookie-path: \"/mysite\"")
        );
    }

    /// template.go L497-502 (`needsRewrite`) and L506-519 (`enforceRegexModifier`): a rewrite-target
    /// that differs from the path turns regex mode on for the server.
    #[test]
    fn fires_when_rewrite_target_turns_regex_mode_on() {
        let value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
            &["/mysite(/|$)(.*)"],
        );
        assert_eq!(of(ID, run(value, Phase::Mutating)).len(), 1);
    }

    #[test]
    fn does_not_fire() {
        // Cookie path already set (also: what the patched object looks like).
        let mut set = sticky_regex(&["/mysite(/|$)(.*)"]);
        set["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-path"] =
            json!("/mysite");
        assert!(of(ID, run(set, Phase::Validating)).is_empty());
        // Not sticky.
        let plain = ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/a(.*)"],
        );
        assert!(of(ID, run(plain, Phase::Validating)).is_empty());
        // Regex mode off: paths are literal prefixes (another rule's business).
        let literal = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/a(.*)"],
        );
        assert!(of(ID, run(literal, Phase::Validating)).is_empty());
        // Regex mode on but no path has a metacharacter: the path is a fine cookie path.
        assert!(of(ID, run(sticky_regex(&["/app"]), Phase::Validating)).is_empty());
    }

    #[test]
    fn patch_adds_the_derived_path() {
        let value = sticky_regex(&["/a/b(/|$)(.*)", "/a/c(/|$)(.*)"]);
        let findings = of(ID, run(value.clone(), Phase::Mutating));
        let object = crate::rules::testing::object(value);
        let patch = json_patch(
            findings.iter().filter_map(|f| f.fix.as_ref()),
            object.meta().annotations.as_ref(),
        );
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add",
                    "path": "/metadata/annotations/nginx.ingress.kubernetes.io~1session-cookie-path",
                    "value": "/a"}])
        );
    }

    #[test]
    fn fires_when_another_ingress_on_the_host_turns_regex_mode_on() {
        let sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/mysite(/|$)(.*)"],
        );
        assert!(
            of(ID, run(sticky.clone(), Phase::Mutating)).is_empty(),
            "alone: literal"
        );
        let mut other = ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/other"],
        );
        other["metadata"]["name"] = json!("other");
        let findings = of(
            ID,
            run_among(sticky.clone(), &[other.clone()], Phase::Mutating),
        );
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .message
                .contains("(regex mode is on for host `example.com` through Ingress app/other)"),
            "{}",
            findings[0].message
        );
        // Another host, or another ingress class, does not count.
        let mut elsewhere = other.clone();
        elsewhere["spec"]["rules"][0]["host"] = json!("other.example.com");
        assert!(of(ID, run_among(sticky.clone(), &[elsewhere], Phase::Mutating)).is_empty());
        let mut other_class = other;
        other_class["spec"]["ingressClassName"] = json!("traefik");
        assert!(of(ID, run_among(sticky, &[other_class], Phase::Mutating)).is_empty());
    }

    #[test]
    fn another_configured_class_is_another_controller() {
        let sticky = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/mysite(/|$)(.*)"],
        );
        let mut internal = ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/x"],
        );
        internal["metadata"]["name"] = json!("internal");
        internal["spec"]["ingressClassName"] = json!("nginx-internal");
        let policy = crate::policy::Policy {
            ingress_classes: vec!["nginx".into(), "nginx-internal".into()],
            ..Default::default()
        };
        assert!(
            of(
                ID,
                run_among_with(sticky, &[internal], Phase::Mutating, &policy)
            )
            .is_empty()
        );
    }

    /// template.go L523-538 (`buildLocation`): regex mode is checked before `pathType: Exact`.
    #[test]
    fn exact_paths_are_regexes_in_regex_mode() {
        let mut value = sticky_regex(&["/shop/(cart|checkout)"]);
        value["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("Exact");
        let findings = of(ID, run(value, Phase::Mutating));
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .message
                .contains("session-cookie-path: \"/shop\"")
        );
    }

    #[test]
    fn dots_alone_do_not_make_a_path_a_regex() {
        assert!(of(ID, run(sticky_regex(&["/api/v1.0"]), Phase::Mutating)).is_empty());
    }

    #[test]
    fn unparseable_path_gives_root_and_a_warning() {
        let findings = of(ID, run(sticky_regex(&["/x(?=y)"]), Phase::Mutating));
        assert_eq!(findings.len(), 2);
        assert_eq!(
            findings[0].fix,
            Some(super::Fix::SetAnnotation {
                key: "nginx.ingress.kubernetes.io/session-cookie-path".into(),
                value: "/".into()
            })
        );
        assert_eq!(findings[1].level, Level::Warn);
        assert!(
            findings[1]
                .message
                .starts_with("path `/x(?=y)` is not a regex")
        );
    }
}

//! `cookie-path-for-regex`: a sticky Ingress in regex mode needs a literal `session-cookie-path`.

use super::condition;
use super::host::{HostFacts, Subject};
use super::regex_mode::{RegexMode, RegexModes};
use super::{Check, Context, Controllers, Examples, Finding, Fix, Reads, Rule};
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
    controllers: Controllers::IngressNginx,
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
covered by the cookie. Regex mode is host-wide: an Ingress that turns it on (use-regex, or a \
rewrite-target) for a host where a sticky Ingress has a regex-looking path and no \
session-cookie-path breaks that Ingress's cookie, so that write is refused too.",
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
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/use-regex: 'true'
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /mysite(/|$)(.*)
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
    nginx.ingress.kubernetes.io/use-regex: 'true'
    nginx.ingress.kubernetes.io/session-cookie-path: /mysite
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /mysite(/|$)(.*)
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
    let mut findings = own_paths(ingress, context);
    findings.extend(turned_on_for_others(ingress, context));
    findings
}

/// This Ingress turns regex mode on for a host (`use-regex`, or a `rewrite-target` differing
/// from a path; regex_mode.rs) where another sticky Ingress of its controller has a regex-looking
/// path and no `session-cookie-path`: with this write, ingress-nginx reads that path as a regex
/// and sets that Ingress's cookie Path to it. Not when another Ingress already turns regex mode
/// on for the host (the write changes nothing there).
fn turned_on_for_others(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let prefix = &context.policy.annotation_prefix;
    let annotations = Annotations::new(ingress, prefix);
    if annotations.get(annotation::USE_REGEX).is_none()
        && annotations.get(annotation::REWRITE_TARGET).is_none()
    {
        return Vec::new();
    }
    let turned_by = if annotations.use_regex() {
        annotation::USE_REGEX
    } else {
        annotation::REWRITE_TARGET
    };
    let subject = Subject::of(ingress);
    let mut hosts: Vec<&str> = ingress
        .spec
        .rules
        .iter()
        .flatten()
        .filter(|rule| rule.http.is_some())
        .map(|rule| rule.host.as_deref().unwrap_or(""))
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut findings = Vec::new();
    for host in hosts {
        if !nginx::turns_on_regex_mode(ingress, host, prefix) {
            continue;
        }
        let facts = HostFacts::of(host, context);
        if facts.regex_mode_from_other(&subject).is_some() {
            continue;
        }
        let key = annotations.key(annotation::SESSION_COOKIE_PATH);
        for (member, path) in facts.unpinned_regex_paths(&subject) {
            findings.push(
                Finding::deny(
                    &RULE,
                    format!(
                        "this Ingress turns regex mode on for host `{host}`, where sticky {} has \
                         regex path `{}` and no session-cookie-path: ingress-nginx would then set \
                         its session cookie's Path to the regex and browsers would never send the \
                         cookie back; set annotation {key} on {} first (`sticky-guard check` on it \
                         prints the value)",
                        member.reference,
                        crate::echo::bounded(path),
                        member.reference
                    ),
                )
                .at_annotation(&annotations.key(turned_by)),
            );
        }
    }
    findings
}

/// This sticky Ingress's own regex paths in regex mode, without `session-cookie-path`.
fn own_paths(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
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

    /// A sticky Ingress with a regex-looking path and no cookie path, named `name`: harmless
    /// while regex mode is off on its host.
    fn unpinned(name: &str) -> serde_json::Value {
        let mut value = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/shop/(.*)"],
        );
        value["metadata"]["name"] = json!(name);
        value
    }

    fn turner(annotations: serde_json::Value) -> serde_json::Value {
        let mut value = ingress(annotations, &["/search"]);
        value["metadata"]["name"] = json!("turner");
        value
    }

    /// template.go `enforceRegexModifier` (L506-519): one Ingress's use-regex makes every
    /// location of the host a regex, so the sticky Ingress's path becomes a regex and its
    /// cookie Path (sticky.lua L75-77) the regex itself. The write that turns it on is refused.
    #[test]
    fn fires_on_the_ingress_that_turns_regex_mode_on_for_a_sticky_one() {
        for annotations in [
            json!({"nginx.ingress.kubernetes.io/use-regex": "true"}),
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/"}),
        ] {
            let findings = of(
                ID,
                run_among(
                    turner(annotations.clone()),
                    &[unpinned("shop")],
                    Phase::Validating,
                ),
            );
            assert_eq!(findings.len(), 1, "{annotations}");
            assert_eq!(findings[0].level, Level::Deny);
            assert!(findings[0].fix.is_none(), "another object is to change");
            assert!(
                findings[0].message.starts_with(
                    "this Ingress turns regex mode on for host `example.com`, where sticky \
                     Ingress app/shop has regex path `/shop/(.*)` and no session-cookie-path"
                ),
                "{}",
                findings[0].message
            );
            let key = annotations
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            assert_eq!(
                findings[0].field.as_deref(),
                Some(format!("metadata.annotations[\"{key}\"]").as_str())
            );
        }
    }

    #[test]
    fn does_not_fire_on_a_turner_when_the_sticky_ingress_is_pinned_or_elsewhere() {
        let turner = turner(json!({"nginx.ingress.kubernetes.io/use-regex": "true"}));
        // Its cookie path is set.
        let mut pinned = unpinned("shop");
        pinned["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-path"] =
            json!("/shop");
        // Another host.
        let mut elsewhere = unpinned("other-host");
        elsewhere["spec"]["rules"][0]["host"] = json!("other.example.com");
        // Another controller's class.
        let mut other_class = unpinned("other-class");
        other_class["spec"]["ingressClassName"] = json!("nginx-internal");
        // Not sticky at all.
        let mut plain = unpinned("plain");
        plain["metadata"]["annotations"] = json!({});
        for other in [pinned, elsewhere, other_class, plain] {
            let name = other["metadata"]["name"].clone();
            assert!(
                of(ID, run_among(turner.clone(), &[other], Phase::Validating)).is_empty(),
                "{name}"
            );
        }
        // Regex mode is on already, through another Ingress: this write changes nothing.
        let mut already = turner.clone();
        already["metadata"]["name"] = json!("already");
        assert!(
            of(
                ID,
                run_among(
                    turner.clone(),
                    &[unpinned("shop"), already],
                    Phase::Validating
                )
            )
            .is_empty()
        );
        // No regex mode turned on: a use-regex of "false".
        let off = super::super::testing::ingress(
            json!({"nginx.ingress.kubernetes.io/use-regex": "false"}),
            &["/search"],
        );
        assert!(of(ID, run_among(off, &[unpinned("shop")], Phase::Validating)).is_empty());
    }
}

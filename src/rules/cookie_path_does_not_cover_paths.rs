//! `cookie-path-does-not-cover-paths`: an explicit `session-cookie-path` leaves out paths of
//! the Ingress.

use super::condition;
use super::cookie_path_not_literal::literal_problem;
use super::regex_mode::RegexModes;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::affinity::Affinity;
use crate::controllers::nginx::annotations::is_url_valid_char;
use crate::controllers::nginx::{self, Annotations, annotation};
use crate::cookie_path::{common_path, path_matches, path_prefix};
use crate::objects::IngressObject;
use crate::objects::kinds::Kind;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "cookie-path-does-not-cover-paths",
    title: "session-cookie-path does not cover every path of the Ingress",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    // Other Ingresses on the host only tell whether regex mode is on; the rule runs without them.
    reads: Reads {
        kinds: &[Kind::Ingress],
        needs_view: false,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx gives the sticky cookie the Path in session-cookie-path, and browsers \
send a cookie only on requests whose path path-matches it (RFC 6265 §5.1.4: equal, or a prefix \
ending on a `/` boundary). A path of the Ingress outside that Path never gets the cookie back, \
so its requests are balanced anew each time. A regex path (regex mode on for its host) counts \
by its literal prefix, which every request it matches starts with. Explicit values are never \
rewritten.",
    fix: "Set <prefix>/session-cookie-path to a path that covers every path of the Ingress (their \
common literal prefix, `/` at worst), or move the other paths to their own Ingress.",
    source: "ingress-nginx rootfs/etc/nginx/lua/balancer/sticky.lua L75-78 (the cookie Path), \
internal/ingress/controller/controller.go L884-893; RFC 6265 §5.1.4 (path-match)",
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
    nginx.ingress.kubernetes.io/session-cookie-path: /app
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /app
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
      - path: /api
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
    nginx.ingress.kubernetes.io/session-cookie-path: /
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /app
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
      - path: /api
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
    let prefix = &context.policy.annotation_prefix;
    let affinity = Affinity::of(ingress, prefix);
    if !affinity.cookie {
        return Vec::new();
    }
    // Unset or rejected: the cookie Path is each location's own path (sticky.lua L75-78).
    let Some(cookie_path) = affinity.cookie_settings.path.as_deref() else {
        return Vec::new();
    };
    // Not a literal absolute path at all: cookie-path-not-literal's business.
    if literal_problem(cookie_path).is_some() {
        return Vec::new();
    }
    let paths = ingress.paths();
    let mut modes = RegexModes::new(ingress, context);
    // Per path: the literal every request it serves starts with (`None` for a regex that does
    // not parse), and a cookie path the controller accepts that covers it.
    let reaches: Vec<(Option<String>, String)> = paths
        .iter()
        .map(|p| {
            // nginx reads a path as a regex when it looks like one and regex mode is on for
            // its host; a literal-looking path in regex mode (`/app`) is taken as written, as
            // cookie-path-for-regex does.
            if nginx::regex_tell(p.path).is_some() && modes.of(p.host.unwrap_or("")).is_some() {
                let reach = path_prefix(p.path).ok();
                let cover = reach.clone().unwrap_or_else(|| "/".to_string());
                (reach, cover)
            } else {
                (Some(p.path.to_string()), literal_cover(p.path))
            }
        })
        .collect();
    let Some(uncovered) = paths
        .iter()
        .zip(&reaches)
        .find(|(_, (reach, _))| {
            reach
                .as_deref()
                .is_some_and(|r| !path_matches(cookie_path, r))
        })
        .map(|(p, _)| p)
    else {
        return Vec::new();
    };
    let suggestion = common_path(reaches.iter().map(|(_, cover)| cover.as_str()));
    let key = Annotations::new(ingress, prefix).key(annotation::SESSION_COOKIE_PATH);
    vec![
        Finding::warn(
            &RULE,
            format!(
                "cookie Path `{cookie_path}` does not cover path `{}`: set session-cookie-path: \
                 \"{suggestion}\"",
                uncovered.path
            ),
        )
        .at_annotation(&key),
    ]
}

/// A literal path as a cookie path the controller accepts (`URLIsValidRegex`, without `?`):
/// the path itself, or, from its first other character on, cut back to before the last `/`.
fn literal_cover(path: &str) -> String {
    match path.find(|c: char| !is_url_valid_char(c) || c == '?') {
        None => path.to_string(),
        Some(i) => path[..i]
            .rfind('/')
            .map_or_else(String::new, |j| path[..j].to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use super::literal_cover;
    use serde_json::{Value, json};

    const ID: &str = "cookie-path-does-not-cover-paths";

    fn sticky(cookie_path: &str, paths: &[&str]) -> Value {
        ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-path": cookie_path}),
            paths,
        )
    }

    fn regex_mode(mut value: Value) -> Value {
        value["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] = json!("true");
        value
    }

    /// RFC 6265 §5.1.4: `/app` path-matches `/app` and `/app/x`, not `/api` or `/`.
    #[test]
    fn fires_on_a_literal_path_outside_the_cookie_path() {
        let findings = of(
            ID,
            run(sticky("/app", &["/app", "/api"]), Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("metadata.annotations[\"nginx.ingress.kubernetes.io/session-cookie-path\"]")
        );
        assert_eq!(
            findings[0].message,
            "cookie Path `/app` does not cover path `/api`: set session-cookie-path: \"/\""
        );
        assert_eq!(findings[0].fix, None, "explicit values are never rewritten");
        // A cookie Path with a trailing `/` does not cover the path without it.
        let findings = of(ID, run(sticky("/app/", &["/app"]), Phase::Validating));
        assert_eq!(
            findings[0].message,
            "cookie Path `/app/` does not cover path `/app`: set session-cookie-path: \"/app\""
        );
    }

    /// A regex path counts by its literal prefix (cookie_path::path_prefix): every request
    /// `^/shop/(cart|checkout)` matches starts with `/shop/`, but `/shop/cart` does not cover
    /// `/shop/checkout`.
    #[test]
    fn fires_on_a_regex_path_whose_prefix_is_outside() {
        let findings = of(
            ID,
            run(
                regex_mode(sticky("/shop/cart", &["/shop/(cart|checkout)"])),
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "cookie Path `/shop/cart` does not cover path `/shop/(cart|checkout)`: set \
             session-cookie-path: \"/shop\""
        );
    }

    #[test]
    fn the_suggestion_covers_every_path() {
        let findings = of(
            ID,
            run(
                regex_mode(sticky("/a/b", &["/a/b(/|$)(.*)", "/a/c/", "/a/d"])),
                Phase::Validating,
            ),
        );
        assert_eq!(
            findings[0].message,
            "cookie Path `/a/b` does not cover path `/a/c/`: set session-cookie-path: \"/a\""
        );
    }

    #[test]
    fn does_not_fire() {
        // Every path is under the cookie Path.
        let covered = sticky("/app", &["/app", "/app/", "/app/static"]);
        assert!(of(ID, run(covered, Phase::Validating)).is_empty());
        assert!(of(ID, run(sticky("/", &["/", "/api"]), Phase::Validating)).is_empty());
        // Regex paths whose literal prefix is under it.
        let regex = regex_mode(sticky("/mysite", &["/mysite(/|$)(.*)"]));
        assert!(of(ID, run(regex, Phase::Validating)).is_empty());
        // No explicit cookie path: each location's own path applies (sticky.lua L75-78).
        let unset = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            &["/a", "/b"],
        );
        assert!(of(ID, run(unset, Phase::Validating)).is_empty());
        // A rejected cookie path is unset for the controller (sessionaffinity/main.go L219-232).
        assert!(of(ID, run(sticky("/a+b", &["/x"]), Phase::Validating)).is_empty());
        // Not sticky.
        let plain = ingress(
            json!({"nginx.ingress.kubernetes.io/session-cookie-path": "/app"}),
            &["/api"],
        );
        assert!(of(ID, run(plain, Phase::Validating)).is_empty());
        // Not a literal path: cookie-path-not-literal says so.
        assert!(of(ID, run(sticky("app", &["/api"]), Phase::Validating)).is_empty());
        // A regex that does not parse says nothing about what it reaches.
        let unparseable = regex_mode(sticky("/x", &["/y(?=z)"]));
        assert!(of(ID, run(unparseable, Phase::Validating)).is_empty());
    }

    #[test]
    fn literal_paths_become_accepted_cookie_paths() {
        assert_eq!(literal_cover("/v1.0/api"), "/v1.0/api");
        assert_eq!(literal_cover("/a/b c"), "/a");
        assert_eq!(literal_cover("/$money/x"), "");
    }
}

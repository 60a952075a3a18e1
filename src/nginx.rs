//! ingress-nginx behaviour that the rules rest on.
//!
//! Sources (ingress-nginx, final release line): `docs/user-guide/nginx-configuration/annotations.md`,
//! `internal/ingress/annotations/sessionaffinity/main.go`, `internal/ingress/annotations/parser`,
//! `internal/ingress/controller/template/template.go` (`enforceRegexModifier`, `needsRewrite`),
//! `docs/user-guide/ingress-path-matching.md`.

use crate::objects::{IngressObject, annotations};

/// Annotation names (without prefix) of the session affinity family.
pub mod annotation {
    /// `affinity`: `cookie` turns cookie affinity on; it is the only accepted value.
    pub const AFFINITY: &str = "affinity";
    /// `session-cookie-path`: the `Path` attribute of the sticky cookie.
    pub const SESSION_COOKIE_PATH: &str = "session-cookie-path";
    /// `use-regex`: paths on the host are regular expressions.
    pub const USE_REGEX: &str = "use-regex";
    /// `rewrite-target`: a rewrite that differs from the path also turns regex mode on.
    pub const REWRITE_TARGET: &str = "rewrite-target";
    /// `session-cookie-hash`: removed in ingress-nginx 0.24.0; the controller ignores it.
    pub const SESSION_COOKIE_HASH: &str = "session-cookie-hash";

    /// Whether `name` belongs to the session affinity family: `affinity`, `affinity-mode`,
    /// `affinity-canary-behavior`, and every `session-cookie-*`.
    pub fn is_affinity_family(name: &str) -> bool {
        name.starts_with("affinity") || name.starts_with("session-cookie-")
    }
}

/// Reads the annotations of one object under the configured annotation prefix.
#[derive(Clone, Copy, Debug)]
pub struct Annotations<'a> {
    ingress: &'a IngressObject,
    prefix: &'a str,
}

impl<'a> Annotations<'a> {
    /// Annotations of `ingress` under `prefix` (e.g. `nginx.ingress.kubernetes.io`).
    pub fn new(ingress: &'a IngressObject, prefix: &'a str) -> Self {
        Annotations { ingress, prefix }
    }

    /// The full key of an annotation: `<prefix>/<name>`.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{}", self.prefix, name)
    }

    /// The value of `<prefix>/<name>`, if set. An empty value counts as unset, as in
    /// ingress-nginx's annotation parser (`parser.GetStringAnnotation` reports it as missing).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        annotations(&self.ingress.meta)
            .get(&self.key(name))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Cookie affinity is on: `<prefix>/affinity` is exactly `cookie`, the only value the
    /// controller accepts (`sessionaffinity/main.go`).
    pub fn cookie_affinity(&self) -> bool {
        self.get(annotation::AFFINITY) == Some("cookie")
    }

    /// `<prefix>/use-regex` parses as true. The controller reads booleans with Go's
    /// `strconv.ParseBool`: `1`, `t`, `T`, `TRUE`, `true`, `True`.
    pub fn use_regex(&self) -> bool {
        self.get(annotation::USE_REGEX)
            .is_some_and(|v| matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True"))
    }
}

/// Whether this Ingress, on its own, turns regex mode on for `host` (`""` for rules without a
/// host): `use-regex` is true, or `rewrite-target` is set and differs from one of its paths on
/// that host (`needsRewrite` in `template.go` is per location).
///
/// ingress-nginx applies regex mode host-wide: one Ingress that turns it on makes every path of
/// every Ingress on the same host a regex (`enforceRegexModifier`). This function answers for the
/// single object only.
pub fn turns_on_regex_mode(ingress: &IngressObject, host: &str, prefix: &str) -> bool {
    let annotations = Annotations::new(ingress, prefix);
    if annotations.use_regex() {
        return true;
    }
    match annotations.get(annotation::REWRITE_TARGET) {
        Some(target) => ingress
            .paths()
            .iter()
            .any(|p| p.host.unwrap_or("") == host && p.path != target),
        None => false,
    }
}

/// Why `path` reads as a regular expression rather than a literal path, or `None`.
///
/// Characters that are legal in URL paths and common in real ones (`.`, `+`, `$`, `-`, `~`)
/// pass on their own; a regex is recognised by what a literal path cannot or would hardly
/// contain: `? [ ] { } | ^ \ ( ) *`, `.*`/`.+`, a trailing `$`.
pub fn regex_tell(path: &str) -> Option<String> {
    for (i, c) in path.char_indices() {
        let rest = &path[i..];
        if rest.starts_with(".*") || rest.starts_with(".+") {
            return Some(format!("the regex `{}`", &rest[..2]));
        }
        if "?[]{}|^\\()*".contains(c) {
            return Some(format!("the regex metacharacter `{c}`"));
        }
    }
    path.ends_with('$')
        .then(|| "the regex anchor `$` at the end".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{Object, decode};
    use serde_json::json;

    fn ingress(annotations: serde_json::Value, path: &str) -> IngressObject {
        let value = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "annotations": annotations},
            "spec": {"rules": [{"http": {"paths": [{"path": path, "pathType": "ImplementationSpecific",
                "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}
        });
        match decode(&value) {
            Ok(Some(Object::Ingress(i))) => *i,
            other => panic!("{other:?}"),
        }
    }

    const P: &str = "nginx.ingress.kubernetes.io";

    #[test]
    fn use_regex_follows_go_parse_bool() {
        for v in ["true", "True", "1", "t"] {
            let i = ingress(json!({"nginx.ingress.kubernetes.io/use-regex": v}), "/a");
            assert!(turns_on_regex_mode(&i, "", P), "{v}");
        }
        for v in ["false", "yes", ""] {
            let i = ingress(json!({"nginx.ingress.kubernetes.io/use-regex": v}), "/a");
            assert!(!turns_on_regex_mode(&i, "", P), "{v}");
        }
    }

    #[test]
    fn rewrite_target_equal_to_path_does_not_turn_on_regex_mode() {
        let same = ingress(
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/"}),
            "/",
        );
        assert!(!turns_on_regex_mode(&same, "", P));
        let differs = ingress(
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
            "/a(/|$)(.*)",
        );
        assert!(turns_on_regex_mode(&differs, "", P));
    }

    #[test]
    fn rewrite_target_counts_per_host() {
        let i = ingress(
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
            "/a(/|$)(.*)",
        );
        assert!(turns_on_regex_mode(&i, "", P));
        assert!(
            !turns_on_regex_mode(&i, "other.example.com", P),
            "no path there"
        );
    }

    #[test]
    fn affinity_is_only_cookie_under_the_configured_prefix() {
        let i = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie"}),
            "/",
        );
        assert!(Annotations::new(&i, P).cookie_affinity());
        assert!(!Annotations::new(&i, "ingress.kubernetes.io").cookie_affinity());
        let other = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "Cookie"}),
            "/",
        );
        assert!(!Annotations::new(&other, P).cookie_affinity());
    }

    #[test]
    fn regex_tells() {
        assert_eq!(
            regex_tell("/mysite(/|$)(.*)").as_deref(),
            Some("the regex metacharacter `(`")
        );
        assert_eq!(regex_tell("/api/.*").as_deref(), Some("the regex `.*`"));
        assert!(regex_tell("/api$").is_some());
        for literal in ["/v1.0/api", "/a+b", "/~user", "/$money/x"] {
            assert_eq!(regex_tell(literal), None, "{literal}");
        }
    }
}

//! The ingress-nginx controller family: what kubernetes/ingress-nginx does with an Ingress, as
//! far as sticky sessions go. Rules ask this module, never the raw annotations:
//!
//! - [`annotations`]: the annotation table, with the controller's validators;
//! - [`affinity`]: an Ingress's session affinity settings as the controller parses them;
//! - [`upstream`]: per backend (Service:port), whether it is sticky and how the controller
//!   reaches it (endpoints, ClusterIP, DNS name);
//! - [`paths`]: which paths the controller's admission webhook accepts for each `pathType`;
//! - here: reading annotations under the configured prefix, and regex mode.
//!
//! Sources (ingress-nginx, final release line): `docs/user-guide/nginx-configuration/annotations.md`,
//! `internal/ingress/annotations/sessionaffinity/main.go`, `internal/ingress/annotations/parser`,
//! `internal/ingress/controller/template/template.go` (`enforceRegexModifier`, `needsRewrite`),
//! `docs/user-guide/ingress-path-matching.md`.

pub mod affinity;
pub mod annotations;
pub mod paths;
pub mod upstream;

use crate::objects::{IngressObject, annotations as object_annotations};

/// ingress-nginx's IngressClass controller (`DefaultControllerName`,
/// `internal/ingress/controller/ingressclass/ingressclass.go` L26 at controller-v1.15.1; flag
/// `--controller-class`). Traefik's NGINX provider watches the same string by default
/// (`defaultControllerName`, `pkg/provider/kubernetes/ingress-nginx/kubernetes.go` L39 at
/// v3.6.24).
pub const CONTROLLER: &str = "k8s.io/ingress-nginx";

/// ingress-nginx's default class name (`DefaultAnnotationValue`, `ingressclass.go` L29).
pub const INGRESS_CLASS: &str = "nginx";

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

    /// `service-upstream`: proxy to the Service's ClusterIP instead of its endpoints.
    pub const SERVICE_UPSTREAM: &str = "service-upstream";
    /// `ssl-passthrough`: TLS passed through at layer 4.
    pub const SSL_PASSTHROUGH: &str = "ssl-passthrough";
    /// `canary`: the Ingress is a canary.
    pub const CANARY: &str = "canary";

    pub use super::annotations::is_affinity_family;
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

    /// The raw value of `<prefix>/<name>`, if set. An empty value counts as unset, as in
    /// ingress-nginx's annotation parser (`checkAnnotation` skips it, the getter reports it).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        thread_local! {
            /// The key being looked up, built in place: no allocation per lookup.
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let annotations = object_annotations(&self.ingress.meta);
        if annotations.is_empty() {
            return None;
        }
        KEY.with_borrow_mut(|key| {
            key.clear();
            key.push_str(self.prefix);
            key.push('/');
            key.push_str(name);
            annotations.get(key.as_str())
        })
        .map(String::as_str)
        .filter(|v| !v.is_empty())
    }

    /// What the controller makes of `<prefix>/<name>`, through its validator in
    /// [`annotations::TABLE`] (an annotation not in the table is [`annotations::Value::Unset`]).
    pub fn value(&self, name: &str) -> annotations::Value {
        match annotations::find(name) {
            Some(spec) => annotations::read(spec, self.get(name)),
            None => annotations::Value::Unset,
        }
    }

    /// The accepted value of `<prefix>/<name>` (trimmed as the controller does), if any.
    pub fn accepted(&self, name: &str) -> Option<String> {
        match self.value(name) {
            annotations::Value::Accepted(v) => Some(v),
            _ => None,
        }
    }

    /// A boolean annotation the controller reads as true (Go's `strconv.ParseBool`, untrimmed:
    /// `1`, `t`, `T`, `TRUE`, `true`, `True`).
    pub fn flag(&self, name: &str) -> bool {
        self.accepted(name)
            .and_then(|v| annotations::go_parse_bool(&v))
            .unwrap_or(false)
    }

    /// Cookie affinity is on for this Ingress's own upstreams: `<prefix>/affinity` passes the
    /// controller's validator (`cookie`, case-sensitive, after trimming; `sessionaffinity/main.go`
    /// L73-78, L262-283), and the Ingress is not a canary, whose own affinity is never used
    /// (controller.go L807, L1126-1128, L1597-1598: it follows its primary).
    pub fn cookie_affinity(&self) -> bool {
        self.accepted(annotation::AFFINITY).as_deref() == Some("cookie")
            && !self.flag(annotation::CANARY)
    }

    /// `<prefix>/use-regex` parses as true.
    pub fn use_regex(&self) -> bool {
        self.flag(annotation::USE_REGEX)
    }

    /// The session affinity family annotations set under the prefix (see
    /// [`annotation::is_affinity_family`]; empty values count as unset), as `(name, full key)`
    /// in key order.
    pub fn affinity_family(&self) -> Vec<(&'a str, &'a str)> {
        let prefix = format!("{}/", self.prefix);
        object_annotations(&self.ingress.meta)
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .filter_map(|(key, _)| {
                let name = key.strip_prefix(&prefix)?;
                annotation::is_affinity_family(name).then_some((name, key.as_str()))
            })
            .collect()
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
    let Some(target) = annotations.accepted(annotation::REWRITE_TARGET) else {
        return false;
    };
    // Straight over the spec (no per-path field strings): callers ask per host.
    ingress
        .spec
        .rules
        .iter()
        .flatten()
        .filter(|rule| rule.host.as_deref().unwrap_or("") == host)
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| &http.paths)
        .any(|p| {
            // An omitted or empty path is `/` (controller.go L811-813).
            let path = p.path.as_deref().filter(|p| !p.is_empty()).unwrap_or("/");
            path != target
        })
}

/// [`regex_tell`] as RE2 (for CEL's `matches`): `.*`, `.+`, one of `? [ ] { } | ^ \ ( ) *`,
/// or a trailing `$`. A test in `policies::nginx` checks that the two agree.
pub const REGEX_TELL: &str = r"[.][*+]|[?\[\]{}|^\\()*]|[$]$";

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

    /// rewrite/main.go L67-71: use-regex is a `ValidateBool` (validators.go L161-164).
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

    /// template.go L497-502: `needsRewrite` is true only for a target that differs from the
    /// location's path.
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

    /// sessionaffinity/main.go L73-78: `ValidateOptions(["cookie"], caseSensitive, trimSpace)`.
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
        // controller.go L807, L1126-1128, L1597-1598: a canary follows its primary.
        let canary = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/canary": "true"}),
            "/",
        );
        assert!(!Annotations::new(&canary, P).cookie_affinity());
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

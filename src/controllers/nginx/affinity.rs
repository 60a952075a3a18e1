//! An Ingress's session affinity settings, as ingress-nginx parses them.
//!
//! `sessionaffinity.Parse` (`internal/ingress/annotations/sessionaffinity/main.go` L262-294)
//! reads `affinity`, `affinity-mode` and `affinity-canary-behavior`, and the cookie settings
//! only when the affinity is `cookie` (`cookieAffinityParse`, L196-250). Every value that is
//! missing or fails its validator falls back to the default (a failed validation is logged as a
//! warning by `checkAnnotation`, validators.go L244; the fallback at V(3)); the function never
//! returns an error, so an affinity annotation never makes the controller reject or skip an
//! Ingress.

use super::annotations::{self, Value, go_parse_bool};
use super::{Annotations, annotation};
use crate::objects::IngressObject;

/// The cookie name when `session-cookie-name` is unset or rejected (`defaultAffinityCookieName`,
/// sessionaffinity/main.go L38).
pub const DEFAULT_COOKIE_NAME: &str = "INGRESSCOOKIE";

/// An annotation of the affinity family that the controller rejects and replaces by its
/// default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The annotation name, without prefix.
    pub name: &'static str,
    /// The full key.
    pub key: String,
    /// The value as written.
    pub value: String,
    /// What the controller accepts.
    pub expected: String,
    /// What applies instead.
    pub default: &'static str,
}

/// Session affinity settings of one Ingress, as the controller ends up using them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Affinity {
    /// Cookie affinity is on for this Ingress's own upstreams: `affinity: cookie` (trimmed),
    /// and not a canary (a canary follows its primary Ingress's affinity).
    pub cookie: bool,
    /// The Ingress is a canary (`canary: "true"`).
    pub canary: bool,
    /// `affinity-mode`: `balanced` (also for unset or rejected) or `persistent`.
    pub mode: String,
    /// `affinity-canary-behavior`: `sticky` (also for unset or rejected) or `legacy`.
    pub canary_behavior: String,
    /// The cookie settings, parsed (and validated) only when `affinity` is `cookie`, as the
    /// controller does; the defaults otherwise.
    pub cookie_settings: CookieSettings,
    /// Affinity annotations that were set but are rejected, in table order.
    pub rejected: Vec<Rejected>,
}

/// The sticky cookie's attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CookieSettings {
    /// `session-cookie-name`, else [`DEFAULT_COOKIE_NAME`].
    pub name: String,
    /// `session-cookie-path`, if accepted; `None` means the Ingress path as written.
    pub path: Option<String>,
    /// `session-cookie-domain`, if accepted.
    pub domain: Option<String>,
    /// `session-cookie-expires`, if accepted.
    pub expires: Option<String>,
    /// `session-cookie-max-age`, if accepted.
    pub max_age: Option<String>,
    /// `session-cookie-samesite`, if accepted (as written, trimmed: `None`, `lax`, …).
    pub samesite: Option<String>,
    /// `session-cookie-secure` is true.
    pub secure: bool,
    /// `session-cookie-conditional-samesite-none` is true.
    pub conditional_samesite_none: bool,
    /// `session-cookie-change-on-failure` is true.
    pub change_on_failure: bool,
}

impl Affinity {
    /// The settings of `ingress` under annotation `prefix`.
    pub fn of(ingress: &IngressObject, prefix: &str) -> Affinity {
        let annotations = Annotations::new(ingress, prefix);
        let mut rejected = Vec::new();
        let mut read = |name: &'static str| -> Option<String> {
            let spec = annotations::find(name)?;
            let value = match annotations::read(spec, annotations.get(name)) {
                // cookieAffinityParse checks expires and max-age again, on the normalized value
                // and without removing spaces (sessionaffinity/main.go L207-217).
                Value::Accepted(v)
                    if matches!(name, "session-cookie-expires" | "session-cookie-max-age")
                        && !annotations::cookie_expires_regex_matches(&v) =>
                {
                    Value::Rejected {
                        expected: "whole seconds, e.g. \"3600\"".into(),
                    }
                }
                value => value,
            };
            match value {
                Value::Accepted(v) => Some(v),
                Value::Unset => None,
                Value::Rejected { expected } => {
                    rejected.push(Rejected {
                        name: spec.name,
                        key: annotations.key(name),
                        value: annotations.get(name).unwrap_or_default().to_string(),
                        expected,
                        default: spec.default,
                    });
                    None
                }
            }
        };
        let canary = annotations.flag(annotation::CANARY);
        let cookie_annotation = read(annotation::AFFINITY).as_deref() == Some("cookie");
        let mode = read("affinity-mode").unwrap_or_else(|| "balanced".into());
        let canary_behavior = read("affinity-canary-behavior").unwrap_or_else(|| "sticky".into());
        let flag = |v: Option<String>| v.and_then(|v| go_parse_bool(&v)).unwrap_or(false);
        // cookieAffinityParse runs only for affinity `cookie` (sessionaffinity/main.go
        // L281-283): otherwise the cookie settings are never read, nor validated.
        if !cookie_annotation {
            return Affinity {
                cookie: false,
                canary,
                mode,
                canary_behavior,
                cookie_settings: CookieSettings {
                    name: DEFAULT_COOKIE_NAME.into(),
                    ..CookieSettings::default()
                },
                rejected,
            };
        }
        let cookie_settings = CookieSettings {
            name: read("session-cookie-name").unwrap_or_else(|| DEFAULT_COOKIE_NAME.into()),
            path: read(annotation::SESSION_COOKIE_PATH),
            domain: read("session-cookie-domain"),
            expires: read("session-cookie-expires"),
            max_age: read("session-cookie-max-age"),
            samesite: read("session-cookie-samesite"),
            secure: flag(read("session-cookie-secure")),
            conditional_samesite_none: flag(read("session-cookie-conditional-samesite-none")),
            change_on_failure: flag(read("session-cookie-change-on-failure")),
        };
        Affinity {
            // A canary's own affinity is never used: its upstream is NoServer
            // (controller.go L1126-1128, skipped by the affinity block at L807) and takes the
            // primary's SessionAffinity (mergeAlternativeBackend, L1597-1598).
            cookie: !canary,
            canary,
            mode,
            canary_behavior,
            cookie_settings,
            rejected,
        }
    }
}

impl Affinity {
    /// The annotations whose effective values differ between `self` and `other` (mode and the
    /// cookie attributes; not `affinity` itself), as annotation names in table order.
    pub fn differences(&self, other: &Affinity) -> Vec<&'static str> {
        let (a, b) = (&self.cookie_settings, &other.cookie_settings);
        let mut out = Vec::new();
        let mut differ = |name: &'static str, same: bool| {
            if !same {
                out.push(name);
            }
        };
        differ("affinity-mode", self.mode == other.mode);
        differ("session-cookie-name", a.name == b.name);
        differ("session-cookie-secure", a.secure == b.secure);
        differ("session-cookie-expires", a.expires == b.expires);
        differ("session-cookie-max-age", a.max_age == b.max_age);
        differ("session-cookie-path", a.path == b.path);
        differ("session-cookie-domain", a.domain == b.domain);
        differ("session-cookie-samesite", a.samesite == b.samesite);
        differ(
            "session-cookie-conditional-samesite-none",
            a.conditional_samesite_none == b.conditional_samesite_none,
        );
        differ(
            "session-cookie-change-on-failure",
            a.change_on_failure == b.change_on_failure,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{Object, decode};
    use serde_json::json;

    fn of(annotations: serde_json::Value) -> Affinity {
        let value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "annotations": annotations}, "spec": {}});
        match decode(&value) {
            Ok(Some(Object::Ingress(i))) => Affinity::of(&i, "nginx.ingress.kubernetes.io"),
            other => panic!("{other:?}"),
        }
    }

    /// sessionaffinity/main.go L73-78 + parser/main.go L228-235: " cookie" is trimmed.
    #[test]
    fn affinity_with_spaces_is_cookie() {
        assert!(of(json!({"nginx.ingress.kubernetes.io/affinity": " cookie"})).cookie);
        let off = of(json!({"nginx.ingress.kubernetes.io/affinity": "Cookie"}));
        assert!(!off.cookie);
        assert_eq!(off.rejected.len(), 1);
        assert_eq!(off.rejected[0].expected, "\"cookie\" (the only value)");
    }

    /// sessionaffinity/main.go L201-205: a rejected name falls back to INGRESSCOOKIE.
    #[test]
    fn defaults_and_fallbacks() {
        let a = of(json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/session-cookie-name": "SESS$ID",
            "nginx.ingress.kubernetes.io/session-cookie-path": "/a+b",
            "nginx.ingress.kubernetes.io/session-cookie-secure": "true",
            "nginx.ingress.kubernetes.io/session-cookie-samesite": " None"}));
        assert_eq!(a.cookie_settings.name, DEFAULT_COOKIE_NAME);
        assert_eq!(
            a.cookie_settings.path, None,
            "rejected: the Ingress path applies"
        );
        assert!(a.cookie_settings.secure);
        assert_eq!(a.cookie_settings.samesite.as_deref(), Some("None"));
        assert_eq!(a.mode, "balanced");
        assert_eq!(a.canary_behavior, "sticky");
        let names: Vec<&str> = a.rejected.iter().map(|r| r.name).collect();
        assert_eq!(names, ["session-cookie-name", "session-cookie-path"]);
    }

    /// sessionaffinity/main.go L107-112: the expires validator removes spaces, so `36 00`
    /// passes; L207-211 then matches the normalized value, spaces kept, and drops it.
    #[test]
    fn expires_is_checked_twice() {
        let a = of(json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/session-cookie-expires": "36 00"}));
        assert_eq!(a.cookie_settings.expires, None);
        assert_eq!(a.rejected.len(), 1);
        assert_eq!(a.rejected[0].name, "session-cookie-expires");
        // `1 2` passes both (the second check finds `2` at the end).
        let a = of(json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/session-cookie-expires": "1 2"}));
        assert_eq!(a.cookie_settings.expires.as_deref(), Some("1 2"));
    }
}

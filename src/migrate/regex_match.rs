//! What happens to a route rule's path matches that are regexes: which become `PathPrefix`
//! (with [`super::shapes::prefix_of_regex`]), what sticky-guard's own
//! `gateway-session-persistence-regex-path` rule says of the ones kept, and the cookie Path
//! Envoy Gateway sets.

use super::report::Level;
use super::shapes;
use crate::controllers::gateway::{CookiePath, Implementation, cookie_path};
use crate::objects::gateway::{PathMatch, SessionPersistence};
use serde_json::Value;
use std::collections::BTreeMap;

/// A `PathPrefix` match (the type written or defaulted) whose value is the Ingress's regex:
/// ingress2gateway v1.1.0 rewrites regex paths only on routes with a hostname
/// (`providers/ingressnginx/regex.go` L46-50, L64-72), so a rule without host keeps
/// `PathPrefix` `/app(/|$)(.*)`, which matches no request the Ingress path matched. A prefix
/// shape ([`shapes::prefix_of_regex`]) gets its value rewritten (planned in `prefixes`, a
/// note); any other regex is a warning. `None` for a match that holds no regex.
pub(super) fn regex_in_prefix(
    path: Option<&PathMatch>,
    at: &str,
    key: (usize, usize),
    prefixes: &mut BTreeMap<(usize, usize), (String, bool)>,
) -> Option<(Level, String)> {
    let path = path?;
    if path.type_.as_deref().unwrap_or("PathPrefix") != "PathPrefix" {
        return None;
    }
    let value = path.value.as_deref()?;
    crate::controllers::nginx::regex_tell(value)?;
    let shown = crate::echo::bounded(value);
    Some(match shapes::prefix_of_regex(value) {
        Some(prefix) => {
            let message = format!(
                "{at}: PathPrefix `{shown}` holds the Ingress's regex (ingress2gateway rewrites regex paths only on routes with a hostname): written as PathPrefix `{}`, which is case-sensitive; ingress-nginx matched it case-insensitively (`location ~*`)",
                crate::echo::bounded(&prefix)
            );
            prefixes.insert(key, (prefix, false));
            (Level::Note, message)
        }
        None => (
            Level::Warning,
            format!(
                "{at}: PathPrefix `{shown}` holds the Ingress's regex (ingress2gateway rewrites regex paths only on routes with a hostname) and matches none of its requests: write the match by hand (RegularExpression, or PathPrefix with the literal part)"
            ),
        ),
    })
}

/// The cookie Path Envoy Gateway v1.9.0 sets for a rule's match (`routePathToCookiePath`,
/// `internal/xds/translator/session_persistence.go` L158-173): `/` without a path match, the
/// value of an Exact or PathPrefix match (after `migrate`'s conversion, `converted`), the
/// longest non-regex prefix of a regex.
pub(super) fn envoy_gateway_cookie_path(
    path: Option<&PathMatch>,
    converted: Option<&String>,
) -> String {
    match (converted, path) {
        (Some(prefix), _) => prefix.clone(),
        (None, Some(p)) => match p.regex() {
            Some(regex) => crate::controllers::gateway::longest_non_regex_prefix(regex),
            None => p.value.clone().unwrap_or_else(|| "/".into()),
        },
        (None, None) => "/".into(),
    }
}

/// What `gateway-session-persistence-regex-path` says of a session-persistent rule with the
/// RegularExpression match `regex` on `implementation` (the same derivation,
/// [`crate::controllers::gateway::cookie_path`] and [`crate::cookie_path::covers`]): a deny
/// keeps the persistence off the rule ([`Level::NotCarried`]), a warning adds it
/// ([`Level::Warning`]); `None` when the cookie Path covers the regex.
pub(super) fn judge_regex(
    implementation: Option<Implementation>,
    persistence: &Value,
    regex: &str,
) -> Option<(Level, String)> {
    let decoded: SessionPersistence =
        serde_json::from_value(persistence.clone()).unwrap_or_default();
    let shown = crate::echo::bounded(regex);
    let name = implementation.map_or(
        "the implementation (GEP-1619 as released)",
        Implementation::name,
    );
    match cookie_path(implementation, &decoded, regex) {
        CookiePath::Unsupported => Some((
            Level::NotCarried,
            format!("RegularExpression `{shown}` kept; {name} has no session persistence"),
        )),
        CookiePath::Path(path) if crate::cookie_path::covers(&path, regex) == Some(false) => {
            let path = crate::echo::bounded(&path);
            if implementation == Some(Implementation::EnvoyGateway) {
                Some((
                    Level::NotCarried,
                    format!(
                        "RegularExpression `{shown}` kept and no sessionPersistence written: Envoy Gateway would set the cookie Path `{path}`, which the browser never sends back for these requests (gateway-session-persistence-regex-path denies it); split the sticky part into a PathPrefix rule by hand"
                    ),
                ))
            } else {
                Some((
                    Level::Warning,
                    format!(
                        "RegularExpression `{shown}` kept; {name} sets the cookie Path `{path}`, which misses these requests (gateway-session-persistence-regex-path warns); split the sticky part into a PathPrefix rule"
                    ),
                ))
            }
        }
        CookiePath::Path(_) => None,
        CookiePath::None => Some((
            Level::Warning,
            format!(
                "RegularExpression `{shown}` kept; {name} sets no cookie Path, so the browser keeps the cookie to one directory"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(kind: &str, value: &str) -> PathMatch {
        PathMatch {
            type_: Some(kind.into()),
            value: Some(value.into()),
        }
    }

    #[test]
    fn envoy_gateway_cookie_paths() {
        assert_eq!(envoy_gateway_cookie_path(None, None), "/");
        assert_eq!(
            envoy_gateway_cookie_path(Some(&path("Exact", "/a")), None),
            "/a"
        );
        assert_eq!(
            envoy_gateway_cookie_path(
                Some(&path("RegularExpression", "(?i)/a(/|$)(.*).*")),
                Some(&"/a".to_string())
            ),
            "/a"
        );
        assert_eq!(
            envoy_gateway_cookie_path(Some(&path("RegularExpression", "/a/v[0-9]+/.*")), None),
            "/a/v[0-9]+"
        );
    }
}

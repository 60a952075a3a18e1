//! The Gateway API family: which implementation serves a route, and what it does with
//! `sessionPersistence` and with a backendRef.
//!
//! Sources (notes with every line in `docs/facts/gateway-api-traefik.md`):
//! - Gateway API v1.6.1 (8bb74df0), the latest release: GEP-1619 `geps/gep-1619/index.md`
//!   L785-786 ("For an xRoute using a path that is a regex, the `Path` should be set to the
//!   longest non-regex prefix"); main (4564255a, unreleased) replaces this with a default `/`
//!   (L785) and a `cookie.path` field.
//! - Envoy Gateway v1.9.0 (39763b1c), `internal/xds/translator/session_persistence.go`
//!   L158-190: `routePathToCookiePath` and `getLongestNonRegexPrefix`, which split the regex on
//!   `/` and keep the segments before the first one containing `*`; `internal/gatewayapi/route.go`
//!   L3086-3096: an ExternalName Service is refused as a backend (`ResolvedRefs=False`,
//!   `UnsupportedValue`) since v1.9.0, v1.8.2 and v1.7.5 (ee16b3fc, #9190).
//! - NGINX Gateway Fabric v2.6.7 / main (e55bfe33), `internal/controller/state/graph/
//!   route_common.go` L1556-1608: the cookie path of a rule is the longest common segment
//!   prefix of its matches, and `""` (no `path=`) when any match is a RegularExpression;
//!   sessionPersistence needs NGINX Plus and experimental features (`httproute.go` L694-709),
//!   since v2.4.0. ExternalName backends are served as one DNS upstream since v2.2.0
//!   (`internal/controller/state/dataplane/configuration.go` L2819-2845).
//! - Traefik v3.7.9: its Gateway API provider has no sessionPersistence
//!   (`pkg/provider/kubernetes/gateway/*.go`); controllerName `traefik.io/gateway-controller`
//!   (`kubernetes.go` L40).

use crate::objects::gateway::{RouteObject, SessionPersistence};
use crate::objects::kinds::Kind;
use crate::objects::namespace_of;
use crate::view::{ClusterView, Lookup};

/// A Gateway API implementation, from a GatewayClass's `spec.controllerName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Implementation {
    /// Envoy Gateway (`gateway.envoyproxy.io/gatewayclass-controller`,
    /// `api/v1alpha1/envoygateway_types.go` L19 at v1.9.0).
    EnvoyGateway,
    /// NGINX Gateway Fabric (`gateway.nginx.org/nginx-gateway-controller`,
    /// `charts/nginx-gateway-fabric/values.yaml` L45 at v2.6.7).
    NginxGatewayFabric,
    /// Traefik (`traefik.io/gateway-controller`).
    Traefik,
    /// Another implementation.
    Other,
}

impl Implementation {
    /// The implementation whose controllerName this is. The name is configurable in each of
    /// them; the domain before the `/` is what is compared (`gateway.envoyproxy.io/…`,
    /// `gateway.nginx.org/…`, `traefik.io/…`).
    pub fn of_controller(controller_name: &str) -> Implementation {
        match controller_name
            .split_once('/')
            .map_or("", |(domain, _)| domain)
        {
            "gateway.envoyproxy.io" => Implementation::EnvoyGateway,
            "gateway.nginx.org" => Implementation::NginxGatewayFabric,
            "traefik.io" => Implementation::Traefik,
            _ => Implementation::Other,
        }
    }

    /// Its name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Implementation::EnvoyGateway => "Envoy Gateway",
            Implementation::NginxGatewayFabric => "NGINX Gateway Fabric",
            Implementation::Traefik => "Traefik",
            Implementation::Other => "this implementation",
        }
    }
}

/// The implementations serving `route`: one entry per Gateway parentRef, `None` where the view
/// cannot tell (the Gateway or its GatewayClass is not known, or names no class or
/// controller). A route with no Gateway parent gives `[None]`. Sorted, without repeats.
///
/// A parentRef's namespace defaults to the route's; GatewayClasses are cluster-scoped.
pub fn implementations(route: &RouteObject, view: &dyn ClusterView) -> Vec<Option<Implementation>> {
    let namespace = namespace_of(&route.meta);
    let mut out: Vec<Option<Implementation>> = route
        .spec
        .parent_refs
        .iter()
        .filter(|p| p.is_gateway())
        .map(|parent| {
            let ns = parent.namespace.as_deref().unwrap_or(namespace);
            let Lookup::Found(gateway) = view.get(Kind::Gateway, ns, &parent.name) else {
                return None;
            };
            let class = gateway.as_gateway()?.gateway_class_name.clone()?;
            let Lookup::Found(class) = view.get(Kind::GatewayClass, "", &class) else {
                return None;
            };
            let controller = class.as_gateway_class()?.controller_name.as_deref()?;
            Some(Implementation::of_controller(controller))
        })
        .collect();
    if out.is_empty() {
        out.push(None);
    }
    out.sort();
    out.dedup();
    out
}

/// The Path attribute of the session cookie an implementation sets for a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CookiePath {
    /// `Path=<value>`.
    Path(String),
    /// No Path attribute: browsers scope the cookie to the directory of the request that set
    /// it (RFC 6265 §5.1.4, "default-path").
    None,
    /// The implementation does not do session persistence at all.
    Unsupported,
}

/// `getLongestNonRegexPrefix` of Envoy Gateway (`session_persistence.go` L179-190 at v1.9.0):
/// the regex split on `/`, the segments before the first one that contains `*`, joined by
/// `/`. `/mysite(/|$)(.*)` → `/mysite(`; `/api/v[0-9]+/users` → unchanged; `/.*` → `""`.
pub fn longest_non_regex_prefix(regex: &str) -> String {
    regex
        .split('/')
        .take_while(|segment| !segment.contains('*'))
        .collect::<Vec<_>>()
        .join("/")
}

/// The cookie Path `implementation` sets for a session-persistent rule with the
/// `RegularExpression` path match `regex`; `None` (the implementation unknown) and
/// [`Implementation::Other`] are taken to follow GEP-1619 as released in v1.6.1, as Envoy
/// Gateway does, except that they are taken to honour a written `cookie.path`.
///
/// A cookie `path` set on the rule (`sessionPersistence.cookie.path`, Gateway API main,
/// unreleased) is used as written by an implementation other than Envoy Gateway and NGINX
/// Gateway Fabric, which read only the released shape (`sessionName`, `cookieConfig`).
pub fn cookie_path(
    implementation: Option<Implementation>,
    persistence: &SessionPersistence,
    regex: &str,
) -> CookiePath {
    let written = persistence.cookie.as_ref().and_then(|c| c.path.clone());
    if let (Some(path), Some(Implementation::Other) | None) = (written, implementation) {
        return CookiePath::Path(path);
    }
    match implementation {
        Some(Implementation::NginxGatewayFabric) => CookiePath::None,
        Some(Implementation::Traefik) => CookiePath::Unsupported,
        Some(Implementation::EnvoyGateway | Implementation::Other) | None => {
            match longest_non_regex_prefix(regex) {
                path if path.is_empty() => CookiePath::None,
                path => CookiePath::Path(path),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_gateway_cuts_at_the_first_segment_with_a_star() {
        // The cases of docs/facts/gateway-api-traefik.md §2.1, checked there against a
        // transliteration of session_persistence.go L179-190.
        for (regex, expected) in [
            ("/mysite(/|$)(.*)", "/mysite("),
            ("/api/v[0-9]+/users", "/api/v[0-9]+/users"),
            ("/p1/p2/*/p3", "/p1/p2"),
            ("/foo/.+", "/foo/.+"),
            ("^/api/.*", "^/api"),
            ("/.*", ""),
        ] {
            assert_eq!(longest_non_regex_prefix(regex), expected, "{regex}");
        }
    }

    #[test]
    fn implementations_by_controller_name() {
        assert_eq!(
            Implementation::of_controller("gateway.envoyproxy.io/gatewayclass-controller"),
            Implementation::EnvoyGateway
        );
        assert_eq!(
            Implementation::of_controller("gateway.nginx.org/nginx-gateway-controller"),
            Implementation::NginxGatewayFabric
        );
        assert_eq!(
            Implementation::of_controller("traefik.io/gateway-controller"),
            Implementation::Traefik
        );
        assert_eq!(
            Implementation::of_controller("istio.io/gateway-controller"),
            Implementation::Other
        );
    }

    #[test]
    fn cookie_paths_by_implementation() {
        let plain = SessionPersistence::default();
        let regex = "/mysite(/|$)(.*)";
        assert_eq!(
            cookie_path(Some(Implementation::EnvoyGateway), &plain, regex),
            CookiePath::Path("/mysite(".into())
        );
        assert_eq!(
            cookie_path(None, &plain, regex),
            CookiePath::Path("/mysite(".into())
        );
        assert_eq!(
            cookie_path(Some(Implementation::NginxGatewayFabric), &plain, regex),
            CookiePath::None
        );
        assert_eq!(
            cookie_path(Some(Implementation::Traefik), &plain, regex),
            CookiePath::Unsupported
        );
        assert_eq!(
            cookie_path(Some(Implementation::EnvoyGateway), &plain, "/.*"),
            CookiePath::None
        );
        let with_path: SessionPersistence =
            serde_json::from_str(r#"{"cookie": {"path": "/mysite"}}"#).unwrap();
        assert_eq!(
            cookie_path(None, &with_path, regex),
            CookiePath::Path("/mysite".into())
        );
        assert_eq!(
            cookie_path(Some(Implementation::EnvoyGateway), &with_path, regex),
            CookiePath::Path("/mysite(".into()),
            "Envoy Gateway v1.9.0 reads no cookie.path"
        );
    }
}

//! Gateway API objects (`gateway.networking.k8s.io`) as the rules see them: HTTPRoute and
//! GRPCRoute (judged), Gateway, GatewayClass and ReferenceGrant (read).
//!
//! Our own minimal decoders rather than the `gateway-api` crate's generated types: the rules
//! read a dozen fields, and `sessionPersistence` comes in two shapes that no one generated type
//! holds. Released Gateway API (v1.1.0 to v1.6.1, the latest release, experimental channel;
//! `apis/v1/shared_types.go` L914-957 at v1.6.1) writes `sessionName` and `cookieConfig`;
//! Gateway API main (unreleased, commit 839fd4f2, #4873) writes `cookie: {name, path}`. Both
//! are read. Every field is optional here, as in a manifest being written: a missing `name` is
//! the API server's to refuse, not a decode error. Unknown fields are skipped.
//!
//! Supported: Gateway API v1.0.0 through v1.6.1 (HTTPRoute `v1`/`v1beta1`; GRPCRoute
//! `v1`/`v1alpha2`, judged on admission from v1.1.0, the first release to serve `v1`, which
//! the webhooks register for; Gateway and GatewayClass `v1`/`v1beta1`, ReferenceGrant
//! `v1`/`v1beta1`/`v1alpha2`), and the main branch's `sessionPersistence.cookie`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// The Gateway API group.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// Which route kind a [`RouteObject`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// `HTTPRoute`.
    Http,
    /// `GRPCRoute`.
    Grpc,
}

impl RouteKind {
    /// `HTTPRoute` or `GRPCRoute`, as the API writes it (and as ReferenceGrant `from.kind`
    /// names it).
    pub fn name(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
        }
    }
}

/// An HTTPRoute or GRPCRoute: metadata and the parts of `spec` the rules read.
#[derive(Clone, Debug)]
pub struct RouteObject {
    /// Which kind.
    pub kind: RouteKind,
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec`.
    pub spec: RouteSpec,
}

/// One backendRef of a route, where it is written.
#[derive(Clone, Debug)]
pub struct BackendAt<'a> {
    /// Index into `spec.rules`.
    pub rule: usize,
    /// The backendRef.
    pub backend: &'a BackendRef,
    /// The namespace of the object it names (`namespace`, default the route's).
    pub namespace: &'a str,
    /// Field path of its name: `spec.rules[0].backendRefs[1].name`.
    pub field: String,
    /// The same field as a JSON pointer: `/spec/rules/0/backendRefs/1/name`.
    pub pointer: String,
}

impl RouteObject {
    /// Every backendRef of every rule, in order.
    pub fn backends(&self) -> Vec<BackendAt<'_>> {
        let own = super::namespace_of(&self.meta);
        let mut out = Vec::new();
        for (r, rule) in self.spec.rules.iter().enumerate() {
            for (b, backend) in rule.backend_refs.iter().enumerate() {
                out.push(BackendAt {
                    rule: r,
                    backend,
                    namespace: backend.namespace.as_deref().unwrap_or(own),
                    field: format!("spec.rules[{r}].backendRefs[{b}].name"),
                    pointer: format!("/spec/rules/{r}/backendRefs/{b}/name"),
                });
            }
        }
        out
    }
}

/// `spec` of an HTTPRoute or GRPCRoute (`CommonRouteSpec` plus `rules`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// `parentRefs`: the Gateways (or, for mesh, Services) the route attaches to.
    #[serde(default)]
    pub parent_refs: Vec<ParentRef>,
    /// `rules`.
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

/// One `parentRefs` item (`ParentReference`, `apis/v1/shared_types.go`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// `group`, default `gateway.networking.k8s.io`.
    pub group: Option<String>,
    /// `kind`, default `Gateway`.
    pub kind: Option<String>,
    /// `namespace`, default the route's.
    pub namespace: Option<String>,
    /// `name`.
    #[serde(default)]
    pub name: String,
}

impl ParentRef {
    /// Whether this names a Gateway (the defaults included), not a mesh Service.
    pub fn is_gateway(&self) -> bool {
        self.group.as_deref().unwrap_or(GROUP) == GROUP
            && self.kind.as_deref().unwrap_or("Gateway") == "Gateway"
    }
}

/// One rule of an HTTPRoute or GRPCRoute.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    /// `matches`. A GRPCRoute match has `method` and `headers`, no `path`.
    #[serde(default)]
    pub matches: Vec<RouteMatch>,
    /// `backendRefs`.
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
    /// `sessionPersistence` (experimental channel, Gateway API v1.1.0+).
    pub session_persistence: Option<SessionPersistence>,
}

/// One `matches` item, as far as the rules read it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    /// `path` (HTTPRoute only).
    pub path: Option<PathMatch>,
}

/// `HTTPPathMatch`: `type` (`Exact`, `PathPrefix`, `RegularExpression`; the API defaults it to
/// `PathPrefix`) and `value` (default `/`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathMatch {
    /// `type`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `value`.
    pub value: Option<String>,
}

impl PathMatch {
    /// The regex, when this is a `RegularExpression` match with a value.
    pub fn regex(&self) -> Option<&str> {
        (self.type_.as_deref() == Some("RegularExpression"))
            .then_some(self.value.as_deref())
            .flatten()
    }
}

/// One `backendRefs` item (`BackendObjectReference` plus `weight`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    /// `group`, default `""` (core).
    pub group: Option<String>,
    /// `kind`, default `Service`.
    pub kind: Option<String>,
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// `namespace`, default the route's.
    pub namespace: Option<String>,
    /// `port`.
    pub port: Option<i64>,
}

impl BackendRef {
    /// Whether this names a core Service (the defaults included).
    pub fn is_service(&self) -> bool {
        self.group.as_deref().unwrap_or("").is_empty()
            && self.kind.as_deref().unwrap_or("Service") == "Service"
    }
}

/// `sessionPersistence`, in the released (v1.1.0–v1.6.1) and the main-branch shape.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPersistence {
    /// `type`: `Cookie` (the default) or `Header`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `sessionName` (v1.1.0–v1.6.1).
    pub session_name: Option<String>,
    /// `cookie` (main branch, unreleased): `name` and `path`.
    pub cookie: Option<CookieConfig>,
}

/// `sessionPersistence.cookie` (Gateway API main, #4873 and #5046).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieConfig {
    /// `name`.
    pub name: Option<String>,
    /// `path` (main's default `/`).
    pub path: Option<String>,
}

impl SessionPersistence {
    /// Whether the session is carried in a cookie (`type` unset or `Cookie`).
    pub fn is_cookie(&self) -> bool {
        self.type_.as_deref().unwrap_or("Cookie") == "Cookie"
    }
}

/// A Gateway: metadata and `spec.gatewayClassName`.
#[derive(Clone, Debug, Default)]
pub struct GatewayObject {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec.gatewayClassName`.
    pub gateway_class_name: Option<String>,
}

/// A GatewayClass (cluster-scoped): metadata and `spec.controllerName`, which names the
/// implementation (`gateway.envoyproxy.io/gatewayclass-controller`, …).
#[derive(Clone, Debug, Default)]
pub struct GatewayClassObject {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec.controllerName`.
    pub controller_name: Option<String>,
}

/// A ReferenceGrant: metadata and `spec` (`apis/v1/referencegrant_types.go` L66-157 at
/// v1.6.1). It lives in the namespace of the objects it lets others refer to.
#[derive(Clone, Debug, Default)]
pub struct ReferenceGrantObject {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec`.
    pub spec: ReferenceGrantSpec,
}

/// `spec` of a ReferenceGrant: each list is OR-combined.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    /// `from`: who may refer.
    #[serde(default)]
    pub from: Vec<GrantFrom>,
    /// `to`: what they may refer to.
    #[serde(default)]
    pub to: Vec<GrantTo>,
}

/// `ReferenceGrantFrom`: group, kind and namespace, all required.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantFrom {
    /// `group`.
    #[serde(default)]
    pub group: String,
    /// `kind`.
    #[serde(default)]
    pub kind: String,
    /// `namespace`.
    #[serde(default)]
    pub namespace: String,
}

/// `ReferenceGrantTo`: group and kind, and optionally one name (unset: every object of the
/// kind in the grant's namespace).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantTo {
    /// `group` (`""` is core).
    #[serde(default)]
    pub group: String,
    /// `kind`.
    #[serde(default)]
    pub kind: String,
    /// `name`.
    pub name: Option<String>,
}

impl ReferenceGrantObject {
    /// Whether this grant lets a `route_kind` in `from_namespace` refer to Service `service`
    /// in the grant's namespace (`apis/v1/referencegrant_types.go` L95-157 at v1.6.1).
    pub fn permits(&self, route_kind: RouteKind, from_namespace: &str, service: &str) -> bool {
        let from = self.spec.from.iter().any(|f| {
            f.group == GROUP && f.kind == route_kind.name() && f.namespace == from_namespace
        });
        let to = self.spec.to.iter().any(|t| {
            t.group.is_empty()
                && t.kind == "Service"
                && t.name
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || n == service)
        });
        from && to
    }
}

/// `spec` of a Gateway, as far as it is read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GatewaySpec {
    pub gateway_class_name: Option<String>,
}

/// `spec` of a GatewayClass, as far as it is read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GatewayClassSpec {
    pub controller_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(to_name: Option<&str>) -> ReferenceGrantObject {
        ReferenceGrantObject {
            meta: ObjectMeta::default(),
            spec: ReferenceGrantSpec {
                from: vec![GrantFrom {
                    group: GROUP.into(),
                    kind: "HTTPRoute".into(),
                    namespace: "app".into(),
                }],
                to: vec![GrantTo {
                    group: String::new(),
                    kind: "Service".into(),
                    name: to_name.map(String::from),
                }],
            },
        }
    }

    #[test]
    fn a_grant_permits_its_from_kind_and_namespace_and_its_to_name() {
        assert!(grant(None).permits(RouteKind::Http, "app", "web"));
        assert!(grant(Some("web")).permits(RouteKind::Http, "app", "web"));
        assert!(!grant(Some("api")).permits(RouteKind::Http, "app", "web"));
        assert!(!grant(None).permits(RouteKind::Grpc, "app", "web"));
        assert!(!grant(None).permits(RouteKind::Http, "other", "web"));
    }

    #[test]
    fn defaults_of_refs() {
        let parent: ParentRef = serde_json::from_str(r#"{"name": "gw"}"#).unwrap();
        assert!(parent.is_gateway());
        let mesh: ParentRef =
            serde_json::from_str(r#"{"group": "", "kind": "Service", "name": "s"}"#).unwrap();
        assert!(!mesh.is_gateway());
        let backend: BackendRef = serde_json::from_str(r#"{"name": "web", "port": 80}"#).unwrap();
        assert!(backend.is_service());
        let other: BackendRef = serde_json::from_str(
            r#"{"group": "gateway.envoyproxy.io", "kind": "Backend", "name": "b"}"#,
        )
        .unwrap();
        assert!(!other.is_service());
    }
}

//! Traefik's Kubernetes Ingress NGINX provider (`kubernetesIngressNGINX`, Traefik v3.5 and
//! later): Traefik serving Ingresses written for ingress-nginx, reading a subset of its
//! annotations. Sticky-session facts, from the source of Traefik v3.6.24 (cc33658) and v3.7.9
//! (d0bd2ec), `pkg/provider/kubernetes/ingress-nginx/`:
//!
//! - **Which Ingresses**: IngressClasses whose `spec.controller` is `controllerClass`, default
//!   `k8s.io/ingress-nginx`, the same string as ingress-nginx's (`kubernetes.go` L39-40 and
//!   `SetDefaults` L93-96 at v3.6.24; `fixtures/ingressclasses.yml`), so the IngressClass cannot
//!   tell the two apart: the policy's `servedBy` says which serves a class.
//! - **Affinity**: `affinity` turns a sticky cookie on: at v3.6.24 any non-empty value
//!   (`kubernetes.go` L541), at v3.7.9 only `cookie` (`translator.go` L372). The cookie:
//!   `session-cookie-name` (default `INGRESSCOOKIE`), `-secure`, `-samesite` (lower-cased),
//!   `-max-age`, `-domain`, `-path`; HttpOnly always on (v3.6.24 L544-550; v3.7.9
//!   translator.go L376-390). `session-cookie-expires` is read only from v3.7 (v3.6.24
//!   `annotations.go` L28-34 has no field; v3.7.9 `annotations.go` L56).
//! - **Not supported**: `affinity-mode` (only persistent: docs
//!   `reference/routing-configuration/kubernetes/ingress-nginx.md` L293 at v3.6.24, L306 at
//!   v3.7.9), `session-cookie-change-on-failure` and `session-cookie-conditional-samesite-none`
//!   (listed unsupported, docs L418-420 at v3.6.24, L478-479 at v3.7.9),
//!   `affinity-canary-behavior` (not read at v3.6.24; "only the sticky behavior" at v3.7.9,
//!   docs L307).
//! - **Cookie Path**: `session-cookie-path`, else `/` (v3.6.24 L549, v3.7.9 translator.go
//!   L389): never the Ingress path, so a regex path without `session-cookie-path` is not the
//!   problem it is on ingress-nginx (whose `sticky.lua` L75-78 takes the location path).
//! - **Backends** (v3.6.24 `getBackendAddresses` L601-667; v3.7.9 `getBackendEndpoints`
//!   build.go L647-696): an ExternalName Service is one server `externalName:port`
//!   (L616-618), `service-upstream: "true"` one server `ClusterIP:port` (L620-623); otherwise the
//!   EndpointSlice addresses. With one server, the cookie (`sha256` of the server URL,
//!   `pkg/server/service/loadbalancer/sticky.go` L73-85) pins nothing: DNS or kube-proxy picks
//!   the pod, exactly as behind ingress-nginx.

/// Traefik versions whose source these facts were checked against.
pub const CHECKED: &str = "Traefik NGINX provider v3.6.24, v3.7.9";

/// An ingress-nginx affinity setting the provider does not carry out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The annotation name, without prefix.
    pub name: &'static str,
    /// The values that matter (`None`: any non-empty value).
    pub values: Option<&'static [&'static str]>,
    /// What the provider does instead, for the message (kept short: kubectl shows it).
    pub instead: &'static str,
}

/// The settings that ingress-nginx carries out and the provider ignores, in the order the
/// rule reports them.
pub const UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        name: "affinity-mode",
        values: Some(&["balanced"]),
        instead: "only persistent mode",
    },
    Unsupported {
        name: "session-cookie-change-on-failure",
        values: Some(&["true"]),
        instead: "the cookie is kept when its server fails",
    },
    Unsupported {
        name: "session-cookie-conditional-samesite-none",
        values: Some(&["true"]),
        instead: "SameSite is sent as set",
    },
    Unsupported {
        name: "session-cookie-expires",
        values: None,
        instead: "ignored before v3.7; use session-cookie-max-age",
    },
    Unsupported {
        name: "affinity-canary-behavior",
        values: Some(&["legacy"]),
        instead: "only sticky",
    },
];

/// The sticky cookie's Path: `session-cookie-path` when set, else `/` (never the path).
pub fn cookie_path(session_cookie_path: Option<&str>) -> &str {
    session_cookie_path.filter(|p| !p.is_empty()).unwrap_or("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_path_is_the_annotation_or_root() {
        assert_eq!(cookie_path(None), "/");
        assert_eq!(cookie_path(Some("")), "/");
        assert_eq!(cookie_path(Some("/app")), "/app");
    }
}

//! The F5 NGINX Ingress Controller family (nginx/kubernetes-ingress, formerly
//! nginxinc/kubernetes-ingress), whose default ingress class is also `nginx`.
//!
//! Source: nginx/kubernetes-ingress v5.5.4 (f92a24e):
//! - `internal/k8s/controller.go` L79: `IngressControllerName = "nginx.org/ingress-controller"`;
//!   at start the controller exits unless the IngressClass named by `-ingress-class` (default
//!   `nginx`, `cmd/nginx-ingress/flags.go` L87-93) has that controller (`main.go` L460-469);
//! - `internal/configs/annotations.go` L15-102: it reads annotations under `nginx.org/`,
//!   `nginx.com/`, `appprotect.f5.com/`, `appprotectdos.f5.com/` and `nsm.nginx.com/`; the
//!   string `nginx.ingress.kubernetes.io` appears in no non-test Go file, so ingress-nginx's
//!   annotations (`affinity`, `session-cookie-*`) do nothing;
//! - sticky sessions: `nginx.org/sticky-cookie-services` (and `nginx.com/…`, NGINX Plus only;
//!   when both are set `.org` wins, `annotations.go` L751-772; `internal/k8s/validation.go`
//!   L391-399 marks only `.com` Plus-only). `.org` arrived in v5.4.0 (commit 451841b, "Enable
//!   Session Persistence for NGINX OSS config"): `examples/ingress-resources/session-persistence/
//!   README.md` L3-9 says NGINX OSS 1.29.6 and later has it. Syntax, README L33:
//!   `serviceName=<svc> <cookie> [expires=time] [domain=domain] [httponly] [secure] [path=path]`,
//!   `;`-separated per Service (`internal/configs/parsing_helpers.go` L363-392), emitted as
//!   `sticky cookie <params>;` (`internal/configs/version1/nginx.ingress.tmpl` L17-18);
//! - VirtualServer `upstreams[].sessionCookie` (`pkg/apis/configuration/v1/types.go` L254-271)
//!   is the other way.

/// The F5 NGINX Ingress Controller's IngressClass controller (`controller.go` L79).
pub const CONTROLLER: &str = "nginx.org/ingress-controller";

/// The annotation prefixes it reads for Ingresses (`annotations.go` L15-102; the App Protect
/// and NSM prefixes are left out: they say nothing about which controller an Ingress is for).
pub const PREFIXES: [&str; 2] = ["nginx.org/", "nginx.com/"];

/// Its sticky sessions annotation, NGINX OSS and Plus since v5.4.0
/// (`annotations.go` L90).
pub const STICKY_COOKIE_SERVICES: &str = "nginx.org/sticky-cookie-services";

/// Whether `ingress` carries annotations under [`PREFIXES`]: written for this controller.
pub fn annotated(ingress: &crate::objects::IngressObject) -> bool {
    crate::objects::annotations(&ingress.meta)
        .keys()
        .any(|k| PREFIXES.iter().any(|p| k.starts_with(p)))
}

//! The Traefik controller family (v3; Kubernetes Ingress provider): sticky cookies, which
//! Traefik reads from the **Service's** annotations, and how it reaches a Service.
//!
//! Source: traefik/traefik `v3.7.9` (d0bd2ec1); notes with every line in
//! `docs/facts/gateway-api-traefik.md` §4.
//! - `pkg/provider/kubernetes/ingress/kubernetes.go` L594: sticky settings come from
//!   `parseServiceConfig(service.Annotations)`; `annotations.go` L13, L84: the prefix
//!   `traefik.ingress.kubernetes.io/`, decoded by paerser into `dynamic.Sticky` (L50).
//! - `pkg/config/dynamic/http_config.go` L333-365: `Cookie{Name, Secure, HTTPOnly, SameSite,
//!   MaxAge, Path (default "/"), Domain}`; `maxage` since v3.0.0, `path` since v3.3.0,
//!   `domain` since v3.4.0.
//! - booleans and integers are parsed with Go's `strconv` (paerser `element_fill.go` L71-77);
//!   a value that does not parse makes `loadService` fail, and Traefik logs "Cannot create
//!   service" and skips that backend (`kubernetes.go` L377-385): the route answers 404/503.
//! - SameSite is matched case-insensitively against none, lax, strict; anything else sends no
//!   attribute (`pkg/server/service/loadbalancer/sticky.go` L153-164).
//! - an ExternalName Service is refused unless the provider's `allowExternalNameServices` is
//!   on (L569-571), and then is one server `externalName:port` (L661-670); with
//!   `service.nativelb: "true"` (or `nativeLBByDefault`) a ClusterIP Service is one server, its
//!   ClusterIP (L599, L617-619, L672-684). With one server a sticky cookie pins nothing:
//!   kube-proxy or DNS chooses the pod.

use crate::controllers::nginx::annotations::go_parse_bool;
use crate::objects::annotations;
use k8s_openapi::api::core::v1::Service;

/// Traefik's annotation prefix for Kubernetes Ingress and Service annotations.
pub const PREFIX: &str = "traefik.ingress.kubernetes.io";

/// `service.sticky.cookie`: turns the sticky cookie on (`"true"`, or empty with sub-keys).
pub const STICKY_COOKIE: &str = "traefik.ingress.kubernetes.io/service.sticky.cookie";

/// `service.nativelb`: the Service's ClusterIP as the only server.
pub const NATIVE_LB: &str = "traefik.ingress.kubernetes.io/service.nativelb";

pub mod ingress_nginx;

/// The IngressClass controller of Traefik's Kubernetes Ingress provider
/// (`traefikDefaultIngressClassController`, `pkg/provider/kubernetes/ingress/kubernetes.go` L38
/// at v3.7.9, L39 at v3.6.24): hard-coded, `GetIngressClasses` keeps only the classes with it
/// (`client.go` L369).
pub const CONTROLLER: &str = "traefik.io/ingress-controller";

/// Traefik's default ingress class (`traefikDefaultIngressClass`,
/// `pkg/provider/kubernetes/ingress/kubernetes.go` L36-38 at v3.7.9).
pub const INGRESS_CLASS: &str = "traefik";

/// Whether Traefik serves this Ingress: its class (`spec.ingressClassName`, else the
/// `kubernetes.io/ingress.class` annotation) is `traefik`, Traefik's default
/// (`shouldProcessIngress`, L547-557). A Traefik configured with another `ingressClass`, or an
/// IngressClass of another name with controller `traefik.io/ingress-controller`, is not seen.
/// An Ingress with no class is not taken as Traefik's here (a default Traefik does process it,
/// L555, but so may ingress-nginx, and the policy judges it as ingress-nginx's).
pub fn serves(ingress: &crate::objects::IngressObject) -> bool {
    ingress.ingress_class() == Some(INGRESS_CLASS)
}

/// The backend Services of a Traefik Ingress that the cluster view holds and that `problem`
/// flags: `(field of the backend's Service name, Service name)`. Nothing for an Ingress Traefik
/// does not serve ([`serves`]), or without a view.
pub fn backends_where(
    ingress: &crate::objects::IngressObject,
    view: &dyn crate::view::ClusterView,
    problem: fn(&Service) -> bool,
) -> Vec<(String, String)> {
    if !serves(ingress) {
        return Vec::new();
    }
    let namespace = crate::objects::namespace_of(&ingress.meta);
    let mut out: Vec<(String, String)> = Vec::new();
    for backend in ingress.backends() {
        let crate::view::Lookup::Found(object) = view.service(namespace, backend.service_name)
        else {
            continue;
        };
        if object.as_service().is_some_and(problem) {
            out.push((backend.field, backend.service_name.to_string()));
        }
    }
    out
}

/// One sticky cookie setting: the annotation's suffix after `service.sticky.cookie.`, and how
/// Traefik parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// A string taken as written (`name`, `path`, `domain`).
    Text,
    /// A Go `strconv.ParseBool` (`secure`, `httponly`).
    Bool,
    /// A Go `strconv.ParseInt` (`maxage`, seconds).
    Int,
    /// `none`, `lax` or `strict`, any case (`samesite`).
    SameSite,
}

/// The sticky cookie settings Traefik v3 reads, with the version that added each.
pub const SETTINGS: &[(&str, Setting, &str)] = &[
    ("name", Setting::Text, "v2"),
    ("secure", Setting::Bool, "v2"),
    ("httponly", Setting::Bool, "v2"),
    ("samesite", Setting::SameSite, "v2"),
    ("maxage", Setting::Int, "v3.0.0"),
    ("path", Setting::Text, "v3.3.0"),
    ("domain", Setting::Text, "v3.4.0"),
];

/// Whether the Service asks Traefik for a sticky cookie: `service.sticky.cookie` is `true`
/// (any case) or empty, or, without it, a `service.sticky.cookie.*` setting is present
/// (paerser builds the struct from any of its keys). `service.sticky.cookie: "false"` turns it
/// off whatever the settings say.
pub fn sticky(service: &Service) -> bool {
    let annotations = annotations(&service.metadata);
    match annotations.get(STICKY_COOKIE) {
        Some(value) => value.is_empty() || value.eq_ignore_ascii_case("true"),
        None => annotations.keys().any(|k| {
            k.strip_prefix(STICKY_COOKIE)
                .is_some_and(|rest| rest.starts_with('.'))
        }),
    }
}

/// Whether Traefik proxies to the Service's ClusterIP alone: `service.nativelb` parses as true
/// (the provider's `nativeLBByDefault` is not visible here and is taken as off).
pub fn native_lb(service: &Service) -> bool {
    annotations(&service.metadata)
        .get(NATIVE_LB)
        .and_then(|v| go_parse_bool(v))
        .unwrap_or(false)
}

/// A sticky cookie setting Traefik cannot use as written: `(annotation key, value, what
/// happens, what to write)`.
pub fn problems(service: &Service) -> Vec<(String, String, &'static str, &'static str)> {
    let annotations = annotations(&service.metadata);
    let mut out = Vec::new();
    for (suffix, setting, _) in SETTINGS {
        let key = format!("{STICKY_COOKIE}.{suffix}");
        let Some(value) = annotations.get(&key) else {
            continue;
        };
        let problem = match setting {
            Setting::Bool if go_parse_bool(value).is_none() => Some((
                "Traefik cannot load the Service and skips it",
                "\"true\" or \"false\"",
            )),
            Setting::Int if value.parse::<i64>().is_err() => Some((
                "Traefik cannot load the Service and skips it",
                "whole seconds",
            )),
            Setting::SameSite
                if !["none", "lax", "strict"]
                    .iter()
                    .any(|o| value.eq_ignore_ascii_case(o)) =>
            {
                Some(("no SameSite attribute is sent", "None, Lax or Strict"))
            }
            _ => None,
        };
        if let Some((effect, expected)) = problem {
            out.push((key, value.clone(), effect, expected));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(annotations: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "s", "annotations": annotations}}))
            .unwrap()
    }

    /// paerser nodes_metadata.go L84: a non-empty value other than "true" disables the
    /// allowEmpty struct; annotations_test.go L149-162: "true" alone is a sticky cookie.
    #[test]
    fn sticky_follows_the_parent_annotation_then_the_settings() {
        assert!(sticky(&service(json!({STICKY_COOKIE: "true"}))));
        assert!(sticky(&service(json!({STICKY_COOKIE: "TRUE"}))));
        assert!(sticky(&service(
            json!({format!("{STICKY_COOKIE}.name"): "route"})
        )));
        assert!(!sticky(&service(
            json!({STICKY_COOKIE: "false", format!("{STICKY_COOKIE}.name"): "route"})
        )));
        assert!(!sticky(&service(json!({"team": "shop"}))));
    }

    /// element_fill.go L71-77 (strconv.ParseBool/ParseInt); sticky.go L153-164 (SameSite).
    #[test]
    fn values_traefik_cannot_use() {
        let found = problems(&service(json!({
            format!("{STICKY_COOKIE}.secure"): "yes",
            format!("{STICKY_COOKIE}.maxage"): "1h",
            format!("{STICKY_COOKIE}.samesite"): "sometimes",
            format!("{STICKY_COOKIE}.httponly"): "True",
            format!("{STICKY_COOKIE}.path"): "/app",
        })));
        let keys: Vec<&str> = found.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            keys,
            [
                "traefik.ingress.kubernetes.io/service.sticky.cookie.secure",
                "traefik.ingress.kubernetes.io/service.sticky.cookie.samesite",
                "traefik.ingress.kubernetes.io/service.sticky.cookie.maxage",
            ]
        );
        assert!(native_lb(&service(json!({NATIVE_LB: "true"}))));
        assert!(!native_lb(&service(json!({NATIVE_LB: "yes"}))));
    }
}

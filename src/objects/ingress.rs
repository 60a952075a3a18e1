//! Ingresses in `networking.k8s.io/v1` shape, whatever API version they came in.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

/// An Ingress as the rules see it: metadata plus a `networking.k8s.io/v1` spec.
///
/// `legacy` records that the object came in as `extensions/v1beta1` or
/// `networking.k8s.io/v1beta1`, so that field paths in messages name the fields the user wrote
/// (`backend.serviceName` rather than `backend.service.name`).
#[derive(Clone, Debug, Default)]
pub struct IngressObject {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec`, converted to `networking.k8s.io/v1` for the legacy APIs.
    pub spec: IngressSpec,
    /// Whether the object came in through a legacy (`v1beta1`) API version.
    pub legacy: bool,
}

/// One backend of an Ingress: the `defaultBackend` or a rule path's backend.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendRef<'a> {
    /// Field path of the Service name, as written: `spec.rules[0].http.paths[0].backend.service.name`
    /// (v1) or `...backend.serviceName` (legacy).
    pub field: String,
    /// The same field as a JSON pointer (RFC 6901), for patches:
    /// `/spec/rules/0/http/paths/0/backend/service/name` (or `…/backend/serviceName`).
    pub pointer: String,
    /// The Service name as written.
    pub service_name: &'a str,
    /// The Service port.
    pub port: Option<&'a ServiceBackendPort>,
}

/// One HTTP path of an Ingress rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRef<'a> {
    /// Field path of the path: `spec.rules[0].http.paths[0].path`.
    pub field: String,
    /// The rule's host, if any.
    pub host: Option<&'a str>,
    /// The path as written; `/` when omitted (allowed for `ImplementationSpecific`).
    pub path: &'a str,
    /// `Exact`, `Prefix` or `ImplementationSpecific` (the API server's default for legacy paths).
    pub path_type: &'a str,
}

impl IngressObject {
    /// From a `networking.k8s.io/v1` Ingress (as the watch cache holds it).
    pub fn from_v1(ingress: &k8s_openapi::api::networking::v1::Ingress) -> Self {
        IngressObject {
            meta: ingress.metadata.clone(),
            spec: ingress.spec.clone().unwrap_or_default(),
            legacy: false,
        }
    }

    /// The ingress class: `spec.ingressClassName`, else the `kubernetes.io/ingress.class`
    /// annotation (deprecated but still read by ingress-nginx), else `None`.
    pub fn ingress_class(&self) -> Option<&str> {
        self.spec.ingress_class_name.as_deref().or_else(|| {
            super::annotations(&self.meta)
                .get("kubernetes.io/ingress.class")
                .map(String::as_str)
        })
    }

    /// Every HTTP path of every rule, in document order.
    pub fn paths(&self) -> Vec<PathRef<'_>> {
        let mut out = Vec::new();
        for (r, rule) in self.spec.rules.iter().flatten().enumerate() {
            let Some(http) = &rule.http else { continue };
            for (p, path) in http.paths.iter().enumerate() {
                out.push(PathRef {
                    field: format!("spec.rules[{r}].http.paths[{p}].path"),
                    host: rule.host.as_deref(),
                    path: path.path.as_deref().unwrap_or("/"),
                    path_type: &path.path_type,
                });
            }
        }
        out
    }

    /// Every Service backend: `defaultBackend` first, then each rule path's, in document order.
    /// Resource backends (`backend.resource`) are not Services and are left out.
    pub fn backends(&self) -> Vec<BackendRef<'_>> {
        let (default_field, name_field) = if self.legacy {
            ("spec.backend", "serviceName")
        } else {
            ("spec.defaultBackend", "service.name")
        };
        let pointer = |field: &str| {
            // `spec.rules[0].http.paths[1].backend.service.name` → `/spec/rules/0/http/…/name`.
            let mut out = String::new();
            for part in field.split('.') {
                match part.split_once('[') {
                    Some((name, index)) => {
                        out.push('/');
                        out.push_str(name);
                        out.push('/');
                        out.push_str(index.trim_end_matches(']'));
                    }
                    None => {
                        out.push('/');
                        out.push_str(part);
                    }
                }
            }
            out
        };
        let mut out = Vec::new();
        if let Some(service) = self
            .spec
            .default_backend
            .as_ref()
            .and_then(|b| b.service.as_ref())
        {
            let field = format!("{default_field}.{name_field}");
            out.push(BackendRef {
                pointer: pointer(&field),
                field,
                service_name: &service.name,
                port: service.port.as_ref(),
            });
        }
        for (r, rule) in self.spec.rules.iter().flatten().enumerate() {
            let Some(http) = &rule.http else { continue };
            for (p, path) in http.paths.iter().enumerate() {
                if let Some(service) = &path.backend.service {
                    let field = format!("spec.rules[{r}].http.paths[{p}].backend.{name_field}");
                    out.push(BackendRef {
                        pointer: pointer(&field),
                        field,
                        service_name: &service.name,
                        port: service.port.as_ref(),
                    });
                }
            }
        }
        out
    }
}

/// `spec` of an `extensions/v1beta1` or `networking.k8s.io/v1beta1` Ingress, as far as
/// sticky-guard reads it. Source: the v1beta1 API reference (removed in Kubernetes 1.22);
/// unknown fields are ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct LegacySpec {
    backend: Option<LegacyBackend>,
    ingress_class_name: Option<String>,
    rules: Option<Vec<LegacyRule>>,
    tls: Option<Vec<IngressTLS>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyRule {
    host: Option<String>,
    http: Option<LegacyHttp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyHttp {
    #[serde(default)]
    paths: Vec<LegacyPath>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyPath {
    path: Option<String>,
    path_type: Option<String>,
    backend: LegacyBackend,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyBackend {
    service_name: Option<String>,
    service_port: Option<IntOrString>,
}

impl LegacyBackend {
    /// `serviceName`/`servicePort` become `service.name`/`service.port.{number,name}`, as the
    /// API server's v1beta1 → v1 conversion does.
    fn into_v1(self) -> IngressBackend {
        IngressBackend {
            service: self.service_name.map(|name| IngressServiceBackend {
                name,
                port: self.service_port.map(|port| match port {
                    IntOrString::Int(number) => ServiceBackendPort {
                        number: Some(number),
                        name: None,
                    },
                    IntOrString::String(name) => ServiceBackendPort {
                        number: None,
                        name: Some(name),
                    },
                }),
            }),
            resource: None,
        }
    }
}

impl IngressObject {
    /// A legacy Ingress in v1 shape: `meta` as read, `spec` converted.
    pub(super) fn from_legacy(meta: ObjectMeta, spec: LegacySpec) -> Self {
        IngressObject {
            meta,
            spec: IngressSpec {
                default_backend: spec.backend.map(LegacyBackend::into_v1),
                ingress_class_name: spec.ingress_class_name,
                rules: spec.rules.map(|rules| {
                    rules
                        .into_iter()
                        .map(|rule| IngressRule {
                            host: rule.host,
                            http: rule.http.map(|http| HTTPIngressRuleValue {
                                paths: http
                                    .paths
                                    .into_iter()
                                    .map(|path| HTTPIngressPath {
                                        path: path.path,
                                        path_type: path
                                            .path_type
                                            .unwrap_or_else(|| "ImplementationSpecific".into()),
                                        backend: path.backend.into_v1(),
                                    })
                                    .collect(),
                            }),
                        })
                        .collect()
                }),
                tls: spec.tls,
            },
            legacy: true,
        }
    }
}

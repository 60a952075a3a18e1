//! Ingresses in `networking.k8s.io/v1` shape, whatever API version they came in.

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
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
    /// Backends written with the fields of the other Ingress API version (`serviceName` in a
    /// `networking.k8s.io/v1` Ingress, `service` in a `v1beta1` one), which the API server
    /// refuses. Filled by the decoder (from JSON values and JSON text alike); empty for objects
    /// built from typed API objects ([`IngressObject::from_v1`]).
    pub backend_shape_errors: Vec<BackendShapeError>,
}

/// A backend written in the shape of the other Ingress API version.
///
/// Where the written fields name a Service and the backend has none of its own version's
/// fields, the decoder also takes it into [`IngressObject::spec`] as meant (see
/// [`BackendShapeError::converted`]), so the rules that follow backends still judge it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendShapeError {
    /// Which backend: `None` for the default backend, else `(rule, path)` indices into
    /// `spec.rules[rule].http.paths[path]`.
    pub at: Option<(usize, usize)>,
    /// The first field of the other version, as written:
    /// `spec.rules[0].http.paths[0].backend.serviceName`, `…backend.service`, `spec.backend`.
    pub field: String,
    /// What was written: `serviceName/servicePort`, `serviceName`, `servicePort` (v1beta1
    /// fields in a v1 Ingress), `service` (a v1 field in a v1beta1 Ingress), or the other
    /// version's default backend, `spec.backend` or `spec.defaultBackend`.
    pub found: &'static str,
    /// What the object's API version has instead: `service: {name, port}`,
    /// `serviceName/servicePort`, `spec.defaultBackend` or `spec.backend`.
    pub expected: &'static str,
    /// The backend as the object's API version writes it, from what was written
    /// (`service: {name: web, port: {number: 80}}`, `serviceName: web, servicePort: 80`,
    /// `defaultBackend: {service: {…}}`; `…` for a part that was not written), or `None` when
    /// the backend already has its own version's fields (the others are then only to delete).
    pub rewrite: Option<String>,
    /// Whether the backend has a `resource` (so the other version's fields are only to delete).
    pub resource: bool,
    /// When the backend was taken into `spec`: the field of its Service name as written
    /// (`spec.rules[0].http.paths[0].backend.serviceName`), which [`IngressObject::backends`]
    /// reports for it.
    pub converted: Option<String>,
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

/// A backend's Service port as written: the number when one is set (and positive), else the
/// name, else `""`. ingress-nginx names an upstream by Service and this (`upstreamName`,
/// internal/ingress/controller/util.go L50-60), so `web:80` and `web:http` are two upstreams
/// even when the Service's port `http` is 80.
pub fn port_as_written(port: Option<&ServiceBackendPort>) -> String {
    match port {
        Some(ServiceBackendPort {
            number: Some(number),
            ..
        }) if *number > 0 => number.to_string(),
        Some(port) => port.name.clone().unwrap_or_default(),
        None => String::new(),
    }
}

impl IngressObject {
    /// From a `networking.k8s.io/v1` Ingress (as the watch cache holds it).
    pub fn from_v1(ingress: &k8s_openapi::api::networking::v1::Ingress) -> Self {
        IngressObject {
            meta: ingress.metadata.clone(),
            spec: ingress.spec.clone().unwrap_or_default(),
            legacy: false,
            backend_shape_errors: Vec::new(),
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
                    // Omitted or empty: the controller uses `/` (controller.go L811-813).
                    path: path
                        .path
                        .as_deref()
                        .filter(|p| !p.is_empty())
                        .unwrap_or("/"),
                    path_type: &path.path_type,
                });
            }
        }
        out
    }

    /// Every Service backend: `defaultBackend` first, then each rule path's, in document order.
    /// Resource backends (`backend.resource`) are not Services and are left out. A backend the
    /// decoder took in from the other API version's fields (see [`BackendShapeError`]) is
    /// reported at the field as written.
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
        // The name field as written, for a backend taken in from the other version's fields.
        let converted = |at: Option<(usize, usize)>| {
            self.backend_shape_errors
                .iter()
                .filter(|e| e.at == at)
                .find_map(|e| e.converted.clone())
        };
        let mut out = Vec::new();
        if let Some(service) = self
            .spec
            .default_backend
            .as_ref()
            .and_then(|b| b.service.as_ref())
        {
            let field = converted(None).unwrap_or_else(|| format!("{default_field}.{name_field}"));
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
                    let field = converted(Some((r, p))).unwrap_or_else(|| {
                        format!("spec.rules[{r}].http.paths[{p}].backend.{name_field}")
                    });
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

/// `spec` of an Ingress as written, with the fields of both API versions:
/// `networking.k8s.io/v1` (`defaultBackend`, `backend.service`) and `extensions/v1beta1` /
/// `networking.k8s.io/v1beta1` (`backend`, `backend.serviceName`/`servicePort`; removed in
/// Kubernetes 1.22), as far as sticky-guard reads them. Unknown fields are ignored; missing
/// and `null` fields read as absent, as k8s-openapi's own types read them.
/// [`IngressObject::from_written`] converts it to v1 and records the fields of the other
/// version.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct WrittenSpec {
    default_backend: Option<WrittenBackend>,
    backend: Option<WrittenBackend>,
    ingress_class_name: Option<String>,
    rules: Option<Vec<WrittenRule>>,
    tls: Option<Vec<IngressTLS>>,
}

/// The spec of a legacy (`v1beta1`) Ingress: a [`WrittenSpec`].
pub(super) type LegacySpec = WrittenSpec;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenRule {
    host: Option<String>,
    http: Option<WrittenHttp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenHttp {
    paths: Option<Vec<WrittenPath>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenPath {
    path: Option<String>,
    path_type: Option<String>,
    backend: Option<WrittenBackend>,
}

/// A backend with the fields of both versions: v1's `service`, v1beta1's `serviceName` and
/// `servicePort`, and `resource` (in both).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WrittenBackend {
    service: Option<IngressServiceBackend>,
    resource: Option<TypedLocalObjectReference>,
    service_name: Option<String>,
    service_port: Option<IntOrString>,
}

/// A v1beta1 `servicePort` as a v1 `service.port`: a number is `number`, a string is `name`
/// (the API server's v1beta1 → v1 conversion).
fn port_from(port: IntOrString) -> ServiceBackendPort {
    match port {
        IntOrString::Int(number) => ServiceBackendPort {
            number: Some(number),
            name: None,
        },
        IntOrString::String(name) => ServiceBackendPort {
            number: None,
            name: Some(name),
        },
    }
}

/// What a backend says, in v1 terms, and in the words of either version for messages.
struct Meant {
    name: Option<String>,
    port: Option<ServiceBackendPort>,
}

impl Meant {
    fn v1_text(&self) -> String {
        let port = match &self.port {
            Some(ServiceBackendPort {
                number: Some(n), ..
            }) => format!("number: {n}"),
            Some(ServiceBackendPort { name: Some(n), .. }) => format!("name: {n}"),
            _ => "number: …".into(),
        };
        format!(
            "service: {{name: {}, port: {{{port}}}}}",
            self.name.as_deref().unwrap_or("…")
        )
    }

    fn legacy_text(&self) -> String {
        let port = match &self.port {
            Some(ServiceBackendPort {
                number: Some(n), ..
            }) => n.to_string(),
            Some(ServiceBackendPort { name: Some(n), .. }) => n.clone(),
            _ => "…".into(),
        };
        format!(
            "serviceName: {}, servicePort: {port}",
            self.name.as_deref().unwrap_or("…")
        )
    }

    fn text(&self, legacy: bool) -> String {
        if legacy {
            self.legacy_text()
        } else {
            self.v1_text()
        }
    }

    fn into_service(self) -> Option<IngressServiceBackend> {
        let name = self.name?;
        Some(IngressServiceBackend {
            name,
            port: self.port,
        })
    }
}

impl WrittenBackend {
    /// The v1beta1 fields, as meant.
    fn legacy_meant(&mut self) -> Meant {
        Meant {
            name: self.service_name.take(),
            port: self.service_port.take().map(port_from),
        }
    }

    /// The v1 field, as meant.
    fn v1_meant(&mut self) -> Meant {
        match self.service.take() {
            Some(service) => Meant {
                name: Some(service.name),
                port: service.port,
            },
            None => Meant {
                name: None,
                port: None,
            },
        }
    }

    /// This backend in an Ingress of the version `legacy` says, at field `base`
    /// (`spec.rules[0].http.paths[0].backend`): the backend in v1 shape, and the error when
    /// it has fields of the other version. The other version's fields are taken in when the
    /// backend has none of its own (neither its version's Service fields nor `resource`) and
    /// they name a Service.
    fn into_v1(
        mut self,
        legacy: bool,
        base: &str,
        at: Option<(usize, usize)>,
    ) -> (IngressBackend, Option<BackendShapeError>) {
        let has_resource = self.resource.is_some();
        let (own, other, found, expected, first) = if legacy {
            let other_written = self.service.is_some();
            let own = self.legacy_meant();
            let other = other_written.then(|| self.v1_meant());
            (own, other, "service", "serviceName/servicePort", "service")
        } else {
            let found = match (&self.service_name, &self.service_port) {
                (Some(_), Some(_)) => "serviceName/servicePort",
                (Some(_), None) => "serviceName",
                (None, Some(_)) => "servicePort",
                (None, None) => "",
            };
            let first = if self.service_name.is_some() {
                "serviceName"
            } else {
                "servicePort"
            };
            let own = self.v1_meant();
            let other = (!found.is_empty()).then(|| self.legacy_meant());
            (own, other, found, "service: {name, port}", first)
        };
        // v1beta1's own fields: a Service when `serviceName` is written (as the API server
        // converts them); v1's: when `service` is written.
        let own_written = if legacy {
            own.name.is_some()
        } else {
            own.name.is_some() || own.port.is_some()
        };
        let mut service = own.into_service();
        let error = other.map(|other| {
            let free = !own_written && !has_resource;
            let taken = free && other.name.is_some();
            let name_field = if legacy {
                "service.name"
            } else {
                "serviceName"
            };
            let error = BackendShapeError {
                at,
                field: format!("{base}.{first}"),
                found,
                expected,
                resource: has_resource,
                rewrite: free.then(|| other.text(legacy)),
                converted: taken.then(|| format!("{base}.{name_field}")),
            };
            if taken {
                service = other.into_service();
            }
            error
        });
        let backend = IngressBackend {
            service,
            resource: self.resource,
        };
        (backend, error)
    }

    /// The other version's default backend (`spec.backend` in v1, `spec.defaultBackend` in
    /// v1beta1), written at `field`, with either version's fields inside, and taken in when
    /// `free` (the Ingress has no default backend of its own).
    fn into_v1_as_other_default(
        mut self,
        legacy: bool,
        field: &'static str,
        expected: &'static str,
        free: bool,
    ) -> (Option<IngressBackend>, BackendShapeError) {
        let (meant, name_field) = if self.service.is_some() {
            (self.v1_meant(), "service.name")
        } else {
            (self.legacy_meant(), "serviceName")
        };
        let own_key = expected.trim_start_matches("spec.");
        let inside = meant.text(legacy);
        let error = BackendShapeError {
            at: None,
            field: field.into(),
            found: field,
            expected,
            resource: false,
            rewrite: free.then(|| format!("{own_key}: {{{inside}}}")),
            converted: (free && meant.name.is_some()).then(|| format!("{field}.{name_field}")),
        };
        let backend = free.then(|| IngressBackend {
            service: meant.into_service(),
            resource: self.resource,
        });
        (backend, error)
    }
}

impl IngressObject {
    /// A legacy Ingress in v1 shape: `meta` as read, `spec` converted.
    pub(super) fn from_legacy(meta: ObjectMeta, spec: LegacySpec) -> Self {
        IngressObject::from_written(meta, spec, true)
    }

    /// An Ingress as written, in v1 shape: `legacy` says whether it came in through a v1beta1
    /// API version. Legacy fields are converted as the API server converts them
    /// (`serviceName`/`servicePort` → `service.name`/`port`, `backend` → `defaultBackend`,
    /// missing `pathType` → `ImplementationSpecific`); fields of the other version are recorded
    /// in [`IngressObject::backend_shape_errors`] and, where unambiguous, taken in.
    pub(super) fn from_written(meta: ObjectMeta, spec: WrittenSpec, legacy: bool) -> Self {
        let mut errors = Vec::new();
        let (own, other, own_field, other_field) = if legacy {
            (
                spec.backend,
                spec.default_backend,
                "spec.backend",
                "spec.defaultBackend",
            )
        } else {
            (
                spec.default_backend,
                spec.backend,
                "spec.defaultBackend",
                "spec.backend",
            )
        };
        let mut default_backend = own.map(|backend| {
            let (backend, error) = backend.into_v1(legacy, own_field, None);
            errors.extend(error);
            backend
        });
        if let Some(backend) = other {
            let free = default_backend.is_none();
            let (taken, error) =
                backend.into_v1_as_other_default(legacy, other_field, own_field, free);
            errors.push(error);
            if taken.is_some() {
                default_backend = taken;
            }
        }
        let rules = spec.rules.map(|rules| {
            rules
                .into_iter()
                .enumerate()
                .map(|(r, rule)| IngressRule {
                    host: rule.host,
                    http: rule.http.map(|http| HTTPIngressRuleValue {
                        paths: http
                            .paths
                            .unwrap_or_default()
                            .into_iter()
                            .enumerate()
                            .map(|(p, path)| {
                                let base = format!("spec.rules[{r}].http.paths[{p}].backend");
                                let (backend, error) = path.backend.unwrap_or_default().into_v1(
                                    legacy,
                                    &base,
                                    Some((r, p)),
                                );
                                errors.extend(error);
                                HTTPIngressPath {
                                    path: path.path,
                                    path_type: match path.path_type {
                                        Some(path_type) => path_type,
                                        // The API server's default for v1beta1; v1 requires it.
                                        None if legacy => "ImplementationSpecific".into(),
                                        None => String::new(),
                                    },
                                    backend,
                                }
                            })
                            .collect(),
                    }),
                })
                .collect()
        });
        IngressObject {
            meta,
            spec: IngressSpec {
                default_backend,
                ingress_class_name: spec.ingress_class_name,
                rules,
                tls: spec.tls,
            },
            legacy,
            backend_shape_errors: errors,
        }
    }
}

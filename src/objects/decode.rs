//! Object bytes or JSON value → [`Object`], in one pass, with errors that point at the
//! offending field.
//!
//! Only what the rules read is built: `metadata.name`, `namespace`, `generateName` and
//! `annotations` (and `uid` and `resourceVersion`, which policy reports name), and the kind's
//! `spec`. Everything else (`managedFields`, `status`, labels,
//! kubectl's `last-applied-configuration` annotation) is skipped by the parser without being
//! built. A failed decode is decoded a second time with path tracking, so the message names
//! the field at fault while the success path pays nothing for it.

use super::gateway::{
    GatewayClassObject, GatewayClassSpec, GatewayObject, GatewaySpec, ReferenceGrantObject,
    ReferenceGrantSpec, RouteKind, RouteObject, RouteSpec,
};
use super::ingress::{IngressObject, LegacySpec, WrittenSpec};
use super::ingress_class::{IngressClassObject, IngressClassSpec};
use super::{BackendConfigObject, Object};
use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The annotation kubectl writes on `apply`: the whole previous manifest, often the larger
/// part of an object. No rule reads it, so it is skipped while decoding.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Why a document or AdmissionRequest object could not be judged.
///
/// Every variant names the field at fault and says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The value is not a mapping with string `apiVersion` and `kind`.
    #[error("not a Kubernetes object: {0}")]
    NotAnObject(String),
    /// A kind sticky-guard judges, at an API version it does not know.
    #[error(
        "{kind} with apiVersion `{api_version}` is not a version sticky-guard knows; use {known}"
    )]
    UnknownApiVersion {
        /// `Ingress` or `Service`.
        kind: &'static str,
        /// The `apiVersion` as written.
        api_version: String,
        /// The versions that are known, for the message.
        known: &'static str,
    },
    /// An annotation whose value is not a string. The API server's `ObjectMeta` refuses these
    /// (`json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of
    /// type string`), and so does kubectl before sending; YAML makes them easy to write
    /// (`session-cookie-max-age: 60`).
    #[error(
        "metadata.annotations[\"{key}\"] is a {found} ({value}), but annotation values must be strings: quote it as \"{value}\""
    )]
    AnnotationNotString {
        /// The annotation key.
        key: String,
        /// `number`, `boolean`, `null`, `list` or `mapping`.
        found: &'static str,
        /// The value as JSON.
        value: String,
    },
    /// The object does not have the shape of its kind.
    #[error("{kind} does not decode at `{path}`: {message}")]
    Invalid {
        /// `Ingress` or `Service`.
        kind: &'static str,
        /// Dotted path of the field that failed (`spec.rules[0].http`), `.` for the top.
        path: String,
        /// The decoder's complaint.
        message: String,
    },
}

impl DecodeError {
    /// The field at fault, as a finding's field path (`metadata.annotations["key"]`,
    /// `spec.rules[0].http`), when the error is about one.
    pub fn field(&self) -> Option<String> {
        match self {
            DecodeError::AnnotationNotString { key, .. } => {
                Some(format!("metadata.annotations[\"{key}\"]"))
            }
            DecodeError::Invalid { path, .. } if path != "." => Some(path.clone()),
            _ => None,
        }
    }
}

/// A kind at an API version sticky-guard reads, and so the shape its object is read in. Which
/// `apiVersion`s map to which shape is in the kinds table ([`crate::objects::kinds::KINDS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `networking.k8s.io/v1` Ingress.
    IngressV1,
    /// `networking.k8s.io/v1beta1` or `extensions/v1beta1` Ingress (removed in Kubernetes
    /// 1.22; still found in manifests), converted to v1 on decoding.
    IngressLegacy,
    /// Core `v1` Service.
    ServiceV1,
    /// `networking.k8s.io` IngressClass (`v1`, `v1beta1`): metadata and `spec.controller`.
    IngressClass,
    /// GKE `cloud.google.com` BackendConfig (`v1` or `v1beta1`): metadata and `spec` as JSON.
    BackendConfig,
    /// Gateway API HTTPRoute (`v1`, `v1beta1`).
    HttpRoute,
    /// Gateway API GRPCRoute (`v1`, `v1alpha2`).
    GrpcRoute,
    /// Gateway API Gateway (`v1`, `v1beta1`).
    Gateway,
    /// Gateway API GatewayClass (`v1`, `v1beta1`).
    GatewayClass,
    /// Gateway API ReferenceGrant (`v1`, `v1beta1`, `v1alpha2`).
    ReferenceGrant,
}

impl Shape {
    /// The shape for `apiVersion` and `kind`: `Ok(None)` for kinds sticky-guard does not read.
    ///
    /// # Errors
    /// [`DecodeError::UnknownApiVersion`] for a known kind at a version of its group that
    /// sticky-guard does not know (`networking.k8s.io/v2`, core `v2`).
    pub fn of(api_version: &str, kind: &str) -> Result<Option<Shape>, DecodeError> {
        super::kinds::shape_of(api_version, kind)
    }

    /// The kind read in this shape, as the kinds table names it (`Ingress`, `Service`, …).
    pub fn kind(self) -> &'static str {
        super::kinds::KINDS
            .iter()
            .find(|k| k.versions.iter().any(|(_, shape)| *shape == self))
            .map_or("object", |k| k.name)
    }
}

/// Where an object is read from.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A JSON value (a manifest document, read from YAML or JSON).
    Value(&'a Value),
    /// JSON text (an AdmissionRequest `object`, as a slice of the request body).
    Json(&'a str),
}

/// Decodes one Kubernetes object given as a JSON value (a manifest document).
///
/// Returns `Ok(None)` for kinds sticky-guard does not judge (Deployments, ConfigMaps, …), so a
/// manifest bundle can hold anything. Judged kinds are those of [`Shape::of`]; the legacy
/// Ingress versions are converted to v1 (`serviceName`/`servicePort` →
/// `service.name`/`port`, `backend` → `defaultBackend`, missing `pathType` →
/// `ImplementationSpecific`), the way the API server converts them. Ingress backends written
/// with the other version's fields are recorded in
/// [`IngressObject::backend_shape_errors`](crate::objects::IngressObject) (and taken in where
/// unambiguous), whichever [`Input`] the object comes from.
///
/// # Errors
/// [`DecodeError`] when the value is not an object with `apiVersion` and `kind`, when a judged
/// kind comes at an unknown API version, when an annotation value is not a string, or when the
/// object does not have its kind's shape. Never panics on input.
pub fn decode(value: &Value) -> Result<Option<Object>, DecodeError> {
    let Some(map) = value.as_object() else {
        return Err(DecodeError::NotAnObject(format!(
            "expected a mapping with apiVersion and kind, found {}",
            type_name(value)
        )));
    };
    let field = |name: &str| map.get(name).and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (field("apiVersion"), field("kind")) else {
        return Err(DecodeError::NotAnObject(
            "apiVersion and kind must both be set, as strings".into(),
        ));
    };
    match Shape::of(api_version, kind)? {
        Some(shape) => decode_as(shape, Input::Value(value)).map(Some),
        None => Ok(None),
    }
}

/// Decodes `input` as an object of `shape`, in one pass (see the module documentation).
/// `apiVersion` and `kind` inside the object are not read: the caller chose the shape (from the
/// AdmissionRequest's `kind`, or from the document's own fields in [`decode`]).
///
/// # Errors
/// [`DecodeError::AnnotationNotString`] for an annotation value that is not a string, and
/// [`DecodeError::Invalid`] with the field path for anything else that does not fit the kind
/// (not a mapping, `spec.rules` not a list, annotations as a list, a port as a mapping, …).
pub fn decode_as(shape: Shape, input: Input<'_>) -> Result<Object, DecodeError> {
    read(shape, input).map(|(object, _)| object)
}

/// Decodes an AdmissionRequest `object` (JSON text) that `request.kind` says is `kind` at
/// `api_version`. The object's own `apiVersion` and `kind`, where it carries them, have the
/// last word (the API server always sends them, equal to `request.kind`); where they disagree,
/// the object is read again as what it says it is. `Ok(None)` for kinds sticky-guard does not
/// judge, without reading the object at all.
///
/// # Errors
/// As [`Shape::of`] (for `request.kind` and for the object's own fields) and [`decode_as`].
pub fn decode_json(
    text: &str,
    api_version: &str,
    kind: &str,
) -> Result<Option<Object>, DecodeError> {
    let Some(shape) = Shape::of(api_version, kind)? else {
        return Ok(None);
    };
    let (object, declared) = read(shape, Input::Json(text))?;
    let declared_shape = Shape::of(
        declared.api_version.as_deref().unwrap_or(api_version),
        declared.kind.as_deref().unwrap_or(kind),
    )?;
    match declared_shape {
        Some(declared) if declared == shape => Ok(Some(object)),
        Some(declared) => decode_as(declared, Input::Json(text)).map(Some),
        None => Ok(None),
    }
}

/// `apiVersion` and `kind` as the object itself writes them.
#[derive(Default)]
struct Declared {
    api_version: Option<String>,
    kind: Option<String>,
}

fn read(shape: Shape, input: Input<'_>) -> Result<(Object, Declared), DecodeError> {
    let kind = shape.kind();
    // serde reads a struct from a list too (by position); an object is a mapping only.
    let found = match input {
        Input::Value(value) => (!value.is_object()).then(|| type_name(value)),
        Input::Json(text) => match text.trim_start().as_bytes().first() {
            Some(b'{') => None,
            Some(b'[') => Some("list"),
            Some(b'"') => Some("string"),
            Some(b'n') => Some("null"),
            Some(b't' | b'f') => Some("boolean"),
            _ => Some("number"),
        },
    };
    if let Some(found) = found {
        return Err(DecodeError::Invalid {
            kind,
            path: ".".into(),
            message: format!("expected a mapping, found {found}"),
        });
    }
    Ok(match shape {
        Shape::IngressV1 => {
            let (declared, meta, spec) = typed::<Doc<WrittenSpec>>(kind, input)?.into_parts();
            let object = Object::Ingress(Box::new(IngressObject::from_written(
                meta.into_meta()?,
                spec.unwrap_or_default(),
                false,
            )));
            (object, declared)
        }
        Shape::IngressLegacy => {
            let (declared, meta, spec) = typed::<Doc<LegacySpec>>(kind, input)?.into_parts();
            let object = Object::Ingress(Box::new(IngressObject::from_legacy(
                meta.into_meta()?,
                spec.unwrap_or_default(),
            )));
            (object, declared)
        }
        Shape::BackendConfig => {
            let (declared, meta, spec) = typed::<Doc<Value>>(kind, input)?.into_parts();
            let object = Object::BackendConfig(Box::new(BackendConfigObject {
                meta: meta.into_meta()?,
                spec: spec.unwrap_or(Value::Null),
            }));
            (object, declared)
        }
        Shape::HttpRoute | Shape::GrpcRoute => {
            let (declared, meta, spec) = typed::<Doc<RouteSpec>>(kind, input)?.into_parts();
            let kind = match shape {
                Shape::GrpcRoute => RouteKind::Grpc,
                _ => RouteKind::Http,
            };
            let object = Object::Route(Box::new(RouteObject {
                kind,
                meta: meta.into_meta()?,
                spec: spec.unwrap_or_default(),
            }));
            (object, declared)
        }
        Shape::Gateway => {
            let (declared, meta, spec) = typed::<Doc<GatewaySpec>>(kind, input)?.into_parts();
            let object = Object::Gateway(Box::new(GatewayObject {
                meta: meta.into_meta()?,
                gateway_class_name: spec.and_then(|s| s.gateway_class_name),
            }));
            (object, declared)
        }
        Shape::GatewayClass => {
            let (declared, meta, spec) = typed::<Doc<GatewayClassSpec>>(kind, input)?.into_parts();
            let object = Object::GatewayClass(Box::new(GatewayClassObject {
                meta: meta.into_meta()?,
                controller_name: spec.and_then(|s| s.controller_name),
            }));
            (object, declared)
        }
        Shape::IngressClass => {
            let (declared, meta, spec) = typed::<Doc<IngressClassSpec>>(kind, input)?.into_parts();
            let object = Object::IngressClass(Box::new(IngressClassObject {
                meta: meta.into_meta()?,
                controller: spec.and_then(|s| s.controller),
            }));
            (object, declared)
        }
        Shape::ReferenceGrant => {
            let (declared, meta, spec) =
                typed::<Doc<ReferenceGrantSpec>>(kind, input)?.into_parts();
            let object = Object::ReferenceGrant(Box::new(ReferenceGrantObject {
                meta: meta.into_meta()?,
                spec: spec.unwrap_or_default(),
            }));
            (object, declared)
        }
        Shape::ServiceV1 => {
            let (declared, meta, spec) = typed::<Doc<ServiceSpec>>(kind, input)?.into_parts();
            let object = Object::Service(Box::new(Service {
                metadata: meta.into_meta()?,
                spec,
                status: None,
            }));
            (object, declared)
        }
    })
}

/// An object as far as the rules read it: `apiVersion`, `kind`, `metadata` (slim) and `spec`.
#[derive(Deserialize)]
#[serde(
    rename_all = "camelCase",
    expecting = "a Kubernetes object (a mapping)"
)]
struct Doc<S> {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Meta,
    spec: Option<S>,
}

impl<S> Doc<S> {
    /// What the object says it is, its metadata and its spec, moved out.
    fn into_parts(self) -> (Declared, Meta, Option<S>) {
        let declared = Declared {
            api_version: self.api_version,
            kind: self.kind,
        };
        (declared, self.metadata, self.spec)
    }
}

/// `metadata`, as far as the rules read it. Unknown fields (`managedFields`, labels, …) are
/// skipped by the parser without being built.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", expecting = "object metadata (a mapping)")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    generate_name: Option<String>,
    /// Kept for the policy reports, which name the object they are about.
    uid: Option<String>,
    resource_version: Option<String>,
    #[serde(default)]
    annotations: Annotations,
}

impl Meta {
    fn into_meta(self) -> Result<ObjectMeta, DecodeError> {
        if let Some(error) = self.annotations.not_string {
            return Err(error);
        }
        Ok(ObjectMeta {
            name: self.name,
            namespace: self.namespace,
            generate_name: self.generate_name,
            annotations: self.annotations.map,
            uid: self.uid,
            resource_version: self.resource_version,
            ..ObjectMeta::default()
        })
    }
}

/// `metadata.annotations`. `map` is `Some` whenever the object has an annotations mapping
/// (even one that held only [`LAST_APPLIED`], which is left out), so a JSONPatch knows whether
/// to add keys or the whole map. The first value that is not a string is kept as the error to
/// report (after the whole object has been read, so a later syntax error still wins).
#[derive(Default)]
struct Annotations {
    map: Option<BTreeMap<String, String>>,
    not_string: Option<DecodeError>,
}

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(AnnotationsVisitor)
    }
}

struct AnnotationsVisitor;

impl<'de> Visitor<'de> for AnnotationsVisitor {
    type Value = Annotations;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of annotation keys to string values")
    }

    fn visit_none<E: de::Error>(self) -> Result<Annotations, E> {
        Ok(Annotations::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Annotations, E> {
        Ok(Annotations::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Annotations, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Annotations, A::Error> {
        let mut map = BTreeMap::new();
        let mut not_string = None;
        while let Some(key) = access.next_key::<String>()? {
            if key == LAST_APPLIED {
                access.next_value::<IgnoredAny>()?;
                continue;
            }
            match access.next_value::<AnnotationValue>()? {
                AnnotationValue::Text(value) => {
                    map.insert(key, value);
                }
                AnnotationValue::Other { found, value } => {
                    not_string.get_or_insert(DecodeError::AnnotationNotString {
                        key: crate::echo::bounded(&key),
                        found,
                        value,
                    });
                }
            }
        }
        Ok(Annotations {
            map: Some(map),
            not_string,
        })
    }
}

/// One annotation value: a string, or what was found instead (for the message).
enum AnnotationValue {
    Text(String),
    Other { found: &'static str, value: String },
}

impl<'de> Deserialize<'de> for AnnotationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnnotationValueVisitor)
    }
}

struct AnnotationValueVisitor;

fn other<E>(found: &'static str, value: impl fmt::Display) -> Result<AnnotationValue, E> {
    Ok(AnnotationValue::Other {
        found,
        value: value.to_string(),
    })
}

impl<'de> Visitor<'de> for AnnotationValueVisitor {
    type Value = AnnotationValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an annotation value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AnnotationValue, E> {
        Ok(AnnotationValue::Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<AnnotationValue, E> {
        Ok(AnnotationValue::Text(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<AnnotationValue, E> {
        other("boolean", v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnnotationValue, E> {
        other("number", v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnnotationValue, E> {
        other("number", v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AnnotationValue, E> {
        // As JSON writes it (`1.5`, `1e300`).
        other("number", Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<AnnotationValue, E> {
        other("null", "null")
    }

    fn visit_none<E: de::Error>(self) -> Result<AnnotationValue, E> {
        other("null", "null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnnotationValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        other("list", "[…]")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnnotationValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        other("mapping", "{…}")
    }
}

/// Reads `T` from `input`; on failure, reads it again with path tracking for the message.
fn typed<T: DeserializeOwned>(kind: &'static str, input: Input<'_>) -> Result<T, DecodeError> {
    let first = match input {
        Input::Value(value) => T::deserialize(value),
        Input::Json(text) => serde_json::from_str(text),
    };
    first.map_err(|error| {
        let tracked: Result<T, _> = match input {
            Input::Value(value) => serde_path_to_error::deserialize(value),
            Input::Json(text) => {
                serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            }
        };
        let (path, message) = match tracked {
            Err(e) => (e.path().to_string(), e.inner().to_string()),
            // The same input through the same decoder fails again; if it did not, the first
            // error still stands.
            Ok(_) => (".".to_string(), error.to_string()),
        };
        DecodeError::Invalid {
            kind,
            path: crate::echo::bounded(&path),
            message: crate::echo::bounded(&message),
        }
    })
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::IngressSpec;
    use serde_json::json;

    #[test]
    fn legacy_ingress_is_converted_to_v1() {
        let value = json!({
            "apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {
                "backend": {"serviceName": "fallback", "servicePort": "http"},
                "rules": [{"host": "a.io", "http": {"paths": [
                    {"path": "/", "backend": {"serviceName": "web", "servicePort": 80}}
                ]}}]
            }
        });
        let Some(Object::Ingress(ingress)) = decode(&value).unwrap() else {
            panic!("not an Ingress")
        };
        assert!(ingress.legacy);
        let backends = ingress.backends();
        assert_eq!(backends.len(), 2);
        assert_eq!(backends[0].field, "spec.backend.serviceName");
        assert_eq!(backends[0].service_name, "fallback");
        assert_eq!(
            backends[0].port.and_then(|p| p.name.as_deref()),
            Some("http")
        );
        assert_eq!(
            backends[1].field,
            "spec.rules[0].http.paths[0].backend.serviceName"
        );
        assert_eq!(backends[1].port.and_then(|p| p.number), Some(80));
        assert_eq!(ingress.paths()[0].path_type, "ImplementationSpecific");
    }

    /// v1 specs are read by sticky-guard's own both-versions decoder (to see v1beta1 fields
    /// written into v1 objects); what it builds is what k8s-openapi's `IngressSpec` reads.
    #[test]
    fn v1_spec_reads_as_k8s_openapi_reads_it() {
        let spec = json!({
            "ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "fallback", "port": {"name": "http"}}},
            "rules": [
                {"host": "a.io", "http": {"paths": [
                    {"path": "/x", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                    {"path": "/r", "pathType": "ImplementationSpecific",
                     "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "B", "name": "b"}}},
                    {"path": "/n"}
                ]}},
                {"host": "b.io"},
                {"http": null}
            ],
            "tls": [{"hosts": ["a.io"], "secretName": "tls"}],
            "unknownField": {"ignored": true}
        });
        let value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "w"}, "spec": spec.clone()});
        let Some(Object::Ingress(ingress)) = decode(&value).unwrap() else {
            panic!("not an Ingress")
        };
        let expected: IngressSpec = serde_json::from_value(spec).unwrap();
        assert_eq!(ingress.spec, expected);
        assert!(ingress.backend_shape_errors.is_empty());
    }

    #[test]
    fn what_no_rule_reads_is_not_kept() {
        let text = r#"{"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
            "metadata":{"name":"w","namespace":"shop","labels":{"a":"b"},
              "managedFields":[{"manager":"kubectl","fieldsV1":{"f:metadata":{}}}],
              "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"huge\":1}",
                             "nginx.ingress.kubernetes.io/affinity":"cookie"}},
            "spec":{"rules":[]},"status":{"loadBalancer":{}}}"#;
        let Some(Object::Ingress(ingress)) =
            decode_json(text, "networking.k8s.io/v1", "Ingress").unwrap()
        else {
            panic!("not an Ingress")
        };
        let annotations = ingress.meta.annotations.as_ref().unwrap();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            ["nginx.ingress.kubernetes.io/affinity"]
        );
        assert!(ingress.meta.managed_fields.is_none() && ingress.meta.labels.is_none());
        assert_eq!(ingress.meta.namespace.as_deref(), Some("shop"));

        // A map that held only last-applied is still a map (a patch adds keys to it).
        let text = r#"{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"x"}}}"#;
        let object = decode_json(text, "v1", "Service").unwrap().unwrap();
        assert_eq!(object.meta().annotations, Some(BTreeMap::new()));
    }

    #[test]
    fn the_object_says_what_it_is() {
        // request.kind says v1, the object says extensions/v1beta1: read as what it says.
        let text = r#"{"apiVersion":"extensions/v1beta1","kind":"Ingress",
            "spec":{"backend":{"serviceName":"web","servicePort":80}}}"#;
        let Some(Object::Ingress(ingress)) =
            decode_json(text, "networking.k8s.io/v1", "Ingress").unwrap()
        else {
            panic!("not an Ingress")
        };
        assert!(ingress.legacy);
        assert_eq!(ingress.backends()[0].service_name, "web");
        // Kinds that are not judged are not read at all.
        assert!(
            decode_json("{not json", "apps/v1", "Deployment")
                .unwrap()
                .is_none()
        );
        // An object that is not a mapping.
        assert_eq!(
            decode_json("[1]", "v1", "Service").unwrap_err().to_string(),
            "Service does not decode at `.`: expected a mapping, found list"
        );
    }

    #[test]
    fn other_kinds_are_not_judged() {
        let value =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        assert!(decode(&value).unwrap().is_none());
    }

    #[test]
    fn numeric_annotation_names_the_annotation() {
        let value = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "x", "annotations": {"nginx.ingress.kubernetes.io/session-cookie-max-age": 60}}
        });
        let err = decode(&value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metadata.annotations[\"nginx.ingress.kubernetes.io/session-cookie-max-age\"] is a number (60), but annotation values must be strings: quote it as \"60\""
        );
    }

    #[test]
    fn unknown_ingress_version_is_an_error() {
        let value = json!({"apiVersion": "networking.k8s.io/v2", "kind": "Ingress"});
        assert!(matches!(
            decode(&value),
            Err(DecodeError::UnknownApiVersion {
                kind: "Ingress",
                ..
            })
        ));
    }

    #[test]
    fn wrong_shape_names_the_field() {
        let value = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "x"}, "spec": {"rules": "not-a-list"}
        });
        let Err(DecodeError::Invalid { path, .. }) = decode(&value) else {
            panic!("expected Invalid")
        };
        assert_eq!(path, "spec.rules");
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(matches!(
            decode(&json!("text")),
            Err(DecodeError::NotAnObject(_))
        ));
        assert!(matches!(
            decode(&json!({"kind": "Ingress"})),
            Err(DecodeError::NotAnObject(_))
        ));
    }
}

//! JSON value → [`Object`], with errors that point at the offending field.

use super::Object;
use super::ingress::{IngressObject, LegacyIngress};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use serde::de::DeserializeOwned;
use serde_json::Value;

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

const INGRESS_VERSIONS: &str =
    "networking.k8s.io/v1 (or the legacy networking.k8s.io/v1beta1, extensions/v1beta1)";

/// Decodes one Kubernetes object.
///
/// Returns `Ok(None)` for kinds sticky-guard does not judge (Deployments, ConfigMaps, …), so a
/// manifest bundle can hold anything. Judged kinds:
/// - `Ingress` at `networking.k8s.io/v1`, `networking.k8s.io/v1beta1`, `extensions/v1beta1`
///   (the legacy ones are converted to v1: `serviceName`/`servicePort` → `service.name`/`port`,
///   `backend` → `defaultBackend`, missing `pathType` → `ImplementationSpecific`);
/// - `Service` at `v1`.
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
    match (kind, api_version) {
        ("Ingress", "networking.k8s.io/v1") => {
            check_annotations(value)?;
            let ingress: Ingress = typed("Ingress", value)?;
            Ok(Some(Object::Ingress(Box::new(IngressObject {
                meta: ingress.metadata,
                spec: ingress.spec.unwrap_or_default(),
                legacy: false,
            }))))
        }
        ("Ingress", "networking.k8s.io/v1beta1" | "extensions/v1beta1") => {
            check_annotations(value)?;
            let legacy: LegacyIngress = typed("Ingress", value)?;
            Ok(Some(Object::Ingress(Box::new(legacy.into()))))
        }
        ("Ingress", _)
            if api_version.starts_with("networking.k8s.io/")
                || api_version.starts_with("extensions/") =>
        {
            Err(DecodeError::UnknownApiVersion {
                kind: "Ingress",
                api_version: api_version.into(),
                known: INGRESS_VERSIONS,
            })
        }
        ("Service", "v1") => {
            check_annotations(value)?;
            Ok(Some(Object::Service(Box::new(typed::<Service>(
                "Service", value,
            )?))))
        }
        ("Service", _) if !api_version.contains('/') => Err(DecodeError::UnknownApiVersion {
            kind: "Service",
            api_version: api_version.into(),
            known: "v1",
        }),
        _ => Ok(None),
    }
}

/// Annotation values must be strings; say which one is not, and how to write it.
fn check_annotations(value: &Value) -> Result<(), DecodeError> {
    let Some(annotations) = value.pointer("/metadata/annotations") else {
        return Ok(());
    };
    let Some(annotations) = annotations.as_object() else {
        if annotations.is_null() {
            return Ok(());
        }
        return Err(DecodeError::Invalid {
            kind: "object",
            path: "metadata.annotations".into(),
            message: format!("expected a mapping, found {}", type_name(annotations)),
        });
    };
    for (key, v) in annotations {
        if !v.is_string() {
            return Err(DecodeError::AnnotationNotString {
                key: key.clone(),
                found: type_name(v),
                value: v.to_string(),
            });
        }
    }
    Ok(())
}

fn typed<T: DeserializeOwned>(kind: &'static str, value: &Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| DecodeError::Invalid {
        kind,
        path: e.path().to_string(),
        message: e.inner().to_string(),
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

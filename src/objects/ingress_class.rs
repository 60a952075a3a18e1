//! IngressClasses (`networking.k8s.io/v1`, cluster-scoped): which controller serves a class.
//!
//! Kubernetes API reference, IngressClassSpec: `controller` "refers to the name of the
//! controller that should handle this class … e.g. `example.com/ingress-controller`"; it is
//! immutable. The default class is the one annotated
//! [`DEFAULT_CLASS_ANNOTATION`]`: "true"`; the API server's `DefaultIngressClass` admission
//! plugin writes its name into `spec.ingressClassName` of a new Ingress that names no class
//! (kubernetes `plugin/pkg/admission/network/defaultingressclass/admission.go`: CREATE only,
//! skipped when `ingressClassName` or the `kubernetes.io/ingress.class` annotation is set).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// The annotation that marks the cluster's default IngressClass
/// (`networking.k8s.io/v1` `AnnotationIsDefaultIngressClass`).
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// An IngressClass: metadata and `spec.controller`.
#[derive(Clone, Debug, Default)]
pub struct IngressClassObject {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec.controller` (`k8s.io/ingress-nginx`, `nginx.org/ingress-controller`, …).
    pub controller: Option<String>,
}

impl IngressClassObject {
    /// Whether the class is annotated as the cluster's default: the value `true`, as the
    /// plugin compares it (`admission.go`: `== "true"`, so `True` is not a default).
    pub fn is_default(&self) -> bool {
        super::annotations(&self.meta)
            .get(DEFAULT_CLASS_ANNOTATION)
            .is_some_and(|v| v == "true")
    }
}

/// `spec` of an IngressClass, as far as it is read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IngressClassSpec {
    pub controller: Option<String>,
}

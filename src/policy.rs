//! What an operator can configure: which objects are judged, and how each rule acts.

use crate::objects::{IngressObject, Object};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a rule does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deny the request (a patching rule still patches in the mutating webhook, and denies in
    /// the validating webhook when the object arrives unpatched).
    Deny,
    /// Admit the request with a warning (a patching rule still patches).
    Warn,
    /// Do not run the rule.
    Off,
}

/// The policy in force: the defaults below unless configuration says otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The controller's annotation prefix (ingress-nginx flag `--annotations-prefix`); default
    /// `nginx.ingress.kubernetes.io`.
    pub annotation_prefix: String,
    /// Ingress classes to judge (`spec.ingressClassName`, else the `kubernetes.io/ingress.class`
    /// annotation). An Ingress with neither is judged: the cluster's default IngressClass may be
    /// nginx. Default `["nginx"]`.
    pub ingress_classes: Vec<String>,
    /// Namespaces whose objects are never judged. Default: none.
    pub excluded_namespaces: Vec<String>,
    /// The cluster DNS domain, used to read `svc.ns.svc.<domain>` backend names. Default
    /// `cluster.local`.
    pub cluster_domain: String,
    /// Per-rule action overrides, by rule ID; rules not listed keep their default action.
    pub actions: BTreeMap<String, Action>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            annotation_prefix: "nginx.ingress.kubernetes.io".into(),
            ingress_classes: vec!["nginx".into()],
            excluded_namespaces: Vec::new(),
            cluster_domain: "cluster.local".into(),
            actions: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The action for a rule: the configured override, else the rule's default.
    pub fn action(&self, rule_id: &str, default: Action) -> Action {
        self.actions.get(rule_id).copied().unwrap_or(default)
    }

    /// Whether sticky-guard judges this object at all: its namespace is not excluded and, for an
    /// Ingress, its class is one of [`Policy::ingress_classes`] or it has no class.
    pub fn judges(&self, object: &Object) -> bool {
        let namespace = object.meta().namespace.as_deref().unwrap_or("default");
        if self.excluded_namespaces.iter().any(|ns| ns == namespace) {
            return false;
        }
        match object {
            Object::Ingress(ingress) => self.judges_ingress_class(ingress),
            Object::Service(_) => true,
        }
    }

    fn judges_ingress_class(&self, ingress: &IngressObject) -> bool {
        match ingress.ingress_class() {
            None => true,
            Some(class) => self.ingress_classes.iter().any(|c| c == class),
        }
    }
}

//! Policy options shared by `serve`, `check` and `fix`: a file plus flags and environment.

use crate::policy::{Action, Policy, PolicyError, PolicyFile};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Policy options. Flags beat environment variables; both beat the file, key by key
/// (`--rule` entries are merged into the file's `rules`).
#[derive(Debug, Default, Args)]
pub struct PolicyArgs {
    /// Policy file (YAML: annotationPrefix, ingressClasses, servedBy, excludedNamespaces, clusterDomain,
    /// rules: {ID: deny|warn|off}, suppressible: [ID]).
    #[arg(long, env = "STICKY_GUARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The controller's annotation prefix [default: nginx.ingress.kubernetes.io].
    #[arg(long, env = "STICKY_GUARD_ANNOTATION_PREFIX", value_name = "PREFIX")]
    pub annotation_prefix: Option<String>,
    /// Ingress classes to judge, repeatable or comma-separated [default: nginx]. An Ingress with
    /// no class is always judged.
    #[arg(
        long = "ingress-class",
        env = "STICKY_GUARD_INGRESS_CLASSES",
        value_delimiter = ',',
        value_name = "CLASS"
    )]
    pub ingress_classes: Vec<String>,
    /// Which controller serves an ingress class, over its IngressClass's spec.controller,
    /// repeatable or comma-separated: CLASS=ingress-nginx|traefik-ingress-nginx|f5-nginx|
    /// traefik|gke|other (`nginx=traefik-ingress-nginx` for Traefik's NGINX provider).
    #[arg(
        long = "served-by",
        env = "STICKY_GUARD_SERVED_BY",
        value_delimiter = ',',
        value_name = "CLASS=CONTROLLER"
    )]
    pub served_by: Vec<String>,
    /// Namespaces never judged, repeatable or comma-separated.
    #[arg(
        long = "exclude-namespace",
        env = "STICKY_GUARD_EXCLUDED_NAMESPACES",
        value_delimiter = ',',
        value_name = "NAMESPACE"
    )]
    pub excluded_namespaces: Vec<String>,
    /// Cluster DNS domain [default: cluster.local].
    #[arg(long, env = "STICKY_GUARD_CLUSTER_DOMAIN", value_name = "DOMAIN")]
    pub cluster_domain: Option<String>,
    /// A rule's action, repeatable or comma-separated: ID=deny|warn|off.
    #[arg(
        long = "rule",
        env = "STICKY_GUARD_RULES",
        value_delimiter = ',',
        value_name = "ID=ACTION"
    )]
    pub rules: Vec<String>,
    /// Rules the webhook lets an object suppress with an `ignore-check.sticky-guard.dev/ID:
    /// "reason"` annotation, repeatable or comma-separated [default: none]. check, fix and audit
    /// honour every suppression.
    #[arg(
        long = "suppressible",
        env = "STICKY_GUARD_SUPPRESSIBLE",
        value_delimiter = ',',
        value_name = "ID"
    )]
    pub suppressible: Vec<String>,
}

impl PolicyArgs {
    /// The policy: defaults, then the file, then flags and environment.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file key or the flag at fault.
    pub fn load(&self) -> Result<Policy, PolicyError> {
        let mut policy = match &self.config {
            Some(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
                    origin: origin.clone(),
                    key: "(file)".into(),
                    message: format!("cannot read: {e}"),
                })?;
                Policy::from_yaml(&text, &origin, &crate::rules::ids())?
            }
            None => Policy::default(),
        };
        let mut actions = BTreeMap::new();
        for entry in &self.rules {
            let flag_error = |message: String| PolicyError {
                origin: "flags".into(),
                key: format!("--rule {entry}"),
                message,
            };
            let (id, action) = entry
                .split_once('=')
                .ok_or_else(|| flag_error("expected ID=deny|warn|off".into()))?;
            let action = match action.trim() {
                "deny" => Action::Deny,
                "warn" => Action::Warn,
                "off" => Action::Off,
                other => {
                    return Err(flag_error(format!(
                        "unknown action `{other}`; use deny, warn or off"
                    )));
                }
            };
            actions.insert(id.trim().to_string(), action);
        }
        let mut served_by = BTreeMap::new();
        for entry in &self.served_by {
            let flag_error = |message: String| PolicyError {
                origin: "flags".into(),
                key: format!("--served-by {}", crate::echo::bounded(entry)),
                message,
            };
            let (class, controller) = entry
                .split_once('=')
                .ok_or_else(|| flag_error("expected CLASS=CONTROLLER".into()))?;
            let controller: crate::controllers::IngressController =
                serde_json::from_value(serde_json::Value::String(controller.trim().into()))
                    .map_err(|_| {
                        flag_error(
                            "unknown controller; use ingress-nginx, traefik-ingress-nginx, \
f5-nginx, traefik, gke or other"
                                .into(),
                        )
                    })?;
            served_by.insert(class.trim().to_string(), controller);
        }
        policy.merge(PolicyFile {
            served_by: (!served_by.is_empty()).then_some(served_by),
            annotation_prefix: self.annotation_prefix.clone(),
            ingress_classes: non_empty(&self.ingress_classes),
            excluded_namespaces: non_empty(&self.excluded_namespaces),
            cluster_domain: self.cluster_domain.clone(),
            rules: Some(actions),
            suppressible: non_empty(&self.suppressible)
                .map(|ids| ids.iter().map(|id| id.trim().to_string()).collect()),
        });
        policy.validate("flags", &crate::rules::ids())?;
        Ok(policy)
    }
}

fn non_empty(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

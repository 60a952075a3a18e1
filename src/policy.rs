//! What an operator can configure: which objects are judged, and how each rule acts.
//!
//! Sources, weakest first: the defaults ([`Policy::default`]), a YAML file (`--config`, see
//! [`Policy::from_yaml`]), then flags and environment variables for the common keys (the CLI
//! merges those). A bad policy is refused at start with a message that names the key.

use crate::controllers::{IngressController, gke, traefik};
use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{IngressObject, Object};
use crate::view::{ClusterView, Lookup};
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

/// Whether the policy judges an object, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judged {
    /// Judged.
    Yes,
    /// An Ingress of a class the policy does not judge.
    OtherClass,
    /// In an excluded namespace.
    ExcludedNamespace,
}

/// Which controller serves an Ingress, and whether its class is judged
/// ([`Policy::serving`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serving {
    /// The Ingress's class: `spec.ingressClassName`, else the `kubernetes.io/ingress.class`
    /// annotation, else the cluster's default IngressClass when the view knows exactly one.
    pub class: Option<String>,
    /// Whether the class is one of [`Policy::ingress_classes`] (or there is none).
    pub judged: bool,
    /// The controller serving it.
    pub controller: IngressController,
    /// Where [`Serving::controller`] comes from.
    pub by: ServedBy,
}

/// How the serving controller was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedBy {
    /// The policy's [`Policy::served_by`].
    Policy,
    /// The IngressClass's `spec.controller`.
    IngressClass,
    /// Assumed from the class name: a judged class (or none) is ingress-nginx's, `gce` and
    /// `gce-internal` are GKE's, `traefik` is Traefik's; anything else is another controller.
    ClassName,
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
    /// Which controller serves an ingress class, where its IngressClass cannot say: Traefik's
    /// NGINX provider watches ingress-nginx's own `k8s.io/ingress-nginx` (so `nginx:
    /// traefik-ingress-nginx`), and a controller started with another `--controller-class`
    /// names one sticky-guard does not know. Overrides the IngressClass. Default: none.
    pub served_by: BTreeMap<String, IngressController>,
    /// Namespaces whose objects are never judged. Default: none.
    pub excluded_namespaces: Vec<String>,
    /// The cluster DNS domain, used to read `svc.ns.svc.<domain>` backend names. Default
    /// `cluster.local`.
    pub cluster_domain: String,
    /// Per-rule action overrides, by rule ID; rules not listed keep their default action.
    pub actions: BTreeMap<String, Action>,
    /// Rules whose findings the webhook lets an object suppress with an
    /// `ignore-check.sticky-guard.dev/<rule-id>` annotation ([`crate::rules::suppress`]).
    /// Default: none, so that whoever writes an object cannot switch off a deny. `check`, `fix`
    /// and `audit` honour every suppression.
    pub suppressible: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            annotation_prefix: "nginx.ingress.kubernetes.io".into(),
            ingress_classes: vec!["nginx".into()],
            served_by: BTreeMap::new(),
            excluded_namespaces: Vec::new(),
            cluster_domain: "cluster.local".into(),
            actions: BTreeMap::new(),
            suppressible: Vec::new(),
        }
    }
}

/// The policy file, as written. Every key is optional; unknown keys are refused.
///
/// ```yaml
/// annotationPrefix: nginx.ingress.kubernetes.io   # the controller's --annotations-prefix
/// ingressClasses: [nginx]                          # classes to judge; no class is always judged
/// servedBy:                                        # class → controller, over its IngressClass
///   nginx: traefik-ingress-nginx                   #   ingress-nginx | traefik-ingress-nginx | f5-nginx | traefik | gke | other
/// excludedNamespaces: [kube-system]
/// clusterDomain: cluster.local
/// rules:                                           # per-rule action: deny | warn | off
///   regex-path-without-regex-mode: off
///   cookie-path-for-regex: warn
/// suppressible: [regex-path-without-regex-mode]    # the webhook honours ignore-check.sticky-guard.dev/<id>
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyFile {
    /// See [`Policy::annotation_prefix`].
    pub annotation_prefix: Option<String>,
    /// See [`Policy::ingress_classes`].
    pub ingress_classes: Option<Vec<String>>,
    /// See [`Policy::served_by`].
    pub served_by: Option<BTreeMap<String, IngressController>>,
    /// See [`Policy::excluded_namespaces`].
    pub excluded_namespaces: Option<Vec<String>>,
    /// See [`Policy::cluster_domain`].
    pub cluster_domain: Option<String>,
    /// See [`Policy::actions`].
    pub rules: Option<BTreeMap<String, Action>>,
    /// See [`Policy::suppressible`].
    pub suppressible: Option<Vec<String>>,
}

/// A policy that cannot be used. The message names the key (`rules.cookie-path-for-regex`,
/// `annotationPrefix`, a flag) and what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {key}: {message}")]
pub struct PolicyError {
    /// The file, or `flags` for the command line and environment.
    pub origin: String,
    /// The key at fault, as written in the file or on the command line.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Policy {
    /// Reads a policy file over the defaults; rule actions may name `rule_ids`.
    ///
    /// # Errors
    /// [`PolicyError`] naming the key for YAML that does not parse, unknown keys, values of the
    /// wrong type, unknown rule IDs or actions, and invalid values (see [`Policy::validate`]).
    pub fn from_yaml(text: &str, origin: &str, rule_ids: &[&str]) -> Result<Policy, PolicyError> {
        let error = |key: String, message: String| PolicyError {
            origin: origin.to_string(),
            key,
            message,
        };
        let value: serde_json::Value = serde_norway::from_str(text)
            .map_err(|e| error("(file)".into(), format!("not valid YAML: {e}")))?;
        let file: PolicyFile = if value.is_null() {
            PolicyFile::default()
        } else {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let key = e.path().to_string();
                let key = if key == "." {
                    "(top level)".into()
                } else {
                    key
                };
                error(key, e.inner().to_string())
            })?
        };
        let mut policy = Policy::default();
        policy.merge(file);
        policy.validate(origin, rule_ids)?;
        Ok(policy)
    }

    /// Overlays the keys that `file` sets; rule actions and `servedBy` are merged key by key.
    pub fn merge(&mut self, file: PolicyFile) {
        if let Some(prefix) = file.annotation_prefix {
            self.annotation_prefix = prefix;
        }
        if let Some(classes) = file.ingress_classes {
            self.ingress_classes = classes;
        }
        self.served_by.extend(file.served_by.unwrap_or_default());
        if let Some(namespaces) = file.excluded_namespaces {
            self.excluded_namespaces = namespaces;
        }
        if let Some(domain) = file.cluster_domain {
            self.cluster_domain = domain;
        }
        self.actions.extend(file.rules.unwrap_or_default());
        if let Some(suppressible) = file.suppressible {
            self.suppressible = suppressible;
        }
    }

    /// Checks every key; `rule_ids` are the IDs a rule action may name (the catalogue's,
    /// [`crate::rules::ids`]: passed in, so that the policy does not depend on the rules).
    ///
    /// # Errors
    /// [`PolicyError`] (with `origin`) for: an annotation prefix that is not a DNS subdomain
    /// (the controller's prefix is the part before `/` of an annotation key); an empty ingress
    /// class or namespace; a cluster domain that is not a DNS name; a rule ID not in
    /// `rule_ids` (under `rules` or `suppressible`).
    pub fn validate(&self, origin: &str, rule_ids: &[&str]) -> Result<(), PolicyError> {
        let error = |key: &str, message: String| {
            Err(PolicyError {
                origin: origin.to_string(),
                key: key.to_string(),
                message,
            })
        };
        if !is_dns_subdomain(&self.annotation_prefix) {
            return error(
                "annotationPrefix",
                format!(
                    "`{}` is not a DNS subdomain (like nginx.ingress.kubernetes.io, without `/`)",
                    self.annotation_prefix
                ),
            );
        }
        if !is_dns_subdomain(&self.cluster_domain) {
            return error(
                "clusterDomain",
                format!(
                    "`{}` is not a DNS name (like cluster.local)",
                    self.cluster_domain
                ),
            );
        }
        for (i, class) in self.ingress_classes.iter().enumerate() {
            if class.trim().is_empty() {
                return error(&format!("ingressClasses[{i}]"), "is empty".into());
            }
        }
        for class in self.served_by.keys() {
            if class.trim().is_empty() {
                return error("servedBy", "names an empty ingress class".into());
            }
        }
        for (i, namespace) in self.excluded_namespaces.iter().enumerate() {
            if namespace.trim().is_empty() {
                return error(&format!("excludedNamespaces[{i}]"), "is empty".into());
            }
        }
        for id in self.actions.keys() {
            if !rule_ids.contains(&id.as_str()) {
                return error(&format!("rules.{id}"), unknown_rule(id, rule_ids));
            }
        }
        for (i, id) in self.suppressible.iter().enumerate() {
            if !rule_ids.contains(&id.as_str()) {
                return error(&format!("suppressible[{i}]"), unknown_rule(id, rule_ids));
            }
        }
        Ok(())
    }

    /// Whether the webhook honours an `ignore-check.sticky-guard.dev/<rule_id>` annotation:
    /// only for a rule listed in [`Policy::suppressible`].
    pub fn may_suppress(&self, rule_id: &str) -> bool {
        self.suppressible.iter().any(|id| id == rule_id)
    }

    /// The action for a rule: the configured override, else the rule's default.
    pub fn action(&self, rule_id: &str, default: Action) -> Action {
        self.actions.get(rule_id).copied().unwrap_or(default)
    }

    /// Whether sticky-guard judges this object: not when its namespace is excluded; for an
    /// Ingress, only when its class is one of [`Policy::ingress_classes`] or it has no class
    /// (the rules for other controllers' Ingresses still look at it).
    pub fn judges(&self, object: &Object) -> Judged {
        let namespace = object.meta().namespace.as_deref().unwrap_or("default");
        if self.excluded_namespaces.iter().any(|ns| ns == namespace) {
            return Judged::ExcludedNamespace;
        }
        match object {
            Object::Ingress(ingress) if !self.judges_ingress_class(ingress) => Judged::OtherClass,
            _ => Judged::Yes,
        }
    }

    /// Whether an Ingress belongs to a judged ingress class (or has none).
    pub fn judges_ingress_class(&self, ingress: &IngressObject) -> bool {
        match ingress.ingress_class() {
            None => true,
            Some(class) => self.ingress_classes.iter().any(|c| c == class),
        }
    }

    /// Which controller serves `ingress`, read with the cluster view's IngressClasses:
    ///
    /// 1. the class is the Ingress's own, else the default IngressClass (annotated
    ///    `ingressclass.kubernetes.io/is-default-class: "true"`) when the view holds exactly
    ///    one: the API server writes it into a new Ingress (`DefaultIngressClass` plugin), and
    ///    an Ingress stored class-less before stays so. With several defaults none is taken
    ///    (the plugin's `admission.go`, kubernetes/kubernetes at 04791b4, refuses to choose);
    /// 2. the controller is [`Policy::served_by`]'s for the class, else the family of the
    ///    IngressClass's `spec.controller` ([`IngressController::of_controller`]), else (no
    ///    IngressClass known, or a controller string sticky-guard does not know) assumed from
    ///    the class name ([`ServedBy::ClassName`]): judged or none → ingress-nginx (the
    ///    behaviour before IngressClasses were read, so bundles without them judge as before),
    ///    `gce`/`gce-internal` → GKE, `traefik` → Traefik, anything else → other.
    ///
    /// Which classes are judged stays [`Policy::ingress_classes`]: an IngressClass never adds a
    /// class to judge, so the webhooks' match conditions (written from the policy alone) hold
    /// whatever IngressClasses the cluster has.
    pub fn serving(&self, ingress: &IngressObject, view: &dyn ClusterView) -> Serving {
        let class = ingress
            .ingress_class()
            .map(str::to_string)
            .or_else(|| default_class(view));
        let judged = class
            .as_deref()
            .is_none_or(|c| self.ingress_classes.iter().any(|j| j == c));
        let (controller, by) = match class.as_deref() {
            Some(c) => match self.served_by.get(c) {
                Some(controller) => (*controller, ServedBy::Policy),
                None => match class_controller(view, c) {
                    Some(controller) if controller != IngressController::Other => {
                        (controller, ServedBy::IngressClass)
                    }
                    _ => (by_name(c, judged), ServedBy::ClassName),
                },
            },
            None => (IngressController::IngressNginx, ServedBy::ClassName),
        };
        Serving {
            class,
            judged,
            controller,
            by,
        }
    }
}

/// The one default IngressClass the view holds, if exactly one.
fn default_class(view: &dyn ClusterView) -> Option<String> {
    let listing = view.find(Kind::IngressClass, &IndexKey::DefaultIngressClass);
    match listing.objects.as_slice() {
        [one] => one.meta().name.clone(),
        _ => None,
    }
}

/// The family of IngressClass `class`'s controller, when the view holds the class.
fn class_controller(view: &dyn ClusterView, class: &str) -> Option<IngressController> {
    match view.get(Kind::IngressClass, "", class) {
        Lookup::Found(object) => object
            .as_ingress_class()
            .and_then(|c| c.controller.as_deref())
            .map(IngressController::of_controller),
        Lookup::Absent | Lookup::Unknown => None,
    }
}

/// The controller a class name alone suggests ([`ServedBy::ClassName`]).
fn by_name(class: &str, judged: bool) -> IngressController {
    if judged {
        IngressController::IngressNginx
    } else if gke::INGRESS_CLASSES.contains(&class) {
        IngressController::Gke
    } else if class == traefik::INGRESS_CLASS {
        IngressController::Traefik
    } else {
        IngressController::Other
    }
}

/// "unknown rule ID", with the closest known ID when one is close (Jaro-Winkler similarity of
/// 0.8 or more, `strsim`), and where to find them all: the list of every ID is long, so it is
/// not repeated here.
pub fn unknown_rule(id: &str, rule_ids: &[&str]) -> String {
    let closest = rule_ids
        .iter()
        .map(|known| (strsim::jaro_winkler(id, known), *known))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, known)) => format!(
            "unknown rule ID `{}`; did you mean `{known}`? (`sticky-guard rules` lists them all)",
            crate::echo::bounded(id)
        ),
        None => format!(
            "unknown rule ID `{}`; `sticky-guard rules` lists them all",
            crate::echo::bounded(id)
        ),
    }
}

/// RFC 1123 subdomain: dot-separated [`is_dns1123_label`]s; at most 253 characters.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

/// RFC 1123 label (a namespace name, Kubernetes `IsDNS1123Label`): 1–63 characters of
/// `[a-z0-9-]`, not starting or ending with `-`.
pub fn is_dns1123_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &[
        "cookie-path-for-regex",
        "regex-path-without-regex-mode",
        "cross-namespace-backend",
    ];

    fn err(text: &str) -> String {
        Policy::from_yaml(text, "p.yaml", IDS)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_every_key() {
        let policy = Policy::from_yaml(
            "annotationPrefix: ingress.kubernetes.io\ningressClasses: [nginx, nginx-internal]\n\
             excludedNamespaces: [kube-system]\nclusterDomain: corp.local\n\
             rules:\n  cookie-path-for-regex: warn\n  regex-path-without-regex-mode: off\n\
             suppressible: [regex-path-without-regex-mode]\n",
            "p.yaml",
            IDS,
        )
        .unwrap();
        assert_eq!(policy.annotation_prefix, "ingress.kubernetes.io");
        assert_eq!(policy.ingress_classes, vec!["nginx", "nginx-internal"]);
        assert_eq!(policy.excluded_namespaces, vec!["kube-system"]);
        assert_eq!(policy.cluster_domain, "corp.local");
        assert_eq!(
            policy.action("cookie-path-for-regex", Action::Deny),
            Action::Warn
        );
        assert_eq!(
            policy.action("regex-path-without-regex-mode", Action::Warn),
            Action::Off
        );
        assert_eq!(
            policy.action("cross-namespace-backend", Action::Deny),
            Action::Deny
        );
        assert!(policy.may_suppress("regex-path-without-regex-mode"));
        assert!(!policy.may_suppress("cookie-path-for-regex"));
        assert!(!Policy::default().may_suppress("regex-path-without-regex-mode"));
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(
            Policy::from_yaml("# nothing\n", "p", IDS).unwrap(),
            Policy::default()
        );
    }

    #[test]
    fn errors_point_at_the_key() {
        assert_eq!(
            err("rules:\n  cookie-path-for-regex: block\n"),
            "p.yaml: rules.cookie-path-for-regex: unknown variant `block`, expected one of `deny`, `warn`, `off`"
        );
        assert_eq!(
            err("rules:\n  no-such-rule: warn\n"),
            "p.yaml: rules.no-such-rule: unknown rule ID `no-such-rule`; `sticky-guard rules` lists them all"
        );
        assert_eq!(
            err("rules:\n  cookie-path-for-regexp: warn\n"),
            "p.yaml: rules.cookie-path-for-regexp: unknown rule ID `cookie-path-for-regexp`; did you \
             mean `cookie-path-for-regex`? (`sticky-guard rules` lists them all)"
        );
        assert!(err("annotationPrefx: x\n").starts_with("p.yaml: annotationPrefx: unknown field `annotationPrefx`, expected one of `annotationPrefix`"));
        assert!(err("ingressClasses: nginx\n").starts_with("p.yaml: ingressClasses: invalid type"));
        assert!(
            err("annotationPrefix: nginx.ingress.kubernetes.io/\n").starts_with(
                "p.yaml: annotationPrefix: `nginx.ingress.kubernetes.io/` is not a DNS subdomain"
            )
        );
        assert!(err("ingressClasses: [\"\"]\n").starts_with("p.yaml: ingressClasses[0]: is empty"));
        assert!(err("clusterDomain: .local\n").starts_with("p.yaml: clusterDomain:"));
        assert_eq!(
            err("suppressible: [cookie-path-for-regex, cookie-path-for-regexp]\n"),
            "p.yaml: suppressible[1]: unknown rule ID `cookie-path-for-regexp`; did you \
             mean `cookie-path-for-regex`? (`sticky-guard rules` lists them all)"
        );
        assert!(err("rules: [\n").starts_with("p.yaml: (file): not valid YAML"));
    }
}

//! The single-object rules as in-process CEL admission policies: for each rule whose verdict
//! CEL can compute from the object under review alone, a ValidatingAdmissionPolicy and its
//! binding (`admissionregistration.k8s.io/v1`, GA in Kubernetes 1.30), and for a rule whose fix
//! CEL can compute, a MutatingAdmissionPolicy and its binding (`admissionregistration.k8s.io`
//! `v1alpha1` from 1.32, `v1beta1` from 1.34, `v1` from 1.36: [`MutatingApi`]).
//!
//! A policy runs inside the API server (no pods, certificates or failure policy to choose), but
//! CEL sees only `object`, `oldObject`, `request`, `params` and `namespaceObject`: no lookups
//! of other objects. So a rule that reads the cluster view cannot be exported, and neither can
//! one whose judgement needs a regex parser or an edit distance. [`EXPORTS`] says, for every
//! rule of the catalogue, which: a test keeps it complete, and the parity test
//! (`tests/policies.rs`) evaluates every exported expression with a CEL interpreter on every
//! fixture object against the engine, the mutation's JSONPatch included.
//!
//! The CEL used (see [`crate::cel`]): the standard macros (`has`, `all`, `exists`, `filter`, `map`),
//! `size`, `contains`, `startsWith`, `endsWith`, `matches` (RE2), `in` and `string()` (all
//! Kubernetes versions); the
//! Kubernetes extended strings library `trim`, `replace`, `split`, `join`, `indexOf`,
//! `lastIndexOf`, `substring` (1.25+); `variables` (ValidatingAdmissionPolicy v1, 1.30+); and in
//! the mutation the `JSONPatch` type (MutatingAdmissionPolicy, 1.32+). No other Kubernetes CEL
//! library function.

pub mod gateway;
pub mod ingress;
pub mod nginx;

use crate::objects::kinds::Kind;
use crate::policy::{Action, Policy};
use crate::rules::Rule;
use serde_json::{Value, json};

/// What a rule exports as CEL, or why it does not.
#[derive(Clone, Copy, Debug)]
pub enum Export {
    /// Its policies, built by this function from the policy options (the annotation prefix).
    Cel(fn(&Policy) -> Cel),
    /// Not exported, with the reason.
    No(&'static str),
}

/// A rule as CEL: what its ValidatingAdmissionPolicy holds and, when CEL can compute its fix,
/// its MutatingAdmissionPolicy.
#[derive(Clone, Debug)]
pub struct Cel {
    /// The kinds it matches (their webhook rules from the kinds table).
    pub kinds: &'static [Kind],
    /// `spec.variables` as `(name, expression)`, in order: each may read the earlier ones as
    /// `variables.<name>`.
    pub variables: Vec<(&'static str, String)>,
    /// `spec.validations`: each true when the object is allowed.
    pub validations: Vec<CelValidation>,
    /// The MutatingAdmissionPolicy, if CEL computes the fix.
    pub mutation: Option<Mutation>,
}

/// One entry of a ValidatingAdmissionPolicy's `validations`.
#[derive(Clone, Debug)]
pub struct CelValidation {
    /// `expression`: true when the rule does not fire.
    pub expression: String,
    /// `messageExpression`: the message, naming the offending field's value (bounded).
    pub message_expression: String,
}

/// A MutatingAdmissionPolicy's content.
#[derive(Clone, Debug)]
pub struct Mutation {
    /// Its `spec.variables` after the rule's [`Cel::variables`], which it holds too.
    pub variables: Vec<(&'static str, String)>,
    /// `mutations[0].jsonPatch.expression`: a list of `JSONPatch` (empty: no change).
    pub json_patch: String,
}

/// The `admissionregistration.k8s.io` version of the MutatingAdmissionPolicies written
/// (`--api`). ValidatingAdmissionPolicies are always `v1`, which every Kubernetes version
/// serving any MutatingAdmissionPolicy version also serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MutatingApi {
    /// GA in Kubernetes 1.36, on by default.
    #[default]
    V1,
    /// Beta in 1.34 and 1.35, off by default (feature gate `MutatingAdmissionPolicy` and
    /// `--runtime-config=admissionregistration.k8s.io/v1beta1=true`).
    V1beta1,
    /// Alpha in 1.32 and 1.33, off by default (the same gate, `.../v1alpha1=true`).
    V1alpha1,
}

impl MutatingApi {
    /// The version string: `v1`, `v1beta1` or `v1alpha1`.
    pub fn version(self) -> &'static str {
        match self {
            MutatingApi::V1 => "v1",
            MutatingApi::V1beta1 => "v1beta1",
            MutatingApi::V1alpha1 => "v1alpha1",
        }
    }

    /// Where it is served, for the header of the YAML.
    pub fn served(self) -> &'static str {
        match self {
            MutatingApi::V1 => "Kubernetes 1.36+",
            MutatingApi::V1beta1 => {
                "Kubernetes 1.34+ with the MutatingAdmissionPolicy feature gate and \
--runtime-config=admissionregistration.k8s.io/v1beta1=true"
            }
            MutatingApi::V1alpha1 => {
                "Kubernetes 1.32+ with the MutatingAdmissionPolicy feature gate and \
--runtime-config=admissionregistration.k8s.io/v1alpha1=true"
            }
        }
    }
}

/// Every rule of the catalogue: what it exports, or why not.
pub static EXPORTS: &[(&str, Export)] = &[
    (
        "cookie-path-for-regex",
        Export::Cel(nginx::cookie_path_for_regex),
    ),
    (
        "cookie-path-not-literal",
        Export::Cel(nginx::cookie_path_not_literal),
    ),
    (
        "cross-namespace-backend",
        Export::Cel(ingress::cross_namespace_backend),
    ),
    (
        "invalid-backend",
        Export::No(
            "not needed: the API server refuses or drops the other version's backend fields \
before admission policies run",
        ),
    ),
    ("externalname-backend", Export::No(READS)),
    ("externalname-under-sticky-ingress", Export::No(READS)),
    (
        "affinity-with-service-upstream",
        Export::Cel(nginx::affinity_with_service_upstream),
    ),
    ("affinity-settings-without-affinity", Export::No(CANARY)),
    (
        "invalid-affinity-value",
        Export::No(
            "not yet: the validators of the whole affinity family, with sticky.lua's number \
reading, are to be ported to RE2",
        ),
    ),
    (
        "ignored-annotation",
        Export::No("its did-you-mean suggestions need an edit distance CEL does not have"),
    ),
    (
        "cookie-path-does-not-cover-paths",
        Export::No("needs the regex parser of the cookie path derivation"),
    ),
    ("samesite-none-without-secure", Export::No(CANARY)),
    (
        "affinity-with-ssl-passthrough",
        Export::Cel(nginx::affinity_with_ssl_passthrough),
    ),
    ("affinity-overrides-load-balancing", Export::No(CANARY)),
    ("canary-affinity", Export::Cel(nginx::canary_affinity)),
    ("regex-path-without-regex-mode", Export::No(READS)),
    (
        "regex-path-with-exact-or-prefix",
        Export::No("not yet: ingress-nginx's path character classes are to be ported to RE2"),
    ),
    ("conflicting-cookie-settings", Export::No(READS)),
    (
        "affinity-annotations-on-other-controller",
        Export::No("not yet: per-object, to be ported"),
    ),
    ("generated-cookie-without-neg", Export::No(READS)),
    ("client-ip-affinity-behind-ingress", Export::No(READS)),
    (
        "traefik-sticky-externalname",
        Export::No("not yet: per-object on the Service side, to be ported"),
    ),
    (
        "traefik-sticky-native-lb",
        Export::No("not yet: per-object on the Service side, to be ported"),
    ),
    (
        "traefik-sticky-cookie-value",
        Export::No("not yet: Go's strconv parsing is to be ported"),
    ),
    (
        "traefik-nginx-unsupported-affinity-setting",
        Export::No("not yet: per-object, to be ported"),
    ),
    (
        "gateway-dotted-backend-name",
        Export::Cel(gateway::dotted_backend_name),
    ),
    ("gateway-session-persistence-regex-path", Export::No(READS)),
    ("gateway-externalname-backend", Export::No(READS)),
    (
        "gateway-cross-namespace-without-referencegrant",
        Export::No(READS),
    ),
];

const READS: &str = "reads other objects (the cluster view), which CEL cannot";

const CANARY: &str = "not yet: per-object, to be ported (canary and affinity reading)";

/// What `rule` exports (every catalogue rule is listed; tested).
pub fn export_of(rule: &Rule) -> Export {
    EXPORTS
        .iter()
        .find(|(id, _)| *id == rule.id)
        .map_or(Export::No("not listed"), |(_, export)| *export)
}

/// One line for docs: `ValidatingAdmissionPolicy`, `ValidatingAdmissionPolicy +
/// MutatingAdmissionPolicy`, or `no: <reason>`.
pub fn summary(rule: &Rule) -> String {
    match export_of(rule) {
        Export::Cel(build) => {
            let cel = build(&Policy::default());
            match (cel.validations.is_empty(), cel.mutation.is_some()) {
                (false, true) => "ValidatingAdmissionPolicy + MutatingAdmissionPolicy".to_string(),
                (true, _) => "MutatingAdmissionPolicy".to_string(),
                (false, false) => "ValidatingAdmissionPolicy".to_string(),
            }
        }
        Export::No(reason) => format!("no: {reason}"),
    }
}

/// The name of the policies and bindings of `rule`.
pub fn policy_name(rule: &Rule) -> String {
    format!("sticky-guard.{}", rule.id)
}

/// How every file [`to_yaml`] writes begins (its first line, up to the full stop): the marker by
/// which `export policies --output-dir` knows a file it wrote before from one it must not remove.
/// Every version of `export policies` has begun its output so.
pub const GENERATED_HEADER: &str = "# Generated by `sticky-guard export policies`";

/// One file of `export policies --output-dir`: a policy and its binding.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyFile {
    /// The file name: `<policy name>.yaml` for the validating pair,
    /// `<policy name>.mutating.yaml` for the mutating one (so that a cluster without
    /// MutatingAdmissionPolicy can apply the others alone).
    pub file_name: String,
    /// The policy and its binding, as JSON objects.
    pub documents: Vec<Value>,
}

/// The classes an exported policy of `rule` judges: the policy's `ingressClasses`, less those
/// its `servedBy` gives to a controller the rule does not judge. An admission policy cannot
/// read IngressClasses, so a class that only its IngressClass gives to another controller is
/// judged as ingress-nginx's (docs/policies-export.md).
fn judged_classes(policy: &Policy, rule: &Rule) -> Vec<String> {
    policy
        .ingress_classes
        .iter()
        .filter(|class| {
            policy
                .served_by
                .get(class.as_str())
                .is_none_or(|controller| rule.controllers.accepts(*controller))
        })
        .cloned()
        .collect()
}

/// The policies and bindings of every exported rule whose action under `policy` is not `off`,
/// in catalogue order, the validating pair of a rule before its mutating one.
///
/// The policy shapes them: `deny` → `validationActions: [Deny]`, `warn` → `[Warn, Audit]`
/// (a mutation is written for both, as the webhook applies fixes at either level); excluded
/// namespaces → each binding's `matchResources.namespaceSelector` (the control-plane label
/// `kubernetes.io/metadata.name`); for Ingress rules the judged classes → a `matchConditions`
/// entry (an Ingress with no class is judged, as by the webhook); the annotation prefix → the
/// annotation keys read and written.
///
/// A ValidatingAdmissionPolicy fails closed (`failurePolicy: Fail`, as the rule's verdict
/// would); a MutatingAdmissionPolicy fails open (`Ignore`): an error leaves the object
/// unchanged, and the validating policy then denies it with its advice.
pub fn policies(policy: &Policy, api: MutatingApi) -> Vec<PolicyFile> {
    let mut out = Vec::new();
    for rule in crate::rules::CATALOGUE {
        let Export::Cel(build) = export_of(rule) else {
            continue;
        };
        let actions = match policy.action(rule.id, rule.default_action) {
            Action::Off => continue,
            Action::Deny => json!(["Deny"]),
            Action::Warn => json!(["Warn", "Audit"]),
        };
        let cel = build(policy);
        let name = policy_name(rule);
        let match_constraints = json!({"resourceRules": cel
            .kinds
            .iter()
            .map(|k| k.info().webhook_rule())
            .collect::<Vec<Value>>()});
        let match_conditions = cel.kinds.contains(&Kind::Ingress).then(|| {
            json!([{
                "name": "judged-ingress-class",
                "expression": crate::cel::ingress_class_judged(&judged_classes(policy, rule)),
            }])
        });
        let match_resources = (!policy.excluded_namespaces.is_empty()).then(|| {
            json!({"namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": policy.excluded_namespaces,
            }]}})
        });

        let mut spec = json!({
            "failurePolicy": "Fail",
            "matchConstraints": match_constraints,
        });
        // A rule whose verdict only a mutation can act on (the API server refuses the object
        // before validating admission) has no validating policy.
        let validating = !cel.validations.is_empty();
        if let Some(conditions) = &match_conditions {
            spec["matchConditions"] = conditions.clone();
        }
        if !cel.variables.is_empty() {
            spec["variables"] = variables(&cel.variables);
        }
        spec["validations"] = cel
            .validations
            .iter()
            .map(|v| {
                json!({
                    "expression": v.expression,
                    "messageExpression": v.message_expression,
                    "reason": "Invalid",
                })
            })
            .collect();
        let mut binding = json!({"policyName": name, "validationActions": actions});
        if let Some(resources) = &match_resources {
            binding["matchResources"] = resources.clone();
        }
        if validating {
            out.push(PolicyFile {
                file_name: format!("{name}.yaml"),
                documents: vec![
                    object("v1", "ValidatingAdmissionPolicy", &name, spec),
                    object("v1", "ValidatingAdmissionPolicyBinding", &name, binding),
                ],
            });
        }

        let Some(mutation) = &cel.mutation else {
            continue;
        };
        let all_variables: Vec<(&str, String)> = cel
            .variables
            .iter()
            .chain(&mutation.variables)
            .cloned()
            .collect();
        let mut spec = json!({
            "failurePolicy": "Ignore",
            "reinvocationPolicy": "Never",
            "matchConstraints": match_constraints,
        });
        if let Some(conditions) = &match_conditions {
            spec["matchConditions"] = conditions.clone();
        }
        spec["variables"] = variables(&all_variables);
        spec["mutations"] = json!([{
            "patchType": "JSONPatch",
            "jsonPatch": {"expression": mutation.json_patch},
        }]);
        let mut binding = json!({"policyName": name});
        if let Some(resources) = &match_resources {
            binding["matchResources"] = resources.clone();
        }
        out.push(PolicyFile {
            file_name: format!("{name}.mutating.yaml"),
            documents: vec![
                object(api.version(), "MutatingAdmissionPolicy", &name, spec),
                object(
                    api.version(),
                    "MutatingAdmissionPolicyBinding",
                    &name,
                    binding,
                ),
            ],
        });
    }
    out
}

/// `spec.variables` as JSON.
fn variables(variables: &[(&str, String)]) -> Value {
    variables
        .iter()
        .map(|(name, expression)| json!({"name": name, "expression": expression}))
        .collect()
}

/// An `admissionregistration.k8s.io/<version>` object labelled as sticky-guard's.
fn object(version: &str, kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": format!("admissionregistration.k8s.io/{version}"),
        "kind": kind,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "sticky-guard"}},
        "spec": spec,
    })
}

/// `files` as one YAML stream (`---` between documents), after a header comment naming the
/// APIs and where they are served.
///
/// # Errors
/// The YAML writer's, which JSON values never produce.
pub fn to_yaml(files: &[PolicyFile], api: MutatingApi) -> Result<String, serde_norway::Error> {
    let mutating = files
        .iter()
        .flat_map(|f| &f.documents)
        .any(|d| d["kind"] == "MutatingAdmissionPolicy");
    let validating = files
        .iter()
        .flat_map(|f| &f.documents)
        .any(|d| d["kind"] == "ValidatingAdmissionPolicy");
    let mut out = format!("{GENERATED_HEADER}.\n");
    if validating {
        out.push_str(
            "# ValidatingAdmissionPolicy: admissionregistration.k8s.io/v1, Kubernetes 1.30+.\n",
        );
    }
    if mutating {
        out.push_str(&format!(
            "# MutatingAdmissionPolicy: admissionregistration.k8s.io/{}, {}.\n",
            api.version(),
            api.served()
        ));
    }
    for document in files.iter().flat_map(|f| &f.documents) {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(document)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_says_whether_it_exports() {
        for rule in crate::rules::CATALOGUE {
            assert_eq!(
                EXPORTS.iter().filter(|(id, _)| *id == rule.id).count(),
                1,
                "{} must be listed once in EXPORTS",
                rule.id
            );
            // A rule that needs the cluster view can never be exported.
            if rule.reads.needs_view {
                assert!(matches!(export_of(rule), Export::No(_)), "{}", rule.id);
            }
            // Only a rule with a fix can have a mutation.
            if let Export::Cel(build) = export_of(rule) {
                assert!(rule.mutating || build(&Policy::default()).mutation.is_none());
            }
        }
        assert_eq!(EXPORTS.len(), crate::rules::CATALOGUE.len());
    }

    #[test]
    fn the_policy_shapes_actions_namespaces_classes_and_prefix() {
        let mut policy = Policy::default();
        let files = policies(&policy, MutatingApi::V1);
        let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sticky-guard.cookie-path-for-regex.yaml",
                "sticky-guard.cookie-path-for-regex.mutating.yaml",
                "sticky-guard.cookie-path-not-literal.yaml",
                "sticky-guard.cross-namespace-backend.mutating.yaml",
                "sticky-guard.affinity-with-service-upstream.yaml",
                "sticky-guard.affinity-with-ssl-passthrough.yaml",
                "sticky-guard.canary-affinity.yaml",
                "sticky-guard.gateway-dotted-backend-name.yaml",
            ]
        );
        let binding = &files[4].documents[1];
        assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
        assert!(binding["spec"].get("matchResources").is_none());
        assert_eq!(
            files[1].documents[0]["apiVersion"],
            "admissionregistration.k8s.io/v1"
        );
        policy
            .actions
            .insert("affinity-with-service-upstream".into(), Action::Warn);
        policy
            .actions
            .insert("gateway-dotted-backend-name".into(), Action::Off);
        policy.excluded_namespaces = vec!["kube-system".into()];
        policy.ingress_classes = vec!["nginx".into(), "internal".into()];
        policy.annotation_prefix = "example.com".into();
        let files = policies(&policy, MutatingApi::V1alpha1);
        assert_eq!(files.len(), 7);
        let binding = &files[4].documents[1];
        assert_eq!(
            binding["spec"]["validationActions"],
            json!(["Warn", "Audit"])
        );
        assert_eq!(
            binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"],
            json!(["kube-system"])
        );
        let mutating = &files[1].documents;
        assert_eq!(
            mutating[0]["apiVersion"],
            "admissionregistration.k8s.io/v1alpha1"
        );
        assert_eq!(
            mutating[1]["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"],
            json!(["kube-system"])
        );
        let text = serde_json::to_string(&files[1].documents).unwrap()
            + &serde_json::to_string(&files[0].documents).unwrap();
        assert!(text.contains("example.com/session-cookie-path"));
        assert!(text.contains("example.com~1session-cookie-path"));
        assert!(!text.contains("nginx.ingress.kubernetes.io"));
        assert!(
            files[4].documents[0]["spec"]["matchConditions"][0]["expression"]
                .as_str()
                .unwrap()
                .contains(r#"in ["nginx","internal"]"#)
        );
    }
}

//! The single-object rules as in-process CEL admission policies: a ValidatingAdmissionPolicy
//! and its binding (`admissionregistration.k8s.io/v1`, GA in Kubernetes 1.30) for each rule
//! whose verdict CEL can compute from the object under review alone.
//!
//! A policy runs inside the API server (no pods, certificates or failure policy to choose), but
//! CEL sees only `object`, `oldObject`, `request`, `params` and `namespaceObject`: no lookups
//! of other objects. So a rule that reads the cluster view cannot be exported, and neither can
//! one whose judgement needs a regex parser or the controller's validators beyond what CEL's
//! `matches()` reproduces. [`EXPORTS`] says, for every rule of the catalogue, which: a test
//! keeps it complete, and the parity test (`tests/policies.rs`) evaluates each exported
//! expression with a CEL interpreter on every fixture object against the engine.
//!
//! Not exported yet (decided, not done): a MutatingAdmissionPolicy for the session-cookie-path
//! patch, and the per-object forms of `cookie-path-for-regex`, `cookie-path-not-literal` and
//! `invalid-affinity-value`.
//!
//! Kubernetes CEL used: the standard macros (`has`, `all`, `exists`, `filter`, `map`), `size`,
//! `contains`, `matches` (RE2) and `in`: all in the CEL standard library every Kubernetes
//! version with ValidatingAdmissionPolicy has (1.26+). No Kubernetes CEL library functions.

use crate::objects::kinds::Kind;
use crate::policy::{Action, Policy};
use crate::rules::Rule;
use serde_json::{Value, json};

/// What a rule exports as CEL, or why it does not.
#[derive(Clone, Copy, Debug)]
pub enum Export {
    /// A ValidatingAdmissionPolicy with this validation.
    Validation(&'static Validation),
    /// Not exported, with the reason.
    No(&'static str),
}

/// One validation of a ValidatingAdmissionPolicy: true when the object is allowed.
#[derive(Debug)]
pub struct Validation {
    /// The kinds it matches (their webhook rules from the kinds table).
    pub kinds: &'static [Kind],
    /// `validations[].expression`: true when the rule does not fire.
    pub expression: &'static str,
    /// `validations[].messageExpression`: the message, naming the offending field's value.
    pub message_expression: &'static str,
}

/// A Service name: a DNS-1035 label (`IsDNS1035Label`), as RE2; written out in the expressions
/// below.
#[cfg(test)]
const DNS1035: &str = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";

static CROSS_NAMESPACE_BACKEND: Validation = Validation {
    kinds: &[Kind::Ingress],
    expression: "(!has(object.spec.defaultBackend) || !has(object.spec.defaultBackend.service) || \
object.spec.defaultBackend.service.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')) && \
(!has(object.spec.rules) || object.spec.rules.all(r, !has(r.http) || r.http.paths.all(p, \
!has(p.backend.service) || p.backend.service.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'))))",
    message_expression: "'backend `' + ((has(object.spec.defaultBackend) && \
has(object.spec.defaultBackend.service) && \
!object.spec.defaultBackend.service.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')) ? \
object.spec.defaultBackend.service.name : object.spec.rules.filter(r, has(r.http) && \
r.http.paths.exists(p, has(p.backend.service) && \
!p.backend.service.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')))[0].http.paths.filter(p, \
has(p.backend.service) && \
!p.backend.service.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'))[0].backend.service.name) + \
'` is not a Service name of this namespace: an Ingress routes only to Services in its own \
namespace, named by a DNS-1035 label (run sticky-guard check for the fix)'",
};

static GATEWAY_DOTTED_BACKEND_NAME: Validation = Validation {
    kinds: &[Kind::HttpRoute, Kind::GrpcRoute],
    expression: "!has(object.spec.rules) || object.spec.rules.all(r, !has(r.backendRefs) || \
r.backendRefs.all(b, (has(b.group) && b.group != '') || (has(b.kind) && b.kind != 'Service') || \
!b.name.contains('.')))",
    message_expression: "'backendRef `' + object.spec.rules.filter(r, has(r.backendRefs) && \
r.backendRefs.exists(b, !(has(b.group) && b.group != '') && !(has(b.kind) && b.kind != \
'Service') && b.name.contains('.')))[0].backendRefs.filter(b, !(has(b.group) && b.group != '') \
&& !(has(b.kind) && b.kind != 'Service') && b.name.contains('.'))[0].name + '` is a DNS name: \
name the Service by `name` and `namespace`, with a ReferenceGrant in that namespace for another \
one'",
};

/// Every rule of the catalogue: what it exports, or why not.
pub static EXPORTS: &[(&str, Export)] = &[
    (
        "cookie-path-for-regex",
        Export::No(
            "not yet: its per-object form (regex mode from this Ingress's own annotations) is \
planned, and the derivation of its patch needs a regex parser",
        ),
    ),
    (
        "cookie-path-not-literal",
        Export::No("not yet: the controller's URLIsValidRegex validator is to be ported to RE2"),
    ),
    (
        "cross-namespace-backend",
        Export::Validation(&CROSS_NAMESPACE_BACKEND),
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
        Export::No("not yet: per-object, to be ported (ParseBool of two annotations)"),
    ),
    ("affinity-settings-without-affinity", Export::No(CANARY)),
    (
        "invalid-affinity-value",
        Export::No("not yet: the controller's validators are to be ported to RE2"),
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
    ("affinity-with-ssl-passthrough", Export::No(CANARY)),
    ("affinity-overrides-load-balancing", Export::No(CANARY)),
    ("canary-affinity", Export::No(CANARY)),
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
        "gateway-dotted-backend-name",
        Export::Validation(&GATEWAY_DOTTED_BACKEND_NAME),
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

/// One line for docs: `ValidatingAdmissionPolicy` or `no: <reason>`.
pub fn summary(rule: &Rule) -> String {
    match export_of(rule) {
        Export::Validation(_) => "ValidatingAdmissionPolicy".to_string(),
        Export::No(reason) => format!("no: {reason}"),
    }
}

/// The name of the policy and binding of `rule`.
pub fn policy_name(rule: &Rule) -> String {
    format!("sticky-guard.{}", rule.id)
}

/// The ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding of every exported rule
/// whose action under `policy` is not `off`, as JSON objects in catalogue order.
///
/// The policy shapes them: `deny` → `validationActions: [Deny]`, `warn` → `[Warn, Audit]`;
/// excluded namespaces → the binding's `matchResources.namespaceSelector` (the control-plane
/// label `kubernetes.io/metadata.name`); for Ingress rules the judged classes → a
/// `matchConditions` entry (an Ingress with no class is judged, as by the webhook). The
/// annotation prefix is not read by the exported rules.
pub fn validating_policies(policy: &Policy) -> Vec<Value> {
    let mut out = Vec::new();
    for rule in crate::rules::CATALOGUE {
        let Export::Validation(validation) = export_of(rule) else {
            continue;
        };
        let actions = match policy.action(rule.id, rule.default_action) {
            Action::Off => continue,
            Action::Deny => json!(["Deny"]),
            Action::Warn => json!(["Warn", "Audit"]),
        };
        let name = policy_name(rule);
        let rules: Vec<Value> = validation
            .kinds
            .iter()
            .map(|k| k.info().webhook_rule())
            .collect();
        let mut spec = json!({
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": rules},
            "validations": [{
                "expression": validation.expression,
                "messageExpression": validation.message_expression,
                "reason": "Invalid",
            }],
        });
        if validation.kinds.contains(&Kind::Ingress) {
            spec["matchConditions"] = json!([{
                "name": "judged-ingress-class",
                "expression": class_condition(&policy.ingress_classes),
            }]);
        }
        out.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "sticky-guard"}},
            "spec": spec,
        }));
        let mut binding = json!({
            "policyName": name,
            "validationActions": actions,
        });
        if !policy.excluded_namespaces.is_empty() {
            binding["matchResources"] = json!({"namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": policy.excluded_namespaces,
            }]}});
        }
        out.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "sticky-guard"}},
            "spec": binding,
        }));
    }
    out
}

/// CEL: the Ingress's class (`spec.ingressClassName`, else the `kubernetes.io/ingress.class`
/// annotation) is one of `classes`, or it has none.
pub fn class_condition(classes: &[String]) -> String {
    let list = serde_json::to_string(classes).unwrap_or_else(|_| "[]".into());
    // JSON string literals are CEL string literals for the class names the policy accepts
    // (RFC 1123 subdomains: no quotes or backslashes).
    format!(
        "has(object.spec.ingressClassName) ? object.spec.ingressClassName in {list} : \
(!has(object.metadata.annotations) || !('kubernetes.io/ingress.class' in \
object.metadata.annotations) || object.metadata.annotations['kubernetes.io/ingress.class'] in \
{list})"
    )
}

/// The policies as a YAML stream (`---` between documents), with a header comment.
///
/// # Errors
/// The YAML writer's, which JSON values never produce.
pub fn to_yaml(documents: &[Value]) -> Result<String, serde_norway::Error> {
    let mut out = String::from(
        "# Generated by `sticky-guard export policies`: the single-object rules as\n\
         # ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, Kubernetes 1.30+).\n",
    );
    for document in documents {
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
        }
        assert_eq!(EXPORTS.len(), crate::rules::CATALOGUE.len());
        assert!(CROSS_NAMESPACE_BACKEND.expression.contains(DNS1035));
    }

    /// The RE2 form accepts exactly the names `is_dns1035_label` does.
    #[test]
    fn the_dns1035_regex_is_the_label_check() {
        let re = regex::Regex::new(DNS1035).unwrap();
        let long = "a".repeat(63);
        let longer = "a".repeat(64);
        for name in [
            "a", "web", "my-svc-2", &long, &longer, "1abc", "abc-", "", "MySvc", "a.b", "a_b",
            "-a", "a-b-c",
        ] {
            assert_eq!(
                re.is_match(name),
                crate::objects::is_dns1035_label(name),
                "{name:?}"
            );
        }
    }

    #[test]
    fn the_policy_shapes_actions_namespaces_and_classes() {
        let mut policy = Policy::default();
        let documents = validating_policies(&policy);
        assert_eq!(documents.len(), 4, "two rules, a policy and a binding each");
        assert_eq!(documents[1]["spec"]["validationActions"], json!(["Deny"]));
        assert!(documents[1]["spec"].get("matchResources").is_none());
        policy
            .actions
            .insert("cross-namespace-backend".into(), Action::Warn);
        policy
            .actions
            .insert("gateway-dotted-backend-name".into(), Action::Off);
        policy.excluded_namespaces = vec!["kube-system".into()];
        policy.ingress_classes = vec!["nginx".into(), "internal".into()];
        let documents = validating_policies(&policy);
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents[1]["spec"]["validationActions"],
            json!(["Warn", "Audit"])
        );
        assert_eq!(
            documents[1]["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"],
            json!(["kube-system"])
        );
        assert!(
            documents[0]["spec"]["matchConditions"][0]["expression"]
                .as_str()
                .unwrap()
                .contains(r#"in ["nginx","internal"]"#)
        );
    }
}

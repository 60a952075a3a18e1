//! `cross-namespace-backend` as a MutatingAdmissionPolicy: Service DNS names of the Ingress's
//! own namespace rewritten to the bare name.
//!
//! Not as a ValidatingAdmissionPolicy: kube-apiserver validates an Ingress after mutating and
//! before validating admission, and refuses a `backend.service.name` that is not a DNS-1035
//! label (`validateIngressBackend`, pkg/apis/networking/validation/validation.go, through
//! `ValidateServiceName`), so a validating policy would never see the names this rule judges.
//! A mutation runs before that validation, as the webhook's mutating phase does.

use super::{Cel, Mutation};
use crate::cel::lit;
use crate::objects::kinds::Kind;
use crate::policy::Policy;

/// How many rules, and paths per rule, the mutation reaches: CEL has no index loop, so the
/// indices are literal lists of this length (kept short for the API server's cost estimate).
/// Backends beyond them are left to the API server, which refuses a dotted name, and to the
/// webhook, which rewrites every one.
pub const MAX_RULES: usize = 32;
/// See [`MAX_RULES`].
pub const MAX_PATHS_PER_RULE: usize = 128;

/// `cross-namespace-backend` as a mutation: the JSONPatch `replace` of every backend name
/// (`spec.defaultBackend` and each rule path's, in that order, as
/// [`crate::objects::IngressObject::backends`] lists them) that is a Service DNS name of the
/// Ingress's own namespace (`svc.ns`, `svc.ns.svc`, `svc.ns.svc.<cluster domain>`, with or
/// without a final `.`; [`crate::objects::service_and_namespace`]) by the bare Service name,
/// as the webhook's mutating phase does. The namespace is `object.metadata.namespace`, which
/// the API server sets from the request before admission. Other names are left alone: the API
/// server then refuses them with its own message, and only the webhook says what to do.
pub fn cross_namespace_backend(policy: &Policy) -> Cel {
    let domain = lit(&policy.cluster_domain);
    // The name without a final `.`, and its first two labels.
    let trimmed = |n: &str| format!("({n}.endsWith('.') ? {n}.substring(0, size({n}) - 1) : {n})");
    let fixable = |b: &str| {
        let n = format!("{b}.service.name");
        let t = trimmed(&n);
        format!(
            "(has({b}.service) && size({t}.split('.')) >= 2 && {t}.split('.')[1] == variables.ownNamespace && {t}.split('.')[0].matches({label}) && (size({t}.split('.')) == 2 || {t} == {t}.split('.')[0] + '.' + variables.ownNamespace + '.svc' || {t} == {t}.split('.')[0] + '.' + variables.ownNamespace + '.svc.' + {domain}))",
            label = lit(DNS1035),
        )
    };
    let bare = |b: &str| format!("{}.split('.')[0]", trimmed(&format!("{b}.service.name")));
    let indices = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("[{}]", list.join(", "))
    };
    let default = "object.spec.defaultBackend";
    let path = "object.spec.rules[i].http.paths[j].backend";
    let variables = vec![
        (
            "ownNamespace",
            "has(object.metadata.namespace) ? object.metadata.namespace : ''".to_string(),
        ),
        // `pointer=name` per backend to rewrite, comma-separated (a JSON pointer and a DNS
        // label hold neither): CEL cannot flatten a list of lists, but it can join strings.
        (
            "defaultFix",
            format!(
                "has({default}) && {} ? ['/spec/defaultBackend/service/name=' + {}] : []",
                fixable(default),
                bare(default)
            ),
        ),
        (
            "pathFixes",
            format!(
                "{rules}.filter(i, has(object.spec.rules) && i < size(object.spec.rules) && has(object.spec.rules[i].http)).map(i, {paths}.filter(j, j < size(object.spec.rules[i].http.paths) && {fixable}).map(j, '/spec/rules/' + string(i) + '/http/paths/' + string(j) + '/backend/service/name=' + {bare}).join(',')).filter(s, s != '').join(',')",
                rules = indices(MAX_RULES),
                paths = indices(MAX_PATHS_PER_RULE),
                fixable = fixable(path),
                bare = bare(path),
            ),
        ),
        (
            "fixes",
            "(variables.defaultFix + (variables.pathFixes == '' ? [] : [variables.pathFixes])).join(',')"
                .to_string(),
        ),
    ];
    Cel {
        kinds: &[Kind::Ingress],
        variables: Vec::new(),
        validations: Vec::new(),
        mutation: Some(Mutation {
            variables,
            json_patch: "variables.fixes == '' ? [] : variables.fixes.split(',').map(x, JSONPatch{op: 'replace', path: x.split('=')[0], value: x.split('=')[1]})"
                .to_string(),
        }),
    }
}

/// A Service name: a DNS-1035 label (`IsDNS1035Label`, k8s.io/apimachinery
/// `pkg/util/validation/validation.go`), as RE2.
pub const DNS1035: &str = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";

#[cfg(test)]
mod tests {
    use super::*;

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
}

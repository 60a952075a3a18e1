//! Kubernetes Ingress rules CEL can judge from one Ingress: `cross-namespace-backend`.

use super::{Cel, CelValidation};
use crate::objects::kinds::Kind;
use crate::policy::Policy;

/// A Service name: a DNS-1035 label (`IsDNS1035Label`, k8s.io/apimachinery
/// `pkg/util/validation/validation.go`), as RE2.
pub const DNS1035: &str = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";

/// `cross-namespace-backend`: every Service backend (`spec.defaultBackend`, each rule path's)
/// names a Service of this namespace by a DNS-1035 label; the message names the first that does
/// not.
pub fn cross_namespace_backend(_: &Policy) -> Cel {
    let label = super::cel::lit(DNS1035);
    let bad_default = format!(
        "has(object.spec.defaultBackend) && has(object.spec.defaultBackend.service) && \
!object.spec.defaultBackend.service.name.matches({label})"
    );
    let bad_path = format!("has(p.backend.service) && !p.backend.service.name.matches({label})");
    Cel {
        kinds: &[Kind::Ingress],
        variables: vec![
            ("badDefault", bad_default),
            (
                "badPath",
                format!(
                    "has(object.spec.rules) && object.spec.rules.exists(r, has(r.http) && \
r.http.paths.exists(p, {bad_path}))"
                ),
            ),
            (
                "badName",
                format!(
                    "variables.badDefault ? object.spec.defaultBackend.service.name : \
variables.badPath ? object.spec.rules.filter(r, has(r.http) && r.http.paths.exists(p, \
{bad_path}))[0].http.paths.filter(p, {bad_path})[0].backend.service.name : ''"
                ),
            ),
        ],
        validations: vec![CelValidation {
            expression: "!variables.badDefault && !variables.badPath".into(),
            message_expression: format!(
                "'backend `' + {} + '` is not a Service name of this namespace: an Ingress \
routes only to Services in its own namespace, named by a DNS-1035 label (run sticky-guard check \
for the fix)'",
                super::cel::bounded("variables.badName")
            ),
        }],
        mutation: None,
    }
}

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

//! Kubernetes Ingress facts for the policies: what the API server accepts as a Service name.
//!
//! `cross-namespace-backend` is not exported as a ValidatingAdmissionPolicy: the API server
//! refuses a name that is not a DNS-1035 label before validating admission runs, so such a
//! policy could never fire (see `REFUSED_FIRST` in the parent module).

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

//! `invalid-backend`: an Ingress backend written with the other Ingress API version's fields.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::objects::{BackendShapeError, IngressObject};
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "invalid-backend",
    title: "Ingress backend written with the fields of the other Ingress API version",
    knows: "any controller (Kubernetes Ingress v1 / v1beta1 schemas)",
    controllers: Controllers::Judged,
    reads: Reads::NOTHING,
    default_action: Action::Deny,
    mutating: true,
    why: "networking.k8s.io/v1 renamed the Ingress backend fields: v1beta1's \
`serviceName`/`servicePort` became `service: {name, port: {number | name}}`, and `spec.backend` \
became `spec.defaultBackend`. The API server refuses the other version's fields as unknown \
fields (strict field validation, kubectl's default), or, with validation off, drops them and \
then refuses a backend without a Service (\"resource or service backend is required\"). \
sticky-guard denies with the right shape in the message, and meanwhile reads such a backend as \
meant where that is unambiguous, so the rules that follow backends still judge it.",
    fix: "Write the backend with the fields of the Ingress's apiVersion (the message gives them); \
better, move v1beta1 Ingresses to networking.k8s.io/v1, the only version served since \
Kubernetes 1.22.",
    source: "Kubernetes API reference: networking.k8s.io/v1 IngressBackend (`service`, \
`resource`) and extensions/v1beta1 IngressBackend (`serviceName`, `servicePort`); \
kubernetes pkg/apis/networking/validation/validation.go validateIngressBackend; KEP-2885 \
server-side field validation (GA in 1.27, `kubectl --validate=strict` by default)",
    match_condition: |policy| {
        // The other version's fields (v1beta1 `serviceName`/`servicePort`, `spec.backend`), or
        // an Ingress of another API version.
        let legacy_fields =
            |backend: &str| format!("has({backend}.serviceName) || has({backend}.servicePort)");
        format!(
            "{} && ((has(object.apiVersion) && object.apiVersion != 'networking.k8s.io/v1') || \
has(object.spec.backend) || (has(object.spec.defaultBackend) && ({})) || {})",
            condition::judged(policy),
            legacy_fields("object.spec.defaultBackend"),
            crate::cel::some_ingress_path(&format!(
                "has(p.backend) && ({})",
                legacy_fields("p.backend")
            ))
        )
    },
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: ImplementationSpecific
        backend:
          serviceName: web
          servicePort: 80
"#,
        passes: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
spec:
  ingressClassName: nginx
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: ImplementationSpecific
        backend:
          service:
            name: web
            port:
              number: 80
"#,
        policy: "",
    },
    check: Check::Ingress(check),
};

fn check(ingress: &IngressObject, _context: &Context<'_>) -> Vec<Finding> {
    ingress
        .backend_shape_errors
        .iter()
        .map(|error| Finding::deny(&RULE, message(error, ingress.legacy)).at(&error.field))
        .collect()
}

fn message(error: &BackendShapeError, legacy: bool) -> String {
    let (this, other) = if legacy {
        ("v1beta1 Ingresses", "networking.k8s.io/v1")
    } else {
        ("networking.k8s.io/v1 Ingresses", "v1beta1")
    };
    let found = error.found;
    let expected = error.expected;
    let what = if found.starts_with("spec.") {
        // The default backend under the other version's name.
        format!("{found} is the {other} name of {expected}, which {this} do not have")
    } else if found.contains('/') {
        format!("backend uses {found} ({other} fields), which {this} do not have")
    } else {
        format!("backend uses {found} (a {other} field), which {this} do not have")
    };
    let todo = match (&error.rewrite, found.starts_with("spec.")) {
        (Some(rewrite), _) => format!("write {rewrite}"),
        (None, true) => format!("delete it ({expected} is set)"),
        (None, false) if error.resource => "delete it (the backend has a resource)".to_string(),
        (None, false) => format!("delete it (the backend already has {expected})"),
    };
    let move_on = if legacy {
        ", or better move the Ingress to apiVersion networking.k8s.io/v1 (v1beta1 is not served \
         since Kubernetes 1.22)"
    } else {
        ""
    };
    format!("{what}: {todo}{move_on}")
}

#[cfg(test)]
mod tests {
    /// A resource backend (networking.k8s.io/v1 IngressBackend: service or resource) with
    /// v1beta1 fields beside it: they are only to delete, and the advice says why.
    #[test]
    fn a_resource_backend_with_the_other_fields() {
        use super::super::Phase;
        use super::super::testing::*;
        use serde_json::json;
        let mut value = ingress(json!({}), &["/"]);
        value["spec"]["rules"][0]["http"]["paths"][0]["backend"] = json!({
            "resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "b"},
            "serviceName": "web"});
        let findings = of("invalid-backend", run(value, Phase::Validating));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0]
                .message
                .ends_with("delete it (the backend has a resource)"),
            "{}",
            findings[0].message
        );
    }

    use super::super::testing::*;
    use super::super::{Level, Phase};
    use crate::objects::{Object, decode_json};
    use serde_json::json;

    const ID: &str = "invalid-backend";

    fn v1(spec: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "site", "namespace": "app"},
            "spec": spec})
    }

    fn legacy(spec: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "site", "namespace": "app"},
            "spec": spec})
    }

    fn path(backend: serde_json::Value) -> serde_json::Value {
        json!({"ingressClassName": "nginx", "rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend}]}}]})
    }

    /// (level, field, message) of each finding of the rule.
    fn findings(value: serde_json::Value) -> Vec<(Level, String, String)> {
        of(ID, run(value, Phase::Mutating))
            .into_iter()
            .map(|f| (f.level, f.field.unwrap_or_default(), f.message))
            .collect()
    }

    #[test]
    fn fires_on_legacy_fields_in_a_v1_path() {
        let value = v1(path(json!({"serviceName": "web", "servicePort": 80})));
        assert_eq!(
            findings(value),
            [(
                Level::Deny,
                "spec.rules[0].http.paths[0].backend.serviceName".to_string(),
                "backend uses serviceName/servicePort (v1beta1 fields), which \
                 networking.k8s.io/v1 Ingresses do not have: write service: {name: web, port: \
                 {number: 80}}"
                    .to_string()
            )]
        );
        // A named port, and a port alone.
        let value = v1(path(json!({"serviceName": "web", "servicePort": "http"})));
        assert!(
            findings(value)[0]
                .2
                .ends_with("write service: {name: web, port: {name: http}}")
        );
        let value = v1(path(json!({"servicePort": 80})));
        assert_eq!(
            findings(value)[0].2,
            "backend uses servicePort (a v1beta1 field), which networking.k8s.io/v1 Ingresses \
             do not have: write service: {name: …, port: {number: 80}}"
        );
    }

    #[test]
    fn fires_on_spec_backend_in_v1() {
        let value = v1(json!({"backend": {"serviceName": "web", "servicePort": 80}}));
        assert_eq!(
            findings(value),
            [(
                Level::Deny,
                "spec.backend".to_string(),
                "spec.backend is the v1beta1 name of spec.defaultBackend, which \
                 networking.k8s.io/v1 Ingresses do not have: write defaultBackend: {service: \
                 {name: web, port: {number: 80}}}"
                    .to_string()
            )]
        );
    }

    #[test]
    fn fires_on_v1_fields_in_a_legacy_ingress() {
        let value = legacy(path(
            json!({"service": {"name": "web", "port": {"number": 80}}}),
        ));
        assert_eq!(
            findings(value),
            [(
                Level::Deny,
                "spec.rules[0].http.paths[0].backend.service".to_string(),
                "backend uses service (a networking.k8s.io/v1 field), which v1beta1 Ingresses \
                 do not have: write serviceName: web, servicePort: 80, or better move the \
                 Ingress to apiVersion networking.k8s.io/v1 (v1beta1 is not served since \
                 Kubernetes 1.22)"
                    .to_string()
            )]
        );
        let value = legacy(
            json!({"defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}}}),
        );
        assert_eq!(
            findings(value)[0].2,
            "spec.defaultBackend is the networking.k8s.io/v1 name of spec.backend, which v1beta1 \
             Ingresses do not have: write backend: {serviceName: web, servicePort: http}, or \
             better move the Ingress to apiVersion networking.k8s.io/v1 (v1beta1 is not served \
             since Kubernetes 1.22)"
        );
    }

    #[test]
    fn both_shapes_at_once_say_delete() {
        let value = v1(path(
            json!({"service": {"name": "web", "port": {"number": 80}},
            "serviceName": "old", "servicePort": 8080}),
        ));
        assert_eq!(
            findings(value)[0].2,
            "backend uses serviceName/servicePort (v1beta1 fields), which networking.k8s.io/v1 \
             Ingresses do not have: delete it (the backend already has service: {name, port})"
        );
        let value = v1(
            json!({"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
            "backend": {"serviceName": "old", "servicePort": 80}}),
        );
        assert_eq!(
            findings(value)[0].2,
            "spec.backend is the v1beta1 name of spec.defaultBackend, which networking.k8s.io/v1 \
             Ingresses do not have: delete it (spec.defaultBackend is set)"
        );
    }

    #[test]
    fn does_not_fire_on_the_right_shapes() {
        let value = v1(path(
            json!({"service": {"name": "web", "port": {"number": 80}}}),
        ));
        assert!(findings(value).is_empty());
        let value = v1(path(
            json!({"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}}),
        ));
        assert!(findings(value).is_empty());
        let value = legacy(json!({"backend": {"serviceName": "web", "servicePort": 80},
            "rules": [{"http": {"paths": [{"backend": {"serviceName": "web", "servicePort": 80}}]}}]}));
        assert!(findings(value).is_empty());
    }

    /// The mismatched backend is taken in as meant, at the field as written, so the rules
    /// that follow backends see it (here `cross-namespace-backend`, on a dotted name).
    #[test]
    fn the_mismatched_backend_is_seen_by_the_other_rules() {
        let value = v1(path(json!({"serviceName": "web.other", "servicePort": 80})));
        let all = run(value, Phase::Validating);
        let cross = of("cross-namespace-backend", all.clone());
        assert_eq!(cross.len(), 1);
        assert_eq!(
            cross[0].field.as_deref(),
            Some("spec.rules[0].http.paths[0].backend.serviceName")
        );
        assert_eq!(of(ID, all).len(), 1);

        let Object::Ingress(ingress) = object(v1(json!({"backend": {"serviceName": "fallback",
            "servicePort": "http"}})))
        else {
            panic!("not an Ingress")
        };
        let backends = ingress.backends();
        assert_eq!(backends.len(), 1);
        assert_eq!(backends[0].field, "spec.backend.serviceName");
        assert_eq!(backends[0].pointer, "/spec/backend/serviceName");
        assert_eq!(backends[0].service_name, "fallback");
        assert_eq!(
            backends[0].port.and_then(|p| p.name.as_deref()),
            Some("http")
        );

        let Object::Ingress(ingress) = object(legacy(path(
            json!({"service": {"name": "web", "port": {"number": 80}}}),
        ))) else {
            panic!("not an Ingress")
        };
        assert_eq!(
            ingress.backends()[0].pointer,
            "/spec/rules/0/http/paths/0/backend/service/name"
        );
    }

    /// Both inputs (a manifest's JSON value, an AdmissionRequest's JSON text) are read by the
    /// same decoder, so they record the same errors.
    #[test]
    fn json_text_and_json_value_agree() {
        let value = v1(path(json!({"serviceName": "web", "servicePort": 80})));
        let from_text = decode_json(&value.to_string(), "networking.k8s.io/v1", "Ingress")
            .unwrap()
            .unwrap();
        let from_value = object(value);
        let (Object::Ingress(text), Object::Ingress(value)) = (from_text, from_value) else {
            panic!("not Ingresses")
        };
        assert_eq!(text.backend_shape_errors, value.backend_shape_errors);
        assert_eq!(text.backend_shape_errors.len(), 1);
        assert_eq!(text.spec, value.spec);
    }
}

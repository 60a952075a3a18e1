//! `traefik-sticky-cookie-value`: Traefik sticky cookie settings Traefik cannot use as written.

use super::condition;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::traefik;
use crate::policy::Action;
use k8s_openapi::api::core::v1::Service;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "traefik-sticky-cookie-value",
    title: "Traefik sticky cookie setting with a value Traefik cannot use",
    knows: "Traefik v3.0 to v3.7.9 (maxage v3.0+, path v3.3+, domain v3.4+)",
    controllers: Controllers::IngressNginx,
    reads: Reads::NOTHING,
    default_action: Action::Warn,
    mutating: false,
    why: "Traefik decodes the Service's service.sticky.cookie.* annotations with Go's strconv: \
secure and httponly must be a Go boolean and maxage whole seconds, or Traefik cannot load the \
Service and skips it (\"Cannot create service\"), so its routes fail. samesite is none, lax or \
strict in any case; any other value sends no SameSite attribute. maxage exists since Traefik \
v3.0.0, path since v3.3.0, domain since v3.4.0: older versions ignore them.",
    fix: "Write the value Traefik accepts (the message names it).",
    source: "traefik/traefik v3.7.9 pkg/config/dynamic/http_config.go L333-365; paerser \
parser/element_fill.go L71-77 (strconv); pkg/provider/kubernetes/ingress/kubernetes.go L377-385 \
(the Service is skipped); pkg/server/service/loadbalancer/sticky.go L153-164 (SameSite); \
docs/facts/gateway-api-traefik.md §4.1",
    match_condition: |_| condition::traefik_sticky(),
    examples: Examples {
        fires: r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
  annotations:
    traefik.ingress.kubernetes.io/service.sticky.cookie.secure: 'yes'
spec:
  selector:
    app: web
  ports:
  - port: 80
"#,
        passes: r#"apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: app
  annotations:
    traefik.ingress.kubernetes.io/service.sticky.cookie.secure: 'true'
spec:
  selector:
    app: web
  ports:
  - port: 80
"#,
        policy: "",
    },
    check: Check::Service(check),
};

fn check(service: &Service, _context: &Context<'_>) -> Vec<Finding> {
    traefik::problems(service)
        .into_iter()
        .map(|(key, value, effect, expected)| {
            let name = key.rsplit('.').next().unwrap_or_default().to_string();
            Finding::warn(
                &RULE,
                format!("sticky {name} `{value}`: {effect}; use {expected}"),
            )
            .at_annotation(&key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "traefik-sticky-cookie-value";

    fn service(annotations: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "app", "annotations": annotations}})
    }

    /// paerser element_fill.go L71-77: strconv.ParseBool; kubernetes.go L377-385.
    #[test]
    fn fires_on_values_traefik_cannot_use() {
        let findings = of(
            ID,
            run(
                service(
                    json!({"traefik.ingress.kubernetes.io/service.sticky.cookie.secure": "yes",
                    "traefik.ingress.kubernetes.io/service.sticky.cookie.samesite": "sometimes"}),
                ),
                Phase::Validating,
            ),
        );
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "sticky secure `yes`: Traefik cannot load the Service and skips it; use \"true\" or \"false\"",
                "sticky samesite `sometimes`: no SameSite attribute is sent; use None, Lax or Strict",
            ]
        );
        assert!(
            findings
                .iter()
                .all(|f| f.level == Level::Warn && f.fix.is_none())
        );
    }

    #[test]
    fn does_not_fire() {
        let fine = service(
            json!({"traefik.ingress.kubernetes.io/service.sticky.cookie.secure": "true",
            "traefik.ingress.kubernetes.io/service.sticky.cookie.samesite": "LAX",
            "traefik.ingress.kubernetes.io/service.sticky.cookie.maxage": "3600"}),
        );
        assert!(of(ID, run(fine, Phase::Validating)).is_empty());
    }
}

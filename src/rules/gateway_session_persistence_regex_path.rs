//! `gateway-session-persistence-regex-path`: a session-persistent route rule with a
//! `RegularExpression` path match gets a cookie Path that the browser never sends back.

use super::{Check, Context, Controllers, Examples, Finding, Level, Reads, Rule};
use crate::controllers::gateway::{CookiePath, Implementation, cookie_path, implementations};
use crate::cookie_path::covers;
use crate::objects::gateway::RouteObject;
use crate::objects::kinds::Kind;
use crate::policy::Action;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "gateway-session-persistence-regex-path",
    title: "Session persistence on a RegularExpression path match: the cookie Path misses the requests",
    knows: "Envoy Gateway up to v1.9.0 (deny); NGINX Gateway Fabric v2.4.0 to v2.6.7 (warn); others: GEP-1619 as in v1.6.1 (warn); Traefik v3.7.9 has no session persistence",
    controllers: Controllers::IngressNginx,
    reads: Reads {
        kinds: &[Kind::Gateway, Kind::GatewayClass],
        needs_view: false,
    },
    default_action: Action::Deny,
    mutating: false,
    why: "GEP-1619 as released (Gateway API v1.6.1) says the session cookie's Path for a regex \
match is the \"longest non-regex prefix\". Envoy Gateway computes it by cutting the regex at the \
first `/`-separated segment that contains `*`, so `/mysite(/|$)(.*)` gets Path `/mysite(` and \
`/api/v[0-9]+/users` the whole regex: no request path path-matches them, the browser never \
sends the cookie back, and Envoy's stateful session does not apply (seed 000's bug, in a new \
controller). NGINX Gateway Fabric sets no Path for a rule with a regex match, so the browser \
keeps the cookie to the directory of the first request. The finding denies on routes whose \
parent Gateway's GatewayClass is Envoy Gateway's, and warns where the implementation is another \
or unknown (single-object mode: no Gateway at hand). Traefik's Gateway provider has no session \
persistence and is left alone.",
    fix: "Put the sticky part of the route in a rule of its own with a `PathPrefix` (or `Exact`) \
match, e.g. PathPrefix `/mysite` for `/mysite(/|$)(.*)`, carrying the sessionPersistence; keep \
the regex match in a rule without it, or write the regex so that its segments before the first \
`*` are literal (`/mysite/.*`).",
    source: "Gateway API v1.6.1 geps/gep-1619/index.md L779-786 (main L785: default `/`); Envoy \
Gateway v1.9.0 internal/xds/translator/session_persistence.go L158-190 \
(routePathToCookiePath, getLongestNonRegexPrefix); Envoy source/extensions/http/stateful_session/\
cookie/cookie.cc L48-83 (requestPathMatch); NGINX Gateway Fabric route_common.go L1556-1608 \
(regex → no path); RFC 6265 §5.1.4",
    match_condition: |_| {
        crate::cel::some_route_rule(
            "has(r.sessionPersistence) && has(r.matches) && r.matches.exists(m, has(m.path) && \
has(m.path.type) && m.path.type == 'RegularExpression')",
        )
    },
    examples: Examples {
        fires: r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: site
  namespace: app
spec:
  parentRefs:
  - name: eg
  rules:
  - matches:
    - path:
        type: RegularExpression
        value: /a(/|$)(.*)
    sessionPersistence:
      sessionName: s
    backendRefs:
    - name: web
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: eg
  namespace: app
spec:
  gatewayClassName: eg
"#,
        passes: r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: site
  namespace: app
spec:
  parentRefs:
  - name: eg
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /a
    sessionPersistence:
      sessionName: s
    backendRefs:
    - name: web
      port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: eg
  namespace: app
spec:
  gatewayClassName: eg
"#,
        policy: "",
    },
    check: Check::Route(check),
};

fn check(route: &RouteObject, context: &Context<'_>) -> Vec<Finding> {
    // Looked up once, and only for a route with a sticky regex match (most have none).
    let mut served = None;
    let mut out = Vec::new();
    for (r, rule) in route.spec.rules.iter().enumerate() {
        let Some(persistence) = rule.session_persistence.as_ref().filter(|p| p.is_cookie()) else {
            continue;
        };
        for (m, matched) in rule.matches.iter().enumerate() {
            let Some(regex) = matched.path.as_ref().and_then(|p| p.regex()) else {
                continue;
            };
            // The most serious answer among the implementations serving the route.
            let mut worst: Option<(Level, String)> = None;
            let served = served.get_or_insert_with(|| implementations(route, context.view));
            for implementation in served.iter() {
                if let Some(found) = judge(*implementation, persistence, regex)
                    && worst.as_ref().is_none_or(|(level, _)| found.0 > *level)
                {
                    worst = Some(found);
                }
            }
            if let Some((level, message)) = worst {
                let finding = match level {
                    Level::Deny => Finding::deny(&RULE, message),
                    Level::Warn => Finding::warn(&RULE, message),
                };
                out.push(finding.at(format!("spec.rules[{r}].matches[{m}].path.value")));
            }
        }
    }
    out
}

/// The literal PathPrefix to suggest for `regex`: the longest literal path every match
/// path-matches (the derivation `cookie-path-for-regex` uses).
fn suggestion(regex: &str) -> String {
    match crate::cookie_path::path_prefix(regex) {
        Ok(prefix) if prefix != "/" => format!("PathPrefix `{prefix}`"),
        _ => "a PathPrefix match".to_string(),
    }
}

/// What `implementation` does with the regex: a finding's level and message, or `None`.
fn judge(
    implementation: Option<Implementation>,
    persistence: &crate::objects::gateway::SessionPersistence,
    regex: &str,
) -> Option<(Level, String)> {
    match cookie_path(implementation, persistence, regex) {
        CookiePath::Unsupported => None,
        CookiePath::Path(path) => {
            if covers(&path, regex) != Some(false) {
                return None;
            }
            let path = crate::echo::bounded(&path);
            let shown = crate::echo::bounded(regex);
            Some(match implementation {
                Some(Implementation::EnvoyGateway) => (
                    Level::Deny,
                    format!(
                        "Envoy Gateway sets the session cookie's Path to `{path}` for \
                         RegularExpression `{shown}`, which misses requests the regex matches, so \
                         the browser does not send the cookie back with them: move the sticky \
                         part to a rule of its own with {} and the sessionPersistence, and keep \
                         the regex in a rule without it",
                        suggestion(regex)
                    ),
                ),
                _ => (
                    Level::Warn,
                    format!(
                        "cookie Path `{path}` misses these requests: use {}",
                        suggestion(regex)
                    ),
                ),
            })
        }
        CookiePath::None => Some((
            Level::Warn,
            format!(
                "no cookie Path: the browser keeps it to one directory; use {}",
                suggestion(regex)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::json;

    const ID: &str = "gateway-session-persistence-regex-path";

    /// The session-persistence HTTPRoute of Envoy Gateway's task "Session Persistence"
    /// (gateway.envoyproxy.io/docs/tasks/traffic/session-persistence/: `sessionName:
    /// Session-A`, `type: Cookie`), with its PathPrefix match turned into seed 000's regex.
    fn sticky_regex(regex: &str) -> serde_json::Value {
        http_route(json!([{
            "matches": [{"path": {"type": "RegularExpression", "value": regex}}],
            "sessionPersistence": {"sessionName": "Session-A", "type": "Cookie"},
            "backendRefs": [{"name": "backend", "port": 3000}]
        }]))
    }

    /// The Gateway and GatewayClass of Envoy Gateway's quickstart
    /// (gateway.envoyproxy.io/docs/tasks/quickstart/), with another controller when asked.
    fn gateway(controller: &str) -> Vec<serde_json::Value> {
        vec![
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                "metadata": {"name": "eg"}, "spec": {"controllerName": controller}}),
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                "metadata": {"name": "eg", "namespace": "app"},
                "spec": {"gatewayClassName": "eg",
                         "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}}),
        ]
    }

    const ENVOY: &str = "gateway.envoyproxy.io/gatewayclass-controller";

    #[test]
    fn denies_on_envoy_gateway_with_the_cookie_path_it_sets() {
        let findings = of(
            ID,
            run_among(
                sticky_regex("/mysite(/|$)(.*)"),
                &gateway(ENVOY),
                Phase::Validating,
            ),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Deny);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].matches[0].path.value")
        );
        assert_eq!(
            findings[0].message,
            "Envoy Gateway sets the session cookie's Path to `/mysite(` for RegularExpression \
             `/mysite(/|$)(.*)`, which misses requests the regex matches, so the browser does not \
             send the cookie back with them: move the sticky part to a rule of its own with \
             PathPrefix `/mysite` and the sessionPersistence, and keep the regex in a rule \
             without it"
        );
        let findings = of(
            ID,
            run_among(
                sticky_regex("/api/v[0-9]+/users"),
                &gateway(ENVOY),
                Phase::Validating,
            ),
        );
        assert!(findings[0].message.contains("Path to `/api/v[0-9]+/users`"));
        assert!(findings[0].message.contains("PathPrefix `/api`"));
        // The regex text Envoy Gateway keeps when no segment holds a `*`.
        for regex in ["/foo/.+", "/api/v[0-9a-f]+/users"] {
            let findings = of(
                ID,
                run_among(sticky_regex(regex), &gateway(ENVOY), Phase::Validating),
            );
            assert_eq!(findings.len(), 1, "{regex}");
            assert_eq!(findings[0].level, Level::Deny, "{regex}");
        }
    }

    #[test]
    fn warns_without_the_gateway_and_on_other_implementations() {
        let findings = of(ID, run(sticky_regex("/mysite(/|$)(.*)"), Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "cookie Path `/mysite(` misses these requests: use PathPrefix `/mysite`"
        );
        let nginx = gateway("gateway.nginx.org/nginx-gateway-controller");
        let findings = of(
            ID,
            run_among(sticky_regex("/foo/.*"), &nginx, Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "no cookie Path: the browser keeps it to one directory; use PathPrefix `/foo`"
        );
    }

    #[test]
    fn does_not_fire_when_the_cookie_path_covers_the_requests() {
        // `/foo/.*` → Envoy Gateway's Path `/foo`, which every match path-matches.
        assert!(
            of(
                ID,
                run_among(sticky_regex("/foo/.*"), &gateway(ENVOY), Phase::Validating)
            )
            .is_empty()
        );
        // Traefik implements no session persistence.
        let traefik = gateway("traefik.io/gateway-controller");
        assert!(
            of(
                ID,
                run_among(
                    sticky_regex("/mysite(/|$)(.*)"),
                    &traefik,
                    Phase::Validating
                )
            )
            .is_empty()
        );
        // Header sessions carry no cookie.
        let mut header = sticky_regex("/mysite(/|$)(.*)");
        header["spec"]["rules"][0]["sessionPersistence"]["type"] = json!("Header");
        assert!(of(ID, run(header, Phase::Validating)).is_empty());
        // No sessionPersistence, or a PathPrefix match.
        let mut plain = sticky_regex("/mysite(/|$)(.*)");
        plain["spec"]["rules"][0]
            .as_object_mut()
            .unwrap()
            .remove("sessionPersistence");
        assert!(of(ID, run(plain, Phase::Validating)).is_empty());
        let mut prefix = sticky_regex("/mysite");
        prefix["spec"]["rules"][0]["matches"][0]["path"]["type"] = json!("PathPrefix");
        assert!(of(ID, run(prefix, Phase::Validating)).is_empty());
        // Not a mutating rule.
        assert!(of(ID, run(sticky_regex("/mysite(/|$)(.*)"), Phase::Mutating)).is_empty());
    }

    /// The fix hint's restructuring (a PathPrefix rule carrying the persistence, the regex in a
    /// rule without it) is clean; `fix` has no automatic rewrite and leaves the file alone.
    #[test]
    fn the_restructured_route_is_clean_and_fix_changes_nothing() {
        let restructured = http_route(json!([
            {"matches": [{"path": {"type": "PathPrefix", "value": "/mysite"}}],
             "sessionPersistence": {"sessionName": "Session-A"},
             "backendRefs": [{"name": "backend", "port": 3000}]},
            {"matches": [{"path": {"type": "RegularExpression", "value": "/mysite(/|$)(.*)"}}],
             "backendRefs": [{"name": "backend", "port": 3000}]}
        ]));
        assert!(
            of(
                ID,
                run_among(restructured, &gateway(ENVOY), Phase::Validating)
            )
            .is_empty()
        );
        let text = serde_norway::to_string(&sticky_regex("/mysite(/|$)(.*)")).unwrap();
        let fixed = crate::engine::fix_text("r.yaml", &text, &crate::policy::Policy::default());
        assert_eq!(fixed.files[0].after, text);
        assert_eq!(fixed.remaining.findings.len(), 1);
    }
}

//! `conflicting-cookie-settings`: sticky Ingresses sharing an upstream disagree on the cookie,
//! or sticky Ingresses on one host send the same cookie to different upstreams.

use super::condition;
use super::host::{HostFacts, ObjectKey, Subject, UpstreamFacts, routed};
use super::regex_mode::RegexModes;
use super::{Check, Context, Controllers, Examples, Finding, Reads, Rule};
use crate::controllers::nginx::affinity::Affinity;
use crate::objects::kinds::Kind;
use crate::objects::{IngressObject, is_dns1035_label, namespace_of, port_as_written};
use crate::policy::Action;
use std::collections::HashSet;

/// The rule's declaration.
pub static RULE: Rule = Rule {
    id: "conflicting-cookie-settings",
    title: "Sticky Ingresses conflict over the session cookie (one Service:port, or one cookie \
name on one host)",
    knows: "ingress-nginx up to v1.15.1 (checked against dbb11b92)",
    controllers: Controllers::IngressNginx,
    reads: Reads {
        kinds: &[Kind::Ingress],
        needs_view: true,
    },
    default_action: Action::Warn,
    mutating: false,
    why: "ingress-nginx keeps session affinity settings per upstream (Service:port), not per \
Ingress. When several sticky Ingresses point at the same Service:port with different \
session-cookie-* or affinity-mode values, the last one the controller reads wins for all of \
them, so one Ingress's cookie name, path or lifetime silently applies to the others \
(ingress-nginx #14042: two session-cookie-paths on one host and Service, and requests are \
balanced at random). Sticky Ingresses on one host that route overlapping paths to different \
upstreams under the same cookie name conflict too: with different cookie Paths the browser \
sends both cookies on the deeper path and ingress-nginx reads the last one (the shorter \
Path's); with one Path each upstream overwrites the other's cookie. The upstream then gets a \
key that is not its own: with affinity-mode persistent it picks a new pod on every such \
request; a balanced upstream maps the foreign key onto one of its pods, so the session moves \
once (with one Path, not at all: that case is left alone).",
    fix: "Give every sticky Ingress of the same Service:port the same cookie settings, or point \
them at different Service ports; give sticky Ingresses of different upstreams on one host \
different session-cookie-names.",
    source: "ingress-nginx internal/ingress/controller/controller.go L875-897 (type and mode \
from the first Ingress, cookie fields from the last); \
https://github.com/kubernetes/ingress-nginx/issues/14042; rootfs/etc/nginx/lua/balancer/\
sticky.lua L47 and L176-196 (one cookie read by name), sticky_balanced.lua L29, \
sticky_persistent.lua L15-19 with util/nodemap.lua L19 and L93-95 (own keys only); \
lua-resty-cookie (pinned f418d77) lib/resty/cookie.lua L75 (a repeated name: the last \
wins); RFC 6265 §5.4 (longer Paths are sent first)",
    match_condition: condition::sticky,
    examples: Examples {
        fires: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
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
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: other
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/session-cookie-name: b
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
        passes: r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
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
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: other
  namespace: app
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
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

fn check(ingress: &IngressObject, context: &Context<'_>) -> Vec<Finding> {
    let prefix = &context.policy.annotation_prefix;
    let mine = Affinity::of(ingress, prefix);
    if !mine.cookie {
        return Vec::new();
    }
    let subject = Subject::of(ingress);
    let (mut findings, reported) = shared_upstreams(ingress, &subject, &mine, context);
    findings.extend(same_cookie_on_one_host(
        ingress, &subject, &mine, reported, context,
    ));
    findings
}

/// Sticky Ingresses that share a Service:port with this one and disagree on the settings
/// (controller.go L875-897), with the Ingresses reported. Each upstream is read once, from its
/// summary in the cluster view ([`UpstreamFacts`]).
fn shared_upstreams(
    ingress: &IngressObject,
    subject: &Subject<'_>,
    mine: &Affinity,
    context: &Context<'_>,
) -> (Vec<Finding>, HashSet<ObjectKey>) {
    let namespace = namespace_of(&ingress.meta);
    let mut reported: HashSet<ObjectKey> = HashSet::new();
    let mut seen: HashSet<(&str, String)> = HashSet::new();
    let mut findings = Vec::new();
    for backend in ingress.backends() {
        if !is_dns1035_label(backend.service_name) {
            continue;
        }
        let port = port_as_written(backend.port);
        if !seen.insert((backend.service_name, port.clone())) {
            // The same upstream again: its Ingresses were judged at its first backend.
            continue;
        }
        let upstream = UpstreamFacts::of(namespace, backend.service_name, &port, context);
        let differing = upstream.differing(mine, |other| {
            !other.same_controller_as(subject) || reported.contains(&other.key)
        });
        for (other, differing) in differing {
            reported.insert(other.key.clone());
            findings.push(
                Finding::warn(
                    &RULE,
                    format!(
                        "make {} match {}: both set upstream {}:{port}",
                        differing.join(", "),
                        other.reference,
                        backend.service_name,
                    ),
                )
                .at(backend.field.clone()),
            );
        }
    }
    (findings, reported)
}

/// Sticky Ingresses on the same host (same controller, not canaries) that route overlapping
/// paths to other upstreams under the same cookie name, with different cookie Paths or a
/// persistent affinity mode: the browser sends both cookies on the deeper path (RFC 6265 §5.4,
/// longer Path first), lua-resty-cookie keeps the last (cookie.lua L75), and the upstream
/// gets a key that is not its own (sticky.lua L176-196). Ingresses in `reported` already have
/// a finding. The host's sticky paths come from its summary ([`HostFacts`]), indexed by path,
/// so the cost follows this Ingress's paths and the overlaps found, not the host's size.
fn same_cookie_on_one_host(
    ingress: &IngressObject,
    subject: &Subject<'_>,
    mine: &Affinity,
    mut done: HashSet<ObjectKey>,
    context: &Context<'_>,
) -> Vec<Finding> {
    // A canary's own affinity annotations are never used: the primary's are copied into its
    // upstream (controller.go L807, L1597-1598). (`mine.cookie` is false for a canary; kept
    // explicit.)
    if mine.canary {
        return Vec::new();
    }
    let mut hosts: Vec<&str> = ingress
        .spec
        .rules
        .iter()
        .flatten()
        .filter(|rule| rule.http.as_ref().is_some_and(|h| !h.paths.is_empty()))
        .map(|rule| rule.host.as_deref().unwrap_or(""))
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut modes = RegexModes::new(ingress, context);
    let mut findings = Vec::new();
    for host in hosts {
        let regex_host = modes.of(host).is_some();
        let my_paths = routed(ingress, mine, host, regex_host);
        let facts = HostFacts::of(host, context);
        let clashes = facts.same_cookie_clashes(
            &mine.cookie_settings.name,
            &my_paths,
            mine.mode == "persistent",
            regex_host,
            |other| !other.same_controller_as(subject) || done.contains(&other.key),
        );
        for (other, clash) in clashes {
            done.insert(other.key.clone());
            findings.push(
                Finding::warn(
                    &RULE,
                    format!(
                        "use another session-cookie-name than {}: their paths overlap",
                        other.reference
                    ),
                )
                .at(my_paths[clash].path.field.clone()),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Level, Phase};
    use serde_json::{Value, json};

    const ID: &str = "conflicting-cookie-settings";

    fn sticky(name: &str, cookie: &str) -> Value {
        let mut v = ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/session-cookie-name": cookie}),
            &["/"],
        );
        v["metadata"]["name"] = json!(name);
        v
    }

    #[test]
    fn fires_on_different_settings_for_the_same_upstream() {
        let findings = of(
            ID,
            run_among(sticky("a", "one"), &[sticky("b", "two")], Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].message,
            "make session-cookie-name match Ingress app/b: both set upstream web:80"
        );
    }

    /// util.go L50-60 (`upstreamName`): the controller names an upstream by the port as
    /// written, so `web:http` and `web:80` are two upstreams with their own settings, even when
    /// the Service's port `http` is 80.
    #[test]
    fn named_and_numbered_ports_are_two_upstreams() {
        let mut named = sticky("b", "two");
        named["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] =
            json!({"name": "http"});
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app"},
            "spec": {"ports": [{"name": "http", "port": 80}]}});
        let findings = of(
            ID,
            run_among(sticky("a", "one"), &[named, service], Phase::Validating),
        );
        // Different cookie names on two upstreams do not conflict (each balancer reads its own).
        assert!(findings.is_empty(), "{findings:?}");
    }

    /// Two sticky Ingresses on one host, `a` routing `a_path` to Service `a_svc` and `b`
    /// routing `b_path` to `b_svc`, with extra annotations each.
    fn pair(a: (&str, &str, Value), b: (&str, &str, Value)) -> (Value, Value) {
        let make = |name: &str, (path, svc, extra): (&str, &str, Value)| {
            let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
            for (k, v) in extra.as_object().unwrap() {
                annotations[format!("nginx.ingress.kubernetes.io/{k}")] = v.clone();
            }
            let mut v = ingress(annotations, &[path]);
            v["metadata"]["name"] = json!(name);
            v["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = json!(svc);
            v
        };
        (make("a", a), make("b", b))
    }

    /// The browser sends both INGRESSCOOKIEs on `/api` (RFC 6265 §5.4: the longer Path first),
    /// lua-resty-cookie keeps the last (cookie.lua L75), and api's balancer gets web's key
    /// (sticky.lua L47, L176-178).
    #[test]
    fn fires_on_one_cookie_name_for_two_upstreams_on_overlapping_paths() {
        let (a, b) = pair(("/", "web", json!({})), ("/api", "api", json!({})));
        let findings = of(
            ID,
            run_among(a.clone(), std::slice::from_ref(&b), Phase::Validating),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert_eq!(
            findings[0].field.as_deref(),
            Some("spec.rules[0].http.paths[0].path")
        );
        assert_eq!(
            findings[0].message,
            "use another session-cookie-name than Ingress app/b: their paths overlap"
        );
        // And from the other side.
        let findings = of(ID, run_among(b, &[a], Phase::Validating));
        assert_eq!(
            findings[0].message,
            "use another session-cookie-name than Ingress app/a: their paths overlap"
        );
    }

    /// ingress-nginx #14042's cookie Paths, on two upstreams: `/path` and `/path/sub`.
    #[test]
    fn fires_on_explicit_cookie_paths_that_nest() {
        let (a, b) = pair(
            ("/path", "one", json!({"session-cookie-path": "/path"})),
            (
                "/path/sub",
                "two",
                json!({"session-cookie-path": "/path/sub"}),
            ),
        );
        assert_eq!(of(ID, run_among(a, &[b], Phase::Validating)).len(), 1);
        // A cookie Path of `/` reaches every path of the host, whatever the locations.
        let (a, b) = pair(
            ("/a", "one", json!({"session-cookie-path": "/"})),
            ("/b", "two", json!({})),
        );
        assert_eq!(of(ID, run_among(a, &[b], Phase::Validating)).len(), 1);
    }

    /// One cookie, one Path, two upstreams: a balanced upstream hashes any key onto one of its
    /// pods (a consistent-hash ring, sticky_balanced.lua L29, searched at sticky.lua L178); a
    /// persistent one knows only its own pods' keys, salted with its name
    /// (sticky_persistent.lua L15-19, util/nodemap.lua L19 and L93-95), and picks anew.
    #[test]
    fn the_same_cookie_path_conflicts_only_when_persistent() {
        let (a, b) = pair(
            ("/a", "one", json!({"session-cookie-path": "/"})),
            ("/b", "two", json!({"session-cookie-path": "/"})),
        );
        assert!(of(ID, run_among(a, &[b], Phase::Validating)).is_empty());
        let (a, b) = pair(
            ("/a", "one", json!({"session-cookie-path": "/"})),
            (
                "/b",
                "two",
                json!({"session-cookie-path": "/", "affinity-mode": "persistent"}),
            ),
        );
        assert_eq!(of(ID, run_among(a, &[b], Phase::Validating)).len(), 1);
    }

    #[test]
    fn one_host_does_not_fire() {
        let quiet = |a: Value, b: Value| of(ID, run_among(a, &[b], Phase::Validating)).is_empty();
        // Different cookie names: each upstream reads its own cookie.
        let (a, b) = pair(
            ("/", "web", json!({})),
            ("/api", "api", json!({"session-cookie-name": "API"})),
        );
        assert!(quiet(a, b));
        // Paths that do not overlap, each cookie on its own location path (sticky.lua L75-78).
        let (a, b) = pair(("/app", "web", json!({})), ("/apple", "api", json!({})));
        assert!(quiet(a, b));
        // Other hosts.
        let (a, mut b) = pair(("/", "web", json!({})), ("/api", "api", json!({})));
        b["spec"]["rules"][0]["host"] = json!("other.example.com");
        assert!(quiet(a, b));
        // One upstream with the same settings: the cookie key is valid on both paths.
        let (a, b) = pair(("/", "web", json!({})), ("/api", "web", json!({})));
        assert!(quiet(a, b));
        // A named port is another upstream than the number (util.go L50-60): the same cookie
        // name on overlapping paths of two upstreams is a conflict.
        let (a, mut b) = pair(("/", "web", json!({})), ("/api", "web", json!({})));
        b["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] =
            json!({"name": "http"});
        assert!(!quiet(a, b));
        // A canary's own affinity annotations are never used (controller.go L807, L1597-1598).
        let (a, b) = pair(
            ("/", "web", json!({})),
            ("/", "api", json!({"canary": "true"})),
        );
        assert!(quiet(a, b));
        // The other one is not sticky.
        let (a, mut b) = pair(("/", "web", json!({})), ("/api", "api", json!({})));
        b["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("nginx.ingress.kubernetes.io/affinity");
        assert!(quiet(a, b));
    }

    /// In regex mode a regex path counts by its literal prefix (cookie_path::path_prefix).
    #[test]
    fn regex_paths_count_by_their_literal_prefix() {
        let (a, b) = pair(
            ("/shop(/|$)(.*)", "web", json!({"use-regex": "true"})),
            ("/shop/admin", "admin", json!({})),
        );
        assert_eq!(of(ID, run_among(a, &[b], Phase::Validating)).len(), 1);
        let (a, b) = pair(
            ("/shop(/|$)(.*)", "web", json!({"use-regex": "true"})),
            ("/shopping", "admin", json!({})),
        );
        assert!(of(ID, run_among(a, &[b], Phase::Validating)).is_empty());
    }

    /// A pair reported for a shared upstream is not reported again for the host.
    #[test]
    fn a_pair_is_reported_once() {
        let (a, mut b) = pair(
            ("/", "web", json!({})),
            ("/", "web", json!({"affinity-mode": "persistent"})),
        );
        let api = json!({"path": "/api", "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": "api", "port": {"number": 80}}}});
        b["spec"]["rules"][0]["http"]["paths"]
            .as_array_mut()
            .unwrap()
            .push(api);
        let findings = of(ID, run_among(a, &[b], Phase::Validating));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].message,
            "make affinity-mode match Ingress app/b: both set upstream web:80"
        );
    }

    #[test]
    fn does_not_fire() {
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[sticky("b", "one")], Phase::Validating)
            )
            .is_empty()
        );
        let mut other_port = sticky("b", "two");
        other_port["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] =
            json!({"number": 81});
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[other_port], Phase::Validating)
            )
            .is_empty()
        );
        let mut not_sticky = sticky("b", "two");
        not_sticky["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("nginx.ingress.kubernetes.io/affinity");
        assert!(
            of(
                ID,
                run_among(sticky("a", "one"), &[not_sticky], Phase::Validating)
            )
            .is_empty()
        );
    }
}

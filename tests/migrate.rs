//! `sticky-guard migrate --to gateway-api`: the built binary on Ingresses and the HTTPRoutes
//! ingress2gateway v1.1.0 makes from them.
//!
//! The routes are written by hand in the shape ingress2gateway v1.1.0 (5327b1a) prints with
//! its envoygateway emitter: one HTTPRoute per host named `<ingress>-<host, dots as dashes>`
//! (`pkg/i2gw/providers/common/converter.go` L203, L418, `utils.go` L94-110), a rule per path
//! with one backendRef (L440-458, L464-486), `ImplementationSpecific` as `PathPrefix`
//! (`providers/ingressnginx/converter.go` L142-148), on a `use-regex` host every match as
//! `RegularExpression` `"(?i)" + path + ".*"` (`providers/ingressnginx/regex.go` L74-81), rule
//! names `rule-N` (`emitters/utils/utils.go` L40-46, called by `emitters/envoygateway/emitter.go`
//! L47), the generator annotation (`cmd/print.go` L203), keys sorted as the YAML printer
//! writes them, no `creationTimestamp` (apimachinery v0.35.1, pinned in its go.mod, marks it
//! `omitzero`: `pkg/apis/meta/v1/types.go` L188) and `status: {parents: []}`; no
//! sessionPersistence (`session_affinity.go` L76:
//! "Session affinity is not supported").

mod common;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// An ingress-nginx Ingress with `use-regex`, cookie affinity, a cookie name and a max-age on
/// the regex path `/app(/|$)(.*)`, and a second Ingress without affinity on another host.
const INGRESSES: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/session-cookie-name: SHOPID
    nginx.ingress.kubernetes.io/session-cookie-max-age: "3600"
spec:
  ingressClassName: nginx
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /app(/|$)(.*)
        pathType: ImplementationSpecific
        backend:
          service:
            name: shop
            port:
              number: 8080
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: blog
  namespace: web
spec:
  ingressClassName: nginx
  rules:
  - host: blog.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: blog
            port:
              number: 80
"#;

/// The routes of [`INGRESSES`], as ingress2gateway v1.1.0 prints them, with a comment of the
/// user's at the top.
const ROUTES: &str = r#"# made by ingress2gateway v1.1.0 --providers ingress-nginx --emitter envoy-gateway
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: blog-blog-example-com
  namespace: web
spec:
  hostnames:
  - blog.example.com
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: blog
      port: 80
    matches:
    - path:
        type: PathPrefix
        value: /
    name: rule-0
status:
  parents: []
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: shop-shop-example-com
  namespace: web
spec:
  hostnames:
  - shop.example.com
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: shop
      port: 8080
    matches:
    - path:
        type: RegularExpression
        value: (?i)/app(/|$)(.*).*
    name: rule-0
status:
  parents: []
"#;

/// [`ROUTES`] migrated: the match turned into PathPrefix `/app`, the sessionPersistence added
/// after the rule's last member; nothing else changed.
const MIGRATED: &str = r#"# made by ingress2gateway v1.1.0 --providers ingress-nginx --emitter envoy-gateway
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: blog-blog-example-com
  namespace: web
spec:
  hostnames:
  - blog.example.com
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: blog
      port: 80
    matches:
    - path:
        type: PathPrefix
        value: /
    name: rule-0
status:
  parents: []
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: shop-shop-example-com
  namespace: web
spec:
  hostnames:
  - shop.example.com
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: shop
      port: 8080
    matches:
    - path:
        type: PathPrefix
        value: /app
    name: rule-0
    sessionPersistence:
      sessionName: SHOPID
      absoluteTimeout: 3600s
      type: Cookie
      cookieConfig:
        lifetimeType: Permanent
status:
  parents: []
"#;

const HTTP_ONLY: &str = "web/shop: HttpOnly: note: ingress-nginx always sets HttpOnly on the sticky cookie; Gateway API v1.6.1 has no field for it, so whether the cookie is HttpOnly is the implementation's";

/// Writes `files` into a new temporary folder.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["migrate", "--to", "gateway-api"];
    all.extend_from_slice(args);
    let owned: Vec<String> = all
        .iter()
        .map(|a| match *a {
            "ING" | "ROUTES" | "ROUTES2" => dir
                .join(match *a {
                    "ING" => "ingresses.yaml",
                    "ROUTES" => "routes.yaml",
                    _ => "more-routes.yaml",
                })
                .to_string_lossy()
                .into_owned(),
            other => other.to_string(),
        })
        .collect();
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    common::run_binary(&refs, None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn a_sticky_regex_path_gets_session_persistence_and_a_path_prefix_byte_for_byte() {
    let dir = folder(&[("ingresses.yaml", INGRESSES), ("routes.yaml", ROUTES)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), MIGRATED);
    assert_eq!(
        text(&out.stderr),
        format!(
            "{HTTP_ONLY}\n\
             web/shop: path shop.example.com/app(/|$)(.*) (ImplementationSpecific) → shop:8080: note: web/shop-shop-example-com rule 0: RegularExpression `(?i)/app(/|$)(.*).*` written as PathPrefix `/app`, which is case-sensitive; ingress-nginx matched it case-insensitively (`location ~*`)\n\
             web/shop: path shop.example.com/app(/|$)(.*) (ImplementationSpecific) → shop:8080: carried: sessionPersistence written on web/shop-shop-example-com rule 0\n"
        )
    );
    // The route that is not sticky, the comment and everything before the edit: byte-equal.
    let first_edit = ROUTES.find("        type: RegularExpression").unwrap();
    assert_eq!(MIGRATED[..first_edit], ROUTES[..first_edit]);
    assert!(MIGRATED.ends_with("status:\n  parents: []\n"));
    // The input file is not touched.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("routes.yaml")).unwrap(),
        ROUTES
    );
}

#[test]
fn other_route_files_stay_as_they_are() {
    let other = "# kept\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: other, namespace: web}\nspec: {hostnames: [other.example.com], rules: [{backendRefs: [{name: shop, port: 8080}]}]}\n";
    let dir = folder(&[
        ("ingresses.yaml", INGRESSES),
        ("routes.yaml", ROUTES),
        ("more-routes.yaml", other),
    ]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES", "ROUTES2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{MIGRATED}---\n{other}"));
}

#[test]
fn diff_and_in_place() {
    let dir = folder(&[("ingresses.yaml", INGRESSES), ("routes.yaml", ROUTES)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES", "--diff"]);
    assert_eq!(out.status.code(), Some(0));
    let routes = dir.path().join("routes.yaml");
    let shown = routes.to_string_lossy();
    let shown = shown.trim_start_matches('/');
    assert_eq!(
        text(&out.stdout),
        format!(
            "--- a/{shown}\n+++ b/{shown}\n@@ -41,8 +41,14 @@\n       port: 8080\n     matches:\n     - path:\n-        type: RegularExpression\n-        value: (?i)/app(/|$)(.*).*\n+        type: PathPrefix\n+        value: /app\n     name: rule-0\n+    sessionPersistence:\n+      sessionName: SHOPID\n+      absoluteTimeout: 3600s\n+      type: Cookie\n+      cookieConfig:\n+        lifetimeType: Permanent\n status:\n   parents: []\n"
        )
    );
    assert_eq!(std::fs::read_to_string(&routes).unwrap(), ROUTES);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES", "--in-place"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).starts_with(&format!("migrated {}\n", routes.display())),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&routes).unwrap(), MIGRATED);
    // A second run finds the persistence there and changes nothing.
    let out = run(dir.path(), &["ING", "--routes", "ROUTES", "--in-place"]);
    assert_eq!(std::fs::read_to_string(&routes).unwrap(), MIGRATED);
    assert!(!text(&out.stderr).contains("migrated "));
}

/// Every cookie attribute Gateway API v1.6.1 has no field for, listed; `session-cookie-expires`
/// beyond 99999 seconds written in hours.
#[test]
fn dropped_attributes_are_listed_in_text_and_json() {
    let ingress = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/affinity-mode: persistent
    nginx.ingress.kubernetes.io/session-cookie-expires: "172800"
    nginx.ingress.kubernetes.io/session-cookie-samesite: None
    nginx.ingress.kubernetes.io/session-cookie-conditional-samesite-none: "true"
    nginx.ingress.kubernetes.io/session-cookie-secure: "true"
    nginx.ingress.kubernetes.io/session-cookie-domain: example.com
    nginx.ingress.kubernetes.io/session-cookie-path: /
    nginx.ingress.kubernetes.io/session-cookie-change-on-failure: "true"
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: shop
            port:
              number: 8080
"#;
    let routes = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: shop-shop-example-com\n  namespace: web\nspec:\n  hostnames:\n  - shop.example.com\n  rules:\n  - backendRefs:\n    - name: shop\n      port: 8080\n    matches:\n    - path:\n        type: PathPrefix\n        value: /\n";
    let dir = folder(&[("ingresses.yaml", ingress), ("routes.yaml", routes)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{routes}    sessionPersistence:\n      sessionName: INGRESSCOOKIE\n      absoluteTimeout: 48h\n      type: Cookie\n      cookieConfig:\n        lifetimeType: Permanent\n"
        )
    );
    let p = "nginx.ingress.kubernetes.io";
    let dropped = [
        (
            "session-cookie-samesite",
            "Gateway API v1.6.1 sessionPersistence has no SameSite: the implementation decides (browsers default to Lax)",
        ),
        (
            "session-cookie-conditional-samesite-none",
            "Gateway API v1.6.1 sessionPersistence has no SameSite, so nothing to make conditional",
        ),
        (
            "session-cookie-secure",
            "Gateway API v1.6.1 sessionPersistence has no Secure: the implementation decides; set it in the implementation's own policy if it has one",
        ),
        (
            "session-cookie-domain",
            "Gateway API v1.6.1 sessionPersistence has no Domain: the cookie becomes host-only",
        ),
        (
            "session-cookie-path",
            "Gateway API v1.6.1 sessionPersistence has no Path: the implementation derives it from the rule's match (GEP-1619)",
        ),
        (
            "affinity-mode",
            "Gateway API v1.6.1 has no affinity mode: how sessions move when endpoints change is the implementation's",
        ),
        (
            "session-cookie-change-on-failure",
            "Gateway API v1.6.1 has no equivalent: whether a failed upstream gets a new cookie is the implementation's",
        ),
    ];
    let mut expected: String = dropped
        .iter()
        .map(|(name, why)| format!("web/shop: {p}/{name}: dropped: {why}\n"))
        .collect();
    expected.push_str(&format!("{HTTP_ONLY}\n"));
    expected.push_str("web/shop: path shop.example.com/ (Prefix) → shop:8080: carried: sessionPersistence written on web/shop-shop-example-com rule 0\n");
    assert_eq!(text(&out.stderr), expected);

    let out = run(dir.path(), &["ING", "--routes", "ROUTES", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut items: Vec<Value> = dropped
        .iter()
        .map(|(name, why)| json!({"ingress": "web/shop", "subject": format!("{p}/{name}"), "level": "dropped", "message": why}))
        .collect();
    items.push(json!({"ingress": "web/shop", "subject": "HttpOnly", "level": "note", "message": "ingress-nginx always sets HttpOnly on the sticky cookie; Gateway API v1.6.1 has no field for it, so whether the cookie is HttpOnly is the implementation's"}));
    items.push(json!({"ingress": "web/shop", "subject": "path shop.example.com/ (Prefix) → shop:8080", "level": "carried", "message": "sessionPersistence written on web/shop-shop-example-com rule 0"}));
    let file = dir
        .path()
        .join("routes.yaml")
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        report,
        json!({"carried": false, "items": items, "errors": [], "files": [{"file": file, "changed": true, "text": format!("{routes}    sessionPersistence:\n      sessionName: INGRESSCOOKIE\n      absoluteTimeout: 48h\n      type: Cookie\n      cookieConfig:\n        lifetimeType: Permanent\n")}]})
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn a_sticky_path_without_a_route_rule_exits_1_naming_it() {
    // The route's backendRef port differs from the Ingress's: no rule carries the path.
    let routes = ROUTES.replace("port: 8080", "port: 8081");
    let dir = folder(&[("ingresses.yaml", INGRESSES), ("routes.yaml", &routes)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), routes, "nothing changed");
    assert_eq!(
        text(&out.stderr),
        format!(
            "{HTTP_ONLY}\nweb/shop: path shop.example.com/app(/|$)(.*) (ImplementationSpecific) → shop:8080: not carried: no HTTPRoute rule in namespace web with hostname shop.example.com, a path match for it and a backendRef shop:8080: nothing written; check that the routes given hold the converted Ingress\n"
        )
    );
    // Found by hostname, path and backendRef, not by name: a renamed route still carries it.
    let renamed = ROUTES.replace("name: shop-shop-example-com", "name: renamed");
    let dir = folder(&[("ingresses.yaml", INGRESSES), ("routes.yaml", &renamed)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        MIGRATED.replace("name: shop-shop-example-com", "name: renamed")
    );
}

#[test]
fn malformed_yaml_exits_2_naming_the_place_and_writes_nothing() {
    let broken = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nspec: [unclosed\n";
    let dir = folder(&[("ingresses.yaml", INGRESSES), ("routes.yaml", broken)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES", "--in-place"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    let at = format!(
        "error: {}:4:1: not valid YAML or JSON",
        dir.path().join("routes.yaml").display()
    );
    assert!(stderr.starts_with(&at), "{stderr}");
    assert!(
        stderr.ends_with("nothing written: fix the errors above first\n"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("routes.yaml")).unwrap(),
        broken
    );
}

/// The result passes sticky-guard's own Gateway API rules beside an Envoy Gateway GatewayClass
/// and Gateway (the parentRef `nginx` is the Gateway ingress2gateway makes from the class).
#[test]
fn the_migrated_routes_pass_check_beside_envoy_gateway() {
    let gateway = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: nginx\nspec:\n  controllerName: gateway.envoyproxy.io/gatewayclass-controller\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: nginx\n  namespace: web\nspec:\n  gatewayClassName: nginx\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n";
    let dir = folder(&[
        ("ingresses.yaml", INGRESSES),
        ("routes.yaml", ROUTES),
        ("gateway.yaml", gateway),
    ]);
    let out = run(
        dir.path(),
        &[
            "ING",
            "--routes",
            "ROUTES",
            "--implementation",
            "envoy-gateway",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(
        "Envoy Gateway sets the cookie Path `/app` for web/shop-shop-example-com rule 0"
    ));
    std::fs::write(dir.path().join("migrated.yaml"), &out.stdout).unwrap();
    let migrated = dir.path().join("migrated.yaml");
    let gateway = dir.path().join("gateway.yaml");
    let check = common::run_binary(
        &[
            "check",
            "-o",
            "json",
            migrated.to_str().unwrap(),
            gateway.to_str().unwrap(),
        ],
        None,
    );
    let report: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check.status.code(), Some(0), "{report}");
    assert_eq!(report["findings"], json!([]));
    // The unmigrated regex with sessionPersistence is what the rule denies: the check sees it.
    let regex = MIGRATED.replace(
        "type: PathPrefix\n        value: /app",
        "type: RegularExpression\n        value: (?i)/app/v[0-9]+(/|$)(.*).*",
    );
    std::fs::write(&migrated, regex).unwrap();
    let check = common::run_binary(
        &[
            "check",
            "-o",
            "json",
            migrated.to_str().unwrap(),
            gateway.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(check.status.code(), Some(1));
}

/// With Envoy Gateway as the target, a regex the rule would deny keeps its match and gets no
/// sessionPersistence; the report names the cookie Path Envoy Gateway would set.
#[test]
fn a_regex_envoy_gateway_would_break_is_not_given_persistence() {
    let ingresses = INGRESSES.replace("/app(/|$)(.*)", "/app/v[0-9]+(/|$)(.*)");
    let routes = ROUTES.replace("(?i)/app(/|$)(.*).*", "(?i)/app/v[0-9]+(/|$)(.*).*");
    let dir = folder(&[("ingresses.yaml", &ingresses), ("routes.yaml", &routes)]);
    let out = run(
        dir.path(),
        &[
            "ING",
            "--routes",
            "ROUTES",
            "--implementation",
            "envoy-gateway",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), routes);
    assert!(text(&out.stderr).contains("not carried: web/shop-shop-example-com rule 0: RegularExpression `(?i)/app/v[0-9]+(/|$)(.*).*` kept and no sessionPersistence written: Envoy Gateway would set the cookie Path `(?i)/app/v[0-9]+(`"), "{}", text(&out.stderr));
    // Without a target, the rule only warns: the persistence is written, the warning reported.
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("sessionPersistence:"));
    assert!(text(&out.stderr).contains("warning: web/shop-shop-example-com rule 0: RegularExpression `(?i)/app/v[0-9]+(/|$)(.*).*` kept; the implementation (GEP-1619 as released) sets the cookie Path `(?i)/app/v[0-9]+(`"));
}

/// The default backend: ingress2gateway v1.1.0 makes `<ingress>-default-backend`, a route with
/// no hostnames and one rule with no matches (`pkg/i2gw/providers/common/converter.go`
/// L286-325); found by that shape. A named Service port cannot be compared with a backendRef's
/// number (ingress2gateway resolves it from the Service, `utils.go` L123): reported.
#[test]
fn default_backend_found_by_shape_and_named_port_reported() {
    let ingress = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: web
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
spec:
  defaultBackend:
    service:
      name: shop
      port:
        number: 8080
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: shop
            port:
              number: 8080
      - path: /admin
        pathType: Exact
        backend:
          service:
            name: admin
            port:
              name: http
"#;
    let routes = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: shop-shop-example-com
  namespace: web
spec:
  hostnames:
  - shop.example.com
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: shop
      port: 8080
    matches:
    - path:
        type: PathPrefix
        value: /
    name: rule-0
  - backendRefs:
    - name: admin
      port: 80
    matches:
    - path:
        type: Exact
        value: /admin
    name: rule-1
status:
  parents: []
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: shop-default-backend
  namespace: web
spec:
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: shop
      port: 8080
    name: rule-0
status:
  parents: []
"#;
    let persistence = "    sessionPersistence:\n      sessionName: INGRESSCOOKIE\n      type: Cookie\n      cookieConfig:\n        lifetimeType: Session\n";
    let dir = folder(&[("ingresses.yaml", ingress), ("routes.yaml", routes)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(1));
    let expected = routes
        .replacen(
            "    name: rule-0\n",
            &format!("    name: rule-0\n{persistence}"),
            1,
        )
        .replace(
            "      port: 8080\n    name: rule-0\n",
            &format!("      port: 8080\n    name: rule-0\n{persistence}"),
        );
    assert_eq!(text(&out.stdout), expected);
    assert_eq!(
        text(&out.stderr),
        "web/shop: HttpOnly: note: ingress-nginx always sets HttpOnly on the sticky cookie; Gateway API v1.6.1 has no field for it, so whether the cookie is HttpOnly is the implementation's\n\
         web/shop: path shop.example.com/ (Prefix) → shop:8080: carried: sessionPersistence written on web/shop-shop-example-com rule 0\n\
         web/shop: path shop.example.com/admin (Exact) → admin:http: not carried: the Service port is named (`http`): it cannot be compared with a backendRef's port number; write the port number in the Ingress and run again\n\
         web/shop: path default backend (-) → shop:8080: carried: sessionPersistence written on web/shop-default-backend rule 0\n"
    );
}

/// A rule without host: ingress2gateway v1.1.0 rewrites regex paths only on routes with a
/// hostname (`providers/ingressnginx/regex.go` L46-50, L64-72), so the route (`<ingress>-all-hosts`,
/// `utils.go` L101-103, no hostnames) keeps `PathPrefix` with the regex as its value; a prefix
/// shape gets its value rewritten.
#[test]
fn a_hostless_regex_path_left_as_path_prefix_is_rewritten() {
    let ingresses = INGRESSES.replace("  - host: shop.example.com\n    http:", "  - http:");
    let routes = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  annotations:
    gateway.networking.k8s.io/generator: ingress2gateway-v1.1.0
  name: shop-all-hosts
  namespace: web
spec:
  parentRefs:
  - name: nginx
  rules:
  - backendRefs:
    - name: shop
      port: 8080
    matches:
    - path:
        type: PathPrefix
        value: /app(/|$)(.*)
    name: rule-0
status:
  parents: []
"#;
    let dir = folder(&[("ingresses.yaml", &ingresses), ("routes.yaml", routes)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        routes.replace(
            "        value: /app(/|$)(.*)\n    name: rule-0\n",
            "        value: /app\n    name: rule-0\n    sessionPersistence:\n      sessionName: SHOPID\n      absoluteTimeout: 3600s\n      type: Cookie\n      cookieConfig:\n        lifetimeType: Permanent\n"
        )
    );
    assert!(text(&out.stderr).contains("web/shop: path /app(/|$)(.*) (ImplementationSpecific) → shop:8080: note: web/shop-all-hosts rule 0: PathPrefix `/app(/|$)(.*)` holds the Ingress's regex"), "{}", text(&out.stderr));
}

/// An Ingress of a class the policy does not judge is left out, and the report says so.
#[test]
fn an_ingress_of_another_class_is_left_out_with_a_note() {
    let ingresses = INGRESSES.replacen("ingressClassName: nginx", "ingressClassName: traefik", 1);
    let dir = folder(&[("ingresses.yaml", &ingresses), ("routes.yaml", ROUTES)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), ROUTES);
    assert_eq!(
        text(&out.stderr),
        "web/shop: Ingress: note: left out: its ingress class is not one of --ingress-class; its cookie affinity is not carried\n"
    );
}

/// An Ingress of class nginx that F5's controller serves (its IngressClass, as
/// nginx/kubernetes-ingress v5.5.4 deployments/common/ingress-class.yaml installs it) has no
/// stickiness to carry: its ingress-nginx annotations were never read.
#[test]
fn an_ingress_another_controller_serves_is_left_out_with_a_note() {
    let ingresses = format!(
        "{INGRESSES}---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  \
         name: nginx\nspec:\n  controller: nginx.org/ingress-controller\n"
    );
    let dir = folder(&[("ingresses.yaml", &ingresses), ("routes.yaml", ROUTES)]);
    let out = run(dir.path(), &["ING", "--routes", "ROUTES"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), ROUTES);
    assert_eq!(
        text(&out.stderr),
        "web/shop: Ingress: note: left out: F5 NGINX Ingress Controller serves it and ignores \
         these annotations; its cookie affinity is not carried\n"
    );
}

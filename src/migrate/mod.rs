//! `migrate --to gateway-api`: carries the cookie stickiness of ingress-nginx Ingresses into the
//! HTTPRoutes made from them (by ingress2gateway or by hand), as `sessionPersistence` on the
//! route rule that serves each sticky path, and reports what Gateway API cannot carry.
//!
//! Sources:
//! - ingress2gateway v1.1.0 (5327b1a): one HTTPRoute per namespace, class, host and protocol
//!   (`pkg/i2gw/providers/common/converter.go` L202-225, the key at L203), named after the
//!   first Ingress of that host (L418; `utils.go` L94-110: `<ingress>-<host with
//!   non-alphanumerics as ->`), so several Ingresses of one host share a route, and a route is
//!   found **by hostname, path match and backendRef, never by name**. One rule per
//!   `pathType/path` (L440-458, `getPathMatchKey` L488-494), with one backendRef per Ingress
//!   path of that key (`configureBackendRef` L464-486); `Prefix` → `PathPrefix`, `Exact` →
//!   `Exact` (`toHTTPRouteMatch` L496-528), `ImplementationSpecific` → `PathPrefix` for
//!   ingress-nginx (`providers/ingressnginx/converter.go` L142-148). A named Service port
//!   becomes the number found in the Service (`ToBackendRef`, `utils.go` L112-143, the lookup
//!   at L123), which sticky-guard cannot see: such a path is reported. A `defaultBackend`
//!   becomes a route `<ingress>-default-backend` with no hostnames and one rule with no
//!   matches (`converter.go` L286-325); it is found by that shape. On a host where a
//!   non-canary Ingress has `use-regex: "true"` or a `rewrite-target`, every path match of the
//!   host's routes is `RegularExpression` `"(?i)" + path + ".*"`
//!   (`providers/ingressnginx/regex.go` L31-83; hostless rules are never rewritten, L47).
//!   Session affinity is recorded in its IR and then reported "Session affinity is not
//!   supported" (`session_affinity.go` L76) by the standard, envoygateway and kgateway
//!   emitters: no `sessionPersistence` is written.
//! - Gateway API v1.6.1 (8bb74df) `apis/v1/shared_types.go` L914-1017: `sessionName`
//!   (MaxLength 128), `absoluteTimeout` (GEP-2257 Duration), `type` (Cookie default),
//!   `cookieConfig.lifetimeType` (Permanent needs absoluteTimeout, CEL L915); no
//!   `idleTimeout` (removed in v1.6.0). `HTTPRouteRule.sessionPersistence` is
//!   experimental-channel only (`config/crd/experimental`; absent from `config/crd/standard`).
//! - ingress-nginx controller-v1.15.1 `rootfs/etc/nginx/lua/balancer/sticky.lua` L75-102: the
//!   cookie's Path is `session-cookie-path` or the location's path, `httponly = true` always,
//!   Secure from `session-cookie-secure` or the request's scheme, SameSite from
//!   `session-cookie-samesite`.

mod regex_match;
pub mod report;
pub mod shapes;

use crate::controllers::gateway::Implementation;
use crate::controllers::nginx::affinity::Affinity;
use crate::engine::edit::{self, Edit};
use crate::engine::manifests::{Document, InputError};
use crate::objects::gateway::{RouteKind, RouteObject};
use crate::objects::{IngressObject, Object, decode, namespace_of};
use crate::policy::{Judged, Policy};
use regex_match::{envoy_gateway_cookie_path, judge_regex, regex_in_prefix};
use report::{Level, Reported};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the routes are migrated for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target {
    /// `--implementation`: the Gateway API implementation that will serve the routes, when
    /// known; it decides whether a `RegularExpression` match may carry the persistence (as
    /// `gateway-session-persistence-regex-path` judges it) and adds what it does to the report.
    pub implementation: Option<Implementation>,
}

/// One route file after migration.
#[derive(Clone, Debug)]
pub struct MigratedFile {
    /// The file as given.
    pub file: String,
    /// Its text as read.
    pub before: Arc<str>,
    /// Its text with the edits.
    pub after: String,
}

/// The outcome of a migration.
#[derive(Clone, Debug, Default)]
pub struct Migration {
    /// The route files, edited where a sticky path was found.
    pub files: Vec<MigratedFile>,
    /// What was carried, dropped or not found, in Ingress order.
    pub reported: Vec<Reported>,
    /// Input errors (exit 2: nothing is written).
    pub errors: Vec<InputError>,
}

/// A route document and what it will get.
struct RouteDoc<'a> {
    document: &'a Document,
    route: RouteObject,
    /// Per rule index: the sessionPersistence to add, and who asked for it.
    persistence: BTreeMap<usize, (Value, String)>,
    /// (rule, match) → the PathPrefix value a match becomes, and whether its `type` is
    /// rewritten too (a RegularExpression match) or only its value (a PathPrefix holding a
    /// regex).
    prefixes: BTreeMap<(usize, usize), (String, bool)>,
}

/// One sticky path of an Ingress.
struct StickyPath {
    host: Option<String>,
    /// `None` for the default backend.
    path: Option<(String, String)>,
    service: String,
    port: Option<i64>,
    port_name: Option<String>,
    shown: String,
}

/// Migrates: `ingresses` (documents of the Ingress inputs) onto `routes` (documents of the
/// route inputs), under `policy` (annotation prefix, classes, namespaces).
pub fn migrate(
    ingresses: &[Document],
    routes: &[Document],
    policy: &Policy,
    target: Target,
) -> Migration {
    let mut out = Migration::default();
    let mut docs: Vec<RouteDoc<'_>> = Vec::new();
    for document in routes {
        match decode(&document.value) {
            Ok(Some(Object::Route(route))) if route.kind == RouteKind::Http => {
                docs.push(RouteDoc {
                    document,
                    route: *route,
                    persistence: BTreeMap::new(),
                    prefixes: BTreeMap::new(),
                });
            }
            Ok(_) => {}
            Err(e) => out.errors.push(InputError::in_document(
                document,
                e.field().as_deref(),
                e.to_string(),
            )),
        }
    }
    // The Ingress side as a bundle view, so that its IngressClasses say who serves each class.
    let mut decoded = Vec::new();
    let mut view = crate::view::offline::OfflineView::new();
    for document in ingresses {
        match decode(&document.value) {
            Ok(Some(object)) => {
                view.add(&object);
                decoded.push(object);
            }
            Ok(None) => {}
            Err(e) => out.errors.push(InputError::in_document(
                document,
                e.field().as_deref(),
                e.to_string(),
            )),
        }
    }
    let mut sticky = Vec::new();
    let mut left_out = Vec::new();
    for object in decoded {
        let judged = policy.judges(&object);
        let Object::Ingress(ingress) = object else {
            continue;
        };
        let serving = policy.serving(&ingress, &view);
        let reads = serving.controller.reads_nginx_annotations();
        if judged == Judged::Yes && serving.judged && reads {
            sticky.push(ingress);
        } else if Affinity::of(&ingress, &policy.annotation_prefix).cookie {
            // Left out, and said so: another controller's Ingress, or an excluded namespace.
            let why = match judged {
                Judged::ExcludedNamespace => {
                    "its namespace is excluded (--exclude-namespace)".to_string()
                }
                _ if !serving.judged => {
                    "its ingress class is not one of --ingress-class".to_string()
                }
                _ => format!(
                    "{} serves it and ignores these annotations",
                    serving.controller.name()
                ),
            };
            left_out.push(Reported::new(
                &format!(
                    "{}/{}",
                    namespace_of(&ingress.meta),
                    ingress.meta.name.as_deref().unwrap_or("")
                ),
                Level::Note,
                "Ingress".into(),
                format!("left out: {why}; its cookie affinity is not carried"),
            ));
        }
    }
    if !out.errors.is_empty() {
        return out;
    }
    let prefix = policy.annotation_prefix.as_str();
    out.reported.extend(left_out);
    for ingress in &sticky {
        let affinity = Affinity::of(ingress, prefix);
        if !affinity.cookie {
            continue;
        }
        let who = format!(
            "{}/{}",
            namespace_of(&ingress.meta),
            ingress.meta.name.as_deref().unwrap_or("")
        );
        let mut reported = report::attributes(&who, ingress, &affinity, prefix);
        let persistence = report::persistence(&who, &affinity, prefix, &mut reported);
        for path in sticky_paths(ingress, &who, &mut reported) {
            carry(
                &who,
                ingress,
                &path,
                &persistence,
                &mut docs,
                target,
                &mut reported,
            );
        }
        out.reported.extend(reported);
    }
    out.files = edit_files(routes, &docs, &mut out.reported);
    out
}

/// The sticky paths of `ingress`: its rules' Service backends, then its default backend when
/// its upstream is sticky; resource backends are reported.
fn sticky_paths(
    ingress: &IngressObject,
    who: &str,
    reported: &mut Vec<Reported>,
) -> Vec<StickyPath> {
    let mut out = Vec::new();
    let service_path =
        |host: Option<&str>,
         path: Option<(String, String)>,
         backend: &k8s_openapi::api::networking::v1::IngressBackend| {
            let service = backend.service.as_ref()?;
            let port = service.port.as_ref();
            let number = port.and_then(|p| p.number).map(i64::from);
            let name = port
                .and_then(|p| p.name.clone())
                .filter(|_| number.is_none());
            let shown = format!(
                "{}{} ({}) → {}:{}",
                host.unwrap_or(""),
                path.as_ref().map_or("default backend", |(p, _)| p.as_str()),
                path.as_ref().map_or("-", |(_, t)| t.as_str()),
                service.name,
                crate::objects::port_as_written(port)
            );
            Some(StickyPath {
                host: host.map(str::to_string),
                path,
                service: service.name.clone(),
                port: number,
                port_name: name,
                shown: crate::echo::bounded(&shown),
            })
        };
    for rule in ingress.spec.rules.iter().flatten() {
        let Some(http) = &rule.http else { continue };
        for p in &http.paths {
            let path = p
                .path
                .as_deref()
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_string();
            let path_type = if p.path_type.is_empty() {
                "ImplementationSpecific".to_string()
            } else {
                p.path_type.clone()
            };
            match service_path(rule.host.as_deref(), Some((path.clone(), path_type)), &p.backend) {
                Some(found) => out.push(found),
                None => reported.push(Reported::new(
                    who,
                    Level::NotCarried,
                    format!("path {}", crate::echo::bounded(&path)),
                    "the backend is a resource, not a Service: sessionPersistence is not written for it; carry it by hand".into(),
                )),
            }
        }
    }
    // ingress-nginx sets the affinity on an upstream while walking the rules' paths
    // (`internal/ingress/controller/controller.go` L875-897 at controller-v1.15.1), so the
    // default backend's upstream is sticky only when one of the paths uses the same
    // Service and port (the same upstream, `upstreamName`).
    if let Some(backend) = &ingress.spec.default_backend
        && let Some(found) = service_path(None, None, backend)
        && out.iter().any(|p| {
            p.service == found.service && p.port == found.port && p.port_name == found.port_name
        })
    {
        out.push(found);
    }
    out
}

/// Finds the route rules of `path` and plans the persistence on them.
fn carry(
    who: &str,
    ingress: &IngressObject,
    path: &StickyPath,
    persistence: &Value,
    docs: &mut [RouteDoc<'_>],
    target: Target,
    reported: &mut Vec<Reported>,
) {
    let subject = format!("path {}", path.shown);
    let Some(port) = path.port else {
        reported.push(Reported::new(
            who,
            Level::NotCarried,
            subject,
            format!(
                "the Service port is named (`{}`): it cannot be compared with a backendRef's port number; write the port number in the Ingress and run again",
                crate::echo::bounded(path.port_name.as_deref().unwrap_or(""))
            ),
        ));
        return;
    };
    let namespace = namespace_of(&ingress.meta);
    let mut found = false;
    for doc in docs.iter_mut() {
        if namespace_of(&doc.route.meta) != namespace
            || !hosts_match(doc.document, path.host.as_deref())
        {
            continue;
        }
        let route_name = format!(
            "{namespace}/{}",
            doc.route.meta.name.as_deref().unwrap_or("")
        );
        for (r, rule) in doc.route.spec.rules.iter().enumerate() {
            let backend = rule.backend_refs.iter().any(|b| {
                b.is_service()
                    && b.name == path.service
                    && b.namespace.as_deref().is_none_or(|n| n == namespace)
                    && b.port == Some(port)
            });
            if !backend {
                continue;
            }
            let matched = match &path.path {
                None => rule.matches.is_empty().then_some(None),
                Some((p, t)) => rule
                    .matches
                    .iter()
                    .position(|m| corresponds(m.path.as_ref(), p, t))
                    .map(Some),
            };
            let Some(matched) = matched else { continue };
            found = true;
            let at = format!("{route_name} rule {r}");
            if rule.session_persistence.is_some() {
                reported.push(Reported::new(
                    who,
                    Level::Note,
                    subject.clone(),
                    format!("{at} already has a sessionPersistence: kept as written"),
                ));
                continue;
            }
            if let Some((planned, by)) = doc.persistence.get(&r) {
                let (level, message) = if planned == persistence {
                    (
                        Level::Carried,
                        format!("sessionPersistence written on {at} (planned for {by} already)"),
                    )
                } else {
                    (
                        Level::NotCarried,
                        format!(
                            "{at} already carries the sessionPersistence of {by}, which differs: give the Ingresses the same cookie settings"
                        ),
                    )
                };
                reported.push(Reported::new(who, level, subject.clone(), message));
                continue;
            }
            // The match turned into PathPrefix, when its regex is a prefix match.
            let mut regexes = Vec::new();
            for (m, route_match) in rule.matches.iter().enumerate() {
                if Some(m) == matched
                    && let Some(reported_item) =
                        regex_in_prefix(route_match.path.as_ref(), &at, (r, m), &mut doc.prefixes)
                {
                    reported.push(Reported::new(
                        who,
                        reported_item.0,
                        subject.clone(),
                        reported_item.1,
                    ));
                    continue;
                }
                let Some(regex) = route_match.path.as_ref().and_then(|p| p.regex()) else {
                    continue;
                };
                let planned_prefix = (Some(m) == matched)
                    .then(|| shapes::prefix_of_regex(regex))
                    .flatten();
                match planned_prefix {
                    Some(prefix) => {
                        reported.push(Reported::new(who, Level::Note, subject.clone(), format!(
                            "{at}: RegularExpression `{}` written as PathPrefix `{}`, which is case-sensitive; ingress-nginx matched it case-insensitively (`location ~*`)",
                            crate::echo::bounded(regex), crate::echo::bounded(&prefix))));
                        doc.prefixes.insert((r, m), (prefix, true));
                    }
                    None => regexes.push(regex.to_string()),
                }
            }
            let mut denied = false;
            for regex in &regexes {
                if let Some((level, message)) =
                    judge_regex(target.implementation, persistence, regex)
                {
                    denied |= level == Level::NotCarried;
                    reported.push(Reported::new(
                        who,
                        level,
                        subject.clone(),
                        format!("{at}: {message}"),
                    ));
                }
            }
            if denied {
                continue;
            }
            doc.persistence
                .insert(r, (persistence.clone(), who.to_string()));
            reported.push(Reported::new(
                who,
                Level::Carried,
                subject.clone(),
                format!("sessionPersistence written on {at}"),
            ));
            if target.implementation == Some(Implementation::EnvoyGateway) {
                let path = matched
                    .and_then(|m| rule.matches.get(m))
                    .and_then(|m| m.path.as_ref());
                let converted = matched
                    .and_then(|m| doc.prefixes.get(&(r, m)))
                    .map(|(p, _)| p);
                let cookie_path = envoy_gateway_cookie_path(path, converted);
                reported.push(Reported::new(
                    who,
                    Level::Note,
                    subject.clone(),
                    report::envoy_gateway_note(&at, &cookie_path),
                ));
            }
        }
    }
    if !found {
        reported.push(Reported::new(
            who,
            Level::NotCarried,
            subject,
            format!(
                "no HTTPRoute rule in namespace {namespace} with {} a path match for it and a backendRef {}:{port}: nothing written; check that the routes given hold the converted Ingress",
                match &path.host { Some(h) => format!("hostname {},", crate::echo::bounded(h)), None => "no hostnames,".into() },
                crate::echo::bounded(&path.service),
            ),
        ));
    }
}

/// Whether the route's `spec.hostnames` holds `host`, or is empty for a rule without host.
fn hosts_match(document: &Document, host: Option<&str>) -> bool {
    let hostnames: Vec<&str> = document.value["spec"]["hostnames"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match host {
        Some(h) => hostnames.contains(&h),
        None => hostnames.is_empty(),
    }
}

/// Whether a route path match is the one made from the Ingress path `path` of `path_type`:
/// the ingress2gateway v1.1.0 shapes (`PathPrefix`/`Exact` as written, or its regex wrap
/// `(?i)` + path + `.*`) and a regex written as the Ingress path itself.
fn corresponds(
    matched: Option<&crate::objects::gateway::PathMatch>,
    path: &str,
    path_type: &str,
) -> bool {
    let kind = matched
        .and_then(|m| m.type_.as_deref())
        .unwrap_or("PathPrefix");
    let value = matched.and_then(|m| m.value.as_deref()).unwrap_or("/");
    match kind {
        "PathPrefix" => value == path && path_type != "Exact",
        "Exact" => value == path && path_type == "Exact",
        "RegularExpression" => value == path || value == format!("(?i){path}.*"),
        _ => false,
    }
}

/// The edited route files: every file of `routes`, with the planned edits.
fn edit_files(
    routes: &[Document],
    docs: &[RouteDoc<'_>],
    reported: &mut Vec<Reported>,
) -> Vec<MigratedFile> {
    let mut files: Vec<MigratedFile> = Vec::new();
    let mut edits: Vec<Vec<Edit>> = Vec::new();
    for document in routes {
        let Some(source) = &document.source else {
            continue;
        };
        if files
            .last()
            .is_none_or(|f| f.file != document.location.file)
        {
            files.push(MigratedFile {
                file: document.location.file.clone(),
                before: source.clone(),
                after: String::new(),
            });
            edits.push(Vec::new());
        }
    }
    for doc in docs {
        let Some(i) = files
            .iter()
            .position(|f| f.file == doc.document.location.file)
        else {
            continue;
        };
        let Some((positions, prefix)) = &doc.document.positions else {
            continue;
        };
        let text = &files[i].before;
        let mut planned = Vec::new();
        let mut ok = true;
        for ((r, m), (value, with_type)) in &doc.prefixes {
            let base = format!("{prefix}/spec/rules/{r}/matches/{m}/path");
            let value = positions
                .node(&format!("{base}/value"))
                .and_then(|n| edit::replace_scalar(n, value));
            let kind = match with_type {
                true => positions
                    .node(&format!("{base}/type"))
                    .and_then(|n| edit::replace_scalar(n, "PathPrefix")),
                false => None,
            };
            match (value, kind, with_type) {
                (Some(v), Some(k), true) => planned.extend([k, v]),
                (Some(v), None, false) => planned.push(v),
                _ => ok = false,
            }
        }
        for (r, (value, _)) in &doc.persistence {
            match positions
                .node(&format!("{prefix}/spec/rules/{r}"))
                .and_then(|n| edit::add_member(text, n, "sessionPersistence", value))
            {
                Some(e) => planned.push(e),
                None => ok = false,
            }
        }
        if ok {
            edits[i].extend(planned);
        } else {
            reported.push(Reported::new(
                &format!("{}/{}", namespace_of(&doc.route.meta), doc.route.meta.name.as_deref().unwrap_or("")),
                Level::NotCarried,
                format!("{}#{}", doc.document.location.file, doc.document.location.document),
                "the route is written in a shape sticky-guard cannot edit in place (an alias, a rule without members): nothing written to it; add the sessionPersistence by hand".into(),
            ));
        }
    }
    for (file, planned) in files.iter_mut().zip(edits) {
        file.after = edit::apply(&file.before, planned);
    }
    files
}

/// The sessionPersistence of a cookie, as written.
pub fn session_persistence(name: &str, timeout: Option<&str>) -> Value {
    match timeout {
        Some(t) => {
            json!({"sessionName": name, "absoluteTimeout": t, "type": "Cookie", "cookieConfig": {"lifetimeType": "Permanent"}})
        }
        None => {
            json!({"sessionName": name, "type": "Cookie", "cookieConfig": {"lifetimeType": "Session"}})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::gateway::PathMatch;

    fn path(kind: &str, value: &str) -> PathMatch {
        PathMatch {
            type_: Some(kind.into()),
            value: Some(value.into()),
        }
    }

    /// The shapes ingress2gateway v1.1.0 writes for an Ingress path (converter.go L496-528,
    /// ingressnginx/converter.go L142-148, regex.go L74-81), and a regex written as the path.
    #[test]
    fn route_matches_that_correspond_to_an_ingress_path() {
        let yes = [
            (path("PathPrefix", "/app"), "/app", "Prefix"),
            (path("PathPrefix", "/app"), "/app", "ImplementationSpecific"),
            (path("Exact", "/app"), "/app", "Exact"),
            (path("RegularExpression", "(?i)/app.*"), "/app", "Exact"),
            (
                path("RegularExpression", "(?i)/app(/|$)(.*).*"),
                "/app(/|$)(.*)",
                "ImplementationSpecific",
            ),
            (
                path("RegularExpression", "/app(/|$)(.*)"),
                "/app(/|$)(.*)",
                "Prefix",
            ),
        ];
        for (m, p, t) in &yes {
            assert!(corresponds(Some(m), p, t), "{m:?} {p} {t}");
        }
        // No path: PathPrefix `/`.
        assert!(corresponds(None, "/", "Prefix"));
        let no = [
            (path("PathPrefix", "/app"), "/app", "Exact"),
            (path("Exact", "/app"), "/app", "Prefix"),
            (path("PathPrefix", "/app"), "/ap", "Prefix"),
            (path("RegularExpression", "/app.*"), "/app", "Prefix"),
        ];
        for (m, p, t) in &no {
            assert!(!corresponds(Some(m), p, t), "{m:?} {p} {t}");
        }
    }

    #[test]
    fn session_persistence_shapes() {
        assert_eq!(
            session_persistence("S", Some("60s")),
            json!({"sessionName": "S", "absoluteTimeout": "60s", "type": "Cookie",
                   "cookieConfig": {"lifetimeType": "Permanent"}})
        );
        assert_eq!(
            session_persistence("S", None),
            json!({"sessionName": "S", "type": "Cookie",
                   "cookieConfig": {"lifetimeType": "Session"}})
        );
    }
}

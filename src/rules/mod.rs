//! The rule catalogue and the engine that runs it.
//!
//! A rule is data plus a function: a [`Rule`] declares its ID, title, default action, why, fix
//! hint and source in one place, and `check` turns one object into [`Finding`]s. The catalogue
//! ([`CATALOGUE`]) is the single list that the webhook, `check`, `fix` and the docs read.
//!
//! Rules never format HTTP and never decide the verdict: the admission glue and the CLI turn
//! findings into a response or a report.

mod affinity_annotations_on_other_controller;
mod affinity_overrides_load_balancing;
mod affinity_settings_without_affinity;
pub(crate) mod affinity_with_service_upstream;
pub(crate) mod affinity_with_ssl_passthrough;
mod canary_affinity;
mod client_ip_affinity_behind_ingress;
pub mod condition;
mod conflicting_cookie_settings;
mod cookie_path_does_not_cover_paths;
mod cookie_path_for_regex;
mod cookie_path_not_literal;
mod cross_namespace_backend;
mod externalname_backend;
mod externalname_under_sticky_ingress;
mod fix;
mod gateway_cross_namespace_without_referencegrant;
mod gateway_dotted_backend_name;
mod gateway_externalname_backend;
mod gateway_session_persistence_regex_path;
mod generated_cookie_without_neg;
mod host;
mod ignored_annotation;
mod invalid_affinity_value;
mod invalid_backend;
mod regex_mode;
mod regex_path_with_exact_or_prefix;
mod regex_path_without_regex_mode;
mod samesite_none_without_secure;
pub mod suppress;
mod traefik_nginx_unsupported_affinity_setting;
mod traefik_sticky_cookie_value;
mod traefik_sticky_externalname;
mod traefik_sticky_native_lb;

pub use fix::{Fix, json_patch};

use crate::objects::gateway::RouteObject;
use crate::objects::kinds::Kind;
use crate::objects::{IngressObject, Object};
use crate::policy::{Action, Policy};
use crate::view::{ClusterView, NoView};
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;

/// A rule's check, typed by the kind of object it judges.
#[derive(Clone, Copy)]
pub enum Check {
    /// Judges Ingresses (any API version, in `networking.k8s.io/v1` shape).
    Ingress(fn(&IngressObject, &Context<'_>) -> Vec<Finding>),
    /// Judges Services.
    Service(fn(&Service, &Context<'_>) -> Vec<Finding>),
    /// Judges both sides of an Ingress → Service relation, whichever is written.
    IngressAndService(
        fn(&IngressObject, &Context<'_>) -> Vec<Finding>,
        fn(&Service, &Context<'_>) -> Vec<Finding>,
    ),
    /// Judges Gateway API routes: HTTPRoutes and GRPCRoutes.
    Route(fn(&RouteObject, &Context<'_>) -> Vec<Finding>),
    /// Judges both sides of a route → Service relation, whichever is written.
    RouteAndService(
        fn(&RouteObject, &Context<'_>) -> Vec<Finding>,
        fn(&Service, &Context<'_>) -> Vec<Finding>,
    ),
}

impl Check {
    /// The kinds the check judges.
    pub fn kinds(&self) -> &'static [Kind] {
        match self {
            Check::Ingress(_) => &[Kind::Ingress],
            Check::Service(_) => &[Kind::Service],
            Check::IngressAndService(..) => &[Kind::Ingress, Kind::Service],
            Check::Route(_) => &[Kind::HttpRoute, Kind::GrpcRoute],
            Check::RouteAndService(..) => &[Kind::HttpRoute, Kind::GrpcRoute, Kind::Service],
        }
    }

    fn run(&self, object: &Object, context: &Context<'_>) -> Vec<Finding> {
        match (self, object) {
            (Check::Ingress(check) | Check::IngressAndService(check, _), Object::Ingress(i)) => {
                check(i, context)
            }
            (
                Check::Service(check)
                | Check::IngressAndService(_, check)
                | Check::RouteAndService(_, check),
                Object::Service(s),
            ) => check(s, context),
            (Check::Route(check) | Check::RouteAndService(check, _), Object::Route(route)) => {
                check(route, context)
            }
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Check{:?}", self.kinds())
    }
}

/// What a rule reads besides the object it judges.
#[derive(Clone, Copy, Debug)]
pub struct Reads {
    /// The other kinds it looks up in the cluster view.
    pub kinds: &'static [Kind],
    /// Whether it can only judge with the cluster view: in single-object mode (no view at all)
    /// such a rule is skipped rather than run blind. A rule that reads other objects only to
    /// add to what the object itself shows runs anyway.
    pub needs_view: bool,
}

impl Reads {
    /// Reads nothing but the object.
    pub const NOTHING: Reads = Reads {
        kinds: &[],
        needs_view: false,
    };
}

/// Which Ingresses a rule judges, by the controller that serves them
/// ([`crate::policy::Serving`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controllers {
    /// Ingresses of a judged class served by ingress-nginx.
    IngressNginx,
    /// Ingresses of a judged class served by ingress-nginx or by Traefik's NGINX provider: the
    /// rule's facts hold for both (checked against Traefik's source, cited in the rule).
    NginxAnnotations,
    /// Ingresses of a judged class served by Traefik's NGINX provider.
    TraefikIngressNginx,
    /// Every Ingress of a judged class, whatever serves it: the rule's facts are the Kubernetes
    /// API's.
    Judged,
    /// Every Ingress, whatever its class and controller: the rule's subject is which controller
    /// serves it (its docs say so).
    Any,
}

impl Controllers {
    /// Whether a rule with these controllers judges an Ingress served so.
    pub fn judge(self, serving: &crate::policy::Serving) -> bool {
        self == Controllers::Any || (serving.judged && self.accepts(serving.controller))
    }

    /// Whether a rule with these controllers judges an Ingress of a judged class served by
    /// `controller`.
    pub fn accepts(self, controller: crate::controllers::IngressController) -> bool {
        use crate::controllers::IngressController as C;
        match self {
            Controllers::Any | Controllers::Judged => true,
            Controllers::IngressNginx => controller == C::IngressNginx,
            Controllers::NginxAnnotations => controller.reads_nginx_annotations(),
            Controllers::TraefikIngressNginx => controller == C::TraefikIngressNginx,
        }
    }

    /// The controllers, for docs: `ingress-nginx`, `ingress-nginx, Traefik's NGINX provider`, ….
    pub fn text(self) -> &'static str {
        match self {
            Controllers::IngressNginx => "ingress-nginx",
            Controllers::NginxAnnotations => "ingress-nginx, Traefik's NGINX provider",
            Controllers::TraefikIngressNginx => "Traefik's NGINX provider",
            Controllers::Judged => "any controller of a judged class",
            Controllers::Any => "any (also Ingresses of classes not judged)",
        }
    }
}

/// One rule of the catalogue.
#[derive(Debug)]
pub struct Rule {
    /// Stable kebab-case ID (`cookie-path-for-regex`), used in config, output and SARIF.
    pub id: &'static str,
    /// One line: what the rule finds.
    pub title: &'static str,
    /// The controllers, and their versions, whose behaviour the rule knows (from their source,
    /// cited in [`Rule::source`]), for the docs: `ingress-nginx up to v1.15.1 (…)`.
    pub knows: &'static str,
    /// Which Ingresses it judges, by the controller serving them ([`Policy::serving`]).
    /// Excluded namespaces stay excluded. Rules that judge no Ingress say
    /// [`Controllers::IngressNginx`].
    pub controllers: Controllers,
    /// What else it reads.
    pub reads: Reads,
    /// The action when configuration does not set one.
    pub default_action: Action,
    /// Whether the rule also runs in the mutating webhook (`/mutate`): rules that patch, and
    /// denials that must come before the API server's own validation.
    pub mutating: bool,
    /// Why it matters, in a few sentences.
    pub why: &'static str,
    /// What to do about it.
    pub fix: &'static str,
    /// Where the facts come from (docs or source locations).
    pub source: &'static str,
    /// A CEL expression over the admission request's `object` and `oldObject`, under a policy
    /// (annotation prefix, ingress classes), that is true whenever the rule can fire, whatever
    /// else the cluster holds (`true` when it may fire on any object of its kinds). A rule that
    /// reads other objects includes every write of its kinds that can change its verdict. A rule
    /// that judges several kinds writes one expression for all of them (testing `object.kind`
    /// where they differ).
    ///
    /// The webhook configurations' `matchConditions` (Kubernetes 1.30+, GA; evaluated by the API
    /// server before it calls the webhook) are generated from these: see [`condition`].
    /// An expression must never fail on an object of its kind (guard optional fields with
    /// `has()`): a matchCondition that errors is decided by the webhook's `failurePolicy`.
    pub match_condition: fn(&Policy) -> String,
    /// A manifest it fires on and one it does not fire on, for the docs (`docs/rules/<id>.md`)
    /// and the tests, which check both under the default policy.
    pub examples: Examples,
    /// Judges one object, of the kind the check is typed by.
    pub check: Check,
}

/// A rule's examples: YAML streams whose first document is the object judged and the others
/// the rest of its cluster (the offline view, as `sticky-guard check` reads a bundle).
#[derive(Debug)]
pub struct Examples {
    /// The rule fires on this (at its default action).
    pub fires: &'static str,
    /// A close variant, usually the fix, on which the rule does not fire.
    pub passes: &'static str,
    /// The policy file (YAML, [`Policy::from_yaml`]) both are judged under; `""` for the
    /// default policy.
    pub policy: &'static str,
}

impl Rule {
    /// Whether the rule judges objects of `kind`.
    pub fn judges(&self, kind: Kind) -> bool {
        self.check.kinds().contains(&kind)
    }

    /// The kinds the rule judges, for docs: `Ingress`, `Ingress, Service`.
    pub fn kinds_text(&self) -> String {
        let names: Vec<&str> = self.check.kinds().iter().map(|k| k.name()).collect();
        names.join(", ")
    }
}

/// Every rule, in catalogue order.
pub static CATALOGUE: &[&Rule] = &[
    &cookie_path_for_regex::RULE,
    &cookie_path_not_literal::RULE,
    &cross_namespace_backend::RULE,
    &invalid_backend::RULE,
    &externalname_backend::RULE,
    &externalname_under_sticky_ingress::RULE,
    &affinity_with_service_upstream::RULE,
    &affinity_settings_without_affinity::RULE,
    &invalid_affinity_value::RULE,
    &ignored_annotation::RULE,
    &cookie_path_does_not_cover_paths::RULE,
    &samesite_none_without_secure::RULE,
    &affinity_with_ssl_passthrough::RULE,
    &affinity_overrides_load_balancing::RULE,
    &canary_affinity::RULE,
    &regex_path_without_regex_mode::RULE,
    &regex_path_with_exact_or_prefix::RULE,
    &conflicting_cookie_settings::RULE,
    &affinity_annotations_on_other_controller::RULE,
    &generated_cookie_without_neg::RULE,
    &client_ip_affinity_behind_ingress::RULE,
    &traefik_sticky_externalname::RULE,
    &traefik_sticky_native_lb::RULE,
    &traefik_sticky_cookie_value::RULE,
    &traefik_nginx_unsupported_affinity_setting::RULE,
    &gateway_dotted_backend_name::RULE,
    &gateway_session_persistence_regex_path::RULE,
    &gateway_externalname_backend::RULE,
    &gateway_cross_namespace_without_referencegrant::RULE,
];

pub use condition::MATCH_CONDITION_NAME;

/// Every rule ID, in catalogue order.
pub fn ids() -> Vec<&'static str> {
    CATALOGUE.iter().map(|r| r.id).collect()
}

/// The rule with this ID, if any.
pub fn find(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().copied().find(|r| r.id == id)
}

/// Which webhook is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `/mutate`: only rules marked [`Rule::mutating`] run; fixable findings become patches.
    Mutating,
    /// `/validate`, `check` and `fix`: every rule runs; a fixable finding means the object
    /// arrived unpatched.
    Validating,
}

/// What a rule may read besides the object itself.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The policy in force.
    pub policy: &'a Policy,
    /// Other objects: live caches, the manifests given, or nothing ([`NoView`]).
    pub view: &'a dyn ClusterView,
    /// On UPDATE, the object as it was (`request.oldObject`); `None` otherwise and offline.
    pub old: Option<&'a Object>,
}

impl<'a> Context<'a> {
    /// A context with no cluster view and no old object (single-object mode).
    pub fn single(policy: &'a Policy) -> Self {
        Context {
            policy,
            view: &NoView,
            old: None,
        }
    }
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Admitted, with a warning.
    Warn,
    /// Denied (or, for a fixable finding in the mutating webhook, patched).
    Deny,
}

impl Level {
    /// `deny` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Deny => "deny",
            Level::Warn => "warn",
        }
    }
}

/// One thing a rule found on one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's ID.
    pub rule: &'static str,
    /// The level, after the policy's action for the rule.
    pub level: Level,
    /// Field path of the offending field (`spec.rules[0].http.paths[0].backend.service.name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A full sentence: what is wrong and what to do.
    pub message: String,
    /// The change that fixes it, when sticky-guard can make it (the mutating webhook and `fix`
    /// apply it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

impl Finding {
    /// A deny-level finding of `rule`.
    pub fn deny(rule: &Rule, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.id,
            level: Level::Deny,
            field: None,
            message: message.into(),
            fix: None,
        }
    }

    /// A warn-level finding of `rule`.
    pub fn warn(rule: &Rule, message: impl Into<String>) -> Self {
        Finding {
            level: Level::Warn,
            ..Finding::deny(rule, message)
        }
    }

    /// Names the offending field.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Names the annotation at fault: `metadata.annotations["<key>"]`.
    pub fn at_annotation(self, key: &str) -> Self {
        self.at(format!("metadata.annotations[\"{key}\"]"))
    }

    /// Attaches the change that fixes the finding.
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }
}

/// Runs the catalogue on one object.
///
/// Objects in excluded namespaces get no findings. An Ingress is judged by the rules whose
/// [`Rule::controllers`] take the controller serving it ([`Policy::serving`], which reads the
/// view's IngressClasses): ingress-nginx's rules only for ingress-nginx, and none but
/// [`Controllers::Any`] for a class the policy does not judge. In [`Phase::Mutating`]
/// only mutating rules run; in single-object mode the rules that need the cluster view are
/// skipped. A rule whose action is `off` does not run; one whose action is `warn` has its
/// findings lowered to [`Level::Warn`].
pub fn evaluate(object: &Object, phase: Phase, context: &Context<'_>) -> Vec<Finding> {
    if context.policy.judges(object) == crate::policy::Judged::ExcludedNamespace {
        return Vec::new();
    }
    let serving = object
        .as_ingress()
        .map(|ingress| context.policy.serving(ingress, context.view));
    let mut findings = Vec::new();
    for rule in CATALOGUE {
        if !rule.judges(object.kind())
            || serving
                .as_ref()
                .is_some_and(|serving| !rule.controllers.judge(serving))
            || (phase == Phase::Mutating && !rule.mutating)
            || (rule.reads.needs_view && context.view.is_single_object())
        {
            continue;
        }
        let action = context.policy.action(rule.id, rule.default_action);
        if action == Action::Off {
            continue;
        }
        for mut finding in rule.check.run(object, context) {
            if action == Action::Warn {
                finding.level = Level::Warn;
            }
            findings.push(finding);
        }
    }
    findings
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the per-rule test modules.
    use super::*;
    use crate::objects::decode;
    use serde_json::Value;

    /// Decodes a JSON object (panics on bad test data).
    pub fn object(value: Value) -> Object {
        decode(&value)
            .expect("test object decodes")
            .expect("judged kind")
    }

    /// Runs the whole catalogue under the default policy in `phase`.
    pub fn run(value: Value, phase: Phase) -> Vec<Finding> {
        run_with(value, phase, &Policy::default())
    }

    /// Runs the whole catalogue under `policy` in `phase`, with no cluster view.
    pub fn run_with(value: Value, phase: Phase, policy: &Policy) -> Vec<Finding> {
        evaluate(&object(value), phase, &Context::single(policy))
    }

    /// Runs the catalogue on `subject` with the other objects (and the subject) as the cluster
    /// view, the way `check` does for a bundle.
    pub fn run_among(subject: Value, others: &[Value], phase: Phase) -> Vec<Finding> {
        run_among_with(subject, others, phase, &Policy::default())
    }

    /// [`run_among`] under `policy`.
    pub fn run_among_with(
        subject: Value,
        others: &[Value],
        phase: Phase,
        policy: &Policy,
    ) -> Vec<Finding> {
        run_in(
            crate::view::offline::OfflineView::new(),
            subject,
            others,
            phase,
            policy,
        )
    }

    /// Runs the catalogue on `subject` in a cluster that holds exactly `others` and `subject`
    /// (anything else is absent, as in `audit`).
    pub fn run_in_cluster(subject: Value, others: &[Value], phase: Phase) -> Vec<Finding> {
        run_in(
            crate::view::offline::OfflineView::complete(),
            subject,
            others,
            phase,
            &Policy::default(),
        )
    }

    fn run_in(
        mut view: crate::view::offline::OfflineView,
        subject: Value,
        others: &[Value],
        phase: Phase,
        policy: &Policy,
    ) -> Vec<Finding> {
        for value in others.iter().chain(std::iter::once(&subject)) {
            view.add(&object(value.clone()));
        }
        let context = Context {
            policy,
            view: &view,
            old: None,
        };
        evaluate(&object(subject), phase, &context)
    }

    /// Only the findings of one rule.
    pub fn of(rule: &str, findings: Vec<Finding>) -> Vec<Finding> {
        findings.into_iter().filter(|f| f.rule == rule).collect()
    }

    /// A `gateway.networking.k8s.io/v1` HTTPRoute `site` in namespace `app` attached to Gateway
    /// `eg` (in `app`), with these `rules`.
    pub fn http_route(rules: Value) -> Value {
        serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "site", "namespace": "app"},
            "spec": {"parentRefs": [{"name": "eg"}], "rules": rules}
        })
    }

    /// A `networking.k8s.io/v1` Ingress in namespace `app` with these annotations and paths
    /// (`ImplementationSpecific`, backend Service `web` port 80).
    pub fn ingress(annotations: Value, paths: &[&str]) -> Value {
        let paths: Vec<Value> = paths
            .iter()
            .map(|p| {
                serde_json::json!({"path": p, "pathType": "ImplementationSpecific",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}})
            })
            .collect();
        serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "site", "namespace": "app", "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "example.com", "http": {"paths": paths}}]}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use serde_json::json;

    fn sticky_regex() -> serde_json::Value {
        ingress(
            json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
                   "nginx.ingress.kubernetes.io/use-regex": "true"}),
            &["/mysite(/|$)(.*)"],
        )
    }

    #[test]
    fn every_rule_is_fully_declared_and_ids_are_unique() {
        let mut ids = std::collections::BTreeSet::new();
        for rule in CATALOGUE {
            assert!(ids.insert(rule.id), "duplicate {}", rule.id);
            assert!(rule.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            for text in [rule.title, rule.knows, rule.why, rule.fix, rule.source] {
                assert!(!text.trim().is_empty(), "{} has an empty field", rule.id);
            }
            assert_eq!(find(rule.id).map(|r| r.id), Some(rule.id));
        }
    }

    #[test]
    fn other_ingress_classes_are_not_judged() {
        let mut value = sticky_regex();
        value["spec"]["ingressClassName"] = json!("gce");
        // Only the rule about other controllers' Ingresses speaks (it is `Controllers::Any`).
        let rules: Vec<&str> = run(value.clone(), Phase::Validating)
            .iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, ["affinity-annotations-on-other-controller"]);
        value["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/use-regex": "true"});
        assert!(run(value.clone(), Phase::Validating).is_empty());
        value["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/use-regex": "true"});
        value["spec"]
            .as_object_mut()
            .unwrap()
            .remove("ingressClassName");
        assert_eq!(run(value, Phase::Validating).len(), 1, "no class is judged");
    }

    #[test]
    fn excluded_namespaces_are_not_judged() {
        let policy = Policy {
            excluded_namespaces: vec!["app".into()],
            ..Policy::default()
        };
        assert!(run_with(sticky_regex(), Phase::Validating, &policy).is_empty());
    }

    /// The documents of an example: the object judged, and the rest of its cluster.
    fn example(text: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
        use serde::Deserialize;
        let mut documents: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(text)
            .map(|d| serde_json::Value::deserialize(d).expect("an example is valid YAML"))
            .collect();
        let subject = documents.remove(0);
        (subject, documents)
    }

    /// An object that makes rule `id` fire (its declared example), and the other objects of
    /// its cluster.
    fn trigger(id: &str) -> (serde_json::Value, Vec<serde_json::Value>) {
        example(find(id).expect("a rule of the catalogue").examples.fires)
    }

    /// The policy a rule's examples are judged under.
    fn example_policy(rule: &Rule) -> Policy {
        Policy::from_yaml(rule.examples.policy, rule.id, &ids())
            .expect("an example's policy is valid")
    }

    /// Every rule fires on its example, at its default level, and not on its counterexample.
    #[test]
    fn every_rule_fires_on_its_example_and_not_on_its_counterexample() {
        for rule in CATALOGUE {
            let policy = example_policy(rule);
            let (subject, others) = example(rule.examples.fires);
            let findings = run_among_with(subject, &others, Phase::Validating, &policy);
            assert!(
                findings.iter().any(|f| f.rule == rule.id),
                "{} does not fire on its example: {findings:?}",
                rule.id
            );
            let (subject, others) = example(rule.examples.passes);
            let findings = run_among_with(subject, &others, Phase::Validating, &policy);
            assert!(
                findings.iter().all(|f| f.rule != rule.id),
                "{} fires on its counterexample: {findings:?}",
                rule.id
            );
        }
    }

    /// The text at `(line, column)` (1-based, columns in characters).
    fn text_at(text: &str, line: usize, column: usize) -> String {
        text.lines()
            .nth(line - 1)
            .map(|l| l.chars().skip(column - 1).collect())
            .unwrap_or_default()
    }

    /// The key a finding's field points at in the document: its last segment, or for a field
    /// the document does not hold (one a fix would add) the closest one it holds.
    fn expected_key(document: &serde_json::Value, field: &str) -> String {
        let pointer = crate::engine::positions::field_pointer(field).expect("a field path");
        let mut pointer = pointer.as_str();
        while document.pointer(pointer).is_none() {
            pointer = &pointer[..pointer.rfind('/').expect("an ancestor")];
        }
        let token = &pointer[pointer.rfind('/').map_or(0, |i| i + 1)..];
        token.replace("~1", "/").replace("~0", "~")
    }

    /// For findings of each rule, the reported line and column point at the offending key, in
    /// YAML (block style) and in JSON.
    #[test]
    fn every_rule_points_at_the_key_at_fault_in_yaml_and_json() {
        let mut checked = std::collections::BTreeSet::new();
        for rule in CATALOGUE {
            let (value, others) = trigger(rule.id);
            let documents: Vec<serde_json::Value> =
                others.iter().cloned().chain([value.clone()]).collect();
            let yaml: String = documents
                .iter()
                .map(|d| format!("---\n{}", serde_norway::to_string(d).unwrap()))
                .collect();
            // JSON documents, one per YAML document of the stream.
            let json: String = documents
                .iter()
                .map(|d| format!("---\n{}\n", serde_json::to_string_pretty(d).unwrap()))
                .collect();
            for (format, text) in [("yaml", &yaml), ("json", &json)] {
                let report = crate::engine::check_text("t", text, &example_policy(rule));
                let found: Vec<_> = report
                    .findings
                    .iter()
                    .filter(|f| f.rule == rule.id)
                    .collect();
                assert!(!found.is_empty(), "{} ({format}) does not fire", rule.id);
                for f in found {
                    let document = &documents[f.location.document - 1];
                    let at = text_at(text, f.region.start_line, f.region.start_column);
                    let Some(field) = &f.field else {
                        continue;
                    };
                    let key = expected_key(document, field);
                    let written = if format == "json" {
                        format!("\"{key}\"")
                    } else {
                        key.clone()
                    };
                    // A sequence item has no key: it points at the item.
                    let item = key.bytes().all(|b| b.is_ascii_digit());
                    checked.insert((rule.id, format));
                    assert!(
                        item || at.starts_with(&written),
                        "{} ({format}): {field} reported at {}:{} = {at:?}, expected {written}",
                        rule.id,
                        f.region.start_line,
                        f.region.start_column
                    );
                }
            }
        }
        // Every rule's trigger names a field, in both formats.
        assert_eq!(checked.len(), 2 * CATALOGUE.len(), "{checked:?}");
    }

    #[test]
    fn every_rule_can_be_switched_to_warn_and_off() {
        for rule in CATALOGUE {
            let (value, others) = trigger(rule.id);
            let run = |policy: &Policy| {
                of(
                    rule.id,
                    run_among_with(value.clone(), &others, Phase::Validating, policy),
                )
            };
            let fired = run(&example_policy(rule));
            assert!(
                !fired.is_empty(),
                "{} does not fire on its trigger",
                rule.id
            );
            // Warnings reach kubectl whole only within 120 characters.
            for f in fired.iter().filter(|f| f.level == Level::Warn) {
                let warning = format!("{}: {}", f.rule, f.message);
                let n = warning.chars().count();
                assert!(n <= 120, "{n} chars: {warning}");
            }
            let expected = match rule.default_action {
                Action::Deny => Level::Deny,
                _ => Level::Warn,
            };
            assert!(fired.iter().any(|f| f.level == expected), "{}", rule.id);

            let mut policy = example_policy(rule);
            policy.actions.insert(rule.id.into(), Action::Warn);
            let warned = run(&policy);
            assert_eq!(warned.len(), fired.len(), "{}", rule.id);
            assert!(warned.iter().all(|f| f.level == Level::Warn), "{}", rule.id);

            policy.actions.insert(rule.id.into(), Action::Off);
            assert!(run(&policy).is_empty(), "{}", rule.id);
        }
    }

    #[test]
    fn actions_warn_and_off() {
        let mut policy = Policy::default();
        policy
            .actions
            .insert("cookie-path-for-regex".into(), Action::Warn);
        let findings = run_with(sticky_regex(), Phase::Validating, &policy);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Warn);
        assert!(findings[0].fix.is_some(), "warn still offers the patch");
        policy
            .actions
            .insert("cookie-path-for-regex".into(), Action::Off);
        assert!(run_with(sticky_regex(), Phase::Validating, &policy).is_empty());
    }
}

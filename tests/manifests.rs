//! The install manifests, as `kubectl kustomize` renders them (`manifests/`, the cert-manager
//! and network-policy overlays), decode into their Kubernetes API types and agree with what the
//! server serves and needs; the container image builds the binary that CI tests.
//!
//! Needs `kubectl` (or `$KUBECTL`); `.ci/run` installs it.

use clap::Parser;
use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    Container, Namespace, PodSpec, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::LazyLock;
use sticky_guard::objects::kinds::{KINDS, Kind};
use sticky_guard::policy::Policy;
use sticky_guard::rules::MATCH_CONDITION_NAME;
use sticky_guard::rules::condition::{Answers, WEBHOOKS, Webhook, expression};

const NAMESPACE: &str = "sticky-guard";
const NAME: &str = "sticky-guard";
const TLS_SECRET: &str = "sticky-guard-tls";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `kubectl kustomize DIR` (kubectl from `$KUBECTL`, default `kubectl`).
fn kustomize(dir: &str) -> String {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(repo().join(dir))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{kubectl} kustomize` ({e}): these tests render the manifests with \
                 kubectl; install it (.ci/run does) or set KUBECTL to its path"
            )
        });
    assert!(
        out.status.success(),
        "`{kubectl} kustomize {dir}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("kustomize prints UTF-8")
}

/// The first place where `written` and `decoded` differ, as a field path: a field of the
/// manifest that the API type does not have (a typo, a field of another version) is dropped by
/// decoding and shows up here.
fn first_difference(written: &Value, decoded: &Value, path: &str) -> Option<String> {
    match (written, decoded) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let here = format!("{path}.{key}");
                match b.get(key) {
                    None => return Some(here),
                    Some(other) => {
                        if let Some(p) = first_difference(value, other, &here) {
                            return Some(p);
                        }
                    }
                }
            }
            b.keys()
                .find(|k| !a.contains_key(*k))
                .map(|k| format!("{path}.{k}"))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        _ if written == decoded => None,
        _ => Some(path.to_string()),
    }
}

/// Decodes one rendered object into its API type, naming the field on failure; fails too on a
/// field that the type does not know (decoding ignores those, the API server does not).
fn decode<T: DeserializeOwned + Serialize>(doc: &Value, id: &str) -> T {
    let typed: T = serde_path_to_error::deserialize(doc.clone())
        .unwrap_or_else(|e| panic!("{id}: field {}: {}", e.path(), e.inner()));
    let back = serde_json::to_value(&typed).unwrap();
    if let Some(path) = first_difference(doc, &back, "") {
        panic!(
            "{id}: field {path} does not survive decoding into the API type (unknown field or \
             wrong shape): written {}, decoded {}",
            doc.pointer(&pointer(&path)).unwrap_or(&Value::Null),
            back.pointer(&pointer(&path)).unwrap_or(&Value::Null)
        );
    }
    typed
}

/// `.a.b[0].c` → `/a/b/0/c`.
fn pointer(path: &str) -> String {
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// One rendering, every object decoded into its type.
#[derive(Default)]
struct Bundle {
    /// `Kind namespace/name` of every object, sorted.
    ids: Vec<String>,
    namespaces: Vec<Namespace>,
    quotas: Vec<ResourceQuota>,
    service_accounts: Vec<ServiceAccount>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    pdbs: Vec<PodDisruptionBudget>,
    mutating: Vec<MutatingWebhookConfiguration>,
    validating: Vec<ValidatingWebhookConfiguration>,
    network_policies: Vec<NetworkPolicy>,
    /// cert-manager.io/v1 Issuers and Certificates (no Rust types for them here).
    cert_manager: Vec<Value>,
    /// Every object as rendered, by id.
    raw: BTreeMap<String, Value>,
}

fn load(dir: &str) -> Bundle {
    let text = kustomize(dir);
    let mut bundle = Bundle::default();
    for document in serde_norway::Deserializer::from_str(&text) {
        let doc = Value::deserialize(document)
            .unwrap_or_else(|e| panic!("{dir}: kustomize printed YAML that does not parse: {e}"));
        if doc.is_null() {
            continue;
        }
        let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        let id = match doc["metadata"]["namespace"].as_str() {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        };
        let at = format!("{dir}: {id}");
        match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => bundle.namespaces.push(decode(&doc, &at)),
            ("v1", "ResourceQuota") => bundle.quotas.push(decode(&doc, &at)),
            ("v1", "ServiceAccount") => bundle.service_accounts.push(decode(&doc, &at)),
            ("v1", "Service") => bundle.services.push(decode(&doc, &at)),
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
                bundle.cluster_roles.push(decode(&doc, &at))
            }
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                bundle.cluster_role_bindings.push(decode(&doc, &at))
            }
            ("rbac.authorization.k8s.io/v1", "Role") => bundle.roles.push(decode(&doc, &at)),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
                bundle.role_bindings.push(decode(&doc, &at))
            }
            ("apps/v1", "Deployment") => bundle.deployments.push(decode(&doc, &at)),
            ("policy/v1", "PodDisruptionBudget") => bundle.pdbs.push(decode(&doc, &at)),
            ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
                bundle.mutating.push(decode(&doc, &at))
            }
            ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => {
                bundle.validating.push(decode(&doc, &at))
            }
            ("networking.k8s.io/v1", "NetworkPolicy") => {
                bundle.network_policies.push(decode(&doc, &at))
            }
            ("cert-manager.io/v1", "Issuer" | "Certificate") => {
                bundle.cert_manager.push(doc.clone())
            }
            _ => panic!("{at}: unexpected object of apiVersion `{api_version}`, kind `{kind}`"),
        }
        assert!(
            bundle.raw.insert(id.clone(), doc).is_none(),
            "{dir}: {id} twice"
        );
        bundle.ids.push(id);
    }
    bundle.ids.sort();
    bundle
}

static BASE: LazyLock<Bundle> = LazyLock::new(|| load("manifests"));
static CERT_MANAGER: LazyLock<Bundle> = LazyLock::new(|| load("manifests/overlays/cert-manager"));
static NETWORK_POLICY: LazyLock<Bundle> =
    LazyLock::new(|| load("manifests/overlays/network-policy"));

impl Bundle {
    fn deployment(&self) -> &Deployment {
        assert_eq!(self.deployments.len(), 1);
        &self.deployments[0]
    }

    fn pod(&self) -> &PodSpec {
        self.deployment()
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
    }

    fn container(&self) -> &Container {
        let pod = self.pod();
        assert_eq!(pod.containers.len(), 1, "one container");
        &pod.containers[0]
    }

    fn pod_labels(&self) -> Value {
        let labels = self
            .deployment()
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref();
        json!(labels.unwrap().labels)
    }

    fn service(&self) -> &Service {
        assert_eq!(self.services.len(), 1);
        &self.services[0]
    }

    fn mutating(&self) -> &MutatingWebhookConfiguration {
        assert_eq!(self.mutating.len(), 1);
        &self.mutating[0]
    }

    fn validating(&self) -> &ValidatingWebhookConfiguration {
        assert_eq!(self.validating.len(), 1);
        &self.validating[0]
    }

    fn cert_manager_object(&self, kind: &str, name: &str) -> &Value {
        self.cert_manager
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    /// What the ServiceAccount may do, one line per (binding, role, group, resource):
    /// `scope role group/resource [verbs] names=[resourceNames]`, sorted.
    fn grants(&self) -> Vec<String> {
        let sa_subject = json!([{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]);
        let mut grants = Vec::new();
        let mut add = |scope: &str, role: &str, rules: &[PolicyRule]| {
            for rule in rules {
                assert!(rule.non_resource_urls.is_none(), "{role}: nonResourceURLs");
                let mut verbs = rule.verbs.clone();
                verbs.sort();
                let mut names = rule.resource_names.clone().unwrap_or_default();
                names.sort();
                for group in rule.api_groups.as_deref().unwrap_or_default() {
                    for resource in rule.resources.as_deref().unwrap_or_default() {
                        grants.push(format!(
                            "{scope} {role} {group}/{resource} [{}] names=[{}]",
                            verbs.join(" "),
                            names.join(" ")
                        ));
                    }
                }
            }
        };
        for binding in &self.cluster_role_bindings {
            let name = binding.metadata.name.as_deref().unwrap();
            assert_eq!(json!(binding.subjects), sa_subject, "{name}: subjects");
            assert_eq!(
                binding.role_ref.api_group.as_deref(),
                Some("rbac.authorization.k8s.io")
            );
            assert_eq!(binding.role_ref.kind, "ClusterRole", "{name}");
            let role = self
                .cluster_roles
                .iter()
                .find(|r| r.metadata.name == Some(binding.role_ref.name.clone()))
                .unwrap_or_else(|| panic!("{name} binds a ClusterRole that is not installed"));
            assert!(role.aggregation_rule.is_none());
            add(
                "cluster",
                &binding.role_ref.name,
                role.rules.as_deref().unwrap(),
            );
        }
        for binding in &self.role_bindings {
            let name = binding.metadata.name.as_deref().unwrap();
            let ns = binding.metadata.namespace.as_deref().unwrap();
            assert_eq!(json!(binding.subjects), sa_subject, "{name}: subjects");
            assert_eq!(binding.role_ref.kind, "Role", "{name}");
            let role = self
                .roles
                .iter()
                .find(|r| {
                    r.metadata.name == Some(binding.role_ref.name.clone())
                        && r.metadata.namespace.as_deref() == Some(ns)
                })
                .unwrap_or_else(|| panic!("{name} binds a Role that is not installed"));
            add(ns, &binding.role_ref.name, role.rules.as_deref().unwrap());
        }
        // Every role is bound: nothing installed that grants nothing, or grants something else.
        assert_eq!(
            self.cluster_roles.len() + self.roles.len(),
            self.cluster_role_bindings.len() + self.role_bindings.len(),
            "one binding per role"
        );
        grants.sort();
        grants
    }
}

// ---------------------------------------------------------------------------------------------
// What each rendering holds

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

const BASE_IDS: &[&str] = &[
    "Namespace sticky-guard",
    "ResourceQuota sticky-guard/sticky-guard-critical-pods",
    "ServiceAccount sticky-guard/sticky-guard",
    "ClusterRole sticky-guard-view",
    "ClusterRoleBinding sticky-guard-view",
    "ClusterRole sticky-guard-webhook-ca",
    "ClusterRoleBinding sticky-guard-webhook-ca",
    "Role sticky-guard/sticky-guard-certs",
    "RoleBinding sticky-guard/sticky-guard-certs",
    "ClusterRole sticky-guard-reports",
    "ClusterRoleBinding sticky-guard-reports",
    "Role sticky-guard/sticky-guard-reports-lease",
    "RoleBinding sticky-guard/sticky-guard-reports-lease",
    "Deployment sticky-guard/sticky-guard",
    "Service sticky-guard/sticky-guard",
    "PodDisruptionBudget sticky-guard/sticky-guard",
    "MutatingWebhookConfiguration sticky-guard",
    "ValidatingWebhookConfiguration sticky-guard",
];

const CERT_RBAC_IDS: &[&str] = &[
    "ClusterRole sticky-guard-webhook-ca",
    "ClusterRoleBinding sticky-guard-webhook-ca",
    "Role sticky-guard/sticky-guard-certs",
    "RoleBinding sticky-guard/sticky-guard-certs",
];

#[test]
fn base_renders_exactly_the_install() {
    assert_eq!(BASE.ids, ids(BASE_IDS));
}

#[test]
fn cert_manager_overlay_adds_the_certificate_chain_and_drops_the_certificate_rbac() {
    let mut expected: Vec<&str> = BASE_IDS
        .iter()
        .copied()
        .filter(|id| !CERT_RBAC_IDS.contains(id))
        .collect();
    expected.extend([
        "Issuer sticky-guard/sticky-guard-selfsigned",
        "Certificate sticky-guard/sticky-guard-ca",
        "Issuer sticky-guard/sticky-guard-ca",
        "Certificate sticky-guard/sticky-guard-serving",
    ]);
    assert_eq!(CERT_MANAGER.ids, ids(&expected));
}

#[test]
fn network_policy_overlay_is_the_base_plus_one_network_policy() {
    let mut expected = BASE_IDS.to_vec();
    expected.push("NetworkPolicy sticky-guard/sticky-guard");
    assert_eq!(NETWORK_POLICY.ids, ids(&expected));
    for id in &BASE.ids {
        assert_eq!(NETWORK_POLICY.raw[id], BASE.raw[id], "{id} changed");
    }
}

// ---------------------------------------------------------------------------------------------
// Namespace

#[test]
fn namespace_enforces_the_restricted_pod_security_standard() {
    assert_eq!(BASE.namespaces.len(), 1);
    let ns = &BASE.namespaces[0];
    assert_eq!(ns.metadata.name.as_deref(), Some(NAMESPACE));
    assert_eq!(
        json!(ns.metadata.labels),
        json!({
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": "latest",
        })
    );
    // Every namespaced object lives there.
    for id in &BASE.ids {
        if let Some((_, rest)) = id.split_once(' ')
            && let Some((ns, _)) = rest.split_once('/')
        {
            assert_eq!(ns, NAMESPACE, "{id}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks

fn namespace_selector() -> Value {
    json!({"matchExpressions": [{
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "kube-node-lease", "sticky-guard"],
    }]})
}

/// The kinds table sends each judged kind to the webhooks it names, and the view ClusterRole
/// grants get/list/watch on exactly the kinds the live view watches.
#[test]
fn webhooks_and_view_role_follow_the_kinds_table() {
    let judged: Vec<Kind> = KINDS
        .iter()
        .filter(|k| k.webhooks.is_some())
        .map(|k| k.kind)
        .collect();
    assert_eq!(
        judged,
        [
            Kind::Ingress,
            Kind::Service,
            Kind::HttpRoute,
            Kind::GrpcRoute
        ]
    );
    let mutating: Vec<Value> = BASE
        .mutating()
        .webhooks
        .iter()
        .flatten()
        .flat_map(|w| w.rules.iter().flatten().map(|r| json!(r)))
        .collect();
    let expected_mutating: Vec<Value> = KINDS
        .iter()
        .filter(|k| k.webhooks.is_some_and(|w| w.mutate))
        .map(|k| k.webhook_rule())
        .collect();
    assert_eq!(mutating, expected_mutating);
    // Each kind goes to a failing-closed and a failing-open validating webhook (their
    // matchConditions split the writes): the `.validate` ones list every judged kind once.
    let validating: Vec<Value> = BASE
        .validating()
        .webhooks
        .iter()
        .flatten()
        .filter(|w| w.name.contains(".validate."))
        .flat_map(|w| w.rules.iter().flatten().map(|r| json!(r)))
        .collect();
    let expected_validating: Vec<Value> = KINDS
        .iter()
        .filter(|k| k.webhooks.is_some_and(|w| w.validate))
        .map(|k| k.webhook_rule())
        .collect();
    assert_eq!(validating, expected_validating);

    let view = BASE
        .cluster_roles
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some("sticky-guard-view"))
        .expect("the view ClusterRole");
    let granted: Vec<Value> = view.rules.iter().flatten().map(|r| json!(r)).collect();
    let mut expected: Vec<Value> = KINDS.iter().map(|k| k.view_rule()).collect();
    let key = |v: &Value| v["resources"].to_string();
    let mut granted_sorted = granted.clone();
    granted_sorted.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(granted_sorted, expected);
}

fn client_config(path: &str) -> Value {
    json!({"service": {"name": NAME, "namespace": NAMESPACE, "path": path, "port": 443}})
}

fn assert_same(actual: &Value, expected: &Value, what: &str) {
    if let Some(path) = first_difference(actual, expected, "") {
        panic!(
            "{what}: differs at `{path}`: is {}, expected {}\nwhole: {actual:#}",
            actual.pointer(&pointer(&path)).unwrap_or(&Value::Null),
            expected.pointer(&pointer(&path)).unwrap_or(&Value::Null),
        );
    }
}

/// The webhook of `manifests/base/webhooks.yaml` that `webhook` declares, in full: the
/// settings every webhook shares, its kinds' `rules` (from the kinds table), its failurePolicy
/// and the matchConditions generated for the default policy.
fn expected_webhook(webhook: &Webhook) -> Value {
    let rules: Vec<Value> = webhook
        .kinds
        .iter()
        .map(|k| k.info().webhook_rule())
        .collect();
    let path = if webhook.mutating() {
        "/mutate"
    } else {
        "/validate"
    };
    let mut expected = json!({
        "name": webhook.name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": webhook.failure_policy(),
        "matchPolicy": "Equivalent",
        "timeoutSeconds": 3,
        "namespaceSelector": namespace_selector(),
        "rules": rules,
        "matchConditions": [MatchCondition {
            name: MATCH_CONDITION_NAME.to_string(),
            expression: expression(webhook, &Policy::default()),
        }],
        "clientConfig": client_config(path),
    });
    if webhook.mutating() {
        expected["reinvocationPolicy"] = json!("IfNeeded");
    }
    expected
}

/// Every webhook of both configurations is the one the catalogue declares, in order: the
/// mutating ones fail open; of each kind's two validating webhooks, `.validate` fails closed
/// on the writes a deny rule can fire on and `.warn` fails open on the rest a warn rule can
/// fire on. No caBundle: the server patches it.
#[test]
fn webhooks_are_the_declared_ones_with_their_match_conditions() {
    let mutating: Vec<Value> = BASE
        .mutating()
        .webhooks
        .iter()
        .flatten()
        .map(|w| json!(w))
        .collect();
    let validating: Vec<Value> = BASE
        .validating()
        .webhooks
        .iter()
        .flatten()
        .map(|w| json!(w))
        .collect();
    for (is_mutating, listed) in [(true, mutating), (false, validating)] {
        let declared: Vec<&Webhook> = WEBHOOKS
            .iter()
            .filter(|w| w.mutating() == is_mutating)
            .collect();
        let names: Vec<&str> = listed.iter().filter_map(|w| w["name"].as_str()).collect();
        let wanted: Vec<&str> = declared.iter().map(|w| w.name).collect();
        assert_eq!(names, wanted);
        for (actual, webhook) in listed.iter().zip(declared) {
            assert_same(actual, &expected_webhook(webhook), webhook.name);
        }
    }
    for config in [&BASE.mutating().metadata, &BASE.validating().metadata] {
        assert_eq!(config.name.as_deref(), Some(NAME));
        assert_eq!(config.annotations, None);
    }
    // Only the `.validate` webhooks fail closed.
    for webhook in WEBHOOKS {
        assert_eq!(
            webhook.failure_policy() == "Fail",
            webhook.answers == Answers::Denials && webhook.name.contains(".validate."),
            "{}",
            webhook.name
        );
    }
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|d| !d.is_null())
        .collect()
}

/// `webhook name → field` over the webhooks of the webhook configurations in `documents`.
fn webhook_field(documents: &[Value], field: &str) -> BTreeMap<String, Value> {
    documents
        .iter()
        .filter(|d| {
            d["kind"]
                .as_str()
                .is_some_and(|k| k.ends_with("WebhookConfiguration"))
        })
        .flat_map(|d| d["webhooks"].as_array().cloned().unwrap_or_default())
        .map(|w| {
            (
                w["name"].as_str().unwrap_or("").to_string(),
                w[field].clone(),
            )
        })
        .collect()
}

/// `sticky-guard rules --output match-conditions` with `args`, outside any policy environment.
fn generated_match_conditions(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["rules", "--output", "match-conditions"])
        .args(args)
        .env_remove("STICKY_GUARD_CONFIG")
        .env_remove("STICKY_GUARD_ANNOTATION_PREFIX")
        .env_remove("STICKY_GUARD_INGRESS_CLASSES")
        .env_remove("STICKY_GUARD_RULES")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// webhooks.yaml carries, for every webhook, the matchConditions `sticky-guard rules --output
/// match-conditions` prints; under another policy that output is a kustomize patch that puts
/// the policy's conditions in place and changes nothing else.
#[test]
fn match_conditions_are_the_rules_command_output_and_patch_with_kustomize() {
    let base = yaml_documents(&read("manifests/base/webhooks.yaml"));
    let printed = yaml_documents(&generated_match_conditions(&[]));
    assert_eq!(printed.len(), 2);
    let generated = webhook_field(&printed, "matchConditions");
    assert_eq!(generated.len(), WEBHOOKS.len());
    assert_eq!(
        webhook_field(&base, "matchConditions"),
        generated,
        "manifests/base/webhooks.yaml does not carry `sticky-guard rules --output \
         match-conditions` (regenerate it)"
    );

    let other = generated_match_conditions(&[
        "--annotation-prefix",
        "example.com",
        "--ingress-class",
        "web",
    ]);
    assert!(other.contains("example.com/affinity") && other.contains(r#"["web"]"#));
    assert!(!other.contains("nginx.ingress.kubernetes.io/"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("match-conditions.yaml"), &other).unwrap();
    // kustomize takes a base by relative path only: up to `/`, then down to the repository.
    let up = "../".repeat(dir.path().components().count() - 1);
    let base_dir = format!(
        "{up}{}",
        repo()
            .join("manifests/base")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("resources:\n  - {base_dir}\npatches:\n  - path: match-conditions.yaml\n"),
    )
    .unwrap();
    let rendered = yaml_documents(&kustomize(dir.path().to_str().unwrap()));
    assert_eq!(
        webhook_field(&rendered, "matchConditions"),
        webhook_field(&yaml_documents(&other), "matchConditions")
    );
    for field in ["failurePolicy", "rules", "clientConfig"] {
        assert_eq!(
            webhook_field(&rendered, field),
            webhook_field(&base, field),
            "{field}"
        );
    }
}

#[test]
fn webhooks_call_the_service_port_that_reaches_the_https_listener() {
    let service = BASE.service();
    let container = BASE.container();
    for (path, reference) in BASE
        .mutating()
        .webhooks
        .iter()
        .flatten()
        .map(|w| (w.name.as_str(), &w.client_config))
        .chain(
            BASE.validating()
                .webhooks
                .iter()
                .flatten()
                .map(|w| (w.name.as_str(), &w.client_config)),
        )
    {
        let svc = reference.service.as_ref().unwrap();
        assert_eq!(
            (svc.name.as_str(), svc.namespace.as_str()),
            (
                service.metadata.name.as_deref().unwrap(),
                service.metadata.namespace.as_deref().unwrap()
            ),
            "{path}"
        );
        let port = service
            .spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .find(|p| Some(p.port) == svc.port)
            .unwrap_or_else(|| panic!("{path}: the Service has no port {:?}", svc.port));
        assert_eq!(
            container_port(container, port.target_port.as_ref().unwrap()),
            8443,
            "{path}: the HTTPS listener (--listen 0.0.0.0:8443)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RBAC

#[test]
fn service_account_mounts_no_token_unless_the_pod_asks() {
    assert_eq!(BASE.service_accounts.len(), 1);
    let sa = &BASE.service_accounts[0];
    assert_eq!(sa.metadata.name.as_deref(), Some(NAME));
    assert_eq!(sa.metadata.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(sa.automount_service_account_token, Some(false));
    let pod = BASE.pod();
    assert_eq!(pod.service_account_name.as_deref(), Some(NAME));
    assert_eq!(pod.automount_service_account_token, Some(true));
}

const VIEW_GRANTS: &[&str] = &[
    "cluster sticky-guard-view /services [get list watch] names=[]",
    "cluster sticky-guard-view cloud.google.com/backendconfigs [get list watch] names=[]",
    "cluster sticky-guard-view gateway.networking.k8s.io/gatewayclasses [get list watch] names=[]",
    "cluster sticky-guard-view gateway.networking.k8s.io/gateways [get list watch] names=[]",
    "cluster sticky-guard-view gateway.networking.k8s.io/grpcroutes [get list watch] names=[]",
    "cluster sticky-guard-view gateway.networking.k8s.io/httproutes [get list watch] names=[]",
    "cluster sticky-guard-view gateway.networking.k8s.io/referencegrants [get list watch] names=[]",
    "cluster sticky-guard-view networking.k8s.io/ingressclasses [get list watch] names=[]",
    "cluster sticky-guard-view networking.k8s.io/ingresses [get list watch] names=[]",
];

/// What `serve --reports` needs: its reports in every namespace, and its Lease.
const REPORT_GRANTS: &[&str] = &[
    "cluster sticky-guard-reports openreports.io/reports [create delete list patch] names=[]",
    "cluster sticky-guard-reports wgpolicyk8s.io/policyreports [create delete list patch] names=[]",
    "sticky-guard sticky-guard-reports-lease coordination.k8s.io/leases [create] names=[]",
    "sticky-guard sticky-guard-reports-lease coordination.k8s.io/leases [get patch] names=[sticky-guard-reports]",
];

#[test]
fn rbac_grants_exactly_the_view_the_webhook_ca_the_certificate_secret_and_the_reports() {
    let mut expected = VIEW_GRANTS.to_vec();
    expected.extend(REPORT_GRANTS);
    expected.extend([
        "cluster sticky-guard-webhook-ca admissionregistration.k8s.io/mutatingwebhookconfigurations [get patch] names=[sticky-guard]",
        "cluster sticky-guard-webhook-ca admissionregistration.k8s.io/validatingwebhookconfigurations [get patch] names=[sticky-guard]",
        "sticky-guard sticky-guard-certs /secrets [create] names=[]",
        "sticky-guard sticky-guard-certs /secrets [get update] names=[sticky-guard-tls]",
    ]);
    expected.sort();
    assert_eq!(BASE.grants(), expected);
}

#[test]
fn with_cert_manager_the_server_may_only_read_the_cluster_view_and_write_reports() {
    let grants = CERT_MANAGER.grants();
    let mut expected = VIEW_GRANTS.to_vec();
    expected.extend(REPORT_GRANTS);
    expected.sort();
    assert_eq!(grants, expected);
    for grant in &grants {
        assert!(!grant.contains("secrets") && !grant.contains("webhookconfigurations"));
    }
}

// ---------------------------------------------------------------------------------------------
// Deployment, Service, PodDisruptionBudget

/// The container port a Service targetPort or probe port names.
fn container_port(container: &Container, port: &IntOrString) -> i32 {
    match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => {
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("no container port named {name}"))
                .container_port
        }
    }
}

#[test]
fn deployment_runs_two_spread_replicas_that_survive_a_rollout() {
    let deployment = BASE.deployment();
    assert_eq!(deployment.metadata.name.as_deref(), Some(NAME));
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(json!(spec.selector.match_labels), BASE.pod_labels());
    assert!(spec.selector.match_expressions.is_none());
    assert_eq!(
        json!(spec.strategy),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    );
    let pod = BASE.pod();
    assert_eq!(
        json!(pod.topology_spread_constraints),
        json!([{
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": BASE.pod_labels()},
        }])
    );
    assert_eq!(pod.affinity, None, "the spread says it");
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-cluster-critical")
    );
    // GKE admits system-cluster-critical pods outside kube-system only under a quota scoped to
    // that class; it must leave room for the replicas and the surge pod of a rollout.
    assert_eq!(BASE.quotas.len(), 1);
    let quota = BASE.quotas[0].spec.as_ref().unwrap();
    assert_eq!(
        json!(quota.scope_selector),
        json!({"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                     "values": ["system-cluster-critical"]}]})
    );
    let pods: i32 = quota.hard.as_ref().unwrap()["pods"].0.parse().unwrap();
    assert!(pods > spec.replicas.unwrap(), "quota of {pods} pods");
    // --shutdown-delay (5 s) then up to 10 s of draining must fit in the grace period.
    let grace = pod.termination_grace_period_seconds.unwrap();
    assert!(grace > 15, "terminationGracePeriodSeconds {grace}");
    assert_eq!(grace, 30);
}

#[test]
fn pod_meets_the_restricted_profile_and_runs_as_the_image_user() {
    let pod = BASE.pod();
    assert_eq!(
        json!(pod.security_context),
        json!({
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
    assert!(pod.host_network.is_none() && pod.host_pid.is_none() && pod.host_ipc.is_none());
    assert_eq!(
        pod.volumes, None,
        "read-only root filesystem and no writable volume"
    );
    let container = BASE.container();
    assert_eq!(
        json!(container.security_context),
        json!({
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
        })
    );
    assert_eq!(container.volume_mounts, None);
}

#[test]
fn container_serves_what_the_service_and_the_probes_expect() {
    let container = BASE.container();
    assert_eq!(container.image.as_deref(), Some("sticky-guard:0.1.0"));
    assert_eq!(
        json!(container.args),
        json!(["serve", "--manage-certs", "--log-format=json"])
    );
    assert_eq!(container.command, None, "the image's ENTRYPOINT runs");
    assert_eq!(
        json!(container.env),
        json!([{
            "name": "STICKY_GUARD_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        }, {
            "name": "STICKY_GUARD_REPORTS_IDENTITY",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
        }])
    );
    assert_eq!(
        json!(container.ports),
        json!([
            {"name": "https", "containerPort": 8443, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 8080, "protocol": "TCP"},
        ])
    );
    let readiness = container.readiness_probe.as_ref().unwrap();
    let get = readiness.http_get.as_ref().unwrap();
    assert_eq!(get.path.as_deref(), Some("/readyz"));
    assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
    assert_eq!(container_port(container, &get.port), 8443);
    assert_eq!(readiness.period_seconds, Some(5));
    assert_eq!(readiness.failure_threshold, Some(2));
    let liveness = container.liveness_probe.as_ref().unwrap();
    let get = liveness.http_get.as_ref().unwrap();
    assert_eq!(get.path.as_deref(), Some("/healthz"));
    assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
    assert_eq!(container_port(container, &get.port), 8443);
    assert_eq!(liveness.period_seconds, Some(10));
    assert_eq!(liveness.failure_threshold, Some(3));
    assert!(liveness.initial_delay_seconds.unwrap() <= 10);
    assert_eq!(container.startup_probe, None);
    assert_eq!(
        json!(container.resources),
        json!({
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": "512Mi"},
        }),
        "no CPU limit"
    );

    let service = BASE.service();
    let spec = service.spec.as_ref().unwrap();
    assert_eq!(json!(spec.selector), BASE.pod_labels());
    assert_eq!(
        json!(spec.ports),
        json!([
            {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"},
            {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"},
        ])
    );
    let targets: Vec<i32> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| container_port(container, p.target_port.as_ref().unwrap()))
        .collect();
    assert_eq!(
        targets,
        [8443, 8080],
        "--listen and --metrics-listen defaults"
    );
}

#[test]
fn disruption_budget_keeps_one_replica() {
    assert_eq!(BASE.pdbs.len(), 1);
    let spec = BASE.pdbs[0].spec.as_ref().unwrap();
    assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
    assert_eq!(spec.max_unavailable, None);
    assert_eq!(
        json!(spec.selector),
        json!({"matchLabels": BASE.pod_labels()})
    );
    assert_eq!(
        spec.unhealthy_pod_eviction_policy.as_deref(),
        Some("AlwaysAllow")
    );
    let replicas = BASE.deployment().spec.as_ref().unwrap().replicas.unwrap();
    assert!(
        1 < replicas,
        "a budget of 1 out of {replicas} allows a drain"
    );
}

// ---------------------------------------------------------------------------------------------
// cert-manager overlay

#[test]
fn cert_manager_chain_bootstraps_a_ca_that_signs_the_serving_certificate() {
    let b = &*CERT_MANAGER;
    for object in &b.cert_manager {
        assert_eq!(object["metadata"]["namespace"], NAMESPACE);
    }
    let selfsigned = b.cert_manager_object("Issuer", "sticky-guard-selfsigned");
    assert_eq!(selfsigned["spec"], json!({"selfSigned": {}}));
    let ca = b.cert_manager_object("Certificate", "sticky-guard-ca");
    assert_eq!(
        ca["spec"],
        json!({
            "isCA": true,
            "commonName": "sticky-guard-ca",
            "secretName": "sticky-guard-ca",
            "duration": "8760h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Never"},
            "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": "sticky-guard-selfsigned"},
        })
    );
    let ca_issuer = b.cert_manager_object("Issuer", "sticky-guard-ca");
    assert_eq!(
        ca_issuer["spec"],
        json!({"ca": {"secretName": "sticky-guard-ca"}})
    );
    assert_eq!(
        ca_issuer["spec"]["ca"]["secretName"],
        ca["spec"]["secretName"]
    );

    let serving = b.cert_manager_object("Certificate", "sticky-guard-serving");
    assert_eq!(
        serving["spec"],
        json!({
            "secretName": TLS_SECRET,
            "dnsNames": [
                "sticky-guard",
                "sticky-guard.sticky-guard",
                "sticky-guard.sticky-guard.svc",
                "sticky-guard.sticky-guard.svc.cluster.local",
            ],
            "usages": ["server auth"],
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": "sticky-guard-ca"},
        })
    );
    // The API server connects to <service>.<namespace>.svc: the certificate must name it.
    let svc = b.mutating().webhooks.as_ref().unwrap()[0]
        .client_config
        .service
        .clone()
        .unwrap();
    let host = format!("{}.{}.svc", svc.name, svc.namespace);
    assert!(
        serving["spec"]["dnsNames"]
            .as_array()
            .unwrap()
            .contains(&json!(host))
    );
}

#[test]
fn cert_manager_injects_the_serving_certificates_ca_into_both_configurations() {
    let b = &*CERT_MANAGER;
    let expected = json!({"cert-manager.io/inject-ca-from": "sticky-guard/sticky-guard-serving"});
    assert_eq!(json!(b.mutating().metadata.annotations), expected);
    assert_eq!(json!(b.validating().metadata.annotations), expected);
    // namespace/name of a Certificate that writes the Secret the server reads.
    let value = expected["cert-manager.io/inject-ca-from"].as_str().unwrap();
    let (ns, name) = value.split_once('/').unwrap();
    let certificate = b.cert_manager_object("Certificate", name);
    assert_eq!(certificate["metadata"]["namespace"], ns);
    assert_eq!(certificate["spec"]["secretName"], TLS_SECRET);
    // The webhooks themselves are the base's, with no caBundle of their own.
    assert_eq!(
        json!(b.mutating().webhooks),
        json!(BASE.mutating().webhooks)
    );
    assert_eq!(
        json!(b.validating().webhooks),
        json!(BASE.validating().webhooks)
    );
}

#[test]
fn cert_manager_deployment_serves_the_mounted_secret() {
    let b = &*CERT_MANAGER;
    let container = b.container();
    let args: Vec<&str> = container
        .args
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    assert_eq!(
        args,
        [
            "serve",
            "--tls-cert=/tls/tls.crt",
            "--tls-key=/tls/tls.key",
            "--log-format=json"
        ]
    );
    assert_eq!(
        json!(b.pod().volumes),
        json!([{"name": "tls", "secret": {"secretName": TLS_SECRET}}])
    );
    assert_eq!(
        json!(container.volume_mounts),
        json!([{"name": "tls", "mountPath": "/tls", "readOnly": true}])
    );
    // The files the args name are in that mount.
    for flag in ["--tls-cert=", "--tls-key="] {
        let file = args.iter().find_map(|a| a.strip_prefix(flag)).unwrap();
        assert!(file.starts_with("/tls/"), "{flag}{file}");
    }
    // Everything else is the base Deployment.
    let strip = |bundle: &Bundle| {
        let mut d = json!(bundle.deployment());
        let pod = &mut d["spec"]["template"]["spec"];
        pod.as_object_mut().unwrap().remove("volumes");
        let c = pod["containers"][0].as_object_mut().unwrap();
        c.remove("args");
        c.remove("volumeMounts");
        d
    };
    assert_same(&strip(b), &strip(&BASE), "cert-manager Deployment");
    assert_eq!(
        b.raw["Service sticky-guard/sticky-guard"],
        BASE.raw["Service sticky-guard/sticky-guard"]
    );
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicy component

#[test]
fn network_policy_opens_the_webhook_port_to_all_and_metrics_to_monitoring() {
    let b = &*NETWORK_POLICY;
    assert_eq!(b.network_policies.len(), 1);
    let policy = &b.network_policies[0];
    let spec = policy.spec.as_ref().unwrap();
    assert_eq!(
        json!(spec.pod_selector),
        json!({"matchLabels": b.pod_labels()})
    );
    assert_eq!(json!(spec.policy_types), json!(["Ingress"]));
    assert_eq!(spec.egress, None);
    assert_eq!(
        json!(spec.ingress),
        json!([
            {"ports": [{"protocol": "TCP", "port": 8443}]},
            {
                "from": [{"namespaceSelector": {"matchLabels": {"sticky-guard.dev/monitoring": "true"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}],
            },
        ])
    );
    // Those are the container's https and metrics ports.
    let container = b.container();
    let https = container_port(container, &IntOrString::String("https".into()));
    let metrics = container_port(container, &IntOrString::String("metrics".into()));
    assert_eq!((https, metrics), (8443, 8080));
}

// ---------------------------------------------------------------------------------------------
// Container image and CI

/// Lines that are not comments or blank.
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn image_and_ci_build_the_same_release_binary() {
    let build = read(".ci/build-release");
    assert!(build.starts_with("#!/usr/bin/env bash\n"));
    let build_lines = code_lines(&build);
    assert!(build_lines.contains(&"set -euo pipefail"));
    assert!(build_lines.contains(&"cargo build --release --locked --bin sticky-guard"));

    let dockerfile = read("Dockerfile");
    let lines = code_lines(&dockerfile);
    let stages: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("FROM "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert_eq!(lines[stages[0]], "FROM rust:1.95-slim-bookworm AS build");
    let build_stage = &lines[stages[0]..stages[1]];
    assert!(build_stage.contains(&"COPY . ."));
    assert!(build_stage.contains(&"RUN bash .ci/build-release"));
    let runtime = &lines[stages[1]..];
    assert_eq!(runtime[0], "FROM gcr.io/distroless/cc-debian12:nonroot");
    assert!(runtime.contains(&"COPY --from=build /src/target/release/sticky-guard /sticky-guard"));
    assert!(runtime.contains(&"ENTRYPOINT [\"/sticky-guard\"]"));
    assert!(runtime.contains(&"CMD [\"serve\", \"--manage-certs\"]"));
    // The image's user is the one the Deployment runs as, and it exposes the container ports.
    let pod_security = json!(BASE.pod().security_context);
    let user = format!(
        "USER {}:{}",
        pod_security["runAsUser"], pod_security["runAsGroup"]
    );
    assert!(runtime.contains(&user.as_str()), "{user}");
    let ports: Vec<String> = BASE
        .container()
        .ports
        .iter()
        .flatten()
        .map(|p| p.container_port.to_string())
        .collect();
    assert!(runtime.contains(&format!("EXPOSE {}", ports.join(" ")).as_str()));

    // The toolchain of the build stage is at least the crate's rust-version.
    let cargo_toml = read("Cargo.toml");
    let rust_version = cargo_toml
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap();
    let minor = |v: &str| v.split('.').nth(1).unwrap().parse::<u32>().unwrap();
    assert!(minor("1.95") >= minor(rust_version));

    let dockerignore = read(".dockerignore");
    for entry in ["target", ".git", "certs/dev", "certs/cluster"] {
        assert!(dockerignore.lines().any(|l| l == entry), "{entry}");
    }

    // CI runs the same script, then tests the binary it built.
    let ci = read(".ci/run");
    let ci_lines = code_lines(&ci);
    let built = ci_lines
        .iter()
        .position(|l| *l == "bash .ci/build-release")
        .expect(".ci/run runs .ci/build-release");
    assert!(
        ci_lines[built..]
            .iter()
            .any(|l| l.starts_with("target/release/sticky-guard check ")),
        ".ci/run smoke-tests the release binary"
    );
}

/// Every `manifests/...` path README.md and docs/ name exists.
#[test]
fn readme_names_manifest_paths_that_exist() {
    let mut texts = vec![("README.md".to_string(), read("README.md"))];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
            texts.push((name.clone(), read(&name)));
        }
    }
    let mut seen = 0;
    for (name, readme) in &texts {
        for (i, _) in readme.match_indices("manifests/") {
            if i > 0
                && (readme.as_bytes()[i - 1].is_ascii_alphanumeric()
                    || readme.as_bytes()[i - 1] == b'/'
                    || readme.as_bytes()[i - 1] == b'.')
            {
                continue;
            }
            let path: String = readme[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_./".contains(*c))
                .collect();
            let path = path.trim_end_matches('.');
            assert!(repo().join(path).exists(), "{name} names {path}");
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "README.md and docs/ document manifests/ and its overlays"
    );
}

/// The flags and environment variables the manifests pass are ones `serve` takes, and the
/// arguments parse together (no conflicting flags).
#[test]
fn serve_takes_the_flags_and_environment_the_manifests_pass() {
    let out = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for bundle in [&*BASE, &*CERT_MANAGER] {
        let container = bundle.container();
        let args = container.args.clone().unwrap_or_default();
        let parsed = sticky_guard::cli::Cli::try_parse_from(
            std::iter::once("sticky-guard".to_string()).chain(args.iter().cloned()),
        );
        assert!(parsed.is_ok(), "{args:?}: {}", parsed.err().unwrap());
        for arg in container.args.iter().flatten().skip(1) {
            let flag = arg.split('=').next().unwrap();
            assert!(help.contains(flag), "`serve --help` lists no {flag}");
        }
        for env in container.env.iter().flatten() {
            assert!(
                help.contains(&format!("[env: {}=", env.name)),
                "`serve --help` lists no {}",
                env.name
            );
        }
    }
}

//! Findings as Kubernetes policy reports, the objects Kyverno, Kubewarden and Trivy write and
//! Policy Reporter and `kubectl get` display: `openreports.io/v1alpha1` `Report` or its
//! predecessor `wgpolicyk8s.io/v1alpha2` `PolicyReport`.
//!
//! Shape (openreports/reports-api v0.2.1 `apis/openreports.io/v1alpha1/report_types.go`; the
//! wgpolicyk8s.io v1alpha2 PolicyReport has the same fields): `scope` (an ObjectReference),
//! `summary` (`pass`, `fail`, `warn`, `error`, `skip`) and `results`, each with `source`,
//! `policy`, `rule`, `category`, `severity` (`critical|high|medium|low|info`), `timestamp`
//! (`{seconds, nanos}`), `result` (`pass|fail|warn|error|skip`), `scored`, `resources`
//! (ObjectReferences) and `message`.
//!
//! Decisions:
//! - **One report per object with findings**, in the object's namespace, scoped to it: Kyverno
//!   1.10 and later write one per resource, and Policy Reporter shows a resource's results
//!   together. The report is named `sticky-guard-<uid>` (the object's uid; without one,
//!   `sticky-guard-<kind>-<name>`, cut to fit with a hash), and labelled
//!   [`MANAGED_BY_LABEL`]`: sticky-guard` so that the writer finds its own.
//! - **No `pass` results**: an object without findings has no report. The reports count the
//!   objects with a problem, not every Service and Ingress of the cluster, which keeps the
//!   writes (and Policy Reporter's pages) proportional to what needs attention.
//! - `result: fail` and severity `high` for a deny-level finding, `result: warn` and severity
//!   `medium` for a warn-level one; `policy` and `source` are `sticky-guard`, `rule` the rule ID,
//!   `category` [`CATEGORY`], `scored: true` for fail, `message` the finding's message,
//!   `properties.field` the offending field when there is one.
//! - Only namespaced kinds are judged (Ingress, Service, HTTPRoute, GRPCRoute), so no
//!   cluster-scoped `ClusterReport` is written.

use crate::objects::{Object, namespace_of};
use crate::rules::Level;
use serde_json::{Value, json};

/// The label on every report sticky-guard writes, with value [`SOURCE`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// `source` and `policy` of every result.
pub const SOURCE: &str = "sticky-guard";

/// `category` of every result.
pub const CATEGORY: &str = "Sticky sessions";

/// Which policy report API to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportApi {
    /// `openreports.io/v1alpha1` `Report` (reports-api v0.2.1, `config/crd/`); Kyverno 1.15
    /// and later write it behind `--openreportsEnabled`.
    OpenReports,
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport` (kubernetes-sigs/wg-policy-prototypes), which
    /// OpenReports succeeds.
    PolicyReport,
}

impl ReportApi {
    /// The API group.
    pub fn group(self) -> &'static str {
        match self {
            ReportApi::OpenReports => "openreports.io",
            ReportApi::PolicyReport => "wgpolicyk8s.io",
        }
    }

    /// The version.
    pub fn version(self) -> &'static str {
        match self {
            ReportApi::OpenReports => "v1alpha1",
            ReportApi::PolicyReport => "v1alpha2",
        }
    }

    /// `group/version`.
    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    /// The namespaced kind.
    pub fn kind(self) -> &'static str {
        match self {
            ReportApi::OpenReports => "Report",
            ReportApi::PolicyReport => "PolicyReport",
        }
    }

    /// The resource (plural).
    pub fn plural(self) -> &'static str {
        match self {
            ReportApi::OpenReports => "reports",
            ReportApi::PolicyReport => "policyreports",
        }
    }

    /// How flags and logs name it: `openreports`, `policyreport`.
    pub fn name(self) -> &'static str {
        match self {
            ReportApi::OpenReports => "openreports",
            ReportApi::PolicyReport => "policyreport",
        }
    }
}

/// The object a report is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    /// `apiVersion` (`networking.k8s.io/v1`).
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace` (`default` when unset).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`, when known.
    pub uid: Option<String>,
    /// `metadata.resourceVersion`, when known.
    pub resource_version: Option<String>,
}

impl Subject {
    /// The object as an ObjectReference.
    fn reference(&self) -> Value {
        let mut reference = json!({
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        });
        if let Some(uid) = &self.uid {
            reference["uid"] = json!(uid);
        }
        if let Some(version) = &self.resource_version {
            reference["resourceVersion"] = json!(version);
        }
        reference
    }
}

/// One result: a finding of one rule on the subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The rule ID.
    pub rule: String,
    /// The finding's level.
    pub level: Level,
    /// The finding's message.
    pub message: String,
    /// The offending field, when the finding names one.
    pub field: Option<String>,
}

/// The name of the report about `subject`: `sticky-guard-<uid>`, else
/// `sticky-guard-<kind>-<name>` (lower-cased), cut to 253 characters with a hash of the whole
/// so that two long names stay apart.
pub fn report_name(subject: &Subject) -> String {
    match subject.uid.as_deref().filter(|uid| !uid.is_empty()) {
        Some(uid) => format!("{SOURCE}-{uid}"),
        None => {
            let name = format!(
                "{SOURCE}-{}-{}",
                subject.kind.to_ascii_lowercase(),
                subject.name
            );
            if name.len() <= 253 {
                return name;
            }
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            name.hash(&mut hasher);
            let cut: String = name.chars().take(236).collect();
            format!("{cut}-{:016x}", hasher.finish())
        }
    }
}

/// The report about `subject` with `entries` (in the order given), stamped `timestamp`
/// (seconds since the Unix epoch). `entries` should not be empty: an object without findings
/// has no report.
pub fn report(api: ReportApi, subject: &Subject, entries: &[Entry], timestamp: i64) -> Value {
    let reference = subject.reference();
    let (mut fail, mut warn) = (0, 0);
    let results: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let (result, severity) = match entry.level {
                Level::Deny => {
                    fail += 1;
                    ("fail", "high")
                }
                Level::Warn => {
                    warn += 1;
                    ("warn", "medium")
                }
            };
            let mut value = json!({
                "source": SOURCE,
                "policy": SOURCE,
                "rule": entry.rule,
                "category": CATEGORY,
                "severity": severity,
                "timestamp": {"seconds": timestamp, "nanos": 0},
                "result": result,
                "scored": entry.level == Level::Deny,
                "resources": [reference.clone()],
                "message": entry.message,
            });
            if let Some(field) = &entry.field {
                value["properties"] = json!({"field": field});
            }
            value
        })
        .collect();
    json!({
        "apiVersion": api.api_version(),
        "kind": api.kind(),
        "metadata": {
            "name": report_name(subject),
            "namespace": subject.namespace,
            "labels": {MANAGED_BY_LABEL: SOURCE},
        },
        "source": SOURCE,
        "scope": reference,
        "summary": {"pass": 0, "fail": fail, "warn": warn, "error": 0, "skip": 0},
        "results": results,
    })
}

/// The subject of a decoded object: its kind's served `apiVersion` (the version the live view
/// and `audit` read it at), namespace, name, uid and resourceVersion.
pub fn subject_of(object: &Object) -> Subject {
    let meta = object.meta();
    Subject {
        api_version: object.kind().info().api_version(),
        kind: object.kind().name().to_string(),
        namespace: namespace_of(meta).to_string(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
    }
}

/// The reports for `results` (a subject and one of its findings each, any order): one per
/// subject, its entries in the order given, the reports ordered by namespace, kind and name.
pub fn reports(
    api: ReportApi,
    results: impl IntoIterator<Item = (Subject, Entry)>,
    timestamp: i64,
) -> Vec<Value> {
    let mut grouped: std::collections::BTreeMap<(String, String, String), (Subject, Vec<Entry>)> =
        std::collections::BTreeMap::new();
    for (subject, entry) in results {
        let key = (
            subject.namespace.clone(),
            subject.kind.clone(),
            subject.name.clone(),
        );
        grouped
            .entry(key)
            .or_insert_with(|| (subject, Vec::new()))
            .1
            .push(entry);
    }
    grouped
        .into_values()
        .map(|(subject, entries)| report(api, &subject, &entries, timestamp))
        .collect()
}

/// `reports` as a YAML stream (`---` before each document), for `kubectl apply -f -`.
///
/// # Errors
/// serde_norway's, which JSON values of strings and numbers never produce.
pub fn yaml_stream(reports: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    for report in reports {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(report).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(uid: Option<&str>) -> Subject {
        Subject {
            api_version: "networking.k8s.io/v1".into(),
            kind: "Ingress".into(),
            namespace: "app".into(),
            name: "shop".into(),
            uid: uid.map(str::to_string),
            resource_version: Some("42".into()),
        }
    }

    #[test]
    fn a_report_has_one_result_per_finding_and_a_summary() {
        let entries = [
            Entry {
                rule: "cookie-path-for-regex".into(),
                level: Level::Deny,
                message: "set session-cookie-path".into(),
                field: Some("spec.rules[0].http.paths[0].path".into()),
            },
            Entry {
                rule: "samesite-none-without-secure".into(),
                level: Level::Warn,
                message: "add Secure".into(),
                field: None,
            },
        ];
        let reference = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "namespace": "app", "name": "shop", "uid": "u-1", "resourceVersion": "42"});
        assert_eq!(
            report(
                ReportApi::OpenReports,
                &subject(Some("u-1")),
                &entries,
                1_700_000_000
            ),
            json!({
                "apiVersion": "openreports.io/v1alpha1",
                "kind": "Report",
                "metadata": {"name": "sticky-guard-u-1", "namespace": "app",
                             "labels": {"app.kubernetes.io/managed-by": "sticky-guard"}},
                "source": "sticky-guard",
                "scope": reference,
                "summary": {"pass": 0, "fail": 1, "warn": 1, "error": 0, "skip": 0},
                "results": [
                    {"source": "sticky-guard", "policy": "sticky-guard",
                     "rule": "cookie-path-for-regex", "category": "Sticky sessions",
                     "severity": "high", "timestamp": {"seconds": 1_700_000_000, "nanos": 0},
                     "result": "fail", "scored": true, "resources": [reference],
                     "message": "set session-cookie-path",
                     "properties": {"field": "spec.rules[0].http.paths[0].path"}},
                    {"source": "sticky-guard", "policy": "sticky-guard",
                     "rule": "samesite-none-without-secure", "category": "Sticky sessions",
                     "severity": "medium", "timestamp": {"seconds": 1_700_000_000, "nanos": 0},
                     "result": "warn", "scored": false, "resources": [reference],
                     "message": "add Secure"},
                ],
            })
        );
        let policy_report = report(ReportApi::PolicyReport, &subject(None), &entries, 0);
        assert_eq!(policy_report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(policy_report["kind"], "PolicyReport");
        assert_eq!(
            policy_report["metadata"]["name"],
            "sticky-guard-ingress-shop"
        );
        assert!(policy_report["scope"].get("uid").is_none());
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let mut long = subject(None);
        long.name = "a".repeat(253);
        let name = report_name(&long);
        assert_eq!(name.len(), 253);
        long.name = format!("{}b", "a".repeat(252));
        assert_ne!(report_name(&long), name);
    }
}

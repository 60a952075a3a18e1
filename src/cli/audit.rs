//! `sticky-guard audit`: every violation already in the cluster, like a policy engine's
//! background scan.
//!
//! Lists Services, Ingresses (`networking.k8s.io/v1`) and, when discovery finds the CRD, GKE
//! BackendConfigs, then judges them exactly as `check` judges a bundle, with one difference: the
//! listed objects are the whole cluster, so a backend Service that is not there is absent (a
//! warning). Same output formats and exit codes as `check`. Needs get/list on those resources
//! (the ClusterRole in `manifests/rbac.yaml`).

use super::check::{FailOn, Output, print_report};
use super::policy::PolicyArgs;
use crate::engine::audit_documents;
use crate::engine::manifests::{Document, Location};
use crate::objects::kinds::{KINDS, Watch};
use crate::report::policy_reports::{Entry, ReportApi, Subject, reports, yaml_stream};
use crate::view::live;
use clap::Args;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

/// `audit` output formats: `check`'s, and policy reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditOutput {
    /// As `check -o human`.
    Human,
    /// As `check -o json`.
    Json,
    /// As `check -o sarif`.
    Sarif,
    /// `openreports.io/v1alpha1` Reports, one per object with findings, as a YAML stream
    /// (`kubectl apply -f -`); the same reports `serve --reports openreports` writes.
    Openreports,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReports, likewise.
    Policyreport,
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = AuditOutput::Human)]
    pub output: AuditOutput,
    /// The lowest finding level that makes the run exit 1.
    #[arg(long, value_enum, default_value_t = FailOn::Deny)]
    pub fail_on: FailOn,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_seconds: u64,
    /// Policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Runs `audit` against the cluster of KUBECONFIG, ~/.kube/config or the in-cluster account.
pub fn run(args: AuditArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    let listed = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(args.timeout_seconds), list_cluster()).await
    });
    let documents = match listed {
        Ok(Ok(documents)) => documents,
        Ok(Err(e)) => return super::fail(e),
        Err(_) => {
            return super::fail(format!(
                "the cluster did not answer within {} s",
                args.timeout_seconds
            ));
        }
    };
    let subjects = subjects(&documents);
    let report = audit_documents(documents, Vec::new(), &policy);
    let output = match args.output {
        AuditOutput::Human => Output::Human,
        AuditOutput::Json => Output::Json,
        AuditOutput::Sarif => Output::Sarif,
        AuditOutput::Openreports => {
            return print_reports(&report, &subjects, ReportApi::OpenReports, args.fail_on);
        }
        AuditOutput::Policyreport => {
            return print_reports(&report, &subjects, ReportApi::PolicyReport, args.fail_on);
        }
    };
    print_report(&report, output, &policy, args.fail_on)
}

/// `(kind, namespace, name)` of a listed object.
type ObjectKey = (String, String, String);

/// The subject of every listed object, by kind, namespace (`default` when unset) and name.
fn subjects(documents: &[Document]) -> std::collections::HashMap<ObjectKey, Subject> {
    documents
        .iter()
        .filter_map(|document| {
            let value = &document.value;
            let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
            let kind = text("/kind")?.to_string();
            let name = text("/metadata/name")?.to_string();
            let namespace = text("/metadata/namespace").unwrap_or("default").to_string();
            let subject = Subject {
                api_version: text("/apiVersion")?.to_string(),
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                uid: text("/metadata/uid").map(str::to_string),
                resource_version: text("/metadata/resourceVersion").map(str::to_string),
            };
            Some(((kind, namespace, name), subject))
        })
        .collect()
}

/// Prints the findings of `report` as policy reports of `api` (YAML on stdout), errors on
/// stderr; the exit code is `check`'s.
fn print_reports(
    report: &crate::engine::Report,
    subjects: &std::collections::HashMap<ObjectKey, Subject>,
    api: ReportApi,
    fail_on: FailOn,
) -> ExitCode {
    anstream::eprint!("{}", crate::report::text::errors(report));
    let results = report.findings.iter().filter_map(|finding| {
        let object = &finding.object;
        let key = (
            object.kind.to_string(),
            object.namespace.clone().unwrap_or_else(|| "default".into()),
            object.name.clone(),
        );
        let subject = subjects.get(&key)?.clone();
        Some((
            subject,
            Entry {
                rule: finding.rule.to_string(),
                level: finding.level,
                message: finding.message.clone(),
                field: finding.field.clone(),
            },
        ))
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match yaml_stream(&reports(api, results, now)) {
        Ok(text) => super::out(&text),
        Err(e) => return super::fail(e),
    }
    ExitCode::from(report.exit_code_failing_on(fail_on.level()))
}

/// Every object of every kind of the kinds table ([`KINDS`]; a CRD only when discovery finds
/// it), as documents located at `cluster#N`.
async fn list_cluster() -> Result<Vec<Document>, String> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| format!("no cluster configuration: {e}"))?;
    let server = config.cluster_url.to_string();
    let client =
        kube::Client::try_from(config).map_err(|e| format!("cannot make a client: {e}"))?;
    let mut values = Vec::new();
    for info in KINDS {
        let resource = match info.watch {
            Watch::Always => Some(live::api_resource(info)),
            // One attempt: a failed discovery skips the kind (said on stderr) rather than
            // retrying for ever.
            Watch::WhenInstalled => match live::discover_once(&client, info).await {
                Ok(found) => found,
                Err(error) => {
                    eprintln!(
                        "warning: cannot discover {} ({}): not judged: {error}",
                        info.plural, info.group
                    );
                    None
                }
            },
        };
        if let Some(resource) = resource {
            let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
            let listed = list_all(api, &resource.api_version, &resource.kind).await;
            values.extend(
                listed.map_err(|e| format!("cannot list {} from {server}: {}", info.plural, e))?,
            );
        }
    }
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, value)| Document {
            location: Location {
                file: "cluster".into(),
                document: i + 1,
                item: None,
                line: 1,
            },
            value,
            positions: None,
            source: None,
        })
        .collect())
}

/// `error` and its causes, outermost first: `ServiceError: client error (Connect): tcp connect
/// error: Connection refused (os error 111)`, so the reason reaches the user (kube's own
/// message stops at the first).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    crate::echo::bounded(&text).to_string()
}

/// Lists every object of `api`, 500 at a time, as JSON with `apiVersion` and `kind` set (list
/// items from the API server do not always carry them).
async fn list_all<K>(api: Api<K>, api_version: &str, kind: &str) -> Result<Vec<Value>, String>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.map_err(|e| causes(&e))?;
        for item in &page.items {
            let mut value = serde_json::to_value(item).map_err(|e| e.to_string())?;
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), Value::String(api_version.into()));
                map.insert("kind".into(), Value::String(kind.into()));
            }
            out.push(value);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

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
use crate::view::live;
use clap::Args;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Human)]
    pub output: Output,
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
    let report = audit_documents(documents, Vec::new(), &policy);
    print_report(&report, args.output, &policy, args.fail_on)
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

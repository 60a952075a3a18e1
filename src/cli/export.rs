//! `sticky-guard export policies`: the single-object rules as ValidatingAdmissionPolicies
//! ([`crate::policies`]), shaped by the policy options.

use super::policy::PolicyArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    #[command(subcommand)]
    pub what: ExportWhat,
}

/// What `export` writes.
#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding
    /// (admissionregistration.k8s.io/v1, Kubernetes 1.30+) for every single-object rule CEL can
    /// express (`sticky-guard rules` says which), as one YAML stream on stdout or one file per
    /// rule in `--output-dir`. Rules whose action is `off` are left out.
    Policies(PoliciesArgs),
}

/// `export policies` arguments.
#[derive(Debug, Args)]
pub struct PoliciesArgs {
    /// Write `<rule-id>.yaml` files into this folder (created if missing) instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Policy options (actions, classes, excluded namespaces).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Runs `export`.
pub fn run(args: ExportArgs) -> ExitCode {
    let ExportWhat::Policies(args) = args.what;
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let documents = crate::policies::validating_policies(&policy);
    let Some(dir) = args.output_dir else {
        return match crate::policies::to_yaml(&documents) {
            Ok(text) => {
                super::out(&text);
                ExitCode::SUCCESS
            }
            Err(e) => super::fail(format!("cannot write YAML: {e}")),
        };
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return super::fail(format!("{}: {e}", dir.display()));
    }
    // A policy and its binding share a name: one file each pair.
    for pair in documents.chunks(2) {
        let name = pair[0]["metadata"]["name"].as_str().unwrap_or("policy");
        let path = dir.join(format!("{name}.yaml"));
        let text = match crate::policies::to_yaml(pair) {
            Ok(text) => text,
            Err(e) => return super::fail(format!("cannot write YAML: {e}")),
        };
        if let Err(e) = std::fs::write(&path, text) {
            return super::fail(format!("{}: {e}", path.display()));
        }
    }
    ExitCode::SUCCESS
}

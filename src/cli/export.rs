//! `sticky-guard export policies`: the single-object rules as ValidatingAdmissionPolicies and
//! MutatingAdmissionPolicies ([`crate::policies`]), shaped by the policy options.

use super::policy::PolicyArgs;
use crate::policies::MutatingApi;
use clap::{Args, Subcommand, ValueEnum};
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
    /// ValidatingAdmissionPolicy + binding (admissionregistration.k8s.io/v1, Kubernetes 1.30+)
    /// for every single-object rule CEL can express, and MutatingAdmissionPolicy + binding for
    /// the fixes CEL can compute (`sticky-guard rules` says which), as one YAML stream on stdout
    /// or one file per policy in `--output-dir`. Rules whose action is `off` are left out.
    Policies(PoliciesArgs),
}

/// `--api`: the MutatingAdmissionPolicy version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ApiArg {
    /// admissionregistration.k8s.io/v1: Kubernetes 1.36+.
    V1,
    /// v1beta1: Kubernetes 1.34-1.35, with the MutatingAdmissionPolicy feature gate and the
    /// API enabled in --runtime-config.
    V1beta1,
    /// v1alpha1: Kubernetes 1.32-1.33, with the same gate and --runtime-config.
    V1alpha1,
}

impl From<ApiArg> for MutatingApi {
    fn from(api: ApiArg) -> Self {
        match api {
            ApiArg::V1 => MutatingApi::V1,
            ApiArg::V1beta1 => MutatingApi::V1beta1,
            ApiArg::V1alpha1 => MutatingApi::V1alpha1,
        }
    }
}

/// `export policies` arguments.
#[derive(Debug, Args)]
pub struct PoliciesArgs {
    /// The admissionregistration.k8s.io version of the MutatingAdmissionPolicies (the
    /// ValidatingAdmissionPolicies are v1 in every case).
    #[arg(long, value_enum, default_value_t = ApiArg::V1)]
    pub api: ApiArg,
    /// Write one file per policy into this folder (created if missing) instead of stdout:
    /// `<policy>.yaml` (validating) and `<policy>.mutating.yaml`, each with its binding.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Policy options (actions, classes, excluded namespaces, annotation prefix).
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
    let api = MutatingApi::from(args.api);
    let files = crate::policies::policies(&policy, api);
    let Some(dir) = args.output_dir else {
        return match crate::policies::to_yaml(&files, api) {
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
    for file in &files {
        let path = dir.join(&file.file_name);
        let text = match crate::policies::to_yaml(std::slice::from_ref(file), api) {
            Ok(text) => text,
            Err(e) => return super::fail(format!("cannot write YAML: {e}")),
        };
        if let Err(e) = std::fs::write(&path, text) {
            return super::fail(format!("{}: {e}", path.display()));
        }
    }
    ExitCode::SUCCESS
}

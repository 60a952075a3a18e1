//! `sticky-guard export policies`: the single-object rules as ValidatingAdmissionPolicies and
//! MutatingAdmissionPolicies ([`crate::policies`]), shaped by the policy options.

use super::policy::PolicyArgs;
use crate::policies::MutatingApi;
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
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
    /// `<policy>.yaml` (validating) and `<policy>.mutating.yaml`, each with its binding. The
    /// folder then holds exactly these: files of an earlier export that are no longer exported
    /// are removed, and a folder holding anything else (a README, a kustomization.yaml, a file
    /// edited by hand) is refused, with nothing changed. What was written and removed is listed
    /// on stderr.
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
    match write_dir(&dir, &files, api) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

/// Writes one file per policy into `dir`, so that it holds exactly the policies exported:
/// files an earlier export wrote that are no longer exported (a rule turned off) are removed.
/// Says on stderr what it wrote and removed (stdout stays empty). Refuses, changing nothing, a
/// folder that holds anything else ([`written_by_export`]), naming the first such entry:
/// `kubectl apply -f DIR` applies all of it, so a file this command cannot vouch for is the
/// user's to move, and a file it did not write is never removed.
fn write_dir(
    dir: &Path,
    files: &[crate::policies::PolicyFile],
    api: MutatingApi,
) -> Result<(), String> {
    let mut ours = Vec::new();
    if dir.exists() {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry.map_err(|e| format!("{}: {e}", dir.display()))?.path());
        }
        names.sort();
        for path in names {
            if !written_by_export(&path) {
                return Err(format!(
                    "{} holds {}, which `export policies` did not write: export into an empty \
                     folder or one that holds only earlier exports (nothing was changed)",
                    dir.display(),
                    path.display()
                ));
            }
            ours.push(path);
        }
    }
    let mut texts = Vec::new();
    for file in files {
        let text = crate::policies::to_yaml(std::slice::from_ref(file), api)
            .map_err(|e| format!("cannot write YAML: {e}"))?;
        texts.push((dir.join(&file.file_name), text));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (path, text) in &texts {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    for old in ours {
        if !texts.iter().any(|(path, _)| *path == old) {
            std::fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
            eprintln!("removed {}", old.display());
        }
    }
    Ok(())
}

/// Whether `path` is a file an export wrote, and so one an export may overwrite or remove:
/// - named `sticky-guard.*.yaml`, as every [`crate::policies::PolicyFile`] is;
/// - a regular file (not a folder, nor a symbolic link, whose target may lie anywhere);
/// - beginning with [`crate::policies::GENERATED_HEADER`];
/// - and every YAML document in it (at least one) an `admissionregistration.k8s.io` object
///   labelled `app.kubernetes.io/name: sticky-guard`.
///
/// Group and label alone are not enough: a policy a user writes to go with sticky-guard's may
/// well carry the same label, and must not be removed. The header is written only by the
/// generator, and the objects' group and label check that the file still holds what it wrote
/// (not, say, a copy of the header above other objects). A file that fails
/// any test is foreign: the export refuses the folder rather than guess, so it never removes
/// what it did not write.
fn written_by_export(path: &Path) -> bool {
    use serde::Deserialize;
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("sticky-guard.") && n.ends_with(".yaml"));
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !named || !regular {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    if !text.starts_with(crate::policies::GENERATED_HEADER) {
        return false;
    }
    let mut documents = 0;
    for document in serde_norway::Deserializer::from_str(&text) {
        let Ok(value) = serde_json::Value::deserialize(document) else {
            return false;
        };
        if value.is_null() {
            continue;
        }
        documents += 1;
        let group_ok = value["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("admissionregistration.k8s.io/"));
        let labelled = value["metadata"]["labels"]["app.kubernetes.io/name"] == "sticky-guard";
        if !group_ok || !labelled {
            return false;
        }
    }
    documents > 0
}

//! `migrate --to gateway-api`: the command line of [`crate::migrate`].

use super::check::{OutputFile, write_output};
use super::policy::PolicyArgs;
use crate::controllers::gateway::Implementation;
use crate::engine::manifests::{self, InputError};
use crate::migrate::{self, Target, report::Reported};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// What to migrate to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum To {
    /// Gateway API HTTPRoutes (v1.6.1 `sessionPersistence`, experimental channel).
    GatewayApi,
}

/// The Gateway API implementation that will serve the routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImplementationArg {
    /// Envoy Gateway: a sticky RegularExpression match whose cookie Path would miss its
    /// requests is not given sessionPersistence, and the report says what Envoy Gateway does
    /// with the cookie. No extension is written: Envoy Gateway (v1.9.0) has no
    /// session-persistence setting for SameSite, Secure, Domain or HttpOnly.
    EnvoyGateway,
}

/// `migrate` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MigrateOutput {
    /// The routes on stdout (or `--diff`, or rewritten with `--in-place`), the report on stderr,
    /// one line per item: `ns/name: SUBJECT: LEVEL: MESSAGE`.
    Text,
    /// One JSON document on stdout: `{"carried": bool, "items": [{"ingress", "subject",
    /// "level", "message"}], "errors": [...], "files": [{"file", "changed", "text"}]}`; `level`
    /// is carried, note, warning, dropped or not-carried; `text` is the migrated file. With
    /// `--in-place` the files are rewritten too.
    Json,
}

/// Arguments of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// What to migrate to.
    #[arg(long, value_enum)]
    pub to: To,
    /// The Gateway API implementation that will serve the routes.
    #[arg(long, value_enum)]
    pub implementation: Option<ImplementationArg>,
    /// Files or directories holding the ingress-nginx Ingresses; `-` reads stdin.
    #[arg(required = true, value_name = "INGRESS")]
    pub ingresses: Vec<PathBuf>,
    /// Files or directories holding the HTTPRoutes made from them (by ingress2gateway or by
    /// hand).
    #[arg(long, required = true, num_args = 1.., value_name = "ROUTES")]
    pub routes: Vec<PathBuf>,
    /// Rewrite the route files in place (atomically; only files that change).
    #[arg(long, conflicts_with = "diff")]
    pub in_place: bool,
    /// Print a unified diff of the route files instead of the routes.
    #[arg(long, conflicts_with = "output")]
    pub diff: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = MigrateOutput::Text)]
    pub output: MigrateOutput,
    /// Policy (the annotation prefix; which Ingress classes and namespaces are ingress-nginx's).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `sticky-guard migrate`: exit 0 when every sticky path was carried, 1 when something was not
/// (a path without a route rule, a dropped attribute, a regex kept), 2 on bad input (nothing
/// written).
pub fn run(args: MigrateArgs) -> ExitCode {
    let To::GatewayApi = args.to;
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    if args.routes.iter().any(|f| f.as_os_str() == "-") {
        return super::fail(
            "--routes takes files or directories; stdin (`-`) is for the Ingresses",
        );
    }
    let read = |files: &[PathBuf]| manifests::read(files, &manifests::ReadOptions::default());
    let (ingresses, routes) = match (read(&args.ingresses), read(&args.routes)) {
        (Ok(i), Ok(r)) => (i, r),
        (Err(e), _) | (_, Err(e)) => return super::fail(e),
    };
    let mut errors: Vec<InputError> = ingresses.errors.into_iter().chain(routes.errors).collect();
    if errors.is_empty() {
        let target = Target {
            implementation: args
                .implementation
                .map(|ImplementationArg::EnvoyGateway| Implementation::EnvoyGateway),
        };
        let migration = migrate::migrate(&ingresses.documents, &routes.documents, &policy, target);
        errors = migration.errors.clone();
        if errors.is_empty() {
            return finish(&args, &migration);
        }
    }
    for error in &errors {
        eprintln!(
            "error: {}: {}",
            error.position(),
            crate::echo::bounded(&error.message)
        );
    }
    eprintln!("nothing written: fix the errors above first");
    if args.output == MigrateOutput::Json {
        let json =
            serde_json::json!({"carried": false, "items": [], "errors": errors, "files": []});
        super::out(&format!("{json:#}\n"));
    }
    ExitCode::from(2)
}

/// Writes the routes and the report; the exit code.
fn finish(args: &MigrateArgs, migration: &migrate::Migration) -> ExitCode {
    let carried = !migration.reported.iter().any(|r| r.level.fails());
    let files: Vec<OutputFile<'_>> = migration
        .files
        .iter()
        .map(|f| OutputFile {
            file: &f.file,
            before: &f.before,
            after: &f.after,
            in_stream: true,
        })
        .collect();
    if args.output == MigrateOutput::Json {
        if args.in_place
            && let Err(code) = write_output(&files, false, true, "migrated")
        {
            return code;
        }
        let json = serde_json::json!({
            "carried": carried,
            "items": migration.reported,
            "errors": [],
            "files": migration.files.iter().map(|f| serde_json::json!({
                "file": f.file, "changed": *f.before != f.after, "text": f.after})).collect::<Vec<_>>(),
        });
        super::out(&format!("{json:#}\n"));
    } else {
        if let Err(code) = write_output(&files, args.diff, args.in_place, "migrated") {
            return code;
        }
        eprint!("{}", lines(&migration.reported));
        if migration.reported.is_empty() {
            eprintln!(
                "note: no Ingress with ingress-nginx cookie affinity in the input: nothing to carry"
            );
        }
    }
    ExitCode::from(u8::from(!carried))
}

/// The text report: one line per item.
fn lines(reported: &[Reported]) -> String {
    reported.iter().map(|r| r.line() + "\n").collect()
}

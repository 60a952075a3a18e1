//! The command line: `serve`, `check`, `fix`, `audit`, `rules`, `certs`, `export`, `migrate`.
//!
//! Exit codes, for every command: 0 success (for `check`: clean or warnings only), 1 a
//! deny-level finding, 2 usage, input or start-up errors (for `check` and `fix`, also no
//! Kubernetes object in the files given, unless `--allow-empty`).

mod audit;
mod certs;
mod check;
mod export;
mod migrate;
mod policy;
mod rules;
mod serve;

pub use rules::{
    annotations_table, human_table, markdown_table, match_conditions_yaml, rule_json, rule_page,
};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// sticky-guard: admission webhook and offline checker that keeps sticky sessions working
/// behind Ingresses (ingress-nginx, Traefik, GKE) and Gateway API routes.
#[derive(Debug, Parser)]
#[command(name = "sticky-guard", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the admission webhooks over HTTPS (POST /mutate, POST /validate, GET /healthz,
    /// GET /readyz).
    Serve(Box<serve::ServeArgs>),
    /// Judge manifest files (multi-document YAML or JSON; `-` reads stdin; directories are read
    /// for *.yaml, *.yml, *.json, outside hidden folders and `--exclude`d paths). YAML without
    /// apiVersion and kind and Helm templates are skipped and listed. Exit 0 when clean or
    /// warnings only, 1 when a deny-level finding exists, 2 on usage or parse errors and when
    /// no Kubernetes object was found ("nothing to judge", unless `--allow-empty`).
    Check(check::CheckArgs),
    /// Apply the mutating webhook's patches to the manifests as minimal edits (only the lines a
    /// fix needs change; comments, quoting and formatting stay): print the fixed files
    /// (default), rewrite them (`--in-place`) or print a unified diff (`--diff`, exit 1 when
    /// there is one). Findings no patch fixes go to stderr (exit 1 for a deny); on a parse
    /// error nothing is written (exit 2). Files are read as `check` reads them.
    Fix(check::FixArgs),
    /// Judge everything already in the cluster (KUBECONFIG, ~/.kube/config or in-cluster):
    /// same output formats and exit codes as `check`.
    Audit(audit::AuditArgs),
    /// List the rules, or explain one (`sticky-guard rules cookie-path-for-regex`).
    Rules(rules::RulesArgs),
    /// Make a CA and a serving certificate for the webhook Service (for a cluster install).
    Certs(certs::CertsArgs),
    /// Export the single-object rules as in-process admission policies
    /// (`export policies`: Validating- and MutatingAdmissionPolicies, no webhook needed).
    Export(export::ExportArgs),
    /// Carry the cookie stickiness of ingress-nginx Ingresses into the HTTPRoutes made from
    /// them (`migrate --to gateway-api INGRESS... --routes ROUTES...`): adds Gateway API
    /// `sessionPersistence` (experimental channel in v1.6.1) to the rule serving each sticky
    /// path, found by hostname, path match and backendRef, as minimal edits; turns a
    /// RegularExpression match that is a prefix match into PathPrefix; reports on stderr what
    /// cannot be carried (SameSite, Secure, Domain, HttpOnly, Path, affinity-mode, ...). Exit 0
    /// when everything sticky was carried, 1 when something was not, 2 on bad input (nothing
    /// written).
    Migrate(migrate::MigrateArgs),
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // One crypto provider for every TLS user in the process (our server, kube's client): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Check(args) => check::run_check(args),
        Command::Fix(args) => check::run_fix(args),
        Command::Audit(args) => audit::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Certs(args) => certs::run(args),
        Command::Export(args) => export::run(args),
        Command::Migrate(args) => migrate::run(args),
    }
}

/// Writes `text` to stdout (ANSI styles stripped unless stdout is a colour terminal). A closed
/// pipe (`sticky-guard check … | head`) is not an error: the rest of the output is dropped.
fn out(text: &str) {
    use std::io::Write;
    let mut stdout = anstream::stdout();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Exit code 2, after printing `error: <message>` on stderr.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

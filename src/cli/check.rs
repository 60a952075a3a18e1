//! `check` and `fix`: the command line of the offline engine ([`crate::engine`]), with the
//! reports of [`crate::report`].

use super::policy::PolicyArgs;
use crate::engine::{self, Report, manifests};
use crate::policy::Policy;
use crate::report;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest files or directories; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// Policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Arguments of `fix`.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// Manifest files or directories; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `check` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One line per finding: `FILE#DOC: LEVEL RULE Kind ns/name: message (fix: hint)`;
    /// coloured on a terminal (honours NO_COLOR).
    Human,
    /// One JSON document: `{"findings": [...], "errors": [...]}`.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs; the rule catalogue is in `tool.driver.rules`.
    Sarif,
}

/// `sticky-guard check`.
pub fn run_check(args: CheckArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let (documents, errors) = manifests::read(&args.files);
    let report = engine::check_documents(documents, errors, &policy);
    print_report(&report, args.output, &policy)
}

/// Prints a report in `output` format and returns the exit code (shared by `check` and
/// `audit`): the findings on stdout; errors and the summary on stderr (for JSON and SARIF the
/// summary is in the document).
pub fn print_report(report: &Report, output: Output, policy: &Policy) -> ExitCode {
    let rendered = match output {
        Output::Human => {
            anstream::eprint!("{}", report::text::errors(report));
            super::out(&report::text::findings(report));
            anstream::eprint!("{}", report::text::summary(report));
            return ExitCode::from(report.exit_code());
        }
        Output::Json => report::json(report),
        Output::Sarif => {
            anstream::eprint!("{}", report::text::errors(report));
            serde_json::to_string_pretty(&report::sarif::sarif(report, policy)).map(|t| t + "\n")
        }
    };
    match rendered {
        Ok(text) => super::out(&text),
        Err(e) => return super::fail(e),
    }
    ExitCode::from(report.exit_code())
}

/// `sticky-guard fix`.
pub fn run_fix(args: FixArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let (documents, errors) = manifests::read(&args.files);
    let fixed = engine::fix_documents(documents, errors, &policy);
    if !fixed.remaining.errors.is_empty() {
        anstream::eprint!("{}", report::text::errors(&fixed.remaining));
        eprintln!("nothing written: fix the errors above first");
        return ExitCode::from(2);
    }
    let mut yaml = String::new();
    for document in &fixed.documents {
        match serde_norway::to_string(document) {
            Ok(text) => {
                yaml.push_str("---\n");
                yaml.push_str(&text);
            }
            Err(e) => return super::fail(format!("cannot write YAML: {e}")),
        }
    }
    super::out(&yaml);
    anstream::eprint!("{}", report::text::findings(&fixed.remaining));
    ExitCode::from(fixed.remaining.exit_code())
}

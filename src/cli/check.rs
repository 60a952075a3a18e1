//! `check` and `fix`: the rules, offline, on manifest files.
//!
//! `check` judges each object as written, as the validating webhook would see it if the
//! mutating webhook had not run: a fixable finding (one the mutating webhook would patch) is
//! reported at its rule's level and marked fixable. `fix` applies what the mutating webhook
//! would patch.

use super::manifests::{self, Document, InputError, Location};
use super::policy::PolicyArgs;
use crate::objects::{self, Object, ObjectRef};
use crate::policy::Policy;
use crate::rules::{self, Context, Finding, Fix, Level, Phase};
use crate::view::offline::OfflineView;
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;
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

/// One finding, located, as `check` reports it.
#[derive(Debug, Serialize)]
pub struct Reported {
    /// Rule ID.
    pub rule: &'static str,
    /// `deny` or `warn`.
    pub level: Level,
    /// The object.
    #[serde(flatten)]
    pub object: ObjectRef,
    /// Where the object came from.
    #[serde(flatten)]
    pub location: Location,
    /// The offending field, if the rule names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Whether `sticky-guard fix` (and the mutating webhook) fixes it.
    pub fixable: bool,
}

/// The outcome of judging a set of documents.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Findings, in document order.
    pub findings: Vec<Reported>,
    /// Files and documents that could not be read or decoded.
    pub errors: Vec<InputError>,
}

impl Report {
    /// 2 if there are errors, else 1 if there is a deny-level finding, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.findings.iter().any(|f| f.level == Level::Deny) {
            1
        } else {
            0
        }
    }
}

/// A decoded document.
struct Judged {
    document: Document,
    object: Option<Object>,
}

fn decode_all(documents: Vec<Document>, errors: &mut Vec<InputError>) -> Vec<Judged> {
    documents
        .into_iter()
        .filter_map(|document| match objects::decode(&document.value) {
            Ok(object) => Some(Judged { document, object }),
            Err(e) => {
                errors.push(InputError {
                    location: document.location.to_string(),
                    message: match describe(&document.value) {
                        Some(what) => format!("{what}: {e}"),
                        None => e.to_string(),
                    },
                });
                None
            }
        })
        .collect()
}

/// The cluster view of a bundle: every decoded object, plus GKE BackendConfigs.
fn offline_view(judged: &[Judged], mut view: OfflineView) -> OfflineView {
    for Judged { document, object } in judged {
        match object {
            Some(object) => view.add(object),
            None => {
                view.add_raw(&document.value);
            }
        }
    }
    view
}

/// `Kind name` of a raw document, for error messages.
fn describe(value: &Value) -> Option<String> {
    let kind = value.get("kind")?.as_str()?;
    let name = value.pointer("/metadata/name").and_then(Value::as_str)?;
    Some(format!("{kind} {name}"))
}

/// Judges one file's text as `check` does (bytes in, report out): the manifest reader and the
/// rules without the file system. `file` names the text in locations.
pub fn check_text(file: &str, text: &str, policy: &Policy) -> Report {
    let (mut documents, mut errors) = (Vec::new(), Vec::new());
    manifests::parse(file, text, &mut documents, &mut errors);
    check_documents(documents, errors, policy)
}

/// Judges documents as `check` does: the documents are part of a cluster.
pub fn check_documents(
    documents: Vec<Document>,
    errors: Vec<InputError>,
    policy: &Policy,
) -> Report {
    judge(documents, errors, policy, OfflineView::new())
}

/// Judges documents that are everything a cluster holds (`audit`): an object they do not hold
/// is absent.
pub fn audit_documents(
    documents: Vec<Document>,
    errors: Vec<InputError>,
    policy: &Policy,
) -> Report {
    judge(documents, errors, policy, OfflineView::complete())
}

fn judge(
    documents: Vec<Document>,
    mut errors: Vec<InputError>,
    policy: &Policy,
    view: OfflineView,
) -> Report {
    let judged = decode_all(documents, &mut errors);
    let view = offline_view(&judged, view);
    let context = Context {
        policy,
        view: &view,
        old: None,
    };
    let mut findings = Vec::new();
    for Judged { document, object } in &judged {
        let Some(object) = object else { continue };
        for finding in rules::evaluate(object, Phase::Validating, &context) {
            findings.push(report(finding, object, &document.location, policy));
        }
    }
    Report { findings, errors }
}

fn report(finding: Finding, object: &Object, location: &Location, policy: &Policy) -> Reported {
    let hint = match &finding.fix {
        Some(Fix::SetAnnotation { key, value }) => {
            format!("`sticky-guard fix` sets {key}: \"{value}\" (so does the mutating webhook)")
        }
        None => rules::find(finding.rule)
            .map(|r| r.fix.replace("<prefix>", &policy.annotation_prefix))
            .unwrap_or_default(),
    };
    Reported {
        rule: finding.rule,
        level: finding.level,
        object: object.reference(),
        location: location.clone(),
        field: finding.field,
        message: finding.message,
        hint,
        fixable: finding.fix.is_some(),
    }
}

/// `sticky-guard check`.
pub fn run_check(args: CheckArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let (documents, errors) = manifests::read(&args.files);
    let report = check_documents(documents, errors, &policy);
    print_report(&report, args.output, &policy)
}

/// Prints a report in `output` format and returns the exit code (shared by `check` and
/// `audit`).
pub fn print_report(report: &Report, output: Output, policy: &Policy) -> ExitCode {
    let json = match output {
        Output::Human => {
            print_errors(report);
            print_findings(report, false);
            print_summary(report);
            None
        }
        Output::Json => Some(serde_json::to_value(report)),
        Output::Sarif => {
            print_errors(report);
            Some(Ok(super::sarif::sarif(report, policy)))
        }
    };
    if let Some(json) = json {
        match json.and_then(|v| serde_json::to_string_pretty(&v)) {
            Ok(text) => super::out(&format!("{text}\n")),
            Err(e) => return super::fail(e),
        }
    }
    ExitCode::from(report.exit_code())
}

fn print_errors(report: &Report) {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Red.into()));
    for e in &report.errors {
        anstream::eprintln!("{style}error{style:#}: {}: {}", e.location, e.message);
    }
}

/// One line per finding, on stdout (or stderr, for `fix`).
fn print_findings(report: &Report, to_stderr: bool) {
    let bold = anstyle::Style::new().bold();
    for f in &report.findings {
        let colour = match f.level {
            Level::Deny => anstyle::AnsiColor::Red,
            Level::Warn => anstyle::AnsiColor::Yellow,
        };
        let level = anstyle::Style::new().bold().fg_color(Some(colour.into()));
        let line = format!(
            "{}: {level}{}{level:#} {bold}{}{bold:#} {}: {} (fix: {})",
            f.location,
            f.level.as_str(),
            f.rule,
            f.object,
            f.message,
            f.hint
        );
        if to_stderr {
            anstream::eprintln!("{line}");
        } else {
            super::out(&format!("{line}\n"));
        }
    }
}

fn print_summary(report: &Report) {
    let deny = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Deny)
        .count();
    let fixable = report.findings.iter().filter(|f| f.fixable).count();
    eprintln!(
        "{} finding(s): {deny} deny, {} warn, {fixable} fixable with `sticky-guard fix`; {} error(s)",
        report.findings.len(),
        report.findings.len() - deny,
        report.errors.len()
    );
}

/// The result of `fix` on a set of documents.
pub struct Fixed {
    /// Every document, patched where a patch applies, in input order.
    pub documents: Vec<Value>,
    /// What is left after patching: findings no patch fixes.
    pub remaining: Report,
}

/// Applies the mutating webhook's patches to each document, then judges the result.
pub fn fix_documents(
    documents: Vec<Document>,
    mut errors: Vec<InputError>,
    policy: &Policy,
) -> Fixed {
    let judged = decode_all(documents, &mut errors);
    let view = offline_view(&judged, OfflineView::new());
    let context = Context {
        policy,
        view: &view,
        old: None,
    };
    let mut out = Vec::new();
    let mut patched_documents = Vec::new();
    for Judged {
        mut document,
        object,
    } in judged
    {
        if let Some(object) = &object {
            let findings = rules::evaluate(object, Phase::Mutating, &context);
            let patch = rules::json_patch(
                findings.iter().filter_map(|f| f.fix.as_ref()),
                object.meta().annotations.as_ref(),
            );
            if let Err(e) = json_patch::patch(&mut document.value, &patch) {
                errors.push(InputError {
                    location: document.location.to_string(),
                    message: format!("the patch does not apply: {e}"),
                });
            }
        }
        out.push(document.value.clone());
        patched_documents.push(document);
    }
    let remaining = check_documents(patched_documents, errors, policy);
    Fixed {
        documents: out,
        remaining,
    }
}

/// `sticky-guard fix`.
pub fn run_fix(args: FixArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let (documents, errors) = manifests::read(&args.files);
    let fixed = fix_documents(documents, errors, &policy);
    if !fixed.remaining.errors.is_empty() {
        print_errors(&fixed.remaining);
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
    print_findings(&fixed.remaining, true);
    ExitCode::from(fixed.remaining.exit_code())
}

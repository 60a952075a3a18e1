//! `check` and `fix`: the command line of the offline engine ([`crate::engine`]), with the
//! reports of [`crate::report`].

use super::policy::PolicyArgs;
use crate::engine::{self, Report, manifests};
use crate::policy::Policy;
use crate::report;
use crate::rules::Level;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// How `check` and `fix` read files: what to leave out, and how strict to be about it.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Leave out paths matching GLOB (gitignore syntax; repeatable): matched relative to each
    /// folder given, and to the current directory for files given by name. A
    /// `.sticky-guard-ignore` file at the root of a folder given is read too; `.gitignore` is
    /// not (rendered manifests are often git-ignored). Hidden folders are never walked.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Make skipped documents errors (exit 2): YAML without apiVersion and kind, Helm
    /// templates. Hidden folders and excluded paths stay left out.
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 when the input holds no Kubernetes object (an empty folder, only other YAML);
    /// without it that is "nothing to judge", exit 2. For pre-commit runs over any YAML.
    #[arg(long)]
    pub allow_empty: bool,
}

impl InputArgs {
    /// Reads `files` as these arguments say; `Err` for an `--exclude` pattern that does not
    /// parse.
    fn read(&self, files: &[PathBuf]) -> Result<manifests::Input, String> {
        manifests::read(
            files,
            &manifests::ReadOptions {
                exclude: self.exclude.clone(),
            },
        )
    }

    /// [`Report::finish_input`] with these arguments.
    fn finish(&self, report: &mut Report, skipped: Vec<manifests::Skipped>, files: &[PathBuf]) {
        let inputs: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        report.finish_input(skipped, self.strict, self.allow_empty, &inputs.join(", "));
    }
}

/// `--fail-on`: the lowest finding level that makes `check`, `fix` and `audit` exit 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Deny-level findings (the default).
    #[default]
    Deny,
    /// Warnings too.
    Warn,
    /// Never: findings are reported, the exit code says only whether the input could be read
    /// (and, for `fix --diff`, whether there is a diff).
    None,
}

impl FailOn {
    /// The level it fails at, `None` for never.
    pub fn level(self) -> Option<Level> {
        match self {
            FailOn::Deny => Some(Level::Deny),
            FailOn::Warn => Some(Level::Warn),
            FailOn::None => None,
        }
    }
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifest files or directories; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// The lowest finding level that makes the run exit 1.
    #[arg(long, value_enum, default_value_t = FailOn::Deny)]
    pub fail_on: FailOn,
    /// What to read.
    #[command(flatten)]
    pub input: InputArgs,
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
    /// Rewrite the files in place (atomically: a temporary file beside each, then a rename;
    /// permissions kept). Only files that change are written.
    #[arg(long, conflicts_with = "diff")]
    pub in_place: bool,
    /// Print a unified diff of the changes instead of the fixed files; exit 1 when there is
    /// one (for CI; with `--fail-on none`, only then).
    #[arg(long)]
    pub diff: bool,
    /// The lowest level of a finding that no fix removes that makes the run exit 1.
    #[arg(long, value_enum, default_value_t = FailOn::Deny)]
    pub fail_on: FailOn,
    /// What to read.
    #[command(flatten)]
    pub input: InputArgs,
    /// Policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `check` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One line per finding: `FILE:LINE:COL: LEVEL RULE Kind ns/name: message (fix: hint)`,
    /// and per error on stderr: `error: FILE:LINE:COL: message` (`FILE` alone for a whole
    /// file); coloured on a terminal (honours NO_COLOR).
    Human,
    /// One JSON document: `{"findings": [...], "errors": [...], "skipped": [...], "summary":
    /// {...}}` (`skipped`: `file`, `document` and `line` when one document, `reason`,
    /// `message`); a
    /// finding's `line` is the key at fault's (its `region` has the columns), `documentLine`
    /// the first line of its document; an error has `file`, and `document`, `line` and
    /// `column` when it is in one document.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs; the rule catalogue is in `tool.driver.rules`,
    /// errors and skipped inputs are the invocation's `toolExecutionNotifications`.
    Sarif,
}

/// `sticky-guard check`.
pub fn run_check(args: CheckArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let input = match args.input.read(&args.files) {
        Ok(input) => input,
        Err(e) => return super::fail(e),
    };
    let mut report = engine::check_documents(input.documents, input.errors, &policy);
    args.input.finish(&mut report, input.skipped, &args.files);
    print_report(&report, args.output, &policy, args.fail_on)
}

/// Prints a report in `output` format and returns the exit code (shared by `check` and
/// `audit`): the findings on stdout; errors and the summary on stderr (for JSON and SARIF the
/// summary is in the document).
pub fn print_report(report: &Report, output: Output, policy: &Policy, fail_on: FailOn) -> ExitCode {
    let rendered = match output {
        Output::Human => {
            anstream::eprint!("{}", report::text::errors(report));
            super::out(&report::text::findings(report));
            anstream::eprint!("{}", report::text::summary(report));
            return ExitCode::from(report.exit_code_failing_on(fail_on.level()));
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
    ExitCode::from(report.exit_code_failing_on(fail_on.level()))
}

/// `sticky-guard fix`: prints the fixed files (the default), rewrites them (`--in-place`), or
/// prints a unified diff (`--diff`). Findings no fix removes go to stderr, and so do suppressed
/// findings (not fixed), with their reasons.
///
/// Reads files as `check` does (skipping what is not a Kubernetes manifest, said on stderr;
/// "nothing to judge" unless `--allow-empty`).
///
/// Exit codes: 2 on input errors (nothing written); 1 when a finding no fix removes is at
/// `--fail-on` or above (deny by default), or with `--diff` when there is a diff; else 0.
pub fn run_fix(args: FixArgs) -> ExitCode {
    let policy = match args.policy.load() {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    if args.in_place && args.files.iter().any(|f| f.as_os_str() == "-") {
        return super::fail(
            "--in-place rewrites files: stdin (`-`) has none; use --diff or no flag",
        );
    }
    let input = match args.input.read(&args.files) {
        Ok(input) => input,
        Err(e) => return super::fail(e),
    };
    let mut fixed = engine::fix_documents(input.documents, input.errors, &policy);
    args.input
        .finish(&mut fixed.remaining, input.skipped, &args.files);
    anstream::eprint!("{}", report::text::skipped(&fixed.remaining));
    if !fixed.remaining.errors.is_empty() {
        anstream::eprint!("{}", report::text::errors(&fixed.remaining));
        eprintln!("nothing written: fix the errors above first");
        return ExitCode::from(2);
    }
    for file in &fixed.files {
        if !file.rewritten.is_empty() {
            let documents: Vec<String> = file.rewritten.iter().map(|d| format!("#{d}")).collect();
            eprintln!(
                "note: {} {}: written anew from its values (comments and formatting of that document are not kept)",
                file.file,
                documents.join(", ")
            );
        }
    }
    let outputs: Vec<OutputFile<'_>> = fixed
        .files
        .iter()
        .map(|f| OutputFile {
            file: &f.file,
            before: &f.before,
            after: &f.after,
            in_stream: f.has_objects,
        })
        .collect();
    // Only a diff makes `fix` exit 1 (for CI); a rewrite or the stream does not.
    let changed = match write_output(&outputs, args.diff, args.in_place, "fixed") {
        Ok(changed) => changed && args.diff,
        Err(code) => return code,
    };
    anstream::eprint!("{}", report::text::findings(&fixed.remaining));
    // Suppressed findings were not fixed; say which, with their reasons.
    anstream::eprint!("{}", report::text::suppressions(&fixed.remaining));
    let code = fixed
        .remaining
        .exit_code_failing_on(args.fail_on.level())
        .max(u8::from(changed));
    ExitCode::from(code)
}

/// One file as `fix` and `migrate` write it out.
pub(super) struct OutputFile<'a> {
    /// The file as given (`-` for stdin).
    pub file: &'a str,
    /// Its text as read.
    pub before: &'a str,
    /// Its text after the edits.
    pub after: &'a str,
    /// Whether it belongs in the stdout stream (files without Kubernetes objects do not).
    pub in_stream: bool,
}

/// Writes `files` out as `fix` does: a unified diff of the changed ones (`diff`), the changed
/// ones rewritten atomically, each named on stderr as `<verb> FILE` (`in_place`), or else all of
/// them on stdout as one stream, `---` between files. `Ok(true)` when a file changed; `Err`
/// (exit 2) when a file cannot be written.
pub(super) fn write_output(
    files: &[OutputFile<'_>],
    diff: bool,
    in_place: bool,
    verb: &str,
) -> Result<bool, ExitCode> {
    let mut changed = false;
    if diff {
        let mut text = String::new();
        for file in files.iter().filter(|f| f.after != f.before) {
            changed = true;
            text.push_str(
                &similar::TextDiff::from_lines(file.before, file.after)
                    .unified_diff()
                    .header(
                        &format!("a/{}", file.file.trim_start_matches('/')),
                        &format!("b/{}", file.file.trim_start_matches('/')),
                    )
                    .to_string(),
            );
        }
        super::out(&text);
    } else if in_place {
        for file in files.iter().filter(|f| f.after != f.before) {
            changed = true;
            if let Err(e) = write_atomically(std::path::Path::new(file.file), file.after) {
                return Err(super::fail(format!("cannot write {}: {e}", file.file)));
            }
            eprintln!("{verb} {}", file.file);
        }
    } else {
        let mut text = String::new();
        for file in files.iter().filter(|f| f.in_stream) {
            changed |= file.after != file.before;
            // Files follow each other as one stream: a document separator between them.
            if !text.is_empty() && !file.after.starts_with("---") {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str("---\n");
            }
            text.push_str(file.after);
        }
        super::out(&text);
    }
    Ok(changed)
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a file; the file keeps its permissions.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let permissions = std::fs::metadata(path)?.permissions();
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(text.as_bytes())?;
    temporary.as_file().sync_all()?;
    std::fs::set_permissions(temporary.path(), permissions)?;
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}

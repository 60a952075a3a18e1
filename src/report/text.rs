//! The text report: one line per finding and per error, then the summary. Lines carry ANSI
//! styles (`anstyle`); the command line strips them unless it writes to a colour terminal.

use crate::engine::Report;
use crate::engine::manifests::{SkipReason, Skipped};
use crate::rules::Level;
use std::collections::BTreeSet;

/// `error: LOCATION: MESSAGE`, one line per input error.
pub fn errors(report: &Report) -> String {
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Red.into()));
    report
        .errors
        .iter()
        .map(|e| format!("{style}error{style:#}: {}: {}\n", e.position(), e.message))
        .collect()
}

/// `FILE:LINE:COL: LEVEL RULE Kind ns/name: message`, one line per finding, at the key at
/// fault (the form compilers and linters use, which editors and CI annotate). The message
/// already says what to do; a fixable finding gets an indented second line saying that
/// `sticky-guard fix` (and the mutating webhook) makes the change. The rule's general advice is
/// in `sticky-guard rules ID` and in `-o json`'s `hint`.
pub fn findings(report: &Report) -> String {
    let bold = anstyle::Style::new().bold();
    let dim = anstyle::Style::new().dimmed();
    let mut out = String::new();
    for f in &report.findings {
        let colour = match f.level {
            Level::Deny => anstyle::AnsiColor::Red,
            Level::Warn => anstyle::AnsiColor::Yellow,
        };
        let level = anstyle::Style::new().bold().fg_color(Some(colour.into()));
        out.push_str(&format!(
            "{}:{}:{}: {level}{}{level:#} {bold}{}{bold:#} {}: {}\n",
            f.location.file,
            f.region.start_line,
            f.region.start_column,
            f.level.as_str(),
            f.rule,
            f.object,
            f.message,
        ));
        if f.fixable {
            out.push_str(&format!(
                "    {dim}fixable: `sticky-guard fix` makes this change (so does the mutating \
                 webhook){dim:#}\n"
            ));
        }
    }
    out
}

/// `skipped: FILE[:LINE:1]: why`, one line per document, file or folder left out (a document
/// that is not a Kubernetes object is located at its first line).
pub fn skipped(report: &Report) -> String {
    report
        .skipped
        .iter()
        .map(|s| format!("skipped: {}: {}\n", s.at(), s.message))
        .collect()
}

/// `suppressed: FILE:LINE:COL: RULE on Kind ns/name: "reason"`, one line per suppression
/// annotation that removed findings, located at the annotation, with `(N findings)` when it
/// removed more than one, and a note when the webhook would not honour it (the policy does not
/// list the rule as suppressible); then `warning: FILE:LINE:COL: ANNOTATION on Kind ns/name
/// suppresses nothing: unknown rule ID …` for each annotation naming no rule.
pub fn suppressions(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.suppressed {
        let reason = if s.reason.trim().is_empty() {
            s.reason_text().to_string()
        } else {
            format!("\"{}\"", s.reason)
        };
        out.push_str(&format!(
            "suppressed: {}:{}:{}: {} on {}: {reason}",
            s.location.file, s.region.start_line, s.region.start_column, s.rule, s.object,
        ));
        if s.findings.len() > 1 {
            out.push_str(&format!(" ({} findings)", s.findings.len()));
        }
        if !s.webhook {
            out.push_str(&format!(
                "; the webhook ignores it unless the policy lists {} as suppressible",
                s.rule
            ));
        }
        out.push('\n');
    }
    for u in &report.unknown_suppressions {
        out.push_str(&format!(
            "warning: {}:{}:{}: {} on {} suppresses nothing: {}\n",
            u.location.file,
            u.region.start_line,
            u.region.start_column,
            u.annotation,
            u.object,
            u.message
        ));
    }
    out
}

/// What was left out, counted by reason: `skipped 3 document(s) in 3 file(s) that are not
/// Kubernetes objects, 1 Helm template(s), 1 hidden folder(s), 1 excluded path(s)`; `None`
/// when nothing was.
pub fn skipped_counts(report: &Report) -> Option<String> {
    let mut parts = Vec::new();
    for reason in SkipReason::ALL {
        let of: Vec<&Skipped> = report
            .skipped
            .iter()
            .filter(|s| s.reason == reason)
            .collect();
        if of.is_empty() {
            continue;
        }
        let n = of.len();
        parts.push(match reason {
            SkipReason::NotAKubernetesObject => {
                let files: BTreeSet<&str> = of.iter().map(|s| s.file.as_str()).collect();
                format!(
                    "{n} document(s) in {} file(s) that are not Kubernetes objects",
                    files.len()
                )
            }
            SkipReason::HelmTemplate => format!("{n} Helm template(s)"),
            SkipReason::HiddenFolder => format!("{n} hidden folder(s)"),
            SkipReason::Excluded => format!("{n} excluded path(s)"),
        });
    }
    (!parts.is_empty()).then(|| format!("skipped {}", parts.join(", ")))
}

/// The summary: what was left out (one line each, then counted by reason), suppressions
/// ([`suppressions`]), duplicated objects (one line each), what was judged and skipped, and
/// the finding counts (with the suppressed findings, which do not count, when there are any).
pub fn summary(report: &Report) -> String {
    let mut out = skipped(report);
    if let Some(counts) = skipped_counts(report) {
        out.push_str(&counts);
        out.push('\n');
    }
    out.push_str(&suppressions(report));
    for duplicate in &report.summary.duplicates {
        out.push_str(&format!(
            "note: {duplicate}: given more than once; kubectl apply keeps the last\n"
        ));
    }
    let deny = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Deny)
        .count();
    let fixable = report.findings.iter().filter(|f| f.fixable).count();
    out.push_str(&format!("{}\n", report.summary.line()));
    let suppressed: usize = report.suppressed.iter().map(|s| s.findings.len()).sum();
    let suppressed = match suppressed {
        0 => String::new(),
        n => format!("; {n} suppressed"),
    };
    out.push_str(&format!(
        "{} finding(s): {deny} deny, {} warn, {fixable} fixable with `sticky-guard fix`{suppressed}; {} error(s)\n",
        report.findings.len(),
        report.findings.len() - deny,
        report.errors.len()
    ));
    out
}

//! Reports of the offline engine ([`crate::engine::Report`]) in each output format: text for
//! people ([`text`]), JSON ([`json`]), SARIF 2.1.0 for code-scanning UIs ([`sarif`]), and
//! Kubernetes policy reports ([`policy_reports`]).
//! Rendering only: nothing here judges or prints.

pub mod policy_reports;
pub mod sarif;
pub mod text;

use crate::engine::Report;

/// The report as one pretty-printed JSON document: `{"findings": [...], "errors": [...],
/// "skipped": [...], "summary": {...}}`, with a final newline.
///
/// # Errors
/// serde_json's, which a report (strings and numbers only) never produces.
pub fn json(report: &Report) -> serde_json::Result<String> {
    serde_json::to_string_pretty(report).map(|text| text + "\n")
}

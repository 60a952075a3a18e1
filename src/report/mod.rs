//! Reports of the offline engine ([`crate::engine::Report`]) in each output format: text for
//! people ([`text`]), JSON ([`json`]) and SARIF 2.1.0 for code-scanning UIs ([`sarif`]).
//! Rendering only: nothing here judges or prints.

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

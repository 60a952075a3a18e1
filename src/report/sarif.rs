//! `check --output sarif`: SARIF 2.1.0 (OASIS), so findings show up in code-scanning UIs.
//!
//! Written with `serde_json::json!` against the schema rather than with a SARIF type crate: the
//! handful of properties used here read more plainly this way, and a test validates the output
//! against the official SARIF 2.1.0 JSON schema (`tests/data/sarif-schema-2.1.0.json`).

use crate::engine::Report;
use crate::policy::{Action, Policy};
use crate::rules::{CATALOGUE, Level};
use serde_json::{Value, json};

/// The SARIF log for a `check` report.
///
/// One run; `tool.driver.rules` is the whole catalogue (with each rule's configured action as
/// its default level); one result per finding, located at the key at fault (a region with
/// start and end line and column, columns in Unicode code points), with the object as a
/// logical location. Unreadable inputs are tool execution notifications at level `error`;
/// documents, files and folders left out are notifications at level `note` (with the reason
/// in `properties.reason`).
pub fn sarif(report: &Report, policy: &Policy) -> Value {
    let rules: Vec<Value> = CATALOGUE
        .iter()
        .map(|rule| {
            let level = match policy.action(rule.id, rule.default_action) {
                Action::Deny => "error",
                Action::Warn => "warning",
                Action::Off => "none",
            };
            json!({
                "id": rule.id,
                "name": rule.id,
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": rule.why.replace("<prefix>", &policy.annotation_prefix)},
                "help": {"text": rule.fix.replace("<prefix>", &policy.annotation_prefix)},
                "defaultConfiguration": {"level": level},
                "properties": {"source": rule.source, "kind": rule.kinds_text()}
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let rule_index = CATALOGUE.iter().position(|r| r.id == f.rule).unwrap_or(0);
            let object = &f.object;
            let qualified = match &object.namespace {
                Some(ns) => format!("{}/{}/{}", object.kind, ns, object.name),
                None => format!("{}/{}", object.kind, object.name),
            };
            json!({
                "ruleId": f.rule,
                "ruleIndex": rule_index,
                "level": match f.level { Level::Deny => "error", Level::Warn => "warning" },
                "message": {"text": format!("{} {}", object, f.message)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.location.file)},
                        "region": {
                            "startLine": f.region.start_line,
                            "startColumn": f.region.start_column,
                            "endLine": f.region.end_line,
                            "endColumn": f.region.end_column
                        }
                    },
                    "logicalLocations": [{"fullyQualifiedName": qualified, "kind": "resource"}]
                }],
                "properties": {
                    "document": f.location.document,
                    "field": f.field,
                    "fixable": f.fixable,
                    "hint": f.hint
                }
            })
        })
        .collect();
    let mut notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut physical = json!({"artifactLocation": {"uri": uri(&e.file)}});
            if let (Some(line), Some(column)) = (e.line, e.column) {
                physical["region"] = json!({"startLine": line, "startColumn": column});
            }
            json!({
                "level": "error",
                "message": {"text": e.message},
                "locations": [{"physicalLocation": physical}],
                "properties": {"document": e.document}
            })
        })
        .collect();
    // What was left out, as notes located at the file (and the document's first line).
    notifications.extend(report.skipped.iter().map(|s| {
        let mut physical = json!({"artifactLocation": {"uri": uri(&s.file)}});
        if let Some(line) = s.line {
            physical["region"] = json!({"startLine": line});
        }
        json!({
            "level": "note",
            "message": {"text": format!("skipped: {}", s.message)},
            "locations": [{"physicalLocation": physical}],
            "properties": {"reason": s.reason}
        })
    }));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sticky-guard",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications
            }],
            "results": results
        }]
    })
}

/// A relative URI reference for a file path (`-` is stdin): `/` separators, spaces and `%`
/// escaped.
fn uri(path: &str) -> String {
    let path = if path == "-" { "stdin" } else { path };
    path.replace('\\', "/")
        .replace('%', "%25")
        .replace(' ', "%20")
}

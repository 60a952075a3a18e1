//! `check --output sarif`: SARIF 2.1.0 (OASIS), so findings show up in code-scanning UIs.
//!
//! Written with `serde_json::json!` against the schema rather than with a SARIF type crate: the
//! handful of properties used here read more plainly this way, and a test validates the output
//! against the official SARIF 2.1.0 JSON schema (`tests/data/sarif-schema-2.1.0.json`).

use crate::engine::positions::Region;
use crate::engine::{Report, Reported};
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
/// in `properties.reason`). A suppressed finding is a result too, with `suppressions: [{kind:
/// "inSource", status: "accepted", justification: REASON, location: the annotation}]`; a
/// suppression annotation naming no rule is a notification at level `warning`.
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
    let mut results: Vec<Value> = report.findings.iter().map(result).collect();
    // Suppressed findings are kept as results, each with its in-source suppression (SARIF
    // 2.1.0 §3.35): code-scanning UIs list them as suppressed rather than as alerts.
    for s in &report.suppressed {
        let mut suppression = json!({
            "kind": "inSource",
            "status": "accepted",
            "location": {"physicalLocation": {
                "artifactLocation": {"uri": uri(&s.location.file)},
                "region": region(&s.region)
            }},
            "properties": {"annotation": s.annotation(), "webhook": s.webhook}
        });
        if !s.reason.trim().is_empty() {
            suppression["justification"] = json!(s.reason);
        }
        for f in &s.findings {
            let mut result = result(f);
            result["suppressions"] = json!([suppression]);
            results.push(result);
        }
    }
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
    // Suppression annotations that name no rule, as warnings located at the annotation.
    notifications.extend(report.unknown_suppressions.iter().map(|u| {
        json!({
            "level": "warning",
            "message": {"text": format!("{} on {} suppresses nothing: {}", u.annotation, u.object, u.message)},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri(&u.location.file)},
                "region": region(&u.region)
            }}],
            "properties": {"reason": "unknown-suppression"}
        })
    }));
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

/// One result: a finding located at the key at fault, with the object as a logical location.
fn result(f: &Reported) -> Value {
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
                "region": region(&f.region)
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
}

/// A SARIF region: start and end line and column.
fn region(region: &Region) -> Value {
    json!({
        "startLine": region.start_line,
        "startColumn": region.start_column,
        "endLine": region.end_line,
        "endColumn": region.end_column
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

//! `check --output sarif` is valid SARIF 2.1.0 and carries the catalogue and the findings.

mod common;

use serde_json::Value;
use std::process::Command;

fn sarif_of(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["check", "--output", "sarif"])
        .args(args)
        .output()
        .unwrap();
    let log = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    (out.status.code().unwrap(), log)
}

fn assert_valid(log: &Value) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sarif-schema-2.1.0.json"
    );
    // The published 2.1.0 schema's `run.language` pattern has a stray `]`
    // (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`) that strict regex engines refuse; the
    // intended pattern is substituted here, leaving the shipped file as published.
    let text = std::fs::read_to_string(path).unwrap().replace(
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn seed_scenarios_give_valid_sarif() {
    let dir = common::fixture("seed-scenarios");
    let (code, log) = sarif_of(&[dir.to_str().unwrap()]);
    assert_eq!(code, 2, "scenario 06 is an input error");
    assert_valid(&log);
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let catalogue: Vec<&str> = sticky_guard::rules::CATALOGUE
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, catalogue);
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    let results = run["results"].as_array().unwrap();
    let dotted = results
        .iter()
        .find(|r| r["ruleId"] == "cross-namespace-backend")
        .expect("scenario 03's finding");
    assert_eq!(dotted["level"], "error");
    assert_eq!(
        rules[dotted["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "cross-namespace-backend"
    );
    let location = &dotted["locations"][0]["physicalLocation"];
    assert!(
        location["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("03-dotted-service-name.yaml")
    );
    // Scenario 03's dotted name: the `name:` key of the backend, line 20, column 17.
    assert_eq!(location["region"]["startLine"], 20);
    assert_eq!(location["region"]["startColumn"], 17);
    assert_eq!(location["region"]["endLine"], 20);
    assert_eq!(location["region"]["endColumn"], 21);
    assert_eq!(
        dotted["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "Ingress/ingress-shared/mysite"
    );
}

/// What a run over a repository skips is given as `note` notifications, valid SARIF.
#[test]
fn skipped_inputs_give_valid_sarif_notes() {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/repo");
    let (code, log) = sarif_of(&[repo]);
    assert_eq!(code, 1, "the sticky regex Ingress");
    assert_valid(&log);
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 5);
    assert!(notes.iter().all(|n| n["level"] == "note"));
}

#[test]
fn clean_input_gives_valid_sarif_with_no_results() {
    let file = common::fixture("seed-scenarios/07-plain-ingress-v1beta1.yaml");
    let (code, log) = sarif_of(&[file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_valid(&log);
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn rule_levels_follow_the_policy() {
    let file = common::fixture("seed-scenarios/01-regex-path-missing-cookie-path.yaml");
    let (code, log) = sarif_of(&[
        file.to_str().unwrap(),
        "--rule",
        "cookie-path-for-regex=warn",
    ]);
    assert_eq!(code, 0);
    assert_valid(&log);
    let run = &log["runs"][0];
    assert_eq!(run["results"][0]["level"], "warning");
    assert_eq!(
        run["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"],
        "warning"
    );
}

#[test]
fn the_schema_check_can_fail() {
    let file = common::fixture("seed-scenarios/03-dotted-service-name.yaml");
    let (_, mut log) = sarif_of(&[file.to_str().unwrap()]);
    log["runs"][0]["results"][0]["level"] = Value::from("fatal");
    let result = std::panic::catch_unwind(|| assert_valid(&log));
    assert!(result.is_err(), "an invalid level must not validate");
}

/// A suppressed finding stays a result, with an in-source suppression carrying the reason and
/// the annotation's location, and the log is still valid SARIF 2.1.0.
#[test]
fn a_suppressed_finding_is_a_result_with_an_in_source_suppression() {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/repo");
    let (code, log) = sarif_of(&[repo]);
    assert_eq!(code, 1, "the shop's deny");
    assert_valid(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1, "{results:#?}");
    let result = suppressed[0];
    assert_eq!(result["ruleId"], "cookie-path-for-regex");
    assert_eq!(
        result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "Ingress/shop/legacy"
    );
    let suppression = &result["suppressions"][0];
    assert_eq!(suppression["kind"], "inSource");
    assert_eq!(suppression["status"], "accepted");
    assert_eq!(
        suppression["justification"],
        "the legacy app sets Path=/ itself"
    );
    assert_eq!(
        suppression["location"]["physicalLocation"]["region"]["startLine"],
        8
    );
    assert!(
        suppression["location"]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("apps/legacy-ingress.yaml")
    );
    // The unsuppressed deny is a result without suppressions.
    assert_eq!(results.len(), 2);
}

/// A suppression naming no rule is a warning notification, and the log stays valid.
#[test]
fn an_unknown_suppression_is_a_warning_notification() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/repo/apps/legacy-ingress.yaml"
    ))
    .unwrap()
    .replace("cookie-path-for-regex:", "cookie-path-for-regexp:");
    let file = dir.path().join("legacy.yaml");
    std::fs::write(&file, legacy).unwrap();
    let (code, log) = sarif_of(&[file.to_str().unwrap()]);
    assert_eq!(code, 1, "nothing suppressed");
    assert_valid(&log);
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "warning");
    assert_eq!(notes[0]["properties"]["reason"], "unknown-suppression");
}

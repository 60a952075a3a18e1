//! `check` on real manifests written by other people (`../shared/fixtures/real-world/`, sources
//! in its `SOURCES.tsv`): each file, judged on its own, gets the verdict and the rules its
//! `EXPECTED.tsv` gives, except where a rule added since the corpus was collected legitimately
//! fires: [`NEWER_RULES`] lists those differences with the reason.
//!
//! The files are third-party data: read from `../shared`, never copied into the repository.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real-world")
}

/// Rules that fire on a file beyond its `EXPECTED.tsv` row, because they are newer than the
/// corpus: `(file, rule, why it is right)`.
const NEWER_RULES: &[(&str, &str, &str)] = &[
    (
        "019-wso2apim-pattern1-ingress-tabs.yaml",
        "affinity-with-ssl-passthrough",
        "cookie affinity with ssl-passthrough: passthrough works at layer 4 and ignores every \
         other annotation (ingress-nginx annotations.md L598-600); EXPECTED.tsv's reason names \
         this missing rule",
    ),
    (
        "058-contrib2631-gce-class-sticky.yaml",
        "affinity-annotations-on-other-controller",
        "ingress-nginx affinity annotations on a gce-class Ingress do nothing; EXPECTED.tsv's \
         reason names this missing rule",
    ),
    (
        "051-ticketing-ingress-srv.yaml",
        "regex-path-with-exact-or-prefix",
        "regex paths (`/api/users/?(.*)`) with pathType Prefix: ingress-nginx 1.12+'s admission \
         webhook refuses them (strict-validate-path-type, default true since v1.12.0; \
         internal/ingress/inspector/rules.go L37)",
    ),
    (
        "052-blog-ingress-srv.yaml",
        "regex-path-with-exact-or-prefix",
        "regex paths with pathType Prefix, refused by ingress-nginx 1.12+ as in 051",
    ),
];

struct Expected {
    file: String,
    verdict: String,
    rules: BTreeSet<String>,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(corpus().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() >= 3, "bad row: {line}");
            let mut rules: BTreeSet<String> = cols[2]
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty() && r != "-")
                .collect();
            for (file, rule, _) in NEWER_RULES {
                if *file == cols[0] {
                    rules.insert(rule.to_string());
                }
            }
            Expected {
                file: cols[0].to_string(),
                verdict: cols[1].to_string(),
                rules,
            }
        })
        .collect()
}

/// `(exit code, report)` of `check -o json FILE`.
fn check(file: &str) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["check", "-o", "json"])
        .arg(corpus().join(file))
        .output()
        .expect("run sticky-guard");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report)
}

/// The verdict `check` gives: `error` (exit 2), `deny`/`fixable-deny` (exit 1, with or without
/// every deny fixable), `warn` (exit 0 with findings), `clean`.
fn verdict(code: i32, report: &Value) -> String {
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    match code {
        2 => "error".into(),
        1 => {
            let denials: Vec<&Value> = findings.iter().filter(|f| f["level"] == "deny").collect();
            if denials.iter().all(|f| f["fixable"] == true) {
                "fixable-deny".into()
            } else {
                "deny".into()
            }
        }
        0 if findings.is_empty() => "clean".into(),
        0 => "warn".into(),
        other => format!("exit {other}"),
    }
}

#[test]
fn every_file_gets_its_expected_verdict_and_rules() {
    let expected = expected();
    assert!(
        expected.len() >= 39,
        "the corpus has {} rows",
        expected.len()
    );
    let mut failures = Vec::new();
    for e in &expected {
        let (code, report) = check(&e.file);
        let mut verdict = verdict(code, &report);
        let fired: BTreeSet<String> = report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["rule"].as_str().map(String::from))
            .collect();
        // A newer warn-level rule turns a clean file into a warned one.
        let newer_only = !fired.is_empty()
            && fired.iter().all(|r| {
                NEWER_RULES
                    .iter()
                    .any(|(file, rule, _)| *file == e.file && rule == r)
            });
        if e.verdict == "clean" && verdict == "warn" && newer_only {
            verdict = "clean".into();
        }
        if verdict != e.verdict || fired != e.rules {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {:?} (exit {code})",
                e.file, e.verdict, e.rules, verdict, fired
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn each_listed_difference_is_a_file_of_the_corpus_and_fires() {
    for (file, rule, why) in NEWER_RULES {
        assert!(!why.is_empty());
        let (_, report) = check(file);
        let fired: Vec<&str> = report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert!(fired.contains(rule), "{file}: {rule} does not fire");
    }
}

#[test]
fn invalid_yaml_is_an_error_with_a_line_number() {
    let (code, report) = check("037-proprogrammer-cross-ns-resources.yaml");
    assert_eq!(code, 2);
    let message = report["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("line 8"), "{message}");
}

#[test]
fn the_summary_says_what_was_skipped() {
    // Helm-rendered controller install: no Ingress, many kinds not judged.
    let (_, report) = check("013-ingress-nginx-deploy-cloud.yaml");
    let summary = &report["summary"];
    assert_eq!(summary["judged"], 2, "{summary}");
    assert_eq!(summary["kindNotJudged"]["Deployment"], 1, "{summary}");
    // A class of another controller is skipped, and said so.
    let (_, report) = check("028-k8s-website-minimal-ingress.yaml");
    assert_eq!(report["summary"]["otherClass"]["nginx-example"], 1);
    assert_eq!(report["summary"]["judged"], 0);
}

//! `sticky-guard check` and `fix` on the seed scenarios: exact exit codes and output.

mod common;

use common::fixture;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sticky_guard(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn seed(name: &str) -> String {
    fixture(&format!("seed-scenarios/{name}"))
        .to_string_lossy()
        .into_owned()
}

fn check_json(file: &str) -> (i32, Value) {
    let out = sticky_guard(&["check", "--output", "json", file], None);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    (out.status.code().unwrap(), report)
}

fn rules_of(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["rule"].as_str().unwrap(),
                f["level"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn scenario_01_regex_path_is_a_fixable_denial() {
    let (code, report) = check_json(&seed("01-regex-path-missing-cookie-path.yaml"));
    assert_eq!(code, 1);
    assert_eq!(rules_of(&report), vec!["cookie-path-for-regex:deny"]);
    let f = &report["findings"][0];
    assert_eq!(f["kind"], "Ingress");
    assert_eq!(f["namespace"], "myapp");
    assert_eq!(f["name"], "mysite");
    assert_eq!(f["document"], 1);
    assert_eq!(f["fixable"], true);
    assert!(
        f["file"]
            .as_str()
            .unwrap()
            .ends_with("01-regex-path-missing-cookie-path.yaml")
    );
}

#[test]
fn scenario_03_dotted_backend_is_denied() {
    let file = seed("03-dotted-service-name.yaml");
    let out = sticky_guard(&["check", &file], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].starts_with(&format!(
        "{file}#1: deny cross-namespace-backend Ingress ingress-shared/mysite: backend `mysvc.otherns.svc.cluster.local` names Service `mysvc` in namespace `otherns`"
    )), "{stdout}");
    assert!(lines[0].contains("(fix: Put the Ingress in the Service's namespace"));
}

#[test]
fn scenarios_without_findings_exit_0() {
    for name in [
        "07-plain-ingress-v1beta1.yaml",
        "05-gke-backendconfig-neg.yaml",
    ] {
        let (code, report) = check_json(&seed(name));
        assert_eq!(code, 0, "{name}");
        assert!(rules_of(&report).is_empty(), "{name}: {report}");
    }
}

#[test]
fn scenario_06_unquoted_number_is_a_clear_error() {
    let file = seed("06-balanced-unquoted-max-age.yaml");
    let out = sticky_guard(&["check", &file], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "error: {file}#1: Ingress example-ingress: metadata.annotations[\"nginx.ingress.kubernetes.io/session-cookie-max-age\"] is a number (60), but annotation values must be strings: quote it as \"60\""
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));

    // Quoted, the bundle has no finding.
    let text = std::fs::read_to_string(&file).unwrap();
    let quoted = text.replace(
        "session-cookie-max-age: 60",
        "session-cookie-max-age: \"60\"",
    );
    assert_ne!(text, quoted);
    let out = sticky_guard(&["check", "--output", "json", "-"], Some(&quoted));
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["errors"], serde_json::json!([]));
}

#[test]
fn check_reads_several_files_and_directories() {
    let dir = fixture("seed-scenarios");
    let out = sticky_guard(&["check", "--output", "json", dir.to_str().unwrap()], None);
    // Scenario 06 is in there: a parse error wins over findings.
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"].as_array().unwrap().len(), 1);
    let rules = rules_of(&report);
    assert!(rules.contains(&"cookie-path-for-regex:deny".to_string()));
    assert!(rules.contains(&"cross-namespace-backend:deny".to_string()));
}

#[test]
fn fix_writes_the_patched_manifest() {
    let out = sticky_guard(
        &["fix", &seed("01-regex-path-missing-cookie-path.yaml")],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n"),
        "{stdout}"
    );
    assert!(stdout.contains("    nginx.ingress.kubernetes.io/session-cookie-path: /mysite\n"));
    assert_eq!(stdout.matches("\n---\n").count(), 1, "both documents kept");

    // The fixed manifest checks clean, and fixing it again changes nothing.
    let out2 = sticky_guard(&["check", "-"], Some(&stdout));
    assert_eq!(out2.status.code(), Some(0));
    let again = sticky_guard(&["fix", "-"], Some(&stdout));
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stdout);
}

#[test]
fn fix_reports_what_it_cannot_fix_and_refuses_bad_input() {
    let out = sticky_guard(&["fix", &seed("03-dotted-service-name.yaml")], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cross-namespace-backend")
    );

    let out = sticky_guard(&["fix", &seed("06-balanced-unquoted-max-age.yaml")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing written on a parse error");
}

#[test]
fn usage_and_input_errors_exit_2() {
    assert_eq!(sticky_guard(&["check"], None).status.code(), Some(2));
    assert_eq!(
        sticky_guard(&["check", "--output", "xml", "x"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sticky_guard(&["check", "/nonexistent/file.yaml"], None)
            .status
            .code(),
        Some(2)
    );
    let out = sticky_guard(&["check", "-"], Some("kind: [unclosed\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("error: -#1: not valid YAML or JSON")
    );
    let out = sticky_guard(
        &["check", "-"],
        Some("apiVersion: networking.k8s.io/v2\nkind: Ingress\nmetadata: {name: x}\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("apiVersion `networking.k8s.io/v2`")
    );
}

#[test]
fn serve_requires_certificates() {
    let out = sticky_guard(&["serve"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = sticky_guard(
        &[
            "serve",
            "--tls-cert",
            "/nonexistent.crt",
            "--tls-key",
            "/nonexistent.key",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot read /nonexistent.crt")
    );
}

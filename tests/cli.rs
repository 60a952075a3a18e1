//! `sticky-guard check` and `fix` on the seed scenarios: exact exit codes and output.

mod common;

use common::fixture;
use serde_json::Value;
use std::process::{Command, Output, Stdio};

fn sticky_guard(args: &[&str], stdin: Option<&str>) -> Output {
    common::run_binary(args, stdin)
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
        "{file}:20:17: deny cross-namespace-backend Ingress ingress-shared/mysite: backend `mysvc.otherns.svc.cluster.local` names Service `mysvc` in namespace `otherns`"
    )), "{stdout}");
    assert!(!lines[0].contains("(fix: "), "the message says what to do");
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
            "error: {file}:14:5: Ingress example-ingress: metadata.annotations[\"nginx.ingress.kubernetes.io/session-cookie-max-age\"] is a number (60), but annotation values must be strings: quote it as \"60\""
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
    // The file as it was, comments included, with one line added after the last annotation.
    let original = std::fs::read_to_string(seed("01-regex-path-missing-cookie-path.yaml")).unwrap();
    let last = "    nginx.ingress.kubernetes.io/rewrite-target: /$2\n";
    assert!(original.contains(last));
    assert_eq!(
        stdout,
        original.replace(
            last,
            &format!("{last}    nginx.ingress.kubernetes.io/session-cookie-path: /mysite\n")
        )
    );

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
            .starts_with("error: -:2:1: not valid YAML or JSON: did not find expected ',' or ']'")
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

#[test]
fn docs_rule_table_is_generated_from_the_catalogue() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    let start = readme.find("<!-- rules:begin -->\n").expect("begin marker") + 21;
    let end = readme.find("<!-- rules:end -->").expect("end marker");
    assert_eq!(&readme[start..end], sticky_guard::cli::markdown_table());
    let out = sticky_guard(&["rules", "--output", "markdown"], None);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        sticky_guard::cli::markdown_table()
    );
}

#[test]
fn docs_annotation_table_is_generated_from_the_controller_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    let marker = "<!-- annotations:begin -->\n";
    let start = readme.find(marker).expect("begin marker") + marker.len();
    let end = readme.find("<!-- annotations:end -->").expect("end marker");
    assert_eq!(&readme[start..end], sticky_guard::cli::annotations_table());
    let out = sticky_guard(&["rules", "--output", "annotations"], None);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        sticky_guard::cli::annotations_table()
    );
}

/// `rules --output kinds` prints what the kinds table asks of manifests/base/ (tests/manifests.rs
/// checks the manifests against the same table).
#[test]
fn rules_prints_what_the_kinds_table_asks_of_the_manifests() {
    let out = sticky_guard(&["rules", "--output", "kinds"], None);
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_norway::from_slice(&out.stdout).unwrap();
    let resources = |key: &str| -> Vec<String> {
        printed[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["resources"][0].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        resources("mutatingWebhookRules"),
        ["ingresses", "httproutes", "grpcroutes"]
    );
    assert_eq!(
        resources("validatingWebhookRules"),
        ["ingresses", "services", "httproutes", "grpcroutes"]
    );
    assert_eq!(
        resources("viewClusterRoleRules"),
        [
            "ingresses",
            "services",
            "ingressclasses",
            "backendconfigs",
            "httproutes",
            "grpcroutes",
            "gateways",
            "gatewayclasses",
            "referencegrants"
        ]
    );
}

/// The pre-commit hooks name the two commands, and their entries are command lines the binary
/// accepts (with a file appended, as pre-commit does).
#[test]
fn pre_commit_hooks_are_valid_command_lines() {
    use clap::Parser;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.pre-commit-hooks.yaml"
    ))
    .unwrap();
    let hooks: Vec<Value> = serde_norway::from_str(&text).unwrap();
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["sticky-guard-check", "sticky-guard-fix"]);
    for hook in &hooks {
        assert_eq!(hook["language"], "rust");
        let mut args: Vec<&str> = hook["entry"].as_str().unwrap().split(' ').collect();
        args.push("deploy/ingress.yaml");
        assert!(
            sticky_guard::cli::Cli::try_parse_from(&args).is_ok(),
            "{args:?}"
        );
    }
}

#[test]
fn rules_lists_and_explains() {
    let out = sticky_guard(&["rules"], None);
    assert_eq!(out.status.code(), Some(0));
    let listing = String::from_utf8(out.stdout).unwrap();
    for rule in sticky_guard::rules::CATALOGUE {
        assert!(listing.contains(rule.id), "{}", rule.id);
    }
    let out = sticky_guard(&["rules", "cookie-path-for-regex"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("cookie-path-for-regex: Sticky Ingress with regex paths"));
    assert!(text.contains("\nWhy:\n") && text.contains("\nFix:\n") && text.contains("\nSource:\n"));
    let out = sticky_guard(&["rules", "no-such-rule"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rule_actions_from_flags_env_and_file_change_the_exit_code() {
    let file = seed("01-regex-path-missing-cookie-path.yaml");
    let (code, _) = check_json(&file);
    assert_eq!(code, 1);

    let out = sticky_guard(
        &[
            "check",
            "-o",
            "json",
            "--rule",
            "cookie-path-for-regex=warn",
            &file,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules_of(&report), vec!["cookie-path-for-regex:warn"]);

    let out = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["check", "-o", "json", &file])
        .env("STICKY_GUARD_RULES", "cookie-path-for-regex=off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rules_of(&report).is_empty());

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("policy.yaml");
    std::fs::write(&config, "rules:\n  cookie-path-for-regex: off\n").unwrap();
    let out = sticky_guard(
        &["check", "--config", config.to_str().unwrap(), &file],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    // A flag beats the file.
    let out = sticky_guard(
        &[
            "check",
            "--config",
            config.to_str().unwrap(),
            "--rule",
            "cookie-path-for-regex=deny",
            &file,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ingress_class_and_prefix_flags() {
    let file = seed("01-regex-path-missing-cookie-path.yaml");
    let out = sticky_guard(&["check", "--ingress-class", "internal", &file], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "class nginx is no longer judged"
    );
    let out = sticky_guard(
        &["check", "--exclude-namespace", "kube-system,myapp", &file],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    // Scenario 04 under the old prefix is sticky when the controller runs with that prefix.
    let legacy = seed("04-legacy-v1beta1-sticky.yaml");
    let (_, report) = check_json(&legacy);
    assert_eq!(
        rules_of(&report),
        vec!["ignored-annotation:warn", "ignored-annotation:warn"]
    );
    let out = sticky_guard(
        &[
            "check",
            "-o",
            "json",
            "--annotation-prefix",
            "ingress.kubernetes.io",
            &legacy,
        ],
        None,
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rules_of(&report),
        vec!["ignored-annotation:warn"],
        "only session-cookie-hash is left"
    );
}

#[test]
fn a_bad_policy_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("policy.yaml");
    std::fs::write(&config, "rules:\n  cookie-path-for-regex: block\n").unwrap();
    let expected = format!(
        "error: {}: rules.cookie-path-for-regex: unknown variant `block`, expected one of `deny`, `warn`, `off`",
        config.display()
    );
    for args in [
        vec!["check", "--config", config.to_str().unwrap(), "-"],
        vec![
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    ] {
        let out = sticky_guard(&args, Some(""));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
    let out = sticky_guard(&["check", "--rule", "cookie-path-for-regex", "-"], Some(""));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--rule cookie-path-for-regex: expected ID=deny|warn|off")
    );
    let out = sticky_guard(
        &["check", "--annotation-prefix", "bad/prefix", "-"],
        Some(""),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("flags: annotationPrefix: `bad/prefix` is not a DNS subdomain")
    );
}

#[test]
fn scenario_02_externalname_proxy_is_denied_offline() {
    let (code, report) = check_json(&seed("02-externalname-proxy.yaml"));
    assert_eq!(code, 1);
    assert_eq!(
        rules_of(&report),
        vec![
            "externalname-under-sticky-ingress:deny",
            "externalname-backend:deny"
        ]
    );
    assert_eq!(report["findings"][0]["kind"], "Service");
    assert_eq!(report["findings"][1]["kind"], "Ingress");
}

#[test]
fn scenario_05_without_neg_gets_generated_cookie_without_neg() {
    let file = seed("05-gke-backendconfig-neg.yaml");
    let (code, report) = check_json(&file);
    assert_eq!(code, 0);
    assert!(rules_of(&report).is_empty());
    let text = std::fs::read_to_string(&file).unwrap();
    let without_neg: String = text
        .lines()
        .filter(|l| !l.contains("cloud.google.com/neg"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text.len(), without_neg.len());
    // Still ClusterIP: a GKE Ingress reaches it through NEGs by default (GKE 1.17+), so the
    // seed's "finding without the annotation" holds only for a NodePort Service.
    let out = sticky_guard(&["check", "-o", "json", "-"], Some(&without_neg));
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rules_of(&report).is_empty(), "{report}");
    let node_port = without_neg.replace("type: ClusterIP", "type: NodePort");
    assert_ne!(node_port, without_neg);
    let out = sticky_guard(&["check", "-o", "json", "-"], Some(&node_port));
    assert_eq!(out.status.code(), Some(0), "a warning only");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules_of(&report), vec!["generated-cookie-without-neg:warn"]);
    assert_eq!(report["findings"][0]["name"], "neg-demo-svc");
}

#[test]
fn directory_symlinks_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(
        seed("03-dotted-service-name.yaml"),
        sub.join("ingress.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..", sub.join("up")).unwrap();
    std::os::unix::fs::symlink(".", sub.join("here")).unwrap();
    let out = sticky_guard(&["check", "-o", "json", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rules_of(&report),
        vec!["cross-namespace-backend:deny"],
        "read once"
    );
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["fix", &seed("01-regex-path-missing-cookie-path.yaml")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, as with `| head -0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// `sticky-guard rules` prints aligned columns: each rule's kinds, action and title start at the
/// same character on every line, rules judging several kinds included.
#[test]
fn rules_table_columns_are_aligned() {
    let out = sticky_guard(&["rules"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), sticky_guard::rules::CATALOGUE.len());
    let mut starts = std::collections::BTreeSet::new();
    for (line, rule) in lines.iter().zip(sticky_guard::rules::CATALOGUE) {
        assert!(line.starts_with(rule.id), "{line}");
        let kinds = line.find(&format!("  {}  ", rule.kinds_text())).unwrap() + 2;
        let action = kinds + line[kinds..].find("  ").unwrap();
        let action = action + line[action..].find(|c: char| c != ' ').unwrap();
        let title = line.find(rule.title).unwrap();
        starts.insert((kinds, action, title));
    }
    assert_eq!(
        starts.len(),
        1,
        "columns start at different places: {starts:?}"
    );
    let multi = lines
        .iter()
        .find(|l| l.starts_with("client-ip-affinity-behind-ingress "))
        .unwrap();
    let (kinds, action, title) = *starts.iter().next().unwrap();
    assert_eq!(
        &multi[kinds..kinds + "Ingress, Service".len()],
        "Ingress, Service"
    );
    assert_eq!(&multi[action..action + 4], "warn");
    assert!(multi[title..].starts_with("Service with ClientIP session affinity"));
}

/// `check -o json`: a finding's `line` is the line of the key at fault (what text output and
/// SARIF point at, `region.startLine`); `documentLine` is the first line of its document.
#[test]
fn json_line_is_the_key_and_document_line_the_document() {
    let seed = fixture("seed-scenarios/01-regex-path-missing-cookie-path.yaml");
    let out = sticky_guard(&["check", seed.to_str().unwrap(), "-o", "json"], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "cookie-path-for-regex");
    // The annotations key of the Ingress (the fix adds session-cookie-path there) is on line
    // 12; the document's content starts on line 7 (after the comments and `---`).
    assert_eq!(finding["line"], 12);
    assert_eq!(finding["documentLine"], 7);
    assert_eq!(finding["region"]["startLine"], finding["line"]);
    let text = sticky_guard(&["check", seed.to_str().unwrap()], None);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "{}:12:3: deny cookie-path-for-regex",
            seed.display()
        )),
        "{text}"
    );
}

/// `docs/rules/` holds one page per rule, each exactly what `sticky-guard rules ID --output
/// markdown` prints (regenerate: `for id in $(sticky-guard rules -o json | jq -r '.[].id'); do
/// sticky-guard rules $id -o markdown > docs/rules/$id.md; done`), and nothing else.
#[test]
fn rule_pages_are_the_generator_output() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let mut expected: Vec<String> = sticky_guard::rules::ids()
        .iter()
        .map(|id| format!("{id}.md"))
        .collect();
    expected.sort();
    assert_eq!(pages, expected);
    for rule in sticky_guard::rules::CATALOGUE {
        let written = std::fs::read_to_string(dir.join(format!("{}.md", rule.id))).unwrap();
        assert_eq!(
            written,
            sticky_guard::cli::rule_page(rule),
            "docs/rules/{}.md is not the generator output (regenerate it)",
            rule.id
        );
    }
    let out = sticky_guard(&["rules", "cookie-path-for-regex", "-o", "markdown"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(dir.join("cookie-path-for-regex.md")).unwrap()
    );
}

/// `rules -o json` lists every rule; `rules ID -o json` is that entry; a whole-catalogue
/// output with an ID, and an unknown ID (with the closest one suggested), exit 2.
#[test]
fn rules_json_and_one_rules_formats() {
    let out = sticky_guard(&["rules", "-o", "json"], None);
    assert_eq!(out.status.code(), Some(0));
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = all.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, sticky_guard::rules::ids());
    let out = sticky_guard(&["rules", "externalname-backend", "-o", "json"], None);
    assert_eq!(out.status.code(), Some(0));
    let one: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        all.iter().find(|r| r["id"] == "externalname-backend"),
        Some(&one)
    );
    assert_eq!(one["defaultAction"], "deny");
    assert_eq!(one["kinds"], serde_json::json!(["Ingress"]));
    let out = sticky_guard(&["rules", "externalname-backend", "-o", "kinds"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: --output kinds describes the whole catalogue: drop the rule ID\n"
    );
    let out = sticky_guard(&["rules", "externalname-backends"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: unknown rule ID `externalname-backends`; did you mean `externalname-backend`? \
         (`sticky-guard rules` lists them all)\n"
    );
}

/// `certs` writes a CA once; it refuses to replace it without `--force`, and refuses names a
/// Service or namespace cannot have. `--out-dir` and `--service` are kept as aliases.
#[test]
fn certs_keeps_an_existing_ca_and_checks_names() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("pki");
    let out_dir = out_dir.to_str().unwrap();
    let first = sticky_guard(&["certs", "--output-dir", out_dir], None);
    assert_eq!(first.status.code(), Some(0));
    let stdout = String::from_utf8(first.stdout).unwrap();
    assert!(stdout.contains("manifests/base/webhooks.yaml"), "{stdout}");
    let ca = std::fs::read(format!("{out_dir}/ca.pem")).unwrap();
    let again = sticky_guard(&["certs", "--out-dir", out_dir], None);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(again.stderr).unwrap(),
        format!(
            "error: {out_dir}/ca.pem exists: the webhook configurations may trust it; pass --force \
             to replace the CA, or choose another --output-dir\n"
        )
    );
    assert_eq!(std::fs::read(format!("{out_dir}/ca.pem")).unwrap(), ca);
    let forced = sticky_guard(&["certs", "--output-dir", out_dir, "--force"], None);
    assert_eq!(forced.status.code(), Some(0));
    assert_ne!(std::fs::read(format!("{out_dir}/ca.pem")).unwrap(), ca);
    for args in [
        ["--namespace", ""],
        ["--service", "Bad_Name"],
        ["--service-name", "-x"],
    ] {
        let out = sticky_guard(&["certs", "--output-dir", out_dir, args[0], args[1]], None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// `audit` against a server that refuses connections names the server, the resource and the
/// cause.
#[test]
fn audit_names_an_unreachable_server_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n\
         users: [{name: u, user: {token: x}}]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .arg("audit")
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot list ingresses from https://127.0.0.1:1/: "),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

/// The exit codes of every command, one row per case: 0 nothing at `--fail-on` or above (and
/// for `--diff`, no diff), 1 such a finding or a diff, 2 usage, input or cluster errors.
#[test]
fn exit_codes_of_every_command() {
    let ingress = |annotations: &str, path: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations: {annotations}\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      - path: \"{path}\"\n        pathType: ImplementationSpecific\n        backend: {{service: {{name: web, port: {{number: 80}}}}}}\n"
        )
    };
    let clean = ingress("{}", "/shop");
    let warn_only = ingress(
        "{nginx.ingress.kubernetes.io/session-cookie-name: route}",
        "/shop",
    );
    let fixable = ingress(
        "{nginx.ingress.kubernetes.io/affinity: cookie, nginx.ingress.kubernetes.io/use-regex: \"true\"}",
        "/shop(/|$)(.*)",
    );
    let unfixable = ingress(
        "{nginx.ingress.kubernetes.io/affinity: cookie, nginx.ingress.kubernetes.io/service-upstream: \"true\"}",
        "/shop",
    );
    let broken = "apiVersion: v1\nkind: Service\nmetadata: [\n";
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap().to_string();
    let rows: Vec<(Vec<&str>, Option<&str>, i32)> = vec![
        (vec!["check", "-"], Some(&clean), 0),
        (vec!["check", "-"], Some(&warn_only), 0),
        (vec!["check", "--fail-on", "warn", "-"], Some(&warn_only), 1),
        (vec!["check", "-"], Some(&unfixable), 1),
        (vec!["check", "--fail-on", "none", "-"], Some(&unfixable), 0),
        (vec!["check", "-"], Some(broken), 2),
        (vec!["check", "--fail-on", "none", "-"], Some(broken), 2),
        (vec!["check", &empty], None, 2),
        (vec!["check", "--allow-empty", &empty], None, 0),
        (
            vec!["check", "--fail-on", "sometimes", "-"],
            Some(&clean),
            2,
        ),
        (vec!["fix", "-"], Some(&fixable), 0),
        (vec!["fix", "--diff", "-"], Some(&fixable), 1),
        (vec!["fix", "--diff", "-"], Some(&clean), 0),
        (vec!["fix", "--diff", "-"], Some(&unfixable), 1),
        (
            vec!["fix", "--diff", "--fail-on", "none", "-"],
            Some(&unfixable),
            0,
        ),
        (
            vec!["fix", "--diff", "--fail-on", "warn", "-"],
            Some(&warn_only),
            1,
        ),
        (vec!["fix", "-"], Some(broken), 2),
        (vec!["rules"], None, 0),
        (vec!["rules", "no-such-rule"], None, 2),
        (vec!["serve"], None, 2),
        (vec!["no-such-command"], None, 2),
    ];
    for (args, stdin, code) in rows {
        let out = sticky_guard(&args, stdin);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Findings and errors are located alike: `FILE:LINE:COL` in text; `file`, `line` and
/// `column` (and the document) in JSON; a region in SARIF (results for findings, the
/// invocation's notifications for errors).
#[test]
fn findings_and_errors_are_located_alike_in_every_format() {
    let finding = seed("01-regex-path-missing-cookie-path.yaml");
    let error = seed("06-balanced-unquoted-max-age.yaml");
    // Text.
    let out = sticky_guard(&["check", &finding, &error], None);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.starts_with(&format!(
            "{finding}:12:3: deny cookie-path-for-regex Ingress myapp/mysite: "
        )),
        "{stdout}"
    );
    assert!(
        stderr.starts_with(&format!("error: {error}:14:5: Ingress example-ingress: ")),
        "{stderr}"
    );
    // JSON.
    let out = sticky_guard(&["check", "-o", "json", &finding, &error], None);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &report["findings"][0];
    assert_eq!(
        (&f["file"], &f["line"], &f["region"]["startColumn"]),
        (
            &Value::from(finding.as_str()),
            &Value::from(12),
            &Value::from(3)
        )
    );
    let e = &report["errors"][0];
    assert_eq!(
        serde_json::json!({"file": e["file"], "document": e["document"], "line": e["line"], "column": e["column"]}),
        serde_json::json!({"file": error, "document": 1, "line": 14, "column": 5})
    );
    // SARIF.
    let out = sticky_guard(&["check", "-o", "sarif", &finding, &error], None);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &sarif["runs"][0];
    let region = &run["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (&region["startLine"], &region["startColumn"]),
        (&Value::from(12), &Value::from(3))
    );
    let notification = &run["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], "error");
    let physical = &notification["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], error.as_str());
    assert_eq!(
        physical["region"],
        serde_json::json!({"startLine": 14, "startColumn": 5})
    );
}

/// README is a front page: its first screen (50 lines) shows the two set-up commands and how to
/// install; every relative link of README and docs/ points at a file that exists.
#[test]
fn readme_is_a_front_page_and_links_resolve() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let first_screen: String = readme.lines().take(50).collect::<Vec<_>>().join("\n");
    for wanted in [
        "cargo run --release -- serve --dev",
        "cargo test --locked",
        "## Install",
        "kubectl apply -k manifests/",
        "cargo install --locked --path .",
    ] {
        assert!(
            first_screen.contains(wanted),
            "README's first screen lacks {wanted}"
        );
    }
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let link = regex::Regex::new(r"\]\(([^)#]+)(#[^)]*)?\)").unwrap();
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for captures in link.captures_iter(&text) {
            let target = &captures[1];
            if target.starts_with("http") {
                continue;
            }
            let resolved = file.parent().unwrap().join(target);
            assert!(
                resolved.exists(),
                "{}: link to {target} does not resolve",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} links");
}

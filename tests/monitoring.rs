//! The monitoring component (`manifests/components/monitoring`, rendered through
//! `manifests/overlays/monitoring`): the ServiceMonitor scrapes the Service's metrics port, the
//! PrometheusRule passes `promtool check rules` and its unit tests (one file per alert in
//! `manifests/components/monitoring/tests/`, each with a case that fires and one that does
//! not), the slow-review alert uses the histogram bucket nearest its share of the webhooks'
//! `timeoutSeconds`, the Grafana dashboard is a labelled ConfigMap, and every series that the
//! alerts and the dashboard query is one that a running server exports on `/metrics`.
//!
//! Needs `kubectl` (`$KUBECTL`) and `promtool` (`$PROMTOOL`, Debian's package `prometheus`);
//! `.ci/run` installs both. Without them these tests fail, saying how to install them.

mod common;

use common::Server;
use common::apiserver::{ApiServer, Options};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::Duration;
use sticky_guard::policy::Policy;
use sticky_guard::view::ViewSource;
use sticky_guard::view::live::LiveView;

const COMPONENT: &str = "manifests/components/monitoring";
const OVERLAY: &str = "manifests/overlays/monitoring";
/// Where each alert's promtool unit tests are: `<AlertName>.yaml`.
const ALERT_TESTS: &str = "manifests/components/monitoring/tests";
/// The name the unit tests give the rules file (`rule_files: [rules.yaml]`).
const RULES_FILE: &str = "rules.yaml";

/// The slow-review alert counts reviews slower than this share of `timeoutSeconds`.
const SLOW_FRACTION: f64 = 0.25;

/// The series the alerts query, exactly: a parse that silently finds nothing cannot pass.
/// (The alert on failing policy-report writes comes with the reports and adds its series here.)
const RULE_SERIES: &[&str] = &[
    "sticky_guard_admission_duration_seconds_bucket",
    "sticky_guard_admission_duration_seconds_count",
    "sticky_guard_admission_rejected_bodies_total",
    "sticky_guard_admission_requests_total",
    "sticky_guard_cache_watch_failing",
    "sticky_guard_certificate_expiry_timestamp_seconds",
    "sticky_guard_http_errors_total",
    "sticky_guard_report_writes_total",
];

/// The series the dashboard queries, exactly.
const DASHBOARD_SERIES: &[&str] = &[
    "sticky_guard_admission_duration_seconds_bucket",
    "sticky_guard_admission_rejected_bodies_total",
    "sticky_guard_admission_requests_total",
    "sticky_guard_build_info",
    "sticky_guard_cache_objects",
    "sticky_guard_cache_synced",
    "sticky_guard_cache_watch_failing",
    "sticky_guard_certificate_expiry_timestamp_seconds",
    "sticky_guard_findings_total",
    "sticky_guard_http_errors_total",
    "sticky_guard_live_lookups_total",
    "sticky_guard_report_writes_total",
    "sticky_guard_reports",
    "sticky_guard_reports_leader",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `kubectl kustomize DIR` (kubectl from `$KUBECTL`, default `kubectl`), as documents.
fn kustomize(dir: &str) -> Vec<Value> {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(repo().join(dir))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{kubectl} kustomize` ({e}): these tests render the manifests with \
                 kubectl; install it (.ci/run does) or set KUBECTL to its path"
            )
        });
    assert!(
        out.status.success(),
        "`{kubectl} kustomize {dir}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::yaml_values(&String::from_utf8(out.stdout).expect("kustomize prints UTF-8"))
}

/// `Kind namespace/name`.
fn id(doc: &Value) -> String {
    format!(
        "{} {}/{}",
        doc["kind"].as_str().unwrap_or_default(),
        doc["metadata"]["namespace"].as_str().unwrap_or_default(),
        doc["metadata"]["name"].as_str().unwrap_or_default()
    )
}

static BASE: LazyLock<Vec<Value>> = LazyLock::new(|| kustomize("manifests"));
static MONITORING: LazyLock<Vec<Value>> = LazyLock::new(|| kustomize(OVERLAY));

fn object(kind: &str) -> &'static Value {
    let found: Vec<&Value> = MONITORING.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in {OVERLAY}");
    found[0]
}

/// Runs `promtool ARGS` in `dir` (promtool from `$PROMTOOL`, default `promtool`); fails the
/// test, saying how to install it, when it is missing, and with its output when it fails.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let out = Command::new(&promtool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{promtool}` ({e}): the alert tests need Prometheus's promtool; \
                 install it with `apt-get install -y prometheus` (Debian's package; .ci/run \
                 does) or set PROMTOOL to its path"
            )
        });
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`promtool {}` failed:\n{output}",
        args.join(" ")
    );
    output
}

// ---------------------------------------------------------------------------------------------
// The overlay

#[test]
fn overlay_is_the_base_plus_the_service_monitor_the_rules_and_the_dashboard() {
    let base: BTreeMap<String, &Value> = BASE.iter().map(|d| (id(d), d)).collect();
    let overlay: BTreeMap<String, &Value> = MONITORING.iter().map(|d| (id(d), d)).collect();
    assert_eq!(overlay.len(), MONITORING.len(), "no object twice");
    for (id, doc) in &base {
        assert_eq!(overlay.get(id), Some(doc), "{id} missing or changed");
    }
    let added: Vec<&String> = overlay.keys().filter(|k| !base.contains_key(*k)).collect();
    assert_eq!(
        added,
        [
            "ConfigMap sticky-guard/sticky-guard-dashboard",
            "PrometheusRule sticky-guard/sticky-guard",
            "ServiceMonitor sticky-guard/sticky-guard",
        ]
    );
    for kind in ["PrometheusRule", "ServiceMonitor"] {
        assert_eq!(object(kind)["apiVersion"], "monitoring.coreos.com/v1");
    }
}

#[test]
fn service_monitor_scrapes_the_services_metrics_port() {
    let services: Vec<&Value> = MONITORING
        .iter()
        .filter(|d| d["kind"] == "Service")
        .collect();
    assert_eq!(services.len(), 1);
    let service = services[0];
    let monitor = object("ServiceMonitor");
    let spec = &monitor["spec"];
    // Its selector picks the Service: every label it asks for, the Service has.
    let wanted = spec["selector"]["matchLabels"].as_object().unwrap();
    assert!(!wanted.is_empty());
    for (key, value) in wanted {
        assert_eq!(&service["metadata"]["labels"][key], value, "label {key}");
    }
    assert_eq!(
        spec["selector"].as_object().unwrap().len(),
        1,
        "matchLabels only"
    );
    assert_eq!(
        spec["namespaceSelector"],
        json!({"matchNames": [service["metadata"]["namespace"]]})
    );
    assert_eq!(
        spec["endpoints"],
        json!([{"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "30s"}])
    );
    let ports: Vec<&Value> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(
        ports
            .iter()
            .any(|p| p["name"] == "metrics" && p["targetPort"] == "metrics"),
        "the Service has a port `metrics` to the container's metrics port: {ports:?}"
    );
}

#[test]
fn dashboard_is_a_configmap_labelled_for_the_grafana_sidecar() {
    let map = object("ConfigMap");
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
    let data = map["data"].as_object().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["sticky-guard.json"]);
    let rendered: Value = serde_json::from_str(data["sticky-guard.json"].as_str().unwrap())
        .expect("the dashboard is JSON");
    let file: Value = serde_json::from_str(&read(&format!("{COMPONENT}/dashboard.json"))).unwrap();
    assert_eq!(
        rendered, file,
        "the ConfigMap holds dashboard.json as it is"
    );
    assert_eq!(rendered["uid"], "sticky-guard");
    // Every panel but the rows queries the data source chosen in the dashboard.
    let panels = rendered["panels"].as_array().unwrap();
    let mut queried = 0;
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = &panel["title"];
        assert_eq!(
            panel["datasource"],
            json!({"type": "prometheus", "uid": "${datasource}"}),
            "{title}"
        );
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            assert!(target["expr"].as_str().is_some_and(|e| !e.is_empty()));
            queried += 1;
        }
    }
    assert!(queried >= 10, "{queried} queries");
}

/// Every dashboard query is valid PromQL: `promtool check rules` on them as recording rules,
/// with Grafana's `$__rate_interval` as 1m.
#[test]
fn dashboard_queries_are_promql_that_promtool_accepts() {
    let queries = dashboard_queries();
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            assert!(
                !q.replace("$__rate_interval", "").contains('$'),
                "only $__rate_interval: {q}"
            );
            json!({"record": format!("dashboard:query_{i}"), "expr": q.replace("$__rate_interval", "1m")})
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let groups = json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(
        dir.path().join("dashboard.yaml"),
        serde_norway::to_string(&groups).unwrap(),
    )
    .unwrap();
    let checked = promtool(dir.path(), &["check", "rules", "dashboard.yaml"]);
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{checked}"
    );
}

// ---------------------------------------------------------------------------------------------
// The alerts

/// The rendered PrometheusRule's alerting rules.
fn alerts() -> Vec<&'static Value> {
    object("PrometheusRule")["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect()
}

fn alert(name: &str) -> &'static Value {
    alerts()
        .into_iter()
        .find(|a| a["alert"] == name)
        .unwrap_or_else(|| panic!("no alert {name}"))
}

/// The unit-test files: `<AlertName>.yaml` → path.
fn alert_test_files() -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(repo().join(ALERT_TESTS))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            assert_eq!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml"),
                "{} in {ALERT_TESTS}: only <AlertName>.yaml files",
                p.display()
            );
            (p.file_stem().unwrap().to_str().unwrap().to_string(), p)
        })
        .collect()
}

#[test]
fn rules_pass_promtool_check_and_each_alerts_unit_tests() {
    let dir = tempfile::tempdir().unwrap();
    let spec = &object("PrometheusRule")["spec"];
    std::fs::write(
        dir.path().join(RULES_FILE),
        serde_norway::to_string(spec).unwrap(),
    )
    .unwrap();
    let checked = promtool(dir.path(), &["check", "rules", RULES_FILE]);
    let names: BTreeSet<String> = alerts()
        .iter()
        .map(|a| {
            a["alert"]
                .as_str()
                .expect("alerting rules only")
                .to_string()
        })
        .collect();
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", names.len())),
        "{checked}"
    );

    // One unit-test file per alert, named after it.
    let files = alert_test_files();
    assert_eq!(
        files.keys().cloned().collect::<BTreeSet<_>>(),
        names,
        "one {ALERT_TESTS}/<AlertName>.yaml per alert"
    );
    let mut args = vec!["test".to_string(), "rules".to_string()];
    for (name, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let tests: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(tests["rule_files"], json!([RULES_FILE]), "{name}");
        // Each file tests only its alert, at least once firing (with the labels and the
        // annotations it fires with) and at least once not.
        let (mut fires, mut silent) = (0, 0);
        for case in tests["tests"].as_array().unwrap() {
            for check in case["alert_rule_test"].as_array().unwrap() {
                assert_eq!(
                    check["alertname"],
                    name.as_str(),
                    "{name}: {}",
                    case["name"]
                );
                let expected = check["exp_alerts"].as_array().unwrap();
                if expected.is_empty() {
                    silent += 1;
                }
                for e in expected {
                    assert!(
                        e["exp_labels"]["severity"].is_string(),
                        "{name}: labels {e}"
                    );
                    for annotation in ["summary", "description", "runbook"] {
                        assert!(
                            e["exp_annotations"][annotation].is_string(),
                            "{name}: {annotation} in {e}"
                        );
                    }
                    fires += 1;
                }
            }
        }
        assert!(
            fires > 0 && silent > 0,
            "{name}: fires {fires}, silent {silent}"
        );
        let copy = dir.path().join(path.file_name().unwrap());
        std::fs::write(&copy, text).unwrap();
        args.push(copy.file_name().unwrap().to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tested = promtool(dir.path(), &args);
    assert_eq!(
        tested.matches("SUCCESS").count(),
        files.len(),
        "every file passed:\n{tested}"
    );
}

#[test]
fn every_alert_has_a_severity_a_summary_a_description_and_a_documented_one_line_runbook() {
    let metrics_doc = read("docs/metrics.md");
    let headings: BTreeSet<String> = metrics_doc
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    for a in alerts() {
        let name = a["alert"].as_str().unwrap();
        assert!(name.starts_with("StickyGuard"), "{name}");
        assert!(
            ["critical", "warning"].contains(&a["labels"]["severity"].as_str().unwrap_or("")),
            "{name}: severity"
        );
        let annotations = a["annotations"].as_object().unwrap();
        // Sorted: kustomize writes keys in order.
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            ["description", "runbook", "summary"],
            "{name}"
        );
        let runbook = annotations["runbook"].as_str().unwrap();
        assert!(!runbook.contains('\n'), "{name}: one line");
        let anchor = format!("(docs/metrics.md#{})", name.to_lowercase());
        assert!(
            runbook.ends_with(&format!("{anchor}.")),
            "{name}: ends with {anchor}."
        );
        assert!(
            headings.contains(&name.to_lowercase()),
            "docs/metrics.md has a `### {name}` section"
        );
        // The Alerts table lists it with its `for`.
        let row = metrics_doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("docs/metrics.md: no table row for {name}"));
        let r#for = a["for"].as_str().unwrap();
        assert!(
            row.contains(&format!("| {for} |")),
            "{name}: for {for}: {row}"
        );
    }
}

/// The histogram's bucket boundaries: 50 µs doubling 17 times (src/metrics.rs).
fn duration_buckets() -> Vec<f64> {
    (0..17).map(|n| 50e-6 * 2f64.powi(n)).collect()
}

#[test]
fn slow_review_alert_counts_from_the_bucket_nearest_its_share_of_the_timeout() {
    let webhooks = common::yaml_values(&read("manifests/base/webhooks.yaml"));
    let timeouts: BTreeSet<i64> = webhooks
        .iter()
        .flat_map(|c| c["webhooks"].as_array().unwrap())
        .map(|w| w["timeoutSeconds"].as_i64().expect("timeoutSeconds set"))
        .collect();
    assert_eq!(timeouts.len(), 1, "one timeoutSeconds for every webhook");
    let timeout = *timeouts.first().unwrap();
    let target = SLOW_FRACTION * timeout as f64;
    let nearest = duration_buckets()
        .into_iter()
        .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
        .unwrap();
    let le = format!("{nearest}");
    assert_eq!(le, "0.8192");
    let slow = alert("StickyGuardSlowReviews");
    let expr = slow["expr"].as_str().unwrap();
    let used: BTreeSet<&str> = expr
        .split("le=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(used, BTreeSet::from([le.as_str()]), "{expr}");
    let description = slow["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!(
            "longer than {le} s (the histogram bucket nearest a quarter of the webhooks' \
             {timeout} s timeoutSeconds)"
        )),
        "{description}"
    );
    assert_eq!(SLOW_FRACTION, 0.25, "the description says a quarter");
}

// ---------------------------------------------------------------------------------------------
// Series names

/// Words of PromQL that are not series names when not followed by `(`.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// Words after which a parenthesised list names labels.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Index just past the bracket that closes the one at `open` (`(`, `{`, `[`), skipping
/// strings.
fn past_closing(chars: &[char], open: usize) -> usize {
    let (opening, closing) = match chars[open] {
        '(' => ('(', ')'),
        '{' => ('{', '}'),
        _ => ('[', ']'),
    };
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = past_string(chars, i);
                continue;
            }
            c if c == opening => depth += 1,
            c if c == closing => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!(
        "unbalanced {opening} in {}",
        chars.iter().collect::<String>()
    )
}

/// Index just past the string starting at `start`.
fn past_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    panic!(
        "unterminated string in {}",
        chars.iter().collect::<String>()
    )
}

/// The series names in a PromQL expression: identifiers that are not functions or
/// aggregations (followed by `(`), keywords, label names (inside `{…}` matchers and the lists
/// after `by`, `without`, `on`, `ignoring`, `group_left`, `group_right`), durations or
/// variables (inside `[…]`, or `$name`), numbers, strings or comments.
fn series_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let next_non_space = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = past_string(&chars, i);
        } else if c == '{' || c == '[' {
            i = past_closing(&chars, i);
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A number or a duration: 0.05, 86400, 1e-3, 5m.
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
        } else if c == '$' || c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let variable = c == '$';
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = next_non_space(i);
            let call = chars.get(next) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) {
                if call {
                    i = past_closing(&chars, next);
                }
            } else if !(variable || call || KEYWORDS.contains(&word.as_str())) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn series_names_are_read_out_of_promql() {
    let names = |e: &str| series_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"sum by (le, webhook) (rate(a_bucket{le="0.8192", x=~"b|c{"}[5m])) / on(webhook) group_left(z) b_count offset 5m"#
        ),
        ["a_bucket", "b_count"]
    );
    assert_eq!(
        names(
            "(sum(rate(x_total[$__rate_interval])) or vector(0)) + y - time() < 14 * 86400 and z > 1e-3"
        ),
        ["x_total", "y", "z"]
    );
    assert_eq!(names("max without(instance)(g) == bool 1"), ["g"]);
    assert_eq!(
        names("histogram_quantile(0.99, sum(rate(h_bucket[5m])) by (le))"),
        ["h_bucket"]
    );
    assert_eq!(names("count by (version) (build_info)"), ["build_info"]);
}

fn rule_queries() -> Vec<String> {
    alerts()
        .iter()
        .map(|a| a["expr"].as_str().unwrap().to_string())
        .collect()
}

fn dashboard_queries() -> Vec<String> {
    let dashboard: Value =
        serde_json::from_str(&read(&format!("{COMPONENT}/dashboard.json"))).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

fn names_in(queries: &[String]) -> BTreeSet<String> {
    queries.iter().flat_map(|q| series_names(q)).collect()
}

/// What `/metrics` exports: the families (`# TYPE name type`) and the sample names.
struct Exposition {
    families: BTreeMap<String, String>,
    samples: BTreeSet<String>,
    /// `le` label values of `sticky_guard_admission_duration_seconds_bucket`.
    buckets: BTreeSet<String>,
}

fn exposition(text: &str) -> Exposition {
    let mut families = BTreeMap::new();
    let mut samples = BTreeSet::new();
    let mut buckets = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            families.insert(name.to_string(), kind.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_:".contains(*c))
                .collect();
            if name == "sticky_guard_admission_duration_seconds_bucket" {
                let le = line
                    .split("le=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                buckets.insert(le.to_string());
            }
            samples.insert(name);
        }
    }
    Exposition {
        families,
        samples,
        buckets,
    }
}

/// The family a sample name belongs to, by the family's type as OpenMetrics writes it:
/// `_total` of a counter, `_bucket`/`_count`/`_sum` of a histogram, `_info` of an info, the
/// name itself for a gauge.
fn family_of<'a>(exported: &'a Exposition, sample: &str) -> Option<(&'a str, &'a str)> {
    exported.families.iter().find_map(|(family, kind)| {
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_count", "_sum"],
            "info" => &["_info"],
            _ => &[""],
        };
        suffixes
            .iter()
            .any(|s| sample.strip_suffix(s) == Some(family.as_str()))
            .then_some((family.as_str(), kind.as_str()))
    })
}

/// A server with a live cluster view on the stand-in API server, after a mutation, a denial
/// (with a live lookup of a missing backend) and a refused body, so that every family has
/// samples; its `/metrics` text.
async fn scrape_a_running_server() -> String {
    let api = ApiServer::start(Options::default()).await;
    let view = LiveView::start(api.client());
    tokio::time::timeout(Duration::from_secs(10), view.wait_until_synced())
        .await
        .expect("caches sync");
    let server = Server::start_with(Policy::default(), ViewSource::Live(Box::new(view))).await;
    let sticky = common::captured_review("ingress-create-sticky-regex-path.json");
    assert_eq!(server.review("/mutate", &sticky).await["allowed"], true);
    assert_eq!(server.review("/validate", &sticky).await["allowed"], false);
    let (status, _) = server.post_raw("/validate", b"{}".to_vec()).await;
    assert_eq!(status, 400);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = sticky_guard::ops::metrics_router(server.health.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_alerts_and_the_dashboard_query_only_series_a_running_server_exports() {
    let rules = names_in(&rule_queries());
    let dashboard = names_in(&dashboard_queries());
    let set = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(rules, set(RULE_SERIES), "the series the alerts query");
    assert_eq!(
        dashboard,
        set(DASHBOARD_SERIES),
        "the series the dashboard queries"
    );

    let text = scrape_a_running_server().await;
    let exported = exposition(&text);
    let mut used_families = BTreeSet::new();
    for name in rules.iter().chain(&dashboard) {
        assert!(
            exported.samples.contains(name),
            "{name} is not a sample of /metrics:\n{text}"
        );
        let (family, kind) = family_of(&exported, name)
            .unwrap_or_else(|| panic!("{name} belongs to no family of /metrics:\n{text}"));
        used_families.insert(family.to_string());
        // A counter's rate, a histogram's buckets: each series is read as its type allows.
        if kind == "gauge" {
            assert_eq!(name, family);
        }
    }
    // The dashboard shows every family the server exports.
    let dashboard_families: BTreeSet<String> = dashboard
        .iter()
        .map(|n| family_of(&exported, n).unwrap().0.to_string())
        .collect();
    assert_eq!(
        dashboard_families,
        exported.families.keys().cloned().collect(),
        "a panel for every family of /metrics"
    );
    // The `le` the slow-review alert reads is a boundary the server writes, spelled the same.
    let expr = alert("StickyGuardSlowReviews")["expr"].as_str().unwrap();
    let le = expr
        .split("le=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        exported.buckets.contains(le),
        "le=\"{le}\" is not among {:?}",
        exported.buckets
    );
    assert_eq!(exported.buckets.len(), 18, "17 boundaries and +Inf");
}

//! `check` and `fix` on a whole repository (`tests/data/repo/`): what is skipped and why,
//! `--exclude`, `.sticky-guard-ignore`, `--strict`, "nothing to judge" on empty input, and a
//! suppressed finding (`apps/legacy-ingress.yaml`).
//! Exact exit codes and exact summary lines.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const REPO: &str = "tests/data/repo";

/// Runs the binary from the crate root (so paths in the output are `tests/data/repo/…`), with
/// `stdin` when given.
fn run(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sticky-guard");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The lines every run over the repository prints about what it skipped (before the counts).
const SKIPPED_LINES: &str = "\
skipped: tests/data/repo/.github: hidden folder, not walked
skipped: tests/data/repo/chart/Chart.yaml:1:1: not a Kubernetes object (no apiVersion and kind)
skipped: tests/data/repo/chart/templates/ingress.yaml: Helm template: render it first (`helm template … | sticky-guard check -`)
skipped: tests/data/repo/chart/values.yaml:1:1: not a Kubernetes object (no apiVersion and kind)
skipped: tests/data/repo/kustomization.yaml:1:1: not a Kubernetes object (no apiVersion and kind)
";

/// The line every run over the repository prints about the suppressed finding of
/// `apps/legacy-ingress.yaml` (at its annotation), under the default policy.
const SUPPRESSED_LINE: &str = "suppressed: tests/data/repo/apps/legacy-ingress.yaml:8:5: \
cookie-path-for-regex on Ingress shop/legacy: \"the legacy app sets Path=/ itself\"; the webhook \
ignores it unless the policy lists cookie-path-for-regex as suppressible
";

#[test]
fn a_repository_is_judged_and_what_is_not_a_manifest_is_named_by_reason() {
    let out = run(&["check", REPO], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(
            "tests/data/repo/apps/shop/ingress.yaml:6:3: deny cookie-path-for-regex Ingress shop/shop:"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert_eq!(
        stdout.lines().nth(1),
        Some("    fixable: `sticky-guard fix` makes this change (so does the mutating webhook)")
    );
    assert_eq!(
        stderr(&out),
        format!(
            "{SKIPPED_LINES}\
skipped 3 document(s) in 3 file(s) that are not Kubernetes objects, 1 Helm template(s), 1 hidden folder(s)
{SUPPRESSED_LINE}\
judged 3 object(s)
1 finding(s): 1 deny, 0 warn, 1 fixable with `sticky-guard fix`; 1 suppressed; 0 error(s)
"
        )
    );
}

#[test]
fn json_lists_the_skipped_documents_files_and_folders() {
    let out = run(&["check", "-o", "json", REPO], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let not_an_object = "not a Kubernetes object (no apiVersion and kind)";
    assert_eq!(
        report["skipped"],
        json!([
            {"file": "tests/data/repo/.github", "reason": "hidden-folder",
             "message": "hidden folder, not walked"},
            {"file": "tests/data/repo/chart/Chart.yaml", "document": 1, "line": 1,
             "reason": "not-a-kubernetes-object", "message": not_an_object},
            {"file": "tests/data/repo/chart/templates/ingress.yaml", "reason": "helm-template",
             "message": "Helm template: render it first (`helm template … | sticky-guard check -`)"},
            {"file": "tests/data/repo/chart/values.yaml", "document": 1, "line": 1,
             "reason": "not-a-kubernetes-object", "message": not_an_object},
            {"file": "tests/data/repo/kustomization.yaml", "document": 1, "line": 1,
             "reason": "not-a-kubernetes-object", "message": not_an_object},
        ])
    );
    assert_eq!(report["errors"], json!([]));
    assert_eq!(report["summary"]["judged"], 3);
}

#[test]
fn sarif_gives_each_skip_as_a_note() {
    let out = run(&["check", "-o", "sarif", REPO], None);
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&out.stdout).expect("SARIF");
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true);
    let notes = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    let reasons: Vec<&str> = notes
        .iter()
        .map(|n| {
            assert_eq!(n["level"], "note");
            n["properties"]["reason"].as_str().expect("reason")
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "hidden-folder",
            "not-a-kubernetes-object",
            "helm-template",
            "not-a-kubernetes-object",
            "not-a-kubernetes-object"
        ]
    );
    assert_eq!(
        notes[1]["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "tests/data/repo/chart/Chart.yaml"},
               "region": {"startLine": 1}})
    );
}

#[test]
fn strict_makes_skipped_documents_and_templates_errors() {
    let out = run(&["check", "--strict", REPO], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "\
error: tests/data/repo/chart/Chart.yaml:1:1: not a Kubernetes object (no apiVersion and kind) (--strict)
error: tests/data/repo/chart/templates/ingress.yaml: Helm template: render it first (`helm template … | sticky-guard check -`) (--strict)
error: tests/data/repo/chart/values.yaml:1:1: not a Kubernetes object (no apiVersion and kind) (--strict)
error: tests/data/repo/kustomization.yaml:1:1: not a Kubernetes object (no apiVersion and kind) (--strict)
skipped: tests/data/repo/.github: hidden folder, not walked
skipped 1 hidden folder(s)
{SUPPRESSED_LINE}\
judged 3 object(s)
1 finding(s): 1 deny, 0 warn, 1 fixable with `sticky-guard fix`; 1 suppressed; 4 error(s)
"
        )
    );
}

/// Excluding the Ingress's file leaves the Service and the suppressed Ingress: clean.
#[test]
fn exclude_leaves_paths_out_in_gitignore_syntax() {
    for pattern in [
        "apps/shop/ingress.yaml",
        "ingress.yaml",
        "/apps/**/ingress.*",
    ] {
        let out = run(&["check", REPO, "--exclude", pattern], None);
        assert_eq!(out.status.code(), Some(0), "{pattern}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(
                "skipped: tests/data/repo/apps/shop/ingress.yaml: excluded (--exclude or .sticky-guard-ignore)\n"
            ),
            "{pattern}: {err}"
        );
        assert!(err.contains("\njudged 2 object(s)\n"), "{pattern}: {err}");
    }
    // A folder: pruned as a whole, named once; repeatable.
    let out = run(
        &["check", REPO, "--exclude", "apps/", "--exclude", "chart"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "only non-objects are left");
    assert_eq!(
        stderr(&out),
        "\
error: tests/data/repo: nothing to judge: no Kubernetes object found (4 skipped); pass --allow-empty when that is expected (pre-commit over unrelated files)
skipped: tests/data/repo/.github: hidden folder, not walked
skipped: tests/data/repo/apps: excluded (--exclude or .sticky-guard-ignore)
skipped: tests/data/repo/chart: excluded (--exclude or .sticky-guard-ignore)
skipped: tests/data/repo/kustomization.yaml:1:1: not a Kubernetes object (no apiVersion and kind)
skipped 1 document(s) in 1 file(s) that are not Kubernetes objects, 1 hidden folder(s), 2 excluded path(s)
judged 0 object(s)
0 finding(s): 0 deny, 0 warn, 0 fixable with `sticky-guard fix`; 1 error(s)
"
    );
    // A file given by name is matched too (pre-commit passes files).
    let out = run(
        &[
            "check",
            "--exclude",
            "ingress.yaml",
            "tests/data/repo/apps/shop/ingress.yaml",
            "tests/data/repo/apps/shop/service.yaml",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Copies `tests/data/repo` into a fresh temporary folder.
fn copy_of_repo() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(REPO),
        dir.path(),
    );
    dir
}

#[test]
fn sticky_guard_ignore_at_the_root_leaves_paths_out() {
    let repo = copy_of_repo();
    std::fs::write(
        repo.path().join(".sticky-guard-ignore"),
        "# the shop's Ingress is checked elsewhere\napps/shop/ingress.yaml\nchart/\n",
    )
    .expect("write");
    let root = repo.path().to_string_lossy().into_owned();
    let out = run(&["check", &root], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "skipped: {root}/apps/shop/ingress.yaml: excluded (--exclude or .sticky-guard-ignore)\n"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "skipped: {root}/chart: excluded (--exclude or .sticky-guard-ignore)\n"
        )),
        "{err}"
    );
    assert!(
        err.ends_with(
            "judged 2 object(s)\n0 finding(s): 0 deny, 0 warn, 0 fixable with `sticky-guard fix`; \
             1 suppressed; 0 error(s)\n"
        ),
        "{err}"
    );
    // --exclude and the file add up; a `!` line in the file takes a path back.
    std::fs::write(repo.path().join(".sticky-guard-ignore"), "apps/\n!apps/\n").expect("write");
    let out = run(&["check", &root], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// `.gitignore` is not honoured: rendered manifests are often git-ignored.
#[test]
fn gitignore_does_not_hide_manifests() {
    let repo = copy_of_repo();
    std::fs::write(repo.path().join(".gitignore"), "apps/\n").expect("write");
    let out = run(&["check", &repo.path().to_string_lossy()], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// A hidden folder given by name is read; only hidden folders met while walking are not.
#[test]
fn a_hidden_folder_given_by_name_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hidden = dir.path().join(".deploy");
    std::fs::create_dir(&hidden).expect("mkdir");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/repo/apps/shop/ingress.yaml"),
        hidden.join("ingress.yaml"),
    )
    .expect("copy");
    let out = run(&["check", &hidden.to_string_lossy()], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(&["check", &dir.path().to_string_lossy()], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to judge"));
}

/// A Helm template on stdin is skipped (and so is nothing else there: nothing to judge).
#[test]
fn a_template_on_stdin_is_skipped() {
    let template = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/repo/chart/templates/ingress.yaml"),
    )
    .expect("read");
    let out = run(&["check", "--allow-empty", "-"], Some(&template));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "\
skipped: -: Helm template: render it first (`helm template … | sticky-guard check -`)
skipped 1 Helm template(s)
judged 0 object(s)
0 finding(s): 0 deny, 0 warn, 0 fixable with `sticky-guard fix`; 0 error(s)
"
    );
}

/// An empty folder, a folder with no YAML and an empty file: exit 2 "nothing to judge", and 0
/// with `--allow-empty`; for `check` and `fix` alike.
#[test]
fn nothing_judged_is_not_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let no_yaml = dir.path().join("no-yaml");
    std::fs::create_dir(&no_yaml).expect("mkdir");
    std::fs::write(no_yaml.join("README.md"), "# notes\n").expect("write");
    let empty_file = dir.path().join("empty.yaml");
    std::fs::write(&empty_file, "").expect("write");
    for path in [&empty, &no_yaml, &empty_file] {
        let path = path.to_string_lossy().into_owned();
        let out = run(&["check", &path], None);
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert_eq!(
            stderr(&out),
            format!(
                "\
error: {path}: nothing to judge: no Kubernetes object found; pass --allow-empty when that is expected (pre-commit over unrelated files)
judged 0 object(s)
0 finding(s): 0 deny, 0 warn, 0 fixable with `sticky-guard fix`; 1 error(s)
"
            )
        );
        let out = run(&["check", "--allow-empty", &path], None);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", stderr(&out));
        let out = run(&["check", "-o", "json", &path], None);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["errors"][0]["file"], path.as_str());
        assert!(
            report["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("nothing to judge"))
        );
        let out = run(&["fix", &path], None);
        assert_eq!(out.status.code(), Some(2), "fix {path}");
        assert!(stderr(&out).contains("nothing to judge"));
        let out = run(&["fix", "--allow-empty", &path], None);
        assert_eq!(out.status.code(), Some(0), "fix {path}: {}", stderr(&out));
    }
    // Objects the policy leaves out were read: not "nothing to judge".
    std::fs::write(
        &empty_file,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
    )
    .expect("write");
    let out = run(&["check", &empty_file.to_string_lossy()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `fix` on the repository: the template and other YAML are left alone (not in the output),
/// the Ingress gets its cookie path.
#[test]
fn fix_skips_what_is_not_a_manifest() {
    let out = run(&["fix", REPO], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = String::from_utf8_lossy(&out.stdout);
    assert!(fixed.contains("nginx.ingress.kubernetes.io/session-cookie-path: /api\n"));
    assert!(!fixed.contains("{{"), "{fixed}");
    assert!(
        !fixed.contains("resources:") && !fixed.contains("name: shop\ndescription"),
        "the kustomization file and Chart.yaml are not manifests: {fixed}"
    );
    assert!(stderr(&out).starts_with(SKIPPED_LINES), "{}", stderr(&out));
    // The suppressed finding is not fixed, and fix says why.
    assert!(
        !fixed.contains("session-cookie-path: /legacy"),
        "a suppressed finding is not fixed: {fixed}"
    );
    assert!(stderr(&out).ends_with(SUPPRESSED_LINE), "{}", stderr(&out));
}

/// The suppressed finding of `apps/legacy-ingress.yaml` does not count (the run still fails
/// for the shop's deny) and is listed with its reason: in text, in JSON, and without the
/// webhook note when the policy lists the rule as suppressible.
#[test]
fn a_suppressed_finding_is_listed_with_its_reason_and_does_not_count() {
    let out = run(
        &["check", REPO, "--suppressible", "cookie-path-for-regex"],
        None,
    );
    assert!(
        stderr(&out).contains(
            "suppressed: tests/data/repo/apps/legacy-ingress.yaml:8:5: cookie-path-for-regex on \
             Ingress shop/legacy: \"the legacy app sets Path=/ itself\"\n"
        ),
        "{}",
        stderr(&out)
    );

    // With the shop's Ingress left out, only the suppressed finding is left: success.
    let out = run(&["check", REPO, "--exclude", "shop/"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run(&["check", "-o", "json", REPO], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
    let suppressed = &report["suppressed"];
    assert_eq!(suppressed.as_array().map(Vec::len), Some(1), "{suppressed}");
    let s = &suppressed[0];
    assert_eq!(
        (
            &s["rule"],
            &s["kind"],
            &s["namespace"],
            &s["name"],
            &s["file"],
            &s["line"],
            &s["annotation"],
            &s["reason"],
            &s["webhook"]
        ),
        (
            &json!("cookie-path-for-regex"),
            &json!("Ingress"),
            &json!("shop"),
            &json!("legacy"),
            &json!("tests/data/repo/apps/legacy-ingress.yaml"),
            &json!(8),
            &json!("ignore-check.sticky-guard.dev/cookie-path-for-regex"),
            &json!("the legacy app sets Path=/ itself"),
            &json!(false)
        )
    );
    assert_eq!(s["findings"][0]["rule"], "cookie-path-for-regex");
    assert_eq!(s["findings"][0]["level"], "deny");
    assert_eq!(report["unknownSuppressions"], json!([]));
}

/// A suppression naming no rule suppresses nothing and says so, with the closest rule ID; an
/// empty reason still suppresses.
#[test]
fn unknown_rule_ids_and_empty_reasons() {
    let legacy = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/repo/apps/legacy-ingress.yaml"),
    )
    .expect("read");
    let misspelt = legacy.replace("cookie-path-for-regex:", "cookie-path-for-regexp:");
    let out = run(&["check", "-"], Some(&misspelt));
    assert_eq!(
        out.status.code(),
        Some(1),
        "not suppressed: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(
            "warning: -:8:5: ignore-check.sticky-guard.dev/cookie-path-for-regexp on Ingress \
             shop/legacy suppresses nothing: unknown rule ID `cookie-path-for-regexp`; did you \
             mean `cookie-path-for-regex`? (`sticky-guard rules` lists them all)\n"
        ),
        "{}",
        stderr(&out)
    );
    let out = run(&["check", "-o", "json", "-"], Some(&misspelt));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(
        report["unknownSuppressions"][0]["annotation"],
        "ignore-check.sticky-guard.dev/cookie-path-for-regexp"
    );
    let no_reason = legacy.replace("\"the legacy app sets Path=/ itself\"", "\"\"");
    let out = run(
        &["check", "--suppressible", "cookie-path-for-regex", "-"],
        Some(&no_reason),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "suppressed: -:8:5: cookie-path-for-regex on Ingress shop/legacy: (no reason given)\n"
        ),
        "{}",
        stderr(&out)
    );
}

//! `fix` as linters fix: minimal edits, byte for byte. Each case is a file as people write
//! them (comments, odd indentation, quoting styles, flow mappings, JSON, several documents,
//! CRLF) and the exact bytes `fix --in-place` leaves; every fixed file then judges clean.

mod common;

use std::path::Path;
use std::process::Output;

fn sticky_guard(args: &[&str], stdin: Option<&str>) -> Output {
    common::run_binary(args, stdin)
}

/// Writes `before`, runs `fix --in-place`, and returns the file's bytes after.
fn fixed_in_place(dir: &Path, name: &str, before: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, before).unwrap();
    let out = sticky_guard(&["fix", "--in-place", path.to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&path).unwrap()
}

/// `check` on the file: no finding left.
fn judges_clean(dir: &Path, name: &str) {
    let out = sticky_guard(&["check", dir.join(name).to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const HEAD: &str = "apiVersion: networking.k8s.io/v1\nkind: Ingress\n";

fn rules(indent: &str) -> String {
    format!(
        "spec:\n{i}ingressClassName: nginx\n{i}rules:\n{i}- host: example.com\n{i}  http:\n{i}    paths:\n{i}    - path: /mysite(/|$)(.*)\n{i}      pathType: ImplementationSpecific\n{i}      backend:\n{i}        service:\n{i}          name: web\n{i}          port:\n{i}            number: 80\n",
        i = indent
    )
}

#[test]
fn adds_under_existing_annotations_in_their_quoting_and_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let before = format!(
        "# the shop\n{HEAD}metadata:\n  name: shop # inline\n  annotations:\n    # sticky\n    nginx.ingress.kubernetes.io/affinity: \"cookie\"\n    nginx.ingress.kubernetes.io/use-regex: \"true\"\n\n{}",
        rules("  ")
    );
    let after = fixed_in_place(dir.path(), "a.yaml", &before);
    let expected = before.replace(
        "    nginx.ingress.kubernetes.io/use-regex: \"true\"\n",
        "    nginx.ingress.kubernetes.io/use-regex: \"true\"\n    nginx.ingress.kubernetes.io/session-cookie-path: \"/mysite\"\n",
    );
    assert_eq!(after, expected);
    judges_clean(dir.path(), "a.yaml");
}

#[test]
fn adds_the_annotations_mapping_at_the_file_s_indentation() {
    let dir = tempfile::tempdir().unwrap();
    // Four-space indentation, single-quoted values elsewhere; no annotations yet.
    let before = format!(
        "{HEAD}metadata:\n    name: 'shop'\n    labels:\n        app: shop\n{}",
        rules("    ")
    );
    // No annotations: the Ingress is not sticky, so nothing to fix: left byte for byte.
    let after = fixed_in_place(dir.path(), "b.yaml", &before);
    assert_eq!(after, before);

    let sticky_without_annotations = format!(
        "{HEAD}metadata:\n    name: 'shop'\n    annotations:\n        nginx.ingress.kubernetes.io/affinity: 'cookie'\n        nginx.ingress.kubernetes.io/use-regex: 'true'\n{}",
        rules("    ")
    );
    let after = fixed_in_place(dir.path(), "c.yaml", &sticky_without_annotations);
    assert_eq!(
        after,
        sticky_without_annotations.replace(
            "        nginx.ingress.kubernetes.io/use-regex: 'true'\n",
            "        nginx.ingress.kubernetes.io/use-regex: 'true'\n        nginx.ingress.kubernetes.io/session-cookie-path: '/mysite'\n",
        )
    );
    judges_clean(dir.path(), "c.yaml");
}

#[test]
fn flow_mappings_json_and_several_documents() {
    let dir = tempfile::tempdir().unwrap();
    let plain_service = "---\n# untouched\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n";
    let flow = format!(
        "---\n{HEAD}metadata: {{name: shop, annotations: {{nginx.ingress.kubernetes.io/affinity: cookie, nginx.ingress.kubernetes.io/use-regex: \"true\"}}}}\n{}",
        rules("  ")
    );
    let json = r#"---
{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
 "metadata": {"name": "api", "annotations": {"nginx.ingress.kubernetes.io/affinity": "cookie", "nginx.ingress.kubernetes.io/use-regex": "true"}},
 "spec": {"ingressClassName": "nginx", "rules": [{"host": "api.example.com", "http": {"paths": [
   {"path": "/api/v[0-9]+/users", "pathType": "ImplementationSpecific", "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}}
"#;
    let before = format!("{plain_service}{flow}{json}");
    let after = fixed_in_place(dir.path(), "d.yaml", &before);
    let expected = format!(
        "{plain_service}{}{}",
        flow.replace(
            "nginx.ingress.kubernetes.io/use-regex: \"true\"}",
            "nginx.ingress.kubernetes.io/use-regex: \"true\", \"nginx.ingress.kubernetes.io/session-cookie-path\": \"/mysite\"}"
        ),
        json.replace(
            "\"nginx.ingress.kubernetes.io/use-regex\": \"true\"}",
            "\"nginx.ingress.kubernetes.io/use-regex\": \"true\", \"nginx.ingress.kubernetes.io/session-cookie-path\": \"/api\"}"
        )
    );
    assert_eq!(after, expected);
    judges_clean(dir.path(), "d.yaml");
}

#[test]
fn crlf_files_stay_crlf_and_a_dotted_name_is_replaced_in_its_quoting() {
    let dir = tempfile::tempdir().unwrap();
    // A dotted backend naming the Ingress's own namespace: rewritten to the bare name.
    let before = "apiVersion: networking.k8s.io/v1\r\nkind: Ingress\r\nmetadata:\r\n  name: shop\r\n  namespace: app\r\nspec:\r\n  rules:\r\n  - http:\r\n      paths:\r\n      - path: /\r\n        pathType: Prefix\r\n        backend:\r\n          service:\r\n            name: \"web.app.svc.cluster.local\"\r\n            port:\r\n              number: 80\r\n";
    let after = fixed_in_place(dir.path(), "e.yaml", before);
    assert_eq!(
        after,
        before.replace("\"web.app.svc.cluster.local\"", "\"web\"")
    );
    judges_clean(dir.path(), "e.yaml");
}

#[test]
fn in_place_keeps_permissions_and_diff_exits_1() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let before = format!(
        "{HEAD}metadata:\n  name: shop\n  annotations:\n    nginx.ingress.kubernetes.io/affinity: cookie\n    nginx.ingress.kubernetes.io/use-regex: \"true\"\n{}",
        rules("  ")
    );
    let path = dir.path().join("f.yaml");
    std::fs::write(&path, &before).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let file = path.to_str().unwrap();

    let diff = sticky_guard(&["fix", "--diff", file], None);
    assert_eq!(diff.status.code(), Some(1), "a diff exits 1");
    let text = String::from_utf8(diff.stdout).unwrap();
    assert!(
        text.contains("\n+    nginx.ingress.kubernetes.io/session-cookie-path: /mysite\n"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        before,
        "--diff writes nothing"
    );

    let fixed = sticky_guard(&["fix", "--in-place", file], None);
    assert_eq!(fixed.status.code(), Some(0));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let again = sticky_guard(&["fix", "--diff", file], None);
    assert_eq!(again.status.code(), Some(0), "fixed: no diff");
    assert!(again.stdout.is_empty());

    // stdin has no file to rewrite; the default prints the fixed stream.
    let refused = sticky_guard(&["fix", "--in-place", "-"], Some(&before));
    assert_eq!(refused.status.code(), Some(2));
    let printed = sticky_guard(&["fix", "-"], Some(&before));
    assert_eq!(printed.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap(),
        std::fs::read_to_string(&path).unwrap()
    );
}

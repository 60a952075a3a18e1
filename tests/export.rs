//! `export policies --output-dir DIR`: the folder holds exactly the policies exported. Files of
//! an earlier export no longer exported are removed and listed, and a folder holding anything
//! the command did not write is refused with nothing changed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use sticky_guard::policies::{MutatingApi, policies, to_yaml};
use sticky_guard::policy::{Action, Policy};

/// Runs `sticky-guard export policies --output-dir <dir> <extra>`.
fn export(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .args(["export", "policies", "--output-dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// What the generator writes for `policy`: file name → text, in generator order.
fn generated(policy: &Policy) -> Vec<(String, String)> {
    policies(policy, MutatingApi::V1)
        .into_iter()
        .map(|file| {
            let text = to_yaml(std::slice::from_ref(&file), MutatingApi::V1).unwrap();
            (file.file_name, text)
        })
        .collect()
}

/// The default policy with canary-affinity turned off.
fn canary_off() -> Policy {
    let mut policy = Policy::default();
    policy
        .actions
        .insert("canary-affinity".to_string(), Action::Off);
    policy
}

/// Every entry of `dir` by name, with a regular file's text (`None` for anything else).
fn contents(dir: &Path) -> BTreeMap<String, Option<String>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::symlink_metadata(&path)
                .unwrap()
                .is_file()
                .then(|| std::fs::read_to_string(&path).unwrap());
            (name, text)
        })
        .collect()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

/// The `wrote` lines an export of `files` into `dir` prints.
fn wrote(dir: &str, files: &[(String, String)]) -> String {
    files
        .iter()
        .map(|(name, _)| format!("wrote {dir}/{name}\n"))
        .collect()
}

#[test]
fn export_into_a_missing_folder_creates_it_and_writes_the_generator_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("manifests/policies");
    let dir_text = dir.to_str().unwrap();
    let out = export(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(out.stderr));
    assert_eq!(text(out.stdout), "");
    let expected = generated(&Policy::default());
    assert_eq!(text(out.stderr), wrote(dir_text, &expected));
    assert_eq!(
        contents(&dir),
        expected
            .into_iter()
            .map(|(name, text)| (name, Some(text)))
            .collect()
    );
}

#[test]
fn a_rule_turned_off_has_its_earlier_file_removed_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dir_text = dir.to_str().unwrap();
    assert_eq!(export(dir, &[]).status.code(), Some(0));
    let before = contents(dir);

    let out = export(dir, &["--rule", "canary-affinity=off"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(out.stderr));
    assert_eq!(text(out.stdout), "");
    let kept = generated(&canary_off());
    assert_eq!(
        text(out.stderr),
        format!(
            "{}removed {dir_text}/sticky-guard.canary-affinity.yaml\n",
            wrote(dir_text, &kept)
        )
    );
    let mut expected = before;
    assert!(
        expected
            .remove("sticky-guard.canary-affinity.yaml")
            .is_some()
    );
    assert_eq!(contents(dir), expected);
    assert_eq!(kept.len(), expected.len());

    // Turned on again: written again, nothing removed.
    let out = export(dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(out.stderr),
        wrote(dir_text, &generated(&Policy::default()))
    );
}

/// A folder holding anything the export did not write is refused: exit 2, the first such entry
/// named, nothing written or removed. That includes files named like an export that do not hold
/// one (no label, no header, another group) and a file of ours under another name.
#[test]
fn a_folder_holding_a_foreign_entry_is_refused_unchanged() {
    let ours = generated(&Policy::default())
        .into_iter()
        .find(|(name, _)| name == "sticky-guard.canary-affinity.yaml")
        .unwrap()
        .1;
    let unlabelled = ours.replace("app.kubernetes.io/name: sticky-guard", "team: mine");
    assert_ne!(unlabelled, ours);
    let headless = ours
        .split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap();
    let config_map = format!(
        "{}.\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    \
         app.kubernetes.io/name: sticky-guard\n",
        sticky_guard::policies::GENERATED_HEADER
    );
    let cases: [(&str, &str); 8] = [
        ("notes.txt", "mine\n"),
        ("kustomization.yaml", "resources: []\n"),
        ("x.yaml", &ours),
        ("sticky-guard.canary-affinity.yaml", &unlabelled),
        ("sticky-guard.canary-affinity.yaml", &headless),
        ("sticky-guard.mine.yaml", &config_map),
        ("sticky-guard.empty.yaml", ""),
        (".gitkeep", ""),
    ];
    for (name, content) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(
            export(dir, &["--rule", "canary-affinity=off"])
                .status
                .code(),
            Some(0)
        );
        // Marks a file of ours, so that a rewrite would show.
        let marked = dir.join("sticky-guard.cookie-path-not-literal.yaml");
        let mut marked_text = std::fs::read_to_string(&marked).unwrap();
        marked_text.push_str("# kept\n");
        std::fs::write(&marked, marked_text).unwrap();
        std::fs::write(dir.join(name), content).unwrap();
        assert_refused(dir, name);
    }
}

/// A folder or a symbolic link named like an export is not one.
#[test]
fn a_folder_or_a_link_named_like_an_export_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere.yaml");
    std::fs::write(&elsewhere, &generated(&Policy::default())[0].1).unwrap();
    for name in ["sticky-guard.d.yaml", "sticky-guard.link.yaml"] {
        let dir = tmp.path().join(name.replace('.', "-"));
        assert_eq!(export(&dir, &[]).status.code(), Some(0));
        if name == "sticky-guard.d.yaml" {
            std::fs::create_dir(dir.join(name)).unwrap();
        } else {
            std::os::unix::fs::symlink(&elsewhere, dir.join(name)).unwrap();
        }
        assert_refused(&dir, name);
    }
}

#[test]
fn the_first_foreign_entry_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    std::fs::write(dir.join("README.md"), "mine\n").unwrap();
    assert_refused(dir, "README.md");
}

/// `export policies --output-dir dir` exits 2 naming `dir/name`, and leaves `dir` as it was.
fn assert_refused(dir: &Path, name: &str) {
    let dir_text = dir.to_str().unwrap();
    let before = contents(dir);
    let out = export(dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{name}");
    assert_eq!(text(out.stdout), "", "{name}");
    assert_eq!(
        text(out.stderr),
        format!(
            "error: {dir_text} holds {dir_text}/{name}, which `export policies` did not write: \
             export into an empty folder or one that holds only earlier exports (nothing was \
             changed)\n"
        ),
        "{name}"
    );
    assert_eq!(contents(dir), before, "{name}");
}

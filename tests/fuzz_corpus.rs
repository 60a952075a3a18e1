//! Replays the fuzz corpus (`fuzz/corpus/<target>/`, inputs cargo fuzz found, minimized) and
//! the fixtures it was seeded from through the same checks as the fuzz targets
//! (`fuzz/checks.rs`), so every `cargo test` covers what fuzzing reached without a fuzzer.

mod common;

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let files = files(&dir);
    assert!(
        files.len() >= 10,
        "{}: a corpus of {}",
        dir.display(),
        files.len()
    );
    files
}

#[test]
fn admission_review_corpus() {
    let runtime = checks::runtime();
    let mut inputs = corpus("admission_review");
    inputs.extend(files(&common::fixture("admission-reviews")));
    for input in inputs {
        checks::admission_review(&runtime, &std::fs::read(&input).unwrap());
    }
}

#[test]
fn manifest_corpus() {
    let mut inputs = corpus("manifest");
    inputs.extend(common::fixture_yaml_files("seed-scenarios"));
    for input in inputs {
        checks::manifest(&std::fs::read(&input).unwrap());
    }
}

#[test]
fn cookie_path_corpus() {
    for input in corpus("cookie_path") {
        checks::cookie_path(&std::fs::read(&input).unwrap());
    }
}

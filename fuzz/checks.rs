//! The properties fuzzing checks, written once and used by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/`), the corpus replay (`tests/fuzz_corpus.rs`) and the bounded proptest
//! runs (`tests/robustness.rs`). Each panics when its property does not hold:
//! - [`admission_review`]: any bytes get an answer or a bounded error, never a panic, and an
//!   answer is at most [`ANSWER_OVERHEAD`] bytes longer than the request;
//! - [`manifest`]: any text gets a report with exit code 0, 1 or 2;
//! - [`cookie_path`]: any paths derive a literal absolute cookie path.

#![allow(dead_code)] // each user takes what it needs

use sticky_guard::admission::admit;
use sticky_guard::policy::Policy;
use sticky_guard::rules::Phase;
use sticky_guard::view::ViewSource;

/// How much larger than the request an answer may be: the fixed parts of a denial (prose,
/// advice), a JSONPatch and warnings.
pub const ANSWER_OVERHEAD: usize = 16 * 1024;

/// A current-thread runtime for [`admission_review`].
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Bytes → AdmissionReview answer, in both phases, single-object mode.
pub fn admission_review(runtime: &tokio::runtime::Runtime, body: &[u8]) {
    let policy = Policy::default();
    let view = ViewSource::Off("fuzz".into());
    for phase in [Phase::Mutating, Phase::Validating] {
        match runtime.block_on(admit(body, phase, &policy, &view)) {
            Ok((response, _)) => {
                let answer = serde_json::to_vec(&response).expect("an answer serializes");
                assert!(
                    answer.len() <= body.len() + ANSWER_OVERHEAD,
                    "an answer of {} bytes to {} bytes",
                    answer.len(),
                    body.len()
                );
            }
            Err(error) => {
                let text = sticky_guard::echo::bounded(&error.to_string());
                assert!(text.len() <= 4 * sticky_guard::echo::MAX_TEXT_CHARS + 16);
            }
        }
    }
}

/// Bytes (as UTF-8, lossily) → `check` report, and `fix`'s minimal edits (whose fixed text
/// must still parse as many documents).
pub fn manifest(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let report = sticky_guard::engine::check_text("fuzz.yaml", &text, &Policy::default());
    assert!(report.exit_code() <= 2);
    let (mut documents, mut errors) = (Vec::new(), Vec::new());
    sticky_guard::engine::manifests::parse("fuzz.yaml", &text, &mut documents, &mut errors);
    if errors.is_empty() {
        let fixed = sticky_guard::engine::fix_documents(documents, errors, &Policy::default());
        for file in &fixed.files {
            let (mut again, mut again_errors) = (Vec::new(), Vec::new());
            sticky_guard::engine::manifests::parse(
                "fixed.yaml",
                &file.after,
                &mut again,
                &mut again_errors,
            );
            assert!(
                again_errors.is_empty() || file.after == *file.before,
                "the fixed text does not parse: {again_errors:?}\n{}",
                file.after
            );
        }
    }
}

/// Bytes → up to four paths (one per line, UTF-8 lossily) → derived cookie path.
pub fn cookie_path(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let derived = sticky_guard::cookie_path::derive(text.split('\n').take(4));
    assert!(derived.path.starts_with('/'), "{:?}", derived.path);
    assert!(derived.path.len() <= text.len() + 1);
    assert!(derived.path == "/" || !derived.path.ends_with('/'));
    // ingress-nginx accepts it as session-cookie-path (URLIsValidRegex).
    let spec = sticky_guard::controllers::nginx::annotations::find("session-cookie-path")
        .expect("in the annotation table");
    assert!(
        matches!(
            sticky_guard::controllers::nginx::annotations::read(spec, Some(&derived.path)),
            sticky_guard::controllers::nginx::annotations::Value::Accepted(_)
        ),
        "{:?}",
        derived.path
    );
}

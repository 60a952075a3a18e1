//! AdmissionReview handler: request bytes → answer (see `fuzz/checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

use std::sync::OnceLock;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    checks::admission_review(RUNTIME.get_or_init(checks::runtime), data);
});

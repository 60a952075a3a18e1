//! Bounded fuzzing with proptest, seeded from the fixtures: the AdmissionReview handler
//! (bytes → response), the manifest reader (text → report) and cookie-path derivation never
//! panic, and the answer to a request is never larger than the request plus a small constant.
//!
//! The inputs are the captured reviews and the seed scenarios, mutated (bytes flipped, cut,
//! spliced, values replaced by odd JSON), plus arbitrary bytes. A bounded number of cases runs
//! in every `cargo test`; `PROPTEST_CASES` raises it for a longer local run.

mod common;

#[path = "../fuzz/checks.rs"]
mod checks;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(common::fixture("admission-reviews"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    for path in names {
        seeds.push(std::fs::read(path).unwrap());
    }
    for seed in [
        "01-regex-path-missing-cookie-path.yaml",
        "03-dotted-service-name.yaml",
        "04-legacy-v1beta1-sticky.yaml",
    ] {
        for (i, document) in common::seed_documents(seed).iter().enumerate() {
            let review = common::review_for(document, &format!("seed-{i}"));
            seeds.push(serde_json::to_vec(&review).unwrap());
        }
    }
    seeds
}

/// Odd JSON values to put where the object expects something else.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!([])),
        Just(json!({})),
        Just(json!("")),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!(true)),
        "[ -~]{0,40}".prop_map(Value::String),
        Just(json!({"a": [{"b": {"c": null}}]})),
    ]
}

/// A seed, mutated in one of several ways.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let seeds = std::sync::Arc::new(seeds);
    (
        0..n,
        0u8..5,
        any::<prop::sample::Index>(),
        any::<u8>(),
        odd_value(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(move |(i, how, at, byte, odd, junk)| {
            let mut body = seeds[i].clone();
            match how {
                // Flip one byte.
                0 => {
                    let k = at.index(body.len());
                    body[k] = byte;
                }
                // Cut the body short.
                1 => body.truncate(at.index(body.len() + 1)),
                // Splice junk in.
                2 => {
                    let k = at.index(body.len() + 1);
                    body.splice(k..k, junk);
                }
                // Replace one JSON value somewhere in the object by an odd one.
                3 => {
                    if let Ok(mut review) = serde_json::from_slice::<Value>(&body) {
                        replace_one(&mut review, at, odd);
                        body = serde_json::to_vec(&review).unwrap();
                    }
                }
                // Arbitrary bytes.
                _ => body = junk,
            }
            body
        })
}

/// Replaces the `at`-th value (depth-first) of `value` by `odd`.
fn replace_one(value: &mut Value, at: prop::sample::Index, odd: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(m) => m.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, target: &mut usize, odd: &Value) -> bool {
        if *target == 0 {
            *v = odd.clone();
            return true;
        }
        *target -= 1;
        match v {
            Value::Array(a) => a.iter_mut().any(|x| walk(x, target, odd)),
            Value::Object(m) => m.values_mut().any(|x| walk(x, target, odd)),
            _ => false,
        }
    }
    let mut target = at.index(count(value));
    walk(value, &mut target, &odd);
}

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(400);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

// The properties themselves are in fuzz/checks.rs (shared with the cargo-fuzz targets); they
// panic when they do not hold, which proptest reports with the (shrunk) input.

#[test]
fn the_admission_handler_answers_every_body_without_panicking_or_growing() {
    let runtime = checks::runtime();
    runner()
        .run(&mutated(seeds()), |body| {
            checks::admission_review(&runtime, &body);
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_manifest_reader_reads_every_text_without_panicking() {
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for dir in ["seed-scenarios", "real-world"] {
        texts.extend(
            common::fixture_yaml_files(dir)
                .into_iter()
                .take(40)
                .map(|p| std::fs::read(p).unwrap()),
        );
    }
    runner()
        .run(&mutated(texts), |bytes| {
            checks::manifest(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn cookie_path_derivation_takes_any_path() {
    runner()
        .run(&prop::collection::vec("\\PC{0,60}", 1..4), |paths| {
            checks::cookie_path(paths.join("\n").as_bytes());
            Ok(())
        })
        .unwrap();
}

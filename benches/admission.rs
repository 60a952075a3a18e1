//! `cargo bench`: time per operation of the hot paths, with the standard library's clock.
//!
//! Prints one line per case: mean nanoseconds per operation over a fixed number of iterations
//! after a warm-up. These are the numbers to watch when changing the engine; targets live here,
//! not in timed tests. Cases:
//! - `admit/mutate`, `admit/validate`: one captured AdmissionReview (seed scenario 01, 9 KiB)
//!   from bytes to response bytes, single-object mode;
//! - `derive/*`: cookie path derivation for one regex path;
//! - `check/seed-bundle`: `check` on all seed scenarios (decode, offline view, rules).

use std::hint::black_box;
use std::time::Instant;
use sticky_guard::admission::admit;
use sticky_guard::policy::Policy;
use sticky_guard::rules::Phase;
use sticky_guard::view::ViewSource;

fn bench(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per_op = start.elapsed().as_nanos() / u128::from(iterations);
    println!("{name:<28} {per_op:>10} ns/op  ({iterations} iterations)");
}

fn main() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");
    let body = std::fs::read(format!(
        "{fixtures}/admission-reviews/ingress-create-sticky-regex-path.json"
    ))
    .expect("the shared fixtures sit beside the repository");
    let policy = Policy::default();
    let view = ViewSource::Off("bench".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    for (name, phase) in [
        ("admit/mutate", Phase::Mutating),
        ("admit/validate", Phase::Validating),
    ] {
        bench(name, 20_000, || {
            let (response, _) = runtime
                .block_on(admit(black_box(&body), phase, &policy, &view))
                .expect("a valid review");
            black_box(serde_json::to_vec(&response).expect("serializes"));
        });
    }

    for (name, path) in [
        ("derive/mysite", "/mysite(/|$)(.*)"),
        ("derive/api-version", "/api/v[0-9]+/users"),
        (
            "derive/alternation",
            "/shop/(cart|checkout|account|orders)/(.*)",
        ),
    ] {
        bench(name, 50_000, || {
            black_box(sticky_guard::cookie_path::derive([black_box(path)]));
        });
    }

    let seeds = format!("{fixtures}/seed-scenarios");
    bench("check/seed-bundle", 200, || {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
            .args(["check", "-o", "json", &seeds])
            .output()
            .expect("the binary runs");
        black_box(status);
    });
}

//! `cargo bench` (criterion): time per operation of the hot paths. Targets live here and in
//! `bench/` (the side-by-side server benchmark), not in timed tests. Cases:
//! - `admit/*`: one captured AdmissionReview (`ingress-create-sticky-regex-path.json`, 4.4 KB
//!   with managedFields; `ingress-update-annotate.json`, an UPDATE with oldObject;
//!   `service-create-clusterip.json`) from request bytes to response bytes, single-object mode;
//! - `rules/paths-N`: an Ingress with N sticky regex paths through every rule (validating);
//! - `derive/*`: cookie path derivation for one regex path;
//! - `review/host-5000-live`: one validating review of a sticky Ingress CREATE on a host that
//!   holds 5,000 other sticky Ingresses (every 10th with `use-regex`) and 50 Services, against
//!   the live view's caches filled by watching the stand-in API server of the tests
//!   (`tests/common/apiserver.rs`, 127.0.0.1): the host's and the upstream's summaries are read,
//!   not rebuilt, so the review costs about what it costs on an empty cluster.

#[path = "../tests/common/apiserver.rs"]
#[allow(dead_code)]
mod apiserver;
#[path = "../bench/objects.rs"]
mod objects;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use sticky_guard::admission::admit;
use sticky_guard::policy::Policy;
use sticky_guard::rules::{Context, Phase};
use sticky_guard::view::ViewSource;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures");

fn admission(c: &mut Criterion) {
    let policy = Policy::default();
    let view = ViewSource::Off("bench".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (name, file, phase) in [
        (
            "admit/mutate-ingress-create",
            "ingress-create-sticky-regex-path.json",
            Phase::Mutating,
        ),
        (
            "admit/validate-ingress-update",
            "ingress-update-annotate.json",
            Phase::Validating,
        ),
        (
            "admit/validate-service-create",
            "service-create-clusterip.json",
            Phase::Validating,
        ),
    ] {
        let body = std::fs::read(format!("{FIXTURES}/admission-reviews/{file}"))
            .expect("the shared fixtures sit beside the repository");
        c.bench_function(name, |b| {
            b.iter(|| {
                let (response, _) = runtime
                    .block_on(admit(black_box(&body), phase, &policy, &view))
                    .expect("a valid review");
                black_box(serde_json::to_vec(&response).expect("serializes"))
            })
        });
    }
}

/// An Ingress with cookie affinity, regex mode and `paths` regex paths, no cookie path.
fn sticky_ingress(paths: usize) -> serde_json::Value {
    let paths: Vec<_> = (0..paths)
        .map(|i| {
            json!({"path": format!("/app{i}/v[0-9]+(/|$)(.*)"), "pathType": "ImplementationSpecific",
                   "backend": {"service": {"name": format!("web-{i}"), "port": {"number": 80}}}})
        })
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "shop", "annotations": {
            "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/use-regex": "true"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example", "http": {"paths": paths}}]}
    })
}

fn rules(c: &mut Criterion) {
    let policy = Policy::default();
    let context = Context::single(&policy);
    for paths in [1, 10, 100] {
        let object = sticky_guard::objects::decode(&sticky_ingress(paths))
            .expect("decodes")
            .expect("an Ingress");
        c.bench_function(&format!("rules/paths-{paths}"), |b| {
            b.iter(|| {
                black_box(sticky_guard::rules::evaluate(
                    black_box(&object),
                    Phase::Validating,
                    &context,
                ))
            })
        });
    }
}

fn derive(c: &mut Criterion) {
    for (name, path) in [
        ("derive/mysite", "/mysite(/|$)(.*)"),
        ("derive/api-version", "/api/v[0-9]+/users"),
        (
            "derive/alternation",
            "/shop/(cart|checkout|account|orders)/(.*)",
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| black_box(sticky_guard::cookie_path::derive([black_box(path)])))
        });
    }
}

fn review_on_a_large_host(c: &mut Criterion) {
    const INGRESSES: usize = 5_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (api, view) = runtime.block_on(async {
        let api = apiserver::ApiServer::start(apiserver::Options::default()).await;
        for k in 0..50 {
            api.apply(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("svc-{k}"), "namespace": "team"},
                "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]}}));
        }
        for i in 0..INGRESSES {
            api.apply(objects::host_ingress(i));
        }
        let live = sticky_guard::view::live::LiveView::start(api.client());
        live.wait_until_synced().await;
        (api, ViewSource::Live(Box::new(live)))
    });
    let mut object = objects::host_ingress(INGRESSES + 1);
    object["metadata"]["name"] = json!("team-new");
    let body = serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "7f0b2c4e-0000-4000-8000-000000000001",
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "requestKind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "requestResource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "name": "team-new", "namespace": "team", "operation": "CREATE",
            "userInfo": {"username": "bench"}, "object": object, "oldObject": null,
            "dryRun": false, "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}
    }))
    .expect("serializes");
    let policy = Policy::default();
    c.bench_function("review/host-5000-live", |b| {
        b.iter(|| {
            let (response, _) = runtime
                .block_on(admit(black_box(&body), Phase::Validating, &policy, &view))
                .expect("a valid review");
            black_box(serde_json::to_vec(&response).expect("serializes"))
        })
    });
    drop(view);
    runtime.block_on(api.shutdown());
}

criterion_group!(benches, admission, rules, derive, review_on_a_large_host);
criterion_main!(benches);

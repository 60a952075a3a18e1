//! Scale of `check` and `audit` (`bench/run`): wall time of `sticky-guard check FILE -o json`
//! on generated bundles, and of `sticky-guard audit -o json` against the stand-in API server of
//! the integration tests (`tests/common/apiserver.rs`, plain HTTP on 127.0.0.1) holding the
//! same objects. Scenarios:
//!
//! * one host: N sticky Ingresses (N = 250 … 4,000) all on `api.company.com`, every 10th with
//!   `use-regex` and a regex path, over 50 Services in one namespace;
//! * one upstream: two sticky Ingresses with P paths each (P = 1,000 … 4,000) on one host, all
//!   to one Service;
//! * across namespaces: 10,000 Services and 5,000 sticky Ingresses over 100 namespaces, shaped
//!   like `bench/cache_memory.rs`'s (each Ingress on its own host; `bench/objects.rs`).
//!
//! Prints a markdown table and, per scenario, the ratio of the largest size's time to the time
//! at a quarter of that size (4× the input should cost about 4× the time).
//!
//! `cargo run --release --example scale -- STICKY_GUARD_BINARY [--quick]`
//! (`--quick`: N in {250, 1000}, P in {1000}, no "across namespaces").

#[path = "../tests/common/apiserver.rs"]
#[allow(dead_code)]
mod apiserver;
#[path = "objects.rs"]
mod objects;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

fn one_host_service(k: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("svc-{k}"), "namespace": "team"},
        "spec": {"type": "ClusterIP", "selector": {"app": format!("svc-{k}")},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    })
}

/// Scenario (a): N Ingresses on one host and the 50 Services they use.
fn one_host(n: usize) -> Vec<Value> {
    (0..objects::HOST_SERVICES)
        .map(one_host_service)
        .chain((0..n).map(objects::host_ingress))
        .collect()
}

fn one_upstream_ingress(name: &str, paths: usize) -> Value {
    let paths: Vec<Value> = (0..paths)
        .map(|j| {
            json!({"path": format!("/{name}/p{j}"), "pathType": "Prefix",
                   "backend": {"service": {"name": "web", "port": {"number": 80}}}})
        })
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "team",
                     "annotations": {"nginx.ingress.kubernetes.io/affinity": "cookie"}},
        "spec": {"ingressClassName": "nginx",
                 "rules": [{"host": "shop.example.com", "http": {"paths": paths}}]}
    })
}

/// Scenario (b): Ingresses `a` and `b`, P paths each, all to Service `web`.
fn one_upstream(p: usize) -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "team"},
            "spec": {"type": "ClusterIP", "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
        }),
        one_upstream_ingress("a", p),
        one_upstream_ingress("b", p),
    ]
}

/// Scenario (c): S Services and M Ingresses over 100 namespaces.
fn across_namespaces(services: usize, ingresses: usize) -> Vec<Value> {
    (0..services)
        .map(objects::service)
        .chain((0..ingresses).map(objects::ingress))
        .collect()
}

/// One JSON document per object, `---` between them (JSON is YAML).
fn write_bundle(path: &Path, objects: &[Value]) -> std::io::Result<()> {
    let mut text = String::new();
    for object in objects {
        text.push_str("---\n");
        text.push_str(&object.to_string());
        text.push('\n');
    }
    std::fs::write(path, text)
}

fn write_kubeconfig(dir: &Path, url: &str) -> std::io::Result<PathBuf> {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, objects::kubeconfig(url))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

/// The best wall time in seconds over `runs` runs of `command` (stdout discarded), or why it
/// failed: exit 0 and 1 are answers (clean, findings); anything else is an error.
fn time_runs(mut command: Command, runs: usize) -> Result<f64, String> {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let started = Instant::now();
        let out = command.output().map_err(|e| format!("cannot run: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        match out.status.code() {
            Some(0 | 1) => best = best.min(seconds),
            code => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().rev().take(5).collect::<Vec<_>>();
                let last: Vec<&str> = last.into_iter().rev().collect();
                return Err(format!(
                    "exit {}: {}",
                    code.map_or("by signal".to_owned(), |c| c.to_string()),
                    last.join(" | ")
                ));
            }
        }
    }
    Ok(best)
}

fn runs_for(size: usize) -> usize {
    if size <= 1000 { 3 } else { 1 }
}

fn time_check(binary: &str, file: &Path, runs: usize) -> Result<f64, String> {
    let mut command = Command::new(binary);
    command.arg("check").arg(file).args(["-o", "json"]);
    time_runs(command, runs)
}

async fn time_audit(
    binary: &str,
    dir: &Path,
    objects: Vec<Value>,
    runs: usize,
) -> Result<f64, String> {
    let api = apiserver::ApiServer::start(apiserver::Options::default()).await;
    for object in objects {
        api.apply(object);
    }
    let kubeconfig = write_kubeconfig(dir, &api.url).map_err(|e| e.to_string())?;
    let binary = binary.to_owned();
    // The child runs on a blocking thread so that the runtime's workers keep serving the
    // stand-in's LISTs.
    let result = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(binary);
        command
            .args(["audit", "-o", "json"])
            .env("KUBECONFIG", kubeconfig);
        time_runs(command, runs)
    })
    .await
    .map_err(|e| e.to_string())?;
    api.shutdown().await;
    result
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

struct Row {
    scenario: &'static str,
    size: usize,
    objects: String,
    check: Result<f64, String>,
    audit: Option<Result<f64, String>>,
}

/// `12345` as `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn cell(result: Option<&Result<f64, String>>) -> String {
    match result {
        None => "–".to_owned(),
        Some(Ok(seconds)) => format!("{seconds:.3}"),
        Some(Err(error)) => format!("error ({error})"),
    }
}

fn ratio(large: Option<&Result<f64, String>>, small: Option<&Result<f64, String>>) -> String {
    match (large, small) {
        (Some(Ok(large)), Some(Ok(small))) if *small > 0.0 => format!("{:.1}x", large / small),
        _ => "–".to_owned(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let positional: Vec<&String> = args.iter().filter(|a| *a != "--quick").collect();
    let [binary] = positional.as_slice() else {
        return Err("usage: scale STICKY_GUARD_BINARY [--quick]".into());
    };
    let binary = binary.as_str();
    // Ingresses on one host; the same, audited; paths per Ingress on one upstream; (Services,
    // Ingresses) across namespaces.
    type Sizes = (
        &'static [usize],
        &'static [usize],
        &'static [usize],
        &'static [(usize, usize)],
    );
    let (hosts_sizes, audit_sizes, upstream_sizes, spread): Sizes = if quick {
        (&[250, 1000], &[1000], &[1000], &[])
    } else {
        (
            &[250, 500, 1000, 2000, 4000],
            &[1000, 4000],
            &[1000, 2000, 4000],
            &[(10_000, 5_000)],
        )
    };
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();

    for &n in hosts_sizes {
        let objects = one_host(n);
        let file = dir.path().join(format!("one-host-{n}.yaml"));
        write_bundle(&file, &objects)?;
        eprintln!("one host, {n} Ingresses: check");
        let check = time_check(binary, &file, runs_for(n));
        let audit = if audit_sizes.contains(&n) {
            eprintln!("one host, {n} Ingresses: audit");
            Some(time_audit(binary, dir.path(), objects, runs_for(n)).await)
        } else {
            None
        };
        rows.push(Row {
            scenario: "one host",
            size: n,
            objects: format!(
                "{} Ingresses + {} Services",
                thousands(n),
                objects::HOST_SERVICES
            ),
            check,
            audit,
        });
    }

    for &p in upstream_sizes {
        let file = dir.path().join(format!("one-upstream-{p}.yaml"));
        write_bundle(&file, &one_upstream(p))?;
        eprintln!("one upstream, 2 × {p} paths: check");
        rows.push(Row {
            scenario: "one upstream",
            size: p,
            objects: format!("2 Ingresses × {} paths + 1 Service", thousands(p)),
            check: time_check(binary, &file, runs_for(p)),
            audit: None,
        });
    }

    for &(s, m) in spread {
        let file = dir.path().join(format!("across-namespaces-{s}-{m}.yaml"));
        write_bundle(&file, &across_namespaces(s, m))?;
        eprintln!("across namespaces, {s} Services and {m} Ingresses: check");
        rows.push(Row {
            scenario: "across namespaces",
            size: m,
            objects: format!(
                "{} Ingresses + {} Services in {} namespaces",
                thousands(m),
                thousands(s),
                objects::NAMESPACES
            ),
            check: time_check(binary, &file, runs_for(m)),
            audit: None,
        });
    }

    println!("| scenario | objects | check s | audit s |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} |",
            row.scenario,
            row.objects,
            cell(Some(&row.check)),
            cell(row.audit.as_ref())
        );
    }
    println!();
    let units = [
        ("one host", "Ingresses"),
        ("one upstream", "paths per Ingress"),
        ("across namespaces", "Ingresses"),
    ];
    for (scenario, unit) in units {
        let of: Vec<&Row> = rows.iter().filter(|r| r.scenario == scenario).collect();
        let Some(largest) = of.iter().max_by_key(|r| r.size) else {
            continue;
        };
        let quarter = of.iter().find(|r| r.size * 4 == largest.size);
        let Some(quarter) = quarter else {
            println!(
                "{scenario}: {} {unit} only, no quarter-size run to compare with",
                thousands(largest.size)
            );
            continue;
        };
        let mut line = format!(
            "{scenario}: {} vs {} {unit}: check {}",
            thousands(largest.size),
            thousands(quarter.size),
            ratio(Some(&largest.check), Some(&quarter.check))
        );
        // The audit ratio: the largest audited size against the audited size a quarter of it.
        let audited: Vec<&&Row> = of.iter().filter(|r| r.audit.is_some()).collect();
        if let Some(big) = audited.iter().max_by_key(|r| r.size) {
            let small = audited.iter().find(|r| r.size * 4 == big.size);
            let audit = ratio(big.audit.as_ref(), small.and_then(|r| r.audit.as_ref()));
            if big.size == largest.size || small.is_none() {
                line.push_str(&format!(", audit {audit}"));
            } else {
                line.push_str(&format!(
                    ", audit {audit} ({} vs {})",
                    thousands(big.size),
                    thousands(big.size / 4)
                ));
            }
        }
        println!("{line}");
    }

    let failed = rows
        .iter()
        .any(|r| r.check.is_err() || matches!(r.audit, Some(Err(_))));
    if failed {
        return Err("a scenario failed (see the table)".into());
    }
    Ok(())
}

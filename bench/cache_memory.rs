//! Memory of the live cluster view (`bench/run`): the stand-in API server of the integration
//! tests (`tests/common/apiserver.rs`, plain HTTP on 127.0.0.1) holding 10,000 Services and
//! 5,000 Ingresses shaped like a real cluster's (managedFields, kubectl's last-applied
//! annotation), and `sticky-guard serve --cluster-view on` watching it. Prints the server's RSS
//! once `/readyz` says its caches have synced.
//!
//! `cargo run --release --example cache_memory -- STICKY_GUARD_BINARY CERT_PEM KEY_PEM`

#[path = "../tests/common/apiserver.rs"]
#[allow(dead_code)]
mod apiserver;
#[path = "objects.rs"]
mod objects;

use std::time::{Duration, Instant};

const SERVICES: usize = 10_000;
const INGRESSES: usize = 5_000;

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, cert, key] = args.as_slice() else {
        return Err("usage: cache_memory STICKY_GUARD_BINARY CERT_PEM KEY_PEM".into());
    };
    let api = apiserver::ApiServer::start(apiserver::Options::default()).await;
    for i in 0..SERVICES {
        api.apply(objects::service(i));
    }
    for i in 0..INGRESSES {
        api.apply(objects::ingress(i));
    }
    let dir =
        std::env::temp_dir().join(format!("sticky-guard-cache-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, objects::kubeconfig(&api.url))?;
    let mut child = std::process::Command::new(binary)
        .args([
            "serve",
            "--cluster-view",
            "on",
            "--listen",
            "127.0.0.1:18444",
        ])
        .args([
            "--metrics-listen",
            "127.0.0.1:18081",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let started = Instant::now();
    let ready = loop {
        let answer = tokio::net::TcpStream::connect("127.0.0.1:18081").await.ok();
        if let Some(mut stream) = answer {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await?;
            let mut text = String::new();
            stream.read_to_string(&mut text).await?;
            if text.starts_with("HTTP/1.1 200") {
                break true;
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Let the allocator settle after the initial LISTs.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss = rss_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if !ready {
        return Err("sticky-guard did not become ready within 120 s".into());
    }
    println!(
        "| RSS with {SERVICES} Services and {INGRESSES} Ingresses cached (synced in {:.1} s) | {rss:.1} |",
        started.elapsed().as_secs_f64() - 5.0
    );
    Ok(())
}

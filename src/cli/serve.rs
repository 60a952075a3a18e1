//! `sticky-guard serve`: the admission webhooks over HTTPS.

use crate::admission::http::{AppState, DEFAULT_MAX_BODY_BYTES, router};
use crate::tls;
use crate::view::ViewSource;
use crate::view::live::LiveView;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 0.0.0.0:8443; 127.0.0.1:8443 with --dev].
    #[arg(long, env = "STICKY_GUARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serving certificate chain, PEM (leaf first).
    #[arg(
        long,
        env = "STICKY_GUARD_TLS_CERT",
        requires = "tls_key",
        required_unless_present = "dev"
    )]
    pub tls_cert: Option<PathBuf>,
    /// Private key of the serving certificate, PEM.
    #[arg(long, env = "STICKY_GUARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Development mode: make a throw-away CA and a certificate for 127.0.0.1 and localhost,
    /// write them to --dev-dir, and serve on 127.0.0.1:8443.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub dev: bool,
    /// Where --dev writes ca.pem, tls.crt and tls.key.
    #[arg(long, default_value = "certs/dev")]
    pub dev_dir: PathBuf,
    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Log format (filter with RUST_LOG, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Cluster view: `auto` watches the cluster found through KUBECONFIG, ~/.kube/config or the
    /// in-cluster service account, and falls back to single-object rules when there is none;
    /// `on` requires a cluster; `off` never connects.
    #[arg(long, value_enum, env = "STICKY_GUARD_CLUSTER_VIEW", default_value_t = ClusterViewMode::Auto)]
    pub cluster_view: ClusterViewMode,
    /// Policy.
    #[command(flatten)]
    pub policy: super::policy::PolicyArgs,
}

/// `--cluster-view` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClusterViewMode {
    /// Watch the cluster if a configuration is found, else single-object rules.
    Auto,
    /// Watch the cluster; refuse to start without a configuration.
    On,
    /// Single-object rules only.
    Off,
}

/// Log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> ExitCode {
    init_tracing(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => super::fail(message),
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let policy = args.policy.load().map_err(|e| e.to_string())?;
    let (tls_config, default_listen) = if args.dev {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let pki = tls::dev::generate(&names, 30)
            .map_err(|e| format!("cannot make dev certificates: {e}"))?;
        super::certs::write_pki(&args.dev_dir, &pki)?;
        let config = tls::server_config(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
            .map_err(|e| e.to_string())?;
        (config, SocketAddr::from(([127, 0, 0, 1], 8443)))
    } else {
        let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
            return Err("--tls-cert and --tls-key are required (or --dev)".into());
        };
        let config = tls::load_server_config(cert, key).map_err(|e| e.to_string())?;
        (config, SocketAddr::from(([0, 0, 0, 0], 8443)))
    };
    let listen = args.listen.unwrap_or(default_listen);
    tracing::info!(
        annotation_prefix = %policy.annotation_prefix,
        ingress_classes = %policy.ingress_classes.join(","),
        excluded_namespaces = %policy.excluded_namespaces.join(","),
        cluster_domain = %policy.cluster_domain,
        actions = ?policy.actions,
        "policy"
    );
    let view = cluster_view(args.cluster_view).await?;
    let state = AppState {
        policy: Arc::new(policy),
        view,
    };
    let running = tls::server::start(listen, tls_config, router(state, args.max_body_bytes))
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(address = %running.local_addr, "serving admission webhooks over HTTPS");
    if args.dev {
        let ca = args.dev_dir.join("ca.pem");
        println!("sticky-guard dev server on https://{}", running.local_addr);
        println!("dev CA certificate written to {}", ca.display());
        println!(
            "try: curl --cacert {} -H 'Content-Type: application/json' --data @../shared/fixtures/admission-reviews/ingress-create-sticky-regex-path.json https://localhost:{}/mutate",
            ca.display(),
            running.local_addr.port()
        );
    }
    if let (Some(cert), Some(key)) = (args.tls_cert.clone(), args.tls_key.clone()) {
        let running_tls = running.tls_reloader();
        tokio::spawn(reload_on_change(cert, key, running_tls));
    }
    let handle = running.handle();
    tokio::spawn(async move {
        tls::server::shutdown_signal().await;
        tracing::info!("shutting down");
        handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    running
        .wait()
        .await
        .map_err(|e| format!("server failed: {e}"))
}

/// How often the certificate files are checked for rotation.
const CERT_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Reloads the serving certificate when its files change (a rotated Secret, cert-manager):
/// checks their modification times every 30 s; a pair that does not load is logged and the old
/// certificate stays in use.
async fn reload_on_change(cert: PathBuf, key: PathBuf, reload: tls::server::Reloader) {
    let stamp = |cert: &PathBuf, key: &PathBuf| {
        let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (modified(cert), modified(key))
    };
    let mut last = stamp(&cert, &key);
    loop {
        tokio::time::sleep(CERT_CHECK_INTERVAL).await;
        let now = stamp(&cert, &key);
        if now == last {
            continue;
        }
        last = now;
        match tls::load_server_config(&cert, &key) {
            Ok(config) => {
                reload.reload(config);
                tracing::info!(cert = %cert.display(), "serving certificate reloaded");
            }
            Err(error) => {
                tracing::warn!(%error, "new serving certificate does not load; keeping the old one")
            }
        }
    }
}

/// Connects the cluster view, or says why not.
async fn cluster_view(mode: ClusterViewMode) -> Result<ViewSource, String> {
    if mode == ClusterViewMode::Off {
        tracing::info!("cluster view off (--cluster-view off): single-object rules only");
        return Ok(ViewSource::Off("--cluster-view off".into()));
    }
    let config = match kube::Config::infer().await {
        Ok(config) => config,
        Err(e) if mode == ClusterViewMode::Auto => {
            tracing::warn!(
                error = %e,
                "no cluster configuration: serving single-object rules only; rules that read other objects are skipped"
            );
            return Ok(ViewSource::Off(format!("no cluster configuration: {e}")));
        }
        Err(e) => {
            return Err(format!(
                "--cluster-view on, but no cluster configuration: {e}"
            ));
        }
    };
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| format!("cannot make a Kubernetes client for {url}: {e}"))?;
    tracing::info!(%url, "cluster view: watching services, ingresses (and backendconfigs if installed); /readyz waits for the caches");
    Ok(ViewSource::Live(Box::new(LiveView::start(client).await)))
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

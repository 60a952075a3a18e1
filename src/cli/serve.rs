//! `sticky-guard serve`: the admission webhooks over HTTPS.

use crate::admission::http::{AppState, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IN_FLIGHT, router};
use crate::ops;
use crate::reporter::ReportsMode;
use crate::tls::{self, ServingState};
use crate::view::ViewSource;
use crate::view::live::LiveView;
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTPS address of the webhooks and probes [default: 0.0.0.0:8443; 127.0.0.1:8443 with
    /// --dev].
    #[arg(long, env = "STICKY_GUARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Plain-HTTP address of /metrics (and /healthz, /readyz) [default: 0.0.0.0:8080;
    /// 127.0.0.1:8080 with --dev].
    #[arg(long, env = "STICKY_GUARD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serving certificate chain, PEM (leaf first). Re-read when the file changes.
    #[arg(long, env = "STICKY_GUARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of the serving certificate, PEM.
    #[arg(long, env = "STICKY_GUARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Self-managed certificates (the in-cluster default): keep a CA and a serving certificate
    /// in a Secret, put the CA into the webhook configurations' caBundle, renew and rotate
    /// (see `sticky_guard::tls::managed`).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "dev"])]
    pub manage_certs: bool,
    /// With --manage-certs: the pods' namespace [default: the service account's namespace].
    /// Ignored otherwise (the Deployment sets STICKY_GUARD_NAMESPACE in every install mode).
    #[arg(long, env = "STICKY_GUARD_NAMESPACE")]
    pub namespace: Option<String>,
    /// With --manage-certs: the webhook Service's name.
    #[arg(
        long,
        env = "STICKY_GUARD_SERVICE_NAME",
        default_value = "sticky-guard"
    )]
    pub service_name: String,
    /// With --manage-certs: the Secret holding the CA and serving certificate (the RBAC Role's
    /// `resourceNames` must name it too).
    #[arg(
        long,
        env = "STICKY_GUARD_CERTS_SECRET",
        default_value = "sticky-guard-tls"
    )]
    pub certs_secret: String,
    /// With --manage-certs: name of both the Mutating- and ValidatingWebhookConfiguration (the
    /// RBAC ClusterRole's `resourceNames` must name it too).
    #[arg(
        long,
        env = "STICKY_GUARD_WEBHOOK_CONFIGURATION",
        default_value = "sticky-guard"
    )]
    pub webhook_configuration: String,
    /// Development mode: make a throw-away CA and a certificate for 127.0.0.1 and localhost,
    /// write them to --dev-dir, and serve on 127.0.0.1:8443.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub dev: bool,
    /// Where --dev writes ca.pem, tls.crt and tls.key.
    #[arg(long, default_value = "certs/dev")]
    pub dev_dir: PathBuf,
    /// Connections open at once on the HTTPS port (counted from TCP accept, before the TLS
    /// handshake); more are closed at once.
    #[arg(long, env = "STICKY_GUARD_MAX_CONNECTIONS", default_value_t = tls::limit::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u32).range(1..=1_000_000), |n| n as usize))]
    pub max_connections: usize,
    /// Time a client has for the TLS handshake.
    #[arg(long, env = "STICKY_GUARD_HANDSHAKE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub handshake_timeout: Duration,
    /// Time a client has to send an HTTP/1.1 request head, also between keep-alive requests.
    #[arg(long, env = "STICKY_GUARD_HEADER_READ_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Time limit for one request, body included (408 after).
    #[arg(long, env = "STICKY_GUARD_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Concurrent streams per HTTP/2 connection.
    #[arg(long, env = "STICKY_GUARD_MAX_STREAMS_PER_CONNECTION", default_value_t = tls::server::MAX_STREAMS_PER_CONNECTION, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_streams_per_connection: u32,
    /// Oldest TLS version served: `1.2` (with 1.3) or `1.3` only.
    #[arg(long, value_enum, env = "STICKY_GUARD_TLS_MIN_VERSION", default_value_t = tls::MinVersion::Tls12)]
    pub tls_min_version: tls::MinVersion,
    /// Largest request body accepted, in bytes (413 beyond; at once when the declared
    /// Content-Length is over it).
    #[arg(long, env = "STICKY_GUARD_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// AdmissionReviews judged at once; more wait (up to the 10 s request timeout).
    #[arg(long, env = "STICKY_GUARD_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u32).range(1..=4096), |n| n as usize))]
    pub max_in_flight: usize,
    /// On SIGTERM, keep serving this long with /readyz failing (so endpoints drop the replica
    /// first), then drain in-flight requests for up to 10 s.
    #[arg(long, env = "STICKY_GUARD_SHUTDOWN_DELAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,
    /// Log format (filter with RUST_LOG, default `info`).
    #[arg(long, value_enum, env = "STICKY_GUARD_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Cluster view: `auto` watches the cluster found through KUBECONFIG, ~/.kube/config or the
    /// in-cluster service account, and falls back to single-object rules when there is none;
    /// `on` requires a cluster; `off` never connects.
    #[arg(long, value_enum, env = "STICKY_GUARD_CLUSTER_VIEW", default_value_t = ClusterViewMode::Auto)]
    pub cluster_view: ClusterViewMode,
    /// How long a live GET's "not found" for a backend Service is remembered (`0s`: not at
    /// all); concurrent lookups of one Service always share one GET.
    #[arg(long, env = "STICKY_GUARD_ABSENT_TTL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub absent_ttl: Duration,
    /// Policy reports of what is already broken, written from the live view by one replica
    /// (a Lease elects it): `auto` writes openreports.io Reports when that CRD is served, else
    /// wgpolicyk8s.io PolicyReports when that one is, else none; `/readyz` says which.
    #[arg(long, value_enum, env = "STICKY_GUARD_REPORTS", default_value_t = ReportsMode::Auto)]
    pub reports: ReportsMode,
    /// The shortest time between two passes of the report writer (each pass judges every
    /// cached object and writes the reports that changed).
    #[arg(long, env = "STICKY_GUARD_REPORTS_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub reports_interval: Duration,
    /// Report writes per second, at most.
    #[arg(long, env = "STICKY_GUARD_REPORTS_MAX_WRITES_PER_SECOND", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub reports_max_writes_per_second: u32,
    /// This replica's identity in the reports Lease [the Deployment sets the pod name; default: the host name and
    /// the process id].
    #[arg(long, env = "STICKY_GUARD_REPORTS_IDENTITY")]
    pub reports_identity: Option<String>,
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

/// Where the serving certificate comes from.
enum Certificates {
    /// `--dev`: made at start.
    Dev(tls::dev::DevPki),
    /// `--tls-cert`/`--tls-key`: files, re-read when they change.
    Files(PathBuf, PathBuf),
    /// `--manage-certs`: a Secret, through the certificate manager.
    Managed(tls::managed::Settings),
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let policy = args.policy.load().map_err(|e| e.to_string())?;
    let certificates = if args.dev {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let pki = tls::dev::generate(&names, 30)
            .map_err(|e| format!("cannot make dev certificates: {e}"))?;
        super::certs::write_pki(&args.dev_dir, &pki)?;
        Certificates::Dev(pki)
    } else if args.manage_certs {
        let namespace = match &args.namespace {
            Some(namespace) => namespace.clone(),
            None => std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    format!("--manage-certs needs --namespace (or STICKY_GUARD_NAMESPACE) outside a pod: cannot read {SERVICE_ACCOUNT_NAMESPACE}: {e}")
                })?,
        };
        let mut settings = tls::managed::Settings::new(&namespace);
        settings.service = args.service_name.clone();
        settings.secret = args.certs_secret.clone();
        settings.webhook_configuration = args.webhook_configuration.clone();
        settings.cluster_domain = policy.cluster_domain.clone();
        settings.tls_min_version = args.tls_min_version;
        Certificates::Managed(settings)
    } else {
        let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
            return Err("serve needs a serving certificate: --tls-cert FILE --tls-key FILE, or \
--manage-certs (in a cluster: sticky-guard makes its CA and certificate, keeps them in a Secret and \
patches the webhooks' caBundle), or --dev (on a workstation: a throwaway CA in --dev-dir, \
certs/dev by default)"
                .into());
        };
        Certificates::Files(cert.clone(), key.clone())
    };
    // What is served first: real certificates where they are at hand, else a placeholder, so
    // that nothing waits on the API server before the probes answer.
    let (tls_config, serving) = match &certificates {
        Certificates::Dev(pki) => (
            tls::server_config(
                pki.cert_pem.as_bytes(),
                pki.key_pem.as_bytes(),
                args.tls_min_version,
            )
            .map_err(|e| e.to_string())?,
            ServingState::loaded(&pki.cert_pem, Some(&pki.ca_pem)),
        ),
        Certificates::Files(cert, key) => {
            let config = tls::load_server_config(cert, key, args.tls_min_version)
                .map_err(|e| e.to_string())?;
            let pem = std::fs::read_to_string(cert).unwrap_or_default();
            let ca = tls::files::sibling_ca(cert);
            (config, ServingState::loaded(&pem, ca.as_deref()))
        }
        Certificates::Managed(settings) => {
            let placeholder = tls::dev::generate(&settings.dns_names(), 1)
                .map_err(|e| format!("cannot make the placeholder certificate: {e}"))?;
            (
                tls::server_config(
                    placeholder.cert_pem.as_bytes(),
                    placeholder.key_pem.as_bytes(),
                    args.tls_min_version,
                )
                .map_err(|e| e.to_string())?,
                ServingState::default(),
            )
        }
    };
    let local = if args.dev {
        [127, 0, 0, 1]
    } else {
        [0, 0, 0, 0]
    };
    let listen = args.listen.unwrap_or(SocketAddr::from((local, 8443)));
    let metrics_listen = args
        .metrics_listen
        .unwrap_or(SocketAddr::from((local, 8080)));
    tracing::info!(
        annotation_prefix = %policy.annotation_prefix,
        ingress_classes = %policy.ingress_classes.join(","),
        excluded_namespaces = %policy.excluded_namespaces.join(","),
        cluster_domain = %policy.cluster_domain,
        actions = ?policy.actions,
        "policy"
    );
    let client = kube_client(args.cluster_view, args.manage_certs).await?;
    let view = cluster_view(args.cluster_view, client.clone(), args.absent_ttl);
    let mut state = AppState::new(policy, view.clone(), serving.clone());
    state.max_in_flight = args.max_in_flight;
    state.request_timeout = args.request_timeout;
    let health = state.health.clone();
    if let ViewSource::Live(live) = &view {
        let namespace = match &args.namespace {
            Some(namespace) => namespace.clone(),
            None => std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "sticky-guard".to_string()),
        };
        let identity = args.reports_identity.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "sticky-guard".to_string());
            format!("{host}-{}", std::process::id())
        });
        tokio::spawn(crate::reporter::run(
            (**live).clone(),
            state.policy.clone(),
            crate::reporter::Settings {
                mode: args.reports,
                namespace,
                identity,
                interval: args.reports_interval,
                max_writes_per_second: args.reports_max_writes_per_second,
            },
            health.reports.clone(),
        ));
    }

    let metrics_listener = tokio::net::TcpListener::bind(metrics_listen)
        .await
        .map_err(|e| format!("cannot listen on {metrics_listen}: {e}"))?;
    let metrics_addr = metrics_listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {metrics_listen}: {e}"))?;
    // Stops the metrics port: at the end of the drain, or when the HTTPS server fails.
    let stop_metrics = Arc::new(tokio::sync::Notify::new());
    let metrics_stopped = stop_metrics.clone();
    let metrics_server = tokio::spawn(
        axum::serve(metrics_listener, ops::metrics_router(health.clone()))
            .with_graceful_shutdown(async move { metrics_stopped.notified().await })
            .into_future(),
    );
    let app = router(state, args.max_body_bytes);
    let limits = tls::server::Limits {
        max_connections: args.max_connections,
        handshake_timeout: args.handshake_timeout,
        header_read_timeout: args.header_read_timeout,
        max_streams_per_connection: args.max_streams_per_connection,
    };
    let running = tls::server::start_with(listen, tls_config, app, limits)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(address = %running.local_addr, metrics = %metrics_addr, "serving admission webhooks over HTTPS, metrics over HTTP");
    if args.dev {
        // Not println!: a closed stdout (`serve --dev | head -1`) must not stop the server.
        let ca = args.dev_dir.join("ca.pem");
        super::out(&format!(
            "sticky-guard dev server on https://{}\ndev CA certificate written to {}\nmetrics on http://{metrics_addr}/metrics\ntry: curl --cacert {} -H 'Content-Type: application/json' --data @../shared/fixtures/admission-reviews/ingress-create-sticky-regex-path.json https://localhost:{}/mutate\n",
            running.local_addr,
            ca.display(),
            ca.display(),
            running.local_addr.port()
        ));
    }
    match certificates {
        Certificates::Files(cert, key) => {
            tokio::spawn(tls::files::watch(
                cert,
                key,
                args.tls_min_version,
                running.tls_reloader(),
                serving,
            ));
        }
        Certificates::Managed(settings) => {
            let Some(client) = client else {
                return Err("--manage-certs needs a cluster configuration".into());
            };
            tracing::info!(namespace = %settings.namespace, secret = %settings.secret, webhook_configuration = %settings.webhook_configuration, "self-managed certificates");
            let manager =
                tls::managed::CertManager::new(client, settings, running.tls_reloader(), serving);
            tokio::spawn(manager.run());
        }
        Certificates::Dev(_) => {}
    }
    let handle = running.handle();
    let delay = args.shutdown_delay;
    let stop_on_signal = stop_metrics.clone();
    tokio::spawn(async move {
        tls::server::shutdown_signal().await;
        tracing::info!(delay = ?delay, "shutting down: /readyz fails now; draining after the delay");
        health.start_shutdown();
        tokio::time::sleep(delay).await;
        handle.graceful_shutdown(Some(tls::server::GRACE));
        stop_on_signal.notify_one();
    });
    let served = running.wait().await;
    // `notify_one` keeps a permit if the metrics server is not waiting yet.
    stop_metrics.notify_one();
    if tokio::time::timeout(tls::server::GRACE, metrics_server)
        .await
        .is_err()
    {
        tracing::warn!("the metrics port did not stop within the grace period");
    }
    served.map_err(|e| format!("server failed: {e}"))
}

/// Where a pod's namespace is, in every pod with a service account token.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// A client for the cluster found through KUBECONFIG, ~/.kube/config or the in-cluster service
/// account (no network yet), if the cluster view or the certificate manager needs one.
async fn kube_client(
    mode: ClusterViewMode,
    manage_certs: bool,
) -> Result<Option<kube::Client>, String> {
    if mode == ClusterViewMode::Off && !manage_certs {
        return Ok(None);
    }
    let config = match kube::Config::infer().await {
        Ok(config) => config,
        Err(e) if mode != ClusterViewMode::On && !manage_certs => {
            tracing::warn!(
                error = %e,
                "no cluster configuration: serving single-object rules only; rules that read other objects are skipped"
            );
            return Ok(None);
        }
        Err(e) if manage_certs => {
            return Err(format!("--manage-certs, but no cluster configuration: {e}"));
        }
        Err(e) => {
            return Err(format!(
                "--cluster-view on, but no cluster configuration: {e}"
            ));
        }
    };
    let url = config.cluster_url.to_string();
    kube::Client::try_from(config)
        .map(Some)
        .map_err(|e| format!("cannot make a Kubernetes client for {url}: {e}"))
}

/// The cluster view: watch caches when a client is at hand and the mode allows, else
/// single-object mode with the reason. Returns at once; the caches sync in the background.
fn cluster_view(
    mode: ClusterViewMode,
    client: Option<kube::Client>,
    absent_ttl: Duration,
) -> ViewSource {
    match (mode, client) {
        (ClusterViewMode::Off, _) => {
            tracing::info!("cluster view off (--cluster-view off): single-object rules only");
            ViewSource::Off("--cluster-view off".into())
        }
        (_, None) => ViewSource::Off("no cluster configuration".into()),
        (_, Some(client)) => {
            let kinds: Vec<String> = crate::objects::kinds::KINDS
                .iter()
                .map(|k| match k.watch {
                    crate::objects::kinds::Watch::Always => k.plural.to_string(),
                    crate::objects::kinds::Watch::WhenInstalled => {
                        format!("{} (if installed)", k.plural)
                    }
                })
                .collect();
            tracing::info!(
                watching = %kinds.join(", "),
                "cluster view: watch caches; /readyz waits for them"
            );
            ViewSource::Live(Box::new(
                LiveView::start(client).remember_absent_for(absent_ttl),
            ))
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_timer(SecondCachedTime)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Log timestamps as tracing-subscriber's default writes them (RFC 3339, UTC, microseconds:
/// `2026-12-04T11:35:33.556420Z`), with the date and time of the current second formatted
/// once per second and thread rather than for every line: the decision log writes a line per
/// review.
struct SecondCachedTime;

impl tracing_subscriber::fmt::time::FormatTime for SecondCachedTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        thread_local! {
            static SECOND: std::cell::RefCell<(u64, String)> =
                const { std::cell::RefCell::new((u64::MAX, String::new())) };
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = now.as_secs();
        SECOND.with_borrow_mut(|(cached, text)| {
            if *cached != seconds {
                let t = i64::try_from(seconds)
                    .ok()
                    .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                text.clear();
                use std::fmt::Write;
                write!(
                    text,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )?;
                *cached = seconds;
            }
            w.write_str(text)?;
            write!(w, ".{:06}Z", now.subsec_micros())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Args;

    /// docs/webhook.md: every `serve` setting has a `STICKY_GUARD_<FLAG>` variable, except the three
    /// that choose how certificates are made (`--dev`, `--dev-dir`, `--manage-certs`).
    #[test]
    fn every_setting_has_an_environment_variable() {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if ["dev", "dev_dir", "manage_certs", "help"].contains(&id) {
                continue;
            }
            let flag = id.to_uppercase();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(
                env,
                Some(format!("STICKY_GUARD_{flag}")),
                "--{}",
                arg.get_long().unwrap_or(id)
            );
        }
    }
}

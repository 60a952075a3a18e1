//! Operational endpoints: `/healthz`, `/readyz` and `/metrics`.
//!
//! `/healthz` and `/readyz` are served on both ports: the HTTPS webhook port (where the kubelet
//! probes them: it does not verify probe certificates, and a NetworkPolicy that lets the API
//! server in lets the kubelet in too) and the plain-HTTP metrics port, which also serves
//! `/metrics`. The metrics port binds before anything waits on the API server.

use crate::metrics::Metrics;
use crate::tls::ServingState;
use crate::view::ViewSource;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What `/readyz` and `/metrics` read. Clones share one state (one reference count: the
/// server clones it for every request).
#[derive(Clone)]
pub struct Health(Arc<HealthState>);

/// The state behind [`Health`].
pub struct HealthState {
    /// The cluster view (its caches' sync state).
    pub view: ViewSource,
    /// The certificate served: until a real one is loaded, the replica is not ready.
    pub serving: ServingState,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// The policy report writer's state (`serve --reports`); `off` until it starts.
    pub reports: crate::reporter::ReportStatus,
    shutting_down: AtomicBool,
}

impl std::ops::Deref for Health {
    type Target = HealthState;

    fn deref(&self) -> &HealthState {
        &self.0
    }
}

/// The `/readyz` body: the cluster view's readiness (its `ready` and `detail` made the
/// replica's), plus the certificate and shutdown state.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// `ready` (200 when true, 503 when false), `clusterView`, `detail`, `caches`.
    #[serde(flatten)]
    pub view: crate::view::live::Readiness,
    /// `loaded`, or `pending` while a self-managed certificate is being fetched (a placeholder
    /// is served meanwhile).
    pub certificate: &'static str,
    /// True once SIGTERM was received: the replica leaves the Service's endpoints while it
    /// drains.
    pub shutting_down: bool,
    /// The policy reports: `off: …` (with why), `openreports (leader)`, `policyreport
    /// (standby)`, …; never affects `ready`.
    pub reports: String,
}

impl Health {
    /// Health of a server with this view and certificate state; metrics read the same.
    pub fn new(view: ViewSource, serving: ServingState) -> Health {
        let reports = crate::reporter::ReportStatus::new(match &view {
            ViewSource::Off(_) => "off: no cluster view",
            ViewSource::Live(_) => "off",
        });
        let metrics = Arc::new(Metrics::new(view.clone(), serving.clone(), reports.clone()));
        Health(Arc::new(HealthState {
            view,
            serving,
            metrics,
            reports,
            shutting_down: AtomicBool::new(false),
        }))
    }

    /// From now on `/readyz` answers 503 (the shutdown delay: endpoints controllers remove the
    /// replica before it stops accepting connections).
    pub fn start_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether SIGTERM was received (the drain has begun).
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Readiness: the caches have synced once, a real certificate is served, and no shutdown
    /// has begun.
    pub fn readiness(&self) -> Readiness {
        let mut view = self.view.readiness();
        let certificate = if self.serving.is_loaded() {
            "loaded"
        } else {
            "pending"
        };
        let shutting_down = self.shutting_down.load(Ordering::Acquire);
        if shutting_down {
            view.detail = "shutting down: draining in-flight requests".to_string();
        } else if certificate == "pending" {
            view.detail = format!(
                "waiting for the serving certificate (a placeholder is served); {}",
                view.detail
            );
        }
        view.ready = view.ready && certificate == "loaded" && !shutting_down;
        Readiness {
            view,
            certificate,
            shutting_down,
            reports: self.reports.describe(),
        }
    }
}

/// `/healthz` and `/readyz`, for merging into a router.
pub fn probes(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// The metrics port's router: the probes and `GET /metrics`.
pub fn metrics_router(health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(health.clone())
        .merge(probes(health))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when ready, 503 otherwise; the body says why, as JSON ([`Readiness`]).
async fn readyz(State(health): State<Health>) -> Response {
    let readiness = health.readiness();
    let status = if readiness.view.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}

async fn metrics(State(health): State<Health>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        health.metrics.encode(),
    )
        .into_response()
}

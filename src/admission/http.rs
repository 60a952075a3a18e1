//! HTTP routes of the webhook port: `POST /mutate`, `POST /validate`, and the probes
//! `GET /healthz`, `GET /readyz` ([`crate::ops`]).

use super::{ReviewError, admit};
use crate::metrics::Observation;
use crate::ops::{self, Health};
use crate::policy::Policy;
use crate::rules::Phase;
use crate::tls::ServingState;
use crate::view::ViewSource;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Default limit on request bodies, in bytes: 8 MiB. An AdmissionReview carries the object and,
/// on UPDATE, the old object; each is at most about 1.5 MiB (the API server's request limit),
/// so this leaves room and still refuses absurd bodies with 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Time limit for one request. The webhook configurations set `timeoutSeconds: 3`; past that
/// the API server has given up anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The policy in force.
    pub policy: Arc<Policy>,
    /// The cluster view, certificate state and metrics.
    pub health: Health,
}

impl AppState {
    /// State for a server judging with `policy` and `view`, serving the certificate `serving`
    /// tracks.
    pub fn new(policy: Policy, view: ViewSource, serving: ServingState) -> Self {
        AppState {
            policy: Arc::new(policy),
            health: Health::new(view, serving),
        }
    }

    /// Single-object mode (no cluster view), with the reason for `/readyz`, and a certificate
    /// loaded at start.
    pub fn single_object(policy: Policy, reason: &str, serving: ServingState) -> Self {
        AppState::new(policy, ViewSource::Off(reason.to_string()), serving)
    }
}

/// The router, with a body limit of `max_body_bytes` (413 beyond it).
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let probes = ops::probes(state.health.clone());
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
        .merge(probes)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http())
}

async fn mutate(State(state): State<AppState>, body: Bytes) -> Response {
    review(&state, Phase::Mutating, &body).await
}

async fn validate(State(state): State<AppState>, body: Bytes) -> Response {
    review(&state, Phase::Validating, &body).await
}

async fn review(state: &AppState, phase: Phase, body: &[u8]) -> Response {
    let started = Instant::now();
    let webhook = match phase {
        Phase::Mutating => "mutate",
        Phase::Validating => "validate",
    };
    match admit(body, phase, &state.policy, &state.health.view).await {
        Ok((response, outcome)) => {
            let elapsed = started.elapsed();
            state.health.metrics.observe(&Observation {
                webhook,
                kind: &outcome.kind,
                allowed: outcome.allowed,
                dry_run: outcome.dry_run,
                findings: &outcome.findings,
                elapsed,
            });
            // The decision log: one line per judged request.
            tracing::info!(
                webhook,
                uid = %outcome.uid,
                kind = %outcome.kind,
                namespace = %outcome.namespace,
                name = %outcome.name,
                dry_run = outcome.dry_run,
                allowed = outcome.allowed,
                rules = %outcome.rules.join(","),
                latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                "admission review"
            );
            axum::Json(response).into_response()
        }
        Err(error) => {
            state.health.metrics.rejected(webhook);
            bad_request(&error)
        }
    }
}

fn bad_request(error: &ReviewError) -> Response {
    tracing::warn!(%error, "refused a request body");
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{error}\n"),
    )
        .into_response()
}

//! HTTP routes: `POST /mutate`, `POST /validate`, `GET /healthz`, `GET /readyz`.

use super::{ReviewError, admit};
use crate::policy::Policy;
use crate::rules::Phase;
use crate::view::ViewSource;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Default limit on request bodies, in bytes: 8 MiB. An AdmissionReview carries the object and,
/// on UPDATE, the old object; each is at most about 1.5 MiB (the API server's request limit),
/// so this leaves room and still refuses absurd bodies with 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Time limit for one request. The webhook configurations set `timeoutSeconds: 5`; past that
/// the API server has given up anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The policy in force.
    pub policy: Arc<Policy>,
    /// Where the cluster view comes from.
    pub view: ViewSource,
}

impl AppState {
    /// Single-object mode (no cluster view), with the reason for `/readyz`.
    pub fn single_object(policy: Policy, reason: &str) -> Self {
        AppState {
            policy: Arc::new(policy),
            view: ViewSource::Off(reason.to_string()),
        }
    }
}

/// The router, with a body limit of `max_body_bytes` (413 beyond it).
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn mutate(State(state): State<AppState>, body: Bytes) -> Response {
    review(&state, Phase::Mutating, &body).await
}

async fn validate(State(state): State<AppState>, body: Bytes) -> Response {
    review(&state, Phase::Validating, &body).await
}

async fn review(state: &AppState, phase: Phase, body: &[u8]) -> Response {
    match admit(body, phase, &state.policy, &state.view).await {
        Ok((response, outcome)) => {
            tracing::info!(
                webhook = ?phase,
                uid = %outcome.uid,
                kind = %outcome.kind,
                namespace = %outcome.namespace,
                name = %outcome.name,
                dry_run = outcome.dry_run,
                allowed = outcome.allowed,
                rules = %outcome.rules.join(","),
                "admission review"
            );
            axum::Json(response).into_response()
        }
        Err(error) => bad_request(&error),
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

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when ready, 503 while the watch caches sync; the body says which, as JSON
/// ([`crate::view::live::Readiness`]).
async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.view.readiness();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}

//! HTTP routes: `POST /mutate`, `POST /validate`, `GET /healthz`, `GET /readyz`.

use super::{ReviewError, admit};
use crate::policy::Policy;
use crate::rules::{Context, Phase};
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
#[derive(Clone, Debug)]
pub struct AppState {
    /// The policy in force.
    pub policy: Arc<Policy>,
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
    review(&state, Phase::Mutating, &body)
}

async fn validate(State(state): State<AppState>, body: Bytes) -> Response {
    review(&state, Phase::Validating, &body)
}

fn review(state: &AppState, phase: Phase, body: &[u8]) -> Response {
    let context = Context {
        policy: &state.policy,
    };
    match admit(body, phase, &context) {
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

async fn readyz() -> &'static str {
    "ok\n"
}

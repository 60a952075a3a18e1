//! HTTP routes of the webhook port: `POST /mutate`, `POST /validate`, and the probes
//! `GET /healthz`, `GET /readyz` ([`crate::ops`]).

use super::{ReviewError, admit};
use crate::echo;
use crate::metrics::Observation;
use crate::ops::{self, Health};
use crate::policy::Policy;
use crate::rules::Phase;
use crate::tls::ServingState;
use crate::view::ViewSource;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Default limit on request bodies, in bytes: 8 MiB. An AdmissionReview carries the object and,
/// on UPDATE, the old object; each is at most about 1.5 MiB (the API server's request limit),
/// so this leaves room and still refuses absurd bodies with 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Default time limit for one request (`serve --request-timeout`), body included; 408 after.
/// The webhook configurations set `timeoutSeconds: 3`; past that the API server has given up
/// anyway.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The policy in force.
    pub policy: Arc<Policy>,
    /// The cluster view, certificate state and metrics.
    pub health: Health,
    /// How many reviews are judged at once; more wait ([`DEFAULT_MAX_IN_FLIGHT`]).
    pub max_in_flight: usize,
    /// Time limit for one request ([`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
}

impl AppState {
    /// State for a server judging with `policy` and `view`, serving the certificate `serving`
    /// tracks.
    pub fn new(policy: Policy, view: ViewSource, serving: ServingState) -> Self {
        AppState {
            policy: Arc::new(policy),
            health: Health::new(view, serving),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Single-object mode (no cluster view), with the reason for `/readyz`, and a certificate
    /// loaded at start.
    pub fn single_object(policy: Policy, reason: &str, serving: ServingState) -> Self {
        AppState::new(policy, ViewSource::Off(reason.to_string()), serving)
    }
}

/// How many AdmissionReviews are judged at once by default; more wait (until the request
/// timeout). About 7 MiB of memory per maximal review in flight (docs/install.md, "Sizing"), so 32 keep
/// the worst case near 230 MiB, well under the Deployment's 512 MiB limit.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;

/// The router, with a body limit of `max_body_bytes`: 413 beyond it, at once when the declared
/// `Content-Length` is over it, and at most [`DEFAULT_MAX_IN_FLIGHT`] reviews judged at once.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let probes = ops::probes(state.health.clone());
    let request_timeout = state.request_timeout;
    let health = state.health.clone();
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            state.max_in_flight,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .with_state(state)
        .merge(probes)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            health,
            observe_answers,
        ))
}

/// While the server drains (after SIGTERM), every HTTP/1.1 answer carries `Connection: close`,
/// so keep-alive clients open their next connection to a replica that stays.
///
/// Error answers (404, 405, 408, 413, 415, ...) are logged at debug and counted in
/// `sticky_guard_http_errors_total{status}`.
async fn observe_answers(
    State(health): State<Health>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let http1 = request.version() <= axum::http::Version::HTTP_11;
    let method = request.method().clone();
    // Cheap clones (reference-counted); the path is bounded only when an error is logged.
    let uri = request.uri().clone();
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let path = echo::bounded(uri.path());
        tracing::debug!(%method, %path, status = status.as_u16(), "error answer");
        health.metrics.http_error(status.as_u16());
    }
    if http1 && health.is_shutting_down() {
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

async fn mutate(State(state): State<AppState>, _: JsonContentType, body: Bytes) -> Response {
    review(&state, Phase::Mutating, &body).await
}

async fn validate(State(state): State<AppState>, _: JsonContentType, body: Bytes) -> Response {
    review(&state, Phase::Validating, &body).await
}

/// The request says `Content-Type: application/json` (parameters allowed), as kube-apiserver
/// sends AdmissionReviews; otherwise 415 before the body is read. Reads the header in place
/// (the `HeaderMap` extractor would copy every header).
struct JsonContentType;

impl<S: Sync> FromRequestParts<S> for JsonContentType {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if json {
            return Ok(JsonContentType);
        }
        tracing::debug!("refused a request that is not Content-Type: application/json");
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "an AdmissionReview is sent as Content-Type: application/json\n",
        )
            .into_response())
    }
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
                uid = %echo::Bounded(&outcome.uid),
                kind = %echo::Bounded(&outcome.kind),
                namespace = %echo::Bounded(&outcome.namespace),
                name = %echo::Bounded(&outcome.name),
                dry_run = outcome.dry_run,
                allowed = outcome.allowed,
                rules = %RuleList(&outcome.rules),
                latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                "admission review"
            );
            json_response(&response)
        }
        Err(error) => {
            state.health.metrics.rejected(webhook);
            bad_request(&error)
        }
    }
}

/// `200 OK` with the AdmissionReview as JSON, written into one buffer sized for a usual answer
/// (an allow is about 200 bytes; a denial or a patch a few hundred more).
fn json_response(review: &super::ReviewResponse) -> Response {
    let mut body = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut body, review) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        // Plain data with string keys: serializing it cannot fail.
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Rule IDs joined with `,` as they are written into a log line.
struct RuleList<'a>(&'a [&'static str]);

impl std::fmt::Display for RuleList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, rule) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(rule)?;
        }
        Ok(())
    }
}

fn bad_request(error: &ReviewError) -> Response {
    let error = echo::bounded(&error.to_string());
    tracing::warn!(%error, "refused a request body");
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{error}\n"),
    )
        .into_response()
}

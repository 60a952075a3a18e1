//! A test-double admission webhook: a plain HTTP server on 127.0.0.1 that records the
//! AdmissionReviews it gets and answers each as the test says, for the stand-in API server's
//! admission chain ([`super::apiserver`]) to call; and builders for the webhook
//! configurations that point at it.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a [`Double`] answers a request, given its JSON body: an HTTP status and a body.
pub type Answer = dyn Fn(&Value) -> (u16, String) + Send + Sync;

/// The requests a [`Double`] received: path and query, JSON body (null if it is not JSON).
pub type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A webhook server on 127.0.0.1 that records every request (path and query, JSON body) and
/// answers it with `answer(body)` (an HTTP status and a body) after `delay`.
pub struct Double {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    received: Received,
    task: tokio::task::JoinHandle<()>,
}

impl Double {
    /// Starts a double that answers at once (it needs a running tokio runtime).
    pub async fn start(answer: impl Fn(&Value) -> (u16, String) + Send + Sync + 'static) -> Double {
        Double::start_slow(Duration::ZERO, answer).await
    }

    /// Starts a double that waits `delay` before each answer.
    pub async fn start_slow(
        delay: Duration,
        answer: impl Fn(&Value) -> (u16, String) + Send + Sync + 'static,
    ) -> Double {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received: Received = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let app = axum::Router::new().fallback(serve_double).with_state((
            Arc::clone(&received),
            answer,
            delay,
        ));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Double {
            url,
            received,
            task,
        }
    }

    /// The AdmissionReviews received, in order.
    pub fn reviews(&self) -> Vec<Value> {
        let received = self.received.lock().unwrap();
        received.iter().map(|(_, review)| review.clone()).collect()
    }

    /// The paths (with query) requested, in order.
    pub fn targets(&self) -> Vec<String> {
        let received = self.received.lock().unwrap();
        received.iter().map(|(target, _)| target.clone()).collect()
    }
}

/// A [`Double`]'s one handler.
async fn serve_double(
    axum::extract::State((received, answer, delay)): axum::extract::State<(
        Received,
        Arc<Answer>,
        Duration,
    )>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> impl axum::response::IntoResponse {
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let target = uri.path_and_query().map_or("", |pq| pq.as_str()).to_owned();
    received.lock().unwrap().push((target, review.clone()));
    tokio::time::sleep(delay).await;
    let (status, body) = answer(&review);
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

impl Drop for Double {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An AdmissionReview answer to `review` with `response` (its uid filled in), as HTTP 200.
pub fn reply(review: &Value, mut response: Value) -> (u16, String) {
    response["uid"] = review["request"]["uid"].clone();
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    });
    (200, body.to_string())
}

pub fn allow(review: &Value) -> (u16, String) {
    reply(review, json!({"allowed": true}))
}

/// Allows with a JSON patch (`operations`).
pub fn patch(review: &Value, operations: Value) -> (u16, String) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(operations.to_string());
    reply(
        review,
        json!({"allowed": true, "patchType": "JSONPatch", "patch": encoded}),
    )
}

/// A port on 127.0.0.1 where nothing listens.
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A webhook on Ingress CREATE/UPDATE calling `url`, with `extra` merged in.
pub fn webhook(name: &str, url: &str, extra: Value) -> Value {
    let mut webhook = json!({
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "rules": [{
            "apiGroups": ["networking.k8s.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["ingresses"],
            "scope": "Namespaced",
        }],
        "clientConfig": {"url": url},
    });
    json_patch::merge(&mut webhook, &extra);
    webhook
}

pub fn configuration(kind: &str, name: &str, webhooks: Vec<Value>) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": webhooks,
    })
}

pub fn validating(name: &str, webhooks: Vec<Value>) -> Value {
    configuration("ValidatingWebhookConfiguration", name, webhooks)
}

pub fn mutating(name: &str, webhooks: Vec<Value>) -> Value {
    configuration("MutatingWebhookConfiguration", name, webhooks)
}

//! One webhook call: the AdmissionReview POSTed to the webhook's `clientConfig` (only ever to
//! 127.0.0.1) and its answer checked as kube-apiserver checks it.

use super::super::Resource;
use super::{Hook, Request, Shared};
use base64::Engine;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most of a webhook's answer that is read (kube-apiserver's request limit).
const MAX_ANSWER_BYTES: usize = 3 * 1024 * 1024;

/// A valid answer.
pub(super) enum Answer {
    /// `response.allowed: true`, with the decoded JSON patch of a mutating webhook (`None`
    /// without one, or an empty one).
    Allowed { patch: Option<json_patch::Patch> },
    /// `response.allowed: false`, with `response.status` (null when absent).
    Denied { status: Value },
}

/// The outcome of a call: the answer, or why the call failed (what follows `failed calling
/// webhook "{name}": `), and the answer's warnings.
pub(super) struct Reply {
    pub(super) answer: Result<Answer, String>,
    pub(super) warnings: Vec<String>,
}

impl Reply {
    fn failed(cause: String) -> Reply {
        Reply {
            answer: Err(cause),
            warnings: Vec::new(),
        }
    }
}

/// A fresh uid for a request.
pub(super) fn new_uid() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("a0000000-0000-4000-8000-{n:012x}")
}

/// Calls `hook` about `request` with `object`.
pub(super) async fn call(shared: &Shared, request: &Request, hook: &Hook, object: &Value) -> Reply {
    let uid = new_uid();
    let mut review_request = request.review_request(&uid);
    review_request["object"] = object.clone();
    review_request["oldObject"] = request.old.clone().unwrap_or(Value::Null);
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": review_request,
    });
    let timeout = hook.timeout();
    let url = match endpoint(shared, &hook.spec["clientConfig"], timeout) {
        Ok(url) => url,
        Err(cause) => return Reply::failed(format!("failed to call webhook: {cause}")),
    };
    let failed_post =
        |cause: String| Reply::failed(format!("failed to call webhook: Post \"{url}\": {cause}"));
    let (status, body) = match post(&url, review.to_string(), timeout).await {
        Ok(answer) => answer,
        Err(cause) => return failed_post(cause),
    };
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.trim().chars().take(512).collect();
        return Reply::failed(if text.is_empty() {
            format!(
                "failed to call webhook: the server responded with the status code {} but did \
                 not return more information",
                status.as_u16()
            )
        } else {
            format!(
                "failed to call webhook: an error on the server ({text:?}) has prevented the \
                 request from succeeding"
            )
        });
    }
    match read_answer(&uid, hook.mutating, &body) {
        Ok(reply) => reply,
        Err(cause) => Reply::failed(cause),
    }
}

/// Where to POST, with kube-apiserver's `timeout` parameter; `Err` is the cause of the
/// failure (after `failed to call webhook: `).
fn endpoint(
    shared: &Shared,
    client_config: &Value,
    timeout: Duration,
) -> Result<reqwest::Url, String> {
    let seconds = format!("{}s", timeout.as_secs());
    let with_timeout = |mut url: reqwest::Url| {
        url.query_pairs_mut().append_pair("timeout", &seconds);
        url
    };
    if let Some(url) = client_config["url"].as_str() {
        let parsed = reqwest::Url::parse(url).map_err(|error| format!("parse {url:?}: {error}"))?;
        if !is_local(&parsed) {
            return Err(format!(
                "Post {:?}: the stand-in API server calls only http://127.0.0.1 URLs",
                with_timeout(parsed).as_str()
            ));
        }
        return Ok(with_timeout(parsed));
    }
    let service = &client_config["service"];
    let (Some(namespace), Some(name)) = (service["namespace"].as_str(), service["name"].as_str())
    else {
        return Err("the webhook's clientConfig has neither a url nor a service".to_owned());
    };
    let mut path = service["path"].as_str().unwrap_or("/").to_owned();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let port = service["port"].as_u64().unwrap_or(443);
    let (route, exists) = {
        let store = shared.lock();
        let route = store
            .service_routes
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned();
        let exists = store
            .objects
            .contains_key(&Resource::Service.key(namespace, name));
        (route, exists)
    };
    match route {
        Some(base) => {
            let url = format!("{base}{path}");
            let parsed =
                reqwest::Url::parse(&url).map_err(|error| format!("parse {url:?}: {error}"))?;
            if !is_local(&parsed) {
                return Err(format!("{url:?} is not an http://127.0.0.1 URL"));
            }
            Ok(with_timeout(parsed))
        }
        None => {
            // kube-apiserver resolves the Service before it dials.
            let cause = if exists {
                format!("no endpoints available for service {name:?}")
            } else {
                format!("service {name:?} not found")
            };
            Err(format!(
                "Post \"https://{name}.{namespace}.svc:{port}{path}?timeout={seconds}\": {cause}"
            ))
        }
    }
}

/// Plain HTTP to 127.0.0.1: all the stand-in ever calls.
fn is_local(url: &reqwest::Url) -> bool {
    url.scheme() == "http" && url.host_str() == Some("127.0.0.1")
}

/// POSTs `body` as JSON to `url` within `timeout`: the status and the body of the answer, or
/// the cause of the failure in the words of Go's HTTP client.
async fn post(
    url: &reqwest::Url,
    body: String,
    timeout: Duration,
) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A client per call: a pooled connection would outlive the test's runtime. No proxy (the
    // environment's must not send the call elsewhere) and no redirects (nor may the webhook).
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|error| format!("building an HTTP client: {error}"))?;
    let address = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(80)
    );
    let describe = |error: reqwest::Error| describe(&error, &address);
    let mut response = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(describe)?;
    let status = response.status();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, bytes))
}

/// A failed request as Go's client words it: `context deadline exceeded`, `dial tcp
/// 127.0.0.1:PORT: connect: connection refused`, or else the error and its causes.
fn describe(error: &reqwest::Error, address: &str) -> String {
    if error.is_timeout() {
        return "context deadline exceeded".to_owned();
    }
    let mut causes = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return format!("dial tcp {address}: connect: connection refused");
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.join(": ")
}

/// Checks an answer of a 2xx status as kube-apiserver does (decoding, then
/// `VerifyAdmissionResponse`, then the patch); `Err` is the cause of the failure.
fn read_answer(uid: &str, mutating: bool, body: &[u8]) -> Result<Reply, String> {
    let decoding = |cause: String| format!("failed to call webhook: {cause}");
    let invalid = |cause: &str| format!("received invalid webhook response: {cause}");
    let review: Value = serde_json::from_slice(body).map_err(|error| {
        decoding(format!(
            "couldn't get version/kind; json parse error: {error}"
        ))
    })?;
    if !review.is_object() {
        return Err(decoding("the answer is not a JSON object".to_owned()));
    }
    let response = &review["response"];
    if response.is_null() {
        return Err(invalid("webhook response was absent"));
    }
    if !response.is_object() {
        return Err(decoding("response is not a JSON object".to_owned()));
    }
    // The fields' types, as decoding into the Go types would check them.
    let typed = |field: &str, ok: fn(&Value) -> bool, what: &str| {
        let value = &response[field];
        if value.is_null() || ok(value) {
            Ok(())
        } else {
            Err(decoding(format!("response.{field} is not {what}: {value}")))
        }
    };
    typed("uid", Value::is_string, "a string")?;
    typed("allowed", Value::is_boolean, "a bool")?;
    typed("patch", Value::is_string, "a string")?;
    typed("patchType", Value::is_string, "a string")?;
    typed("status", Value::is_object, "an object")?;
    typed(
        "warnings",
        |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        "a list of strings",
    )?;
    let patch = match response["patch"].as_str() {
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|error| decoding(format!("illegal base64 data in response.patch: {error}")))?,
        None => Vec::new(),
    };
    let got_uid = response["uid"].as_str().unwrap_or("");
    if got_uid != uid {
        return Err(invalid(&format!(
            "expected response.uid={uid:?}, got {got_uid:?}"
        )));
    }
    let (api_version, kind) = (
        review["apiVersion"].as_str().unwrap_or(""),
        review["kind"].as_str().unwrap_or(""),
    );
    if (api_version, kind) != ("admission.k8s.io/v1", "AdmissionReview") {
        return Err(invalid(&format!(
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got \
             {api_version}, Kind={kind}"
        )));
    }
    let patch_type = response["patchType"].as_str();
    if mutating {
        match (patch.is_empty(), patch_type) {
            (false, None) => {
                return Err(invalid(
                    "webhook returned response.patch but not response.patchType",
                ));
            }
            (true, Some(_)) => {
                return Err(invalid(
                    "webhook returned response.patchType but not response.patch",
                ));
            }
            (_, Some("")) => {
                return Err(invalid(
                    "webhook returned invalid response.patchType of \"\"",
                ));
            }
            _ => {}
        }
    } else if !patch.is_empty() {
        return Err(invalid("validating webhook may not return response.patch"));
    } else if patch_type.is_some() {
        return Err(invalid(
            "validating webhook may not return response.patchType",
        ));
    }
    let warnings = response["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if response["allowed"] != true {
        return Ok(Reply {
            answer: Ok(Answer::Denied {
                status: response["status"].clone(),
            }),
            warnings,
        });
    }
    let patch = if patch.is_empty() {
        None
    } else {
        let operations: json_patch::Patch = serde_json::from_slice(&patch)
            .map_err(|error| format!("received undecodable patch in webhook response: {error}"))?;
        match patch_type {
            Some("JSONPatch") => Some(operations).filter(|p| !p.0.is_empty()),
            other => {
                return Err(format!(
                    "unsupported patch type {:?}",
                    other.unwrap_or_default()
                ));
            }
        }
    };
    Ok(Reply {
        answer: Ok(Answer::Allowed { patch }),
        warnings,
    })
}

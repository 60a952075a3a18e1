//! `admission.k8s.io/v1` AdmissionReview: decoding requests, encoding responses.

use super::verdict::Verdict;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The only AdmissionReview version sticky-guard speaks. The webhook configurations in
/// `manifests/` register `admissionReviewVersions: ["v1"]`.
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// Why a request body is not an AdmissionReview request sticky-guard can answer.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Not JSON, or not the shape of an AdmissionReview.
    #[error("request body is not an AdmissionReview: {0}")]
    Malformed(String),
    /// An AdmissionReview of another version.
    #[error(
        "AdmissionReview apiVersion `{0}` is not supported: register the webhook with admissionReviewVersions: [\"v1\"]"
    )]
    UnsupportedVersion(String),
    /// An AdmissionReview without `request` (e.g. a response sent back).
    #[error("AdmissionReview has no request")]
    NoRequest,
}

/// The AdmissionReview envelope, as far as sticky-guard reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(borrow)]
    api_version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    request: Option<Request<'a>>,
}

/// `request` of an `admission.k8s.io/v1` AdmissionReview, as far as sticky-guard reads it,
/// borrowed from the request body: `object` and `oldObject` are slices of the body, decoded
/// later by [`crate::objects::decode_json`] into only what the rules read. Every other field
/// (`resource`, `userInfo`, `options`, …) is skipped without being built.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    /// `uid`, echoed in the response (at most [`MAX_UID_BYTES`]).
    #[serde(borrow)]
    pub uid: Cow<'a, str>,
    /// `kind`: the object's group, version and kind, in the version the webhook registered
    /// (`matchPolicy: Equivalent` converts to it).
    #[serde(borrow)]
    pub kind: GroupVersionKind<'a>,
    /// `namespace`; absent for cluster-scoped objects.
    #[serde(borrow, default)]
    pub namespace: Option<Cow<'a, str>>,
    /// `name`; empty on CREATE with `generateName`.
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// `operation`.
    pub operation: Operation,
    /// `dryRun`.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// `object` as JSON text (absent on DELETE).
    #[serde(borrow, default)]
    pub object: Option<&'a RawValue>,
    /// `oldObject` as JSON text (UPDATE and DELETE).
    #[serde(borrow, default)]
    pub old_object: Option<&'a RawValue>,
}

/// `request.kind`.
#[derive(Debug, Deserialize)]
pub struct GroupVersionKind<'a> {
    /// API group; empty for the core group.
    #[serde(borrow)]
    pub group: Cow<'a, str>,
    /// API version within the group.
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    /// Kind.
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
}

impl GroupVersionKind<'_> {
    /// `apiVersion` form: `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> Cow<'_, str> {
        if self.group.is_empty() {
            Cow::Borrowed(&self.version)
        } else {
            Cow::Owned(format!("{}/{}", self.group, self.version))
        }
    }
}

/// `request.operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// `CREATE`.
    Create,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CONNECT`.
    Connect,
}

/// Decodes a request body, in one pass over its bytes, borrowing from them.
///
/// # Errors
/// [`ReviewError`] for non-JSON (or JSON followed by anything but whitespace), a wrong `kind`,
/// another `apiVersion`, no `request`, a `request` without `uid`, `kind` or `operation`, or a
/// `uid` over [`MAX_UID_BYTES`]; the message names the field at fault (found by decoding a
/// failed body a second time with path tracking, so the success path does not pay for it).
pub fn decode(body: &[u8]) -> Result<Request<'_>, ReviewError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let review = match Envelope::deserialize(&mut de) {
        Ok(review) => review,
        Err(error) => {
            let tracked = serde_path_to_error::deserialize::<_, Envelope<'_>>(
                &mut serde_json::Deserializer::from_slice(body),
            );
            return Err(ReviewError::Malformed(match tracked {
                Err(e) => format!("at `{}`: {}", e.path(), e.inner()),
                Ok(_) => error.to_string(),
            }));
        }
    };
    de.end()
        .map_err(|e| ReviewError::Malformed(format!("characters after the JSON document: {e}")))?;
    if review.kind != "AdmissionReview" {
        return Err(ReviewError::Malformed(format!(
            "kind is `{}`, expected `AdmissionReview`",
            review.kind
        )));
    }
    if review.api_version != API_VERSION {
        return Err(ReviewError::UnsupportedVersion(
            review.api_version.into_owned(),
        ));
    }
    let request = review.request.ok_or(ReviewError::NoRequest)?;
    // kube-apiserver sends a UUID; the uid is echoed in the answer, so an absurd one is refused
    // rather than repeated.
    if request.uid.len() > MAX_UID_BYTES {
        return Err(ReviewError::Malformed(format!(
            "request.uid is {} bytes long; a uid is a UUID (at most {MAX_UID_BYTES} bytes)",
            request.uid.len()
        )));
    }
    Ok(request)
}

/// Longest `request.uid` accepted, in bytes (a UUID is 36).
pub const MAX_UID_BYTES: usize = 128;

/// An `admission.k8s.io/v1` AdmissionReview response body.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResponse {
    /// Always `admission.k8s.io/v1`.
    pub api_version: &'static str,
    /// Always `AdmissionReview`.
    pub kind: &'static str,
    /// The answer.
    pub response: Response,
}

/// `response` of an AdmissionReview.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The request's `uid`, echoed.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// On denial: code, reason and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `JSONPatch` when `patch` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    /// Base64 (standard alphabet, padded) of the RFC 6902 JSON Patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Warnings for the client (kubectl prints them); each at most 120 characters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Audit annotations; the API server prefixes each key with the webhook name. Every answer on
    /// a judged object carries `rules`: the IDs of the rules that fired, comma-separated, or
    /// `none`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}

/// `metav1.Status`, as far as an admission response uses it.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// `Failure`.
    pub status: &'static str,
    /// HTTP-style code the API server passes on: 403 for a denial, 400 for a bad object.
    pub code: u16,
    /// `Forbidden` or `BadRequest`.
    pub reason: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

impl ReviewResponse {
    fn new(response: Response) -> Self {
        ReviewResponse {
            api_version: API_VERSION,
            kind: "AdmissionReview",
            response,
        }
    }

    /// Allowed, untouched.
    pub fn allow(uid: &str) -> Self {
        ReviewResponse::new(Response {
            uid: uid.to_string(),
            allowed: true,
            status: None,
            patch_type: None,
            patch: None,
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
        })
    }

    /// Refused with code 400: the object could not be read.
    pub fn invalid(uid: &str, message: &str) -> Self {
        let mut review = ReviewResponse::allow(uid);
        review.response.allowed = false;
        review.response.status = Some(Status {
            status: "Failure",
            code: 400,
            reason: "BadRequest",
            message: crate::echo::bounded(&format!(
                "sticky-guard could not read the object: {message}"
            )),
        });
        review
    }

    /// The answer for a verdict: deny with 403, or allow with an optional patch and warnings.
    pub fn from_verdict(uid: &str, verdict: Verdict) -> Self {
        let mut review = ReviewResponse::allow(uid);
        let response = &mut review.response;
        response.allowed = verdict.allowed;
        if let Some(message) = verdict.denial {
            response.status = Some(Status {
                status: "Failure",
                code: 403,
                reason: "Forbidden",
                message,
            });
        }
        if !verdict.patch.0.is_empty() {
            // Serializing a Patch (plain data) cannot fail.
            let bytes = serde_json::to_vec(&verdict.patch).unwrap_or_default();
            response.patch_type = Some("JSONPatch");
            response.patch = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        response.warnings = verdict.warnings;
        let rules = if verdict.rules.is_empty() {
            "none".to_string()
        } else {
            verdict.rules.join(",")
        };
        response.audit_annotations.insert("rules".into(), rules);
        review
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_versions_and_garbage() {
        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Service"},"resource":{"group":"","version":"v1","resource":"services"},"operation":"CREATE","userInfo":{}}}"#;
        assert!(matches!(
            decode(v1beta1),
            Err(ReviewError::UnsupportedVersion(v)) if v == "admission.k8s.io/v1beta1"
        ));
        assert!(matches!(
            decode(b"{not json"),
            Err(ReviewError::Malformed(_))
        ));
        assert!(matches!(decode(b"[]"), Err(ReviewError::Malformed(_))));
        let no_request = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#;
        assert!(matches!(decode(no_request), Err(ReviewError::NoRequest)));
    }
}

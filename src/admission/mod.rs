//! Admission glue: AdmissionReview in, AdmissionReview out.
//!
//! One small service, as linkerd's policy controller does it: read body → parse AdmissionReview
//! → decode the object → run the rules → build one response. Nothing here knows a rule by name.
//!
//! Wire format: `admission.k8s.io/v1`, as the API reference defines it. The request is read in
//! one pass with our own borrowed [`review::Request`] (only the fields used; `object` and
//! `oldObject` as slices of the body, then decoded into only what the rules read); the response
//! is written with our own [`review::ReviewResponse`], because the API wants `response.patch`
//! as a base64 string and kube's `AdmissionResponse` serializes it as a JSON array of bytes.
//!
//! `dryRun` requests (`kubectl apply --dry-run=server`) are answered exactly like the others:
//! sticky-guard has no side effects (`sideEffects: None` in the webhook configurations).

pub mod http;
pub mod review;
pub mod verdict;

pub use review::{ReviewError, ReviewResponse};
pub use verdict::Verdict;

use crate::objects;
use crate::policy::Policy;
use crate::rules::{self, Context, Phase};
use crate::view::ViewSource;
use review::Operation;

/// Answers one AdmissionReview request body.
///
/// - `DELETE` and `CONNECT`, requests without an object, kinds sticky-guard does not judge, and
///   objects the policy does not judge (other ingress classes, excluded namespaces) are allowed
///   untouched.
/// - An object that does not decode as its kind is refused with code 400 (the API server sends
///   only objects it has decoded itself, so this means a version sticky-guard does not know).
/// - Otherwise the cluster view is prepared for the object (the validating phase may ask the API
///   server for backend Services the cache lacks), the rules run in `phase`, suppression
///   annotations remove the findings of the rules the policy lists as suppressible
///   ([`rules::suppress`]), and [`Verdict::decide`] makes the answer. A suppression honoured, or
///   one ignored for a rule that fired, is said in a warning.
///
/// # Errors
/// [`ReviewError`] when the body is not an `admission.k8s.io/v1` AdmissionReview request; there
/// is then no `uid` to answer to, and the HTTP layer replies 400.
pub async fn admit(
    body: &[u8],
    phase: Phase,
    policy: &Policy,
    view: &ViewSource,
) -> Result<(ReviewResponse, Outcome), ReviewError> {
    let request = review::decode(body)?;
    let mut outcome = Outcome {
        uid: request.uid.to_string(),
        kind: request.kind.kind.to_string(),
        namespace: request.namespace.as_deref().unwrap_or_default().to_string(),
        name: request.name.as_deref().unwrap_or_default().to_string(),
        dry_run: request.dry_run.unwrap_or(false),
        allowed: true,
        rules: Vec::new(),
        findings: Vec::new(),
    };
    let uid = &request.uid;
    let object = match (request.operation, request.object) {
        (Operation::Create | Operation::Update, Some(object)) => object,
        _ => return Ok((ReviewResponse::allow(uid), outcome)),
    };
    let api_version = request.kind.api_version();
    let namespace = request.namespace.as_deref();
    let decode = |raw: &serde_json::value::RawValue| {
        objects::decode_json(raw.get(), &api_version, &request.kind.kind).map(|object| {
            object.map(|mut object| {
                let meta = object.meta_mut();
                if meta.namespace.is_none() {
                    meta.namespace = namespace.map(str::to_string);
                }
                object
            })
        })
    };
    let decoded = match decode(object) {
        // Kinds the kinds table does not send to the webhooks, and excluded namespaces, are
        // allowed untouched; Ingresses of other classes still meet the rules that look at them.
        Ok(Some(decoded))
            if decoded.kind().info().webhooks.is_some()
                && policy.judges(&decoded) != crate::policy::Judged::ExcludedNamespace =>
        {
            decoded
        }
        Ok(_) => return Ok((ReviewResponse::allow(uid), outcome)),
        Err(e) => {
            outcome.allowed = false;
            return Ok((ReviewResponse::invalid(uid, &e.to_string()), outcome));
        }
    };
    let old = request
        .old_object
        .and_then(|old| decode(old).ok().flatten());
    // Live GETs of missing backends only for objects the policy judges: an Ingress of another
    // class meets only the rules about other controllers, which read nothing else.
    let judged = policy.judges(&decoded) == crate::policy::Judged::Yes;
    let cluster = view
        .prepare(&decoded, phase == Phase::Validating && judged)
        .await;
    let context = Context {
        policy,
        view: cluster.as_ref(),
        old: old.as_ref(),
    };
    let findings = if body.len() >= LARGE_REVIEW_BYTES && multi_threaded() {
        // A large object is judged off the async workers: the runtime hands this worker's
        // other tasks (other reviews, `/healthz`, `/readyz`) to another thread meanwhile.
        tokio::task::block_in_place(|| rules::evaluate(&decoded, phase, &context))
    } else {
        rules::evaluate(&decoded, phase, &context)
    };

    // Suppression annotations are honoured only for the rules the policy lists as
    // suppressible (none by default): whoever writes the object must not switch off a deny.
    let suppressions =
        rules::suppress::apply(decoded.meta().annotations.as_ref(), findings, |id| {
            policy.may_suppress(id)
        });
    let findings = suppressions.kept;
    let mut verdict = Verdict::decide(
        &findings,
        phase,
        decoded.meta().annotations.as_ref(),
        &decoded.reference().to_string(),
    );
    for s in &suppressions.suppressed {
        verdict.warn(
            s.rule,
            &format!("suppressed (ignore-check annotation): {}", s.reason_text()),
        );
    }
    for s in &suppressions.refused {
        verdict.warn(
            s.rule,
            "ignore-check annotation ignored: the policy does not list the rule as suppressible",
        );
    }
    outcome.allowed = verdict.allowed;
    // A fixable finding is patched only when the mutating webhook admits the object.
    let patched = phase == Phase::Mutating && verdict.allowed;
    outcome.findings = findings
        .iter()
        .map(|f| (f.rule, f.level, patched && f.fix.is_some()))
        .collect();
    outcome.rules = verdict.rules.clone();
    Ok((ReviewResponse::from_verdict(uid, verdict), outcome))
}

/// From this body size on, the rules run in [`tokio::task::block_in_place`]: judging is linear
/// in the object's paths and backends (a 4,000-path Ingress is about 400 KB and takes
/// milliseconds), and a few such reviews must not hold every async worker while probes and
/// small reviews wait. Below it, the hand-off would cost more than the judging (tens of
/// microseconds). The request timeout does not interrupt a review being judged either way.
pub const LARGE_REVIEW_BYTES: usize = 64 * 1024;

/// Whether this runs on tokio's multi-thread runtime (`serve`), where
/// [`tokio::task::block_in_place`] is allowed; tests and benchmarks may use a current-thread one.
fn multi_threaded() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// What happened to one request, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `request.uid`.
    pub uid: String,
    /// `request.kind.kind`.
    pub kind: String,
    /// `request.namespace` (empty for cluster-scoped objects).
    pub namespace: String,
    /// `request.name` (empty on CREATE with `generateName`).
    pub name: String,
    /// `request.dryRun`.
    pub dry_run: bool,
    /// The answer.
    pub allowed: bool,
    /// IDs of the rules that fired.
    pub rules: Vec<&'static str>,
    /// Each finding: rule ID, level, and whether the mutating webhook patched it.
    pub findings: Vec<(&'static str, rules::Level, bool)>,
}

//! The stand-in's admission webhook chain, modelled on kube-apiserver's
//! (`admissionregistration.k8s.io/v1`): on a create, replace or patch of a namespaced kind, the
//! webhooks of every stored `MutatingWebhookConfiguration` (in order of configuration name, then
//! of `webhooks`) are called one after the other, each seeing the object as the ones before it
//! patched it; then, after the stand-in's own checks, those of every
//! `ValidatingWebhookConfiguration`, all at once, on the final object.
//!
//! * Which webhooks are called: [`matching`] (rules, namespace and object selectors, CEL
//!   `matchConditions`). A condition that is false skips the webhook; one that fails to
//!   compile or evaluate (or is not a bool), with none false, is decided by `failurePolicy`:
//!   `Ignore` skips the webhook, `Fail` (the default) refuses the write with
//!   `403 Forbidden`: `{resource} "{name}" is forbidden: expression '…' resulted in error: …`.
//! * How: [`call`] (an `admission.k8s.io/v1` AdmissionReview POSTed to `http://127.0.0.1`,
//!   within `timeoutSeconds`, default 10).
//! * A failed call (unreachable, timed out, an HTTP error, an answer that is not a valid
//!   AdmissionReview) with `failurePolicy: Fail` (the default) refuses the write with
//!   `500 InternalError`: `Internal error occurred: failed calling webhook "{name}": failed to
//!   call webhook: Post "{url}": {cause}` (`… received invalid webhook response: {cause}` for a
//!   malformed answer, as kube-apiserver words it); with `Ignore` the chain goes on.
//! * `response.allowed: false` refuses the write with `response.status.code` (400 when absent
//!   or below 400, as kube-apiserver's `ToStatusErr` in `webhook/errors/statuserror.go`),
//!   `response.status.reason` as the webhook gave it, and the message `admission webhook "{name}" denied
//!   the request: {response.status.message}` (`… without explanation` when there is none).
//!   Validating webhooks are all called even when one denies; the denial answered is the first
//!   in configuration order (kube-apiserver answers the first to arrive).
//! * A mutating webhook's `response.patch` (base64 JSON Patch, `patchType: JSONPatch`) is
//!   applied before the next webhook; a patch that does not apply is `500 InternalError`
//!   whatever the `failurePolicy`, as in kube-apiserver. `reinvocationPolicy: IfNeeded`: when a
//!   later webhook changes the object, the earlier `IfNeeded` webhooks are called once more.
//! * `response.warnings` come back as `Warning: 299 - "{text}"` headers, on success and failure.
//!
//! Simplifications: only AdmissionReview `v1` is sent, whatever `admissionReviewVersions`
//! says; only `http://127.0.0.1` is called (a `clientConfig.url` elsewhere, `https` included,
//! fails like an unreachable webhook; `caBundle` is ignored); `matchPolicy` is moot (one version
//! of each kind is served); the user is `kubernetes-admin` (groups `kubeadm:cluster-admins`,
//! `system:authenticated`) unless the request impersonates another (`Impersonate-User`,
//! `Impersonate-Group`); CEL has the variables `object`, `oldObject` and `request` (no
//! `authorizer`, `namespaceObject` or `params`) and no cost budget, and a non-bool result is an
//! evaluation error (kube-apiserver refuses such an expression when the configuration is
//! written); `timeoutSeconds` is clamped to 1..=30 (kube-apiserver refuses others).

#[path = "admission/call.rs"]
mod call;
#[path = "admission/matching.rs"]
mod matching;

use super::{Failure, Pending, Resource, Selector, Shared, Store, details};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::time::Duration;

/// One call of an admission webhook (see [`super::ApiServer::webhook_calls`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCall {
    /// The webhook's `name`: `ingresses.validate.sticky-guard.dev`.
    pub webhook: String,
    /// The `metadata.name` of the configuration that holds it.
    pub configuration: String,
    /// Whether that is a `MutatingWebhookConfiguration` (else a validating one).
    pub mutating: bool,
    /// `CREATE` or `UPDATE` (a patch is an `UPDATE`).
    pub operation: String,
    /// The plural resource: `ingresses`.
    pub resource: String,
    pub namespace: String,
    /// The object's name; `""` for a create with only `generateName`.
    pub name: String,
    pub outcome: CallOutcome,
}

/// What came of a [`WebhookCall`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// `response.allowed: true`; `patched` when the webhook's patch changed the object.
    Allowed { patched: bool },
    /// `response.allowed: false`: the write was refused with this status code and message.
    Denied { code: u16, message: String },
    /// The call failed; `cause` is what follows `failed calling webhook "{name}": ` in the
    /// message. The webhook's `failurePolicy` decided what became of the write.
    Failed { cause: String },
}

/// What the webhooks are told about one write: the AdmissionReview `request` but the objects.
pub(super) struct Request {
    resource: Resource,
    /// `CREATE` or `UPDATE`.
    operation: &'static str,
    namespace: String,
    /// As kube-apiserver names the request: `""` for a create with only `generateName`.
    name: String,
    old: Option<Value>,
    user_info: Value,
    /// `CreateOptions` or `UpdateOptions`.
    options: Value,
    /// The write's uid (CEL's `request.uid`); each call gets its own.
    uid: String,
}

impl Request {
    /// `headers` may impersonate a user; `field_manager` is the query's `fieldManager`.
    pub(super) fn new(
        pending: &Pending,
        headers: &HeaderMap,
        field_manager: Option<&str>,
    ) -> Request {
        let create = pending.is_create();
        let mut options = json!({
            "kind": if create { "CreateOptions" } else { "UpdateOptions" },
            "apiVersion": "meta.k8s.io/v1",
        });
        if let Some(manager) = field_manager.filter(|m| !m.is_empty()) {
            options["fieldManager"] = json!(manager);
        }
        Request {
            resource: pending.resource,
            operation: if create { "CREATE" } else { "UPDATE" },
            namespace: pending.namespace.clone(),
            name: pending.name.clone(),
            old: pending.old.clone(),
            user_info: user_info(headers),
            options,
            uid: call::new_uid(),
        }
    }

    /// The AdmissionReview `request` with the uid `uid`, without `object` and `oldObject`:
    /// also CEL's `request`.
    fn review_request(&self, uid: &str) -> Value {
        let r = self.resource;
        let kind = json!({"group": r.group(), "version": r.version(), "kind": r.kind()});
        let resource = json!({"group": r.group(), "version": r.version(), "resource": r.plural()});
        let mut request = json!({
            "uid": uid,
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": self.user_info,
            "dryRun": false,
            "options": self.options,
        });
        if !self.name.is_empty() {
            request["name"] = json!(self.name);
        }
        request
    }
}

/// The authenticated user: the impersonated one if the request says so (kube-apiserver adds
/// `system:authenticated` to its groups), else the cluster admin of a kubeadm kubeconfig.
fn user_info(headers: &HeaderMap) -> Value {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect()
    };
    match values("impersonate-user").into_iter().next() {
        Some(username) => {
            let mut groups = values("impersonate-group");
            if !groups.iter().any(|g| g == "system:authenticated") {
                groups.push("system:authenticated".to_owned());
            }
            json!({"username": username, "groups": groups})
        }
        None => json!({
            "username": "kubernetes-admin",
            "groups": ["kubeadm:cluster-admins", "system:authenticated"],
        }),
    }
}

/// One webhook of a stored configuration.
struct Hook {
    configuration: String,
    mutating: bool,
    /// The entry of the configuration's `webhooks`, as stored.
    spec: Value,
}

impl Hook {
    fn name(&self) -> &str {
        self.spec["name"].as_str().unwrap_or("")
    }

    /// `failurePolicy: Ignore` (the default is `Fail`).
    fn fails_open(&self) -> bool {
        self.spec["failurePolicy"] == "Ignore"
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.spec["timeoutSeconds"]
                .as_u64()
                .unwrap_or(10)
                .clamp(1, 30),
        )
    }

    fn reinvoked_if_needed(&self) -> bool {
        self.spec["reinvocationPolicy"] == "IfNeeded"
    }
}

/// The admission of one write: the webhooks it may call and the warnings they gave.
pub(super) struct Chain {
    request: Request,
    hooks: Vec<Hook>,
    /// Every webhook's warnings so far, in order, without repeats.
    warnings: Vec<String>,
}

impl Chain {
    /// The webhooks of the configurations visible in `store` now (none for a cluster-scoped
    /// kind), mutating ones first, each kind in order of configuration name.
    pub(super) fn new(store: &Store, request: Request) -> Chain {
        let mut hooks = Vec::new();
        if request.resource.namespaced() {
            for (kind, mutating) in [
                (Resource::MutatingWebhookConfiguration, true),
                (Resource::ValidatingWebhookConfiguration, false),
            ] {
                for configuration in store.visible(kind, None, &Selector::default()) {
                    let name = configuration["metadata"]["name"].as_str().unwrap_or("");
                    for spec in configuration["webhooks"].as_array().into_iter().flatten() {
                        hooks.push(Hook {
                            configuration: name.to_owned(),
                            mutating,
                            spec: spec.clone(),
                        });
                    }
                }
            }
        }
        Chain {
            request,
            hooks,
            warnings: Vec::new(),
        }
    }

    /// Runs the mutating webhooks on `object`, patching it; `Err` is the refusal to answer.
    pub(super) async fn mutate(
        &mut self,
        shared: &Shared,
        object: &mut Value,
    ) -> Result<(), Failure> {
        let mutating: Vec<usize> = (0..self.hooks.len())
            .filter(|&i| self.hooks[i].mutating)
            .collect();
        // kube-apiserver's reinvocation: a webhook that changes the object marks every
        // `IfNeeded` webhook called before it for one more call, in a second round.
        let mut invoked_if_needed: Vec<usize> = Vec::new();
        let mut reinvoke: Vec<usize> = Vec::new();
        for round in 0..2 {
            for &index in &mutating {
                if round > 0 && !reinvoke.contains(&index) {
                    continue;
                }
                let hook = &self.hooks[index];
                if !matching::should_call(&self.request, hook, object)? {
                    continue;
                }
                let reply = call::call(shared, &self.request, hook, object).await;
                add_warnings(&mut self.warnings, reply.warnings);
                let changed = match reply.answer {
                    Ok(call::Answer::Allowed { patch }) => {
                        let changed = match patch {
                            None => false,
                            Some(patch) => match apply_patch(object, &patch) {
                                Ok(changed) => changed,
                                Err(cause) => {
                                    let refusal = internal_error(&cause);
                                    self.record(shared, hook, CallOutcome::Failed { cause });
                                    return Err(refusal);
                                }
                            },
                        };
                        self.record(shared, hook, CallOutcome::Allowed { patched: changed });
                        changed
                    }
                    Ok(call::Answer::Denied { status }) => {
                        return Err(self.denied(shared, hook, &status));
                    }
                    Err(cause) => {
                        let refusal = self.failed(shared, hook, cause);
                        if let Some(refusal) = refusal {
                            return Err(refusal);
                        }
                        false
                    }
                };
                if round == 0 {
                    if changed {
                        for &earlier in &invoked_if_needed {
                            if !reinvoke.contains(&earlier) {
                                reinvoke.push(earlier);
                            }
                        }
                    }
                    if hook.reinvoked_if_needed() {
                        invoked_if_needed.push(index);
                    }
                }
            }
            if reinvoke.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// Runs the validating webhooks on `object`, all at once; `Err` is the refusal to answer:
    /// the first denial or failure (with `failurePolicy: Fail`) in configuration order.
    pub(super) async fn validate(
        &mut self,
        shared: &Shared,
        object: &Value,
    ) -> Result<(), Failure> {
        let mut selected = Vec::new();
        for hook in self.hooks.iter().filter(|hook| !hook.mutating) {
            if matching::should_call(&self.request, hook, object)? {
                selected.push(hook);
            }
        }
        let request = &self.request;
        let replies = futures::future::join_all(
            selected
                .iter()
                .map(|hook| call::call(shared, request, hook, object)),
        )
        .await;
        let mut refusal = None;
        for (hook, reply) in selected.into_iter().zip(replies) {
            add_warnings(&mut self.warnings, reply.warnings);
            let this = match reply.answer {
                Ok(call::Answer::Allowed { .. }) => {
                    record(
                        shared,
                        request,
                        hook,
                        CallOutcome::Allowed { patched: false },
                    );
                    None
                }
                Ok(call::Answer::Denied { status }) => Some(denied(shared, request, hook, &status)),
                Err(cause) => failed(shared, request, hook, cause),
            };
            refusal = refusal.or(this);
        }
        refusal.map_or(Ok(()), Err)
    }

    /// `response` with the webhooks' warnings as `Warning: 299 - "{text}"` headers.
    pub(super) fn with_warnings(&self, mut response: Response) -> Response {
        for warning in &self.warnings {
            let text: String = warning
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
            if let Ok(value) = HeaderValue::from_bytes(format!("299 - \"{quoted}\"").as_bytes()) {
                response.headers_mut().append(header::WARNING, value);
            }
        }
        response
    }

    fn record(&self, shared: &Shared, hook: &Hook, outcome: CallOutcome) {
        record(shared, &self.request, hook, outcome);
    }

    fn denied(&self, shared: &Shared, hook: &Hook, status: &Value) -> Failure {
        denied(shared, &self.request, hook, status)
    }

    fn failed(&self, shared: &Shared, hook: &Hook, cause: String) -> Option<Failure> {
        failed(shared, &self.request, hook, cause)
    }
}

fn add_warnings(warnings: &mut Vec<String>, new: Vec<String>) {
    for warning in new {
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
}

fn record(shared: &Shared, request: &Request, hook: &Hook, outcome: CallOutcome) {
    shared.lock().webhook_calls.push(WebhookCall {
        webhook: hook.name().to_owned(),
        configuration: hook.configuration.clone(),
        mutating: hook.mutating,
        operation: request.operation.to_owned(),
        resource: request.resource.plural().to_owned(),
        namespace: request.namespace.clone(),
        name: request.name.clone(),
        outcome,
    });
}

/// The refusal for `response.allowed: false` with `response.status` `status`, recorded.
fn denied(shared: &Shared, request: &Request, hook: &Hook, status: &Value) -> Failure {
    // webhook/errors/statuserror.go ToStatusErr: a code below 400 (or none) becomes 400; the
    // reason is the webhook's own.
    let code = match status["code"].as_u64().unwrap_or(0) {
        code @ 400..=599 => code,
        0..=399 => 400,
        _ => 500,
    };
    let code = StatusCode::from_u16(u16::try_from(code).unwrap_or(500))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = |field: &str| status[field].as_str().filter(|text| !text.is_empty());
    let denied_by = format!("admission webhook \"{}\" denied the request", hook.name());
    let message = match (text("message"), text("reason")) {
        (Some(message), _) | (None, Some(message)) => format!("{denied_by}: {message}"),
        (None, None) => format!("{denied_by} without explanation"),
    };
    let reason = text("reason").unwrap_or("");
    let outcome = CallOutcome::Denied {
        code: code.as_u16(),
        message: message.clone(),
    };
    record(shared, request, hook, outcome);
    let details = if status["details"].is_object() {
        status["details"].clone()
    } else {
        json!({})
    };
    Failure {
        code,
        reason: reason.into(),
        message,
        details,
    }
}

/// A failed call (`cause`), recorded: the refusal with `failurePolicy: Fail`, `None` with
/// `Ignore`.
fn failed(shared: &Shared, request: &Request, hook: &Hook, cause: String) -> Option<Failure> {
    let message = format!("failed calling webhook \"{}\": {cause}", hook.name());
    record(shared, request, hook, CallOutcome::Failed { cause });
    (!hook.fails_open()).then(|| internal_error(&message))
}

/// kube-apiserver's `NewInternalError`: `Internal error occurred: {cause}`.
fn internal_error(cause: &str) -> Failure {
    Failure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        &format!("Internal error occurred: {cause}"),
        json!({"causes": [{"message": cause}]}),
    )
}

/// kube-apiserver's `NewForbidden` for the object of `request`.
fn forbidden(request: &Request, cause: &str) -> Failure {
    let resource = request.resource.qualified();
    let message = if request.name.is_empty() {
        format!("{resource} is forbidden: {cause}")
    } else {
        format!("{resource} \"{}\" is forbidden: {cause}", request.name)
    };
    Failure::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &message,
        details(request.resource, &request.name),
    )
}

/// Applies a webhook's JSON patch to `object`: whether it changed it, or why it does not apply
/// (then `object` is left alone).
fn apply_patch(object: &mut Value, patch: &json_patch::Patch) -> Result<bool, String> {
    let mut patched = object.clone();
    json_patch::patch(&mut patched, patch).map_err(|error| error.to_string())?;
    if !patched.is_object() {
        return Err("the patched object is not a JSON object".to_owned());
    }
    let changed = patched != *object;
    *object = patched;
    Ok(changed)
}

//! Whether a webhook is called for a write, as kube-apiserver decides it (`ShouldCallHook`):
//! its namespace and object selectors, its rules, then its CEL `matchConditions`.

use super::super::Failure;
use super::{Hook, Request, forbidden, internal_error};
use serde_json::{Map, Value, json};

/// Whether `hook` is called for `request` with `object` (the object as the chain has it now);
/// `Err` refuses the write: a selector that cannot be parsed (500, for a webhook whose rules
/// match) or a match condition that fails with `failurePolicy: Fail` (403).
pub(super) fn should_call(request: &Request, hook: &Hook, object: &Value) -> Result<bool, Failure> {
    // The control plane labels every namespace with its name; the stand-in has no Namespace
    // objects, so that is all the labels a namespace has.
    let mut namespace_labels = Map::new();
    namespace_labels.insert(
        "kubernetes.io/metadata.name".to_owned(),
        json!(request.namespace),
    );
    let namespace = selects(&hook.spec["namespaceSelector"], &namespace_labels);
    if namespace == Ok(false) {
        return Ok(false);
    }
    let object_selector = &hook.spec["objectSelector"];
    let labels = |object: &Value| object["metadata"]["labels"].as_object().cloned();
    // kube-apiserver: the new or the old object's labels (an absent object matches nothing).
    let objects = [Some(object), request.old.as_ref()];
    let selected = objects
        .into_iter()
        .flatten()
        .map(|object| match labels(object) {
            Some(labels) => selects(object_selector, &labels),
            None => selects(object_selector, &Map::new()),
        })
        .try_fold(false, |any, one| one.map(|one| any || one));
    if selected == Ok(false) {
        return Ok(false);
    }
    if !rules_match(&hook.spec["rules"], request) {
        return Ok(false);
    }
    namespace.map_err(|error| internal_error(&error))?;
    selected.map_err(|error| internal_error(&error))?;
    match conditions(&hook.spec["matchConditions"], request, object) {
        Conditions::Hold => Ok(true),
        Conditions::Skip => Ok(false),
        Conditions::Fail(_) if hook.fails_open() => Ok(false),
        Conditions::Fail(error) => Err(forbidden(request, &error)),
    }
}

/// Whether one of `rules` covers the request: its `apiGroups`, `apiVersions`, `operations` and
/// `resources` list it or `*`, and its `scope` (default `*`) admits it.
fn rules_match(rules: &Value, request: &Request) -> bool {
    let resource = request.resource;
    let listed = |list: &Value, wanted: &str| {
        list.as_array()
            .is_some_and(|list| list.iter().any(|v| v == "*" || v == wanted))
    };
    // `ingresses`, `*`, `*/*` and `ingresses/*` cover the resource itself (no subresource).
    let resource_listed = |list: &Value| {
        list.as_array().is_some_and(|list| {
            list.iter().filter_map(Value::as_str).any(|entry| {
                let (name, sub) = entry.split_once('/').unwrap_or((entry, ""));
                (name == "*" || name == resource.plural()) && (sub == "*" || sub.is_empty())
            })
        })
    };
    rules.as_array().into_iter().flatten().any(|rule| {
        let scope = match rule["scope"].as_str().unwrap_or("*") {
            "Namespaced" => resource.namespaced(),
            "Cluster" => !resource.namespaced(),
            _ => true,
        };
        scope
            && listed(&rule["apiGroups"], resource.group())
            && listed(&rule["apiVersions"], resource.version())
            && listed(&rule["operations"], request.operation)
            && resource_listed(&rule["resources"])
    })
}

/// Whether `labels` satisfy the `LabelSelector` `selector` (absent or `{}`: everything), or
/// why the selector is invalid (in kube-apiserver's words).
fn selects(selector: &Value, labels: &Map<String, Value>) -> Result<bool, String> {
    if selector.is_null() {
        return Ok(true);
    }
    if !selector.is_object() {
        return Err("the label selector is not an object".to_owned());
    }
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let mut holds = true;
    for (key, wanted) in selector["matchLabels"].as_object().into_iter().flatten() {
        holds &= label(key).is_some() && label(key) == wanted.as_str();
    }
    for expression in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let value = label(expression["key"].as_str().unwrap_or(""));
        let values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        holds &= match expression["operator"].as_str().unwrap_or("") {
            "In" | "NotIn" if values.is_empty() => {
                return Err("for 'in', 'notin' operators, values set can't be empty".to_owned());
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err("values set must be empty for exists and does not exist".to_owned());
            }
            "In" => value.is_some_and(|v| values.contains(&v)),
            "NotIn" => value.is_none_or(|v| !values.contains(&v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
    }
    Ok(holds)
}

/// What a webhook's `matchConditions` say.
enum Conditions {
    /// All true (or there are none): call the webhook.
    Hold,
    /// One is false: skip the webhook, whatever the others say.
    Skip,
    /// None is false but some failed (these errors, as kube-apiserver aggregates them): the
    /// `failurePolicy` decides.
    Fail(String),
}

/// Evaluates `conditions` (`[{name, expression}]`) with the CEL variables `object`,
/// `oldObject` (null on CREATE) and `request`, in order, as kube-apiserver's matcher does.
fn conditions(conditions: &Value, request: &Request, object: &Value) -> Conditions {
    let Some(conditions) = conditions.as_array().filter(|c| !c.is_empty()) else {
        return Conditions::Hold;
    };
    let mut context = cel::Context::default();
    let variables = [
        ("object", object.clone()),
        ("oldObject", request.old.clone().unwrap_or(Value::Null)),
        ("request", request.review_request(&request.uid)),
    ];
    for (name, value) in variables {
        if let Err(error) = context.add_variable(name, value) {
            return Conditions::Fail(format!("the CEL variable {name} cannot be built: {error}"));
        }
    }
    let mut errors = Vec::new();
    for condition in conditions {
        let expression = condition["expression"].as_str().unwrap_or("");
        // The interpreter must not take the server down whatever the expression.
        let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            evaluate(expression, &context)
        }))
        .unwrap_or_else(|_| {
            Err(format!(
                "expression '{expression}' resulted in error: the CEL interpreter panicked"
            ))
        });
        match evaluated {
            Ok(true) => {}
            Ok(false) => return Conditions::Skip,
            Err(error) => errors.push(error),
        }
    }
    match errors.len() {
        0 => Conditions::Hold,
        1 => Conditions::Fail(errors.remove(0)),
        _ => Conditions::Fail(format!("[{}]", errors.join(", "))),
    }
}

/// One condition: its value, or the error in kube-apiserver's words.
fn evaluate(expression: &str, context: &cel::Context) -> Result<bool, String> {
    let program =
        cel::Program::compile(expression).map_err(|error| format!("compilation error: {error}"))?;
    match program.execute(context) {
        Ok(cel::Value::Bool(value)) => Ok(value),
        Ok(other) => Err(format!(
            "expression '{expression}' resulted in error: it must evaluate to bool, not \
             {other:?}"
        )),
        Err(error) => Err(format!(
            "expression '{expression}' resulted in error: {error}"
        )),
    }
}

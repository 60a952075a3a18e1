//! Fixes as data, and their JSONPatch (RFC 6902) form.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, ReplaceOperation};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A change that makes a finding go away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Fix {
    /// Set `metadata.annotations[key]` to `value` (adding the map when it is absent).
    SetAnnotation {
        /// Full annotation key, e.g. `nginx.ingress.kubernetes.io/session-cookie-path`.
        key: String,
        /// The value to set.
        value: String,
    },
    /// Replace the Service name of a backend (a dotted name that names the object's own
    /// namespace becomes the bare Service name).
    #[serde(rename_all = "camelCase")]
    SetBackendName {
        /// The field as written (`spec.rules[0].http.paths[0].backend.service.name`), for
        /// messages.
        field: String,
        /// The same field as a JSON pointer (RFC 6901).
        pointer: String,
        /// The new name.
        value: String,
    },
}

/// The JSONPatch that applies `fixes` to an object whose `metadata.annotations` are
/// `existing` (`None` when the object has no annotations mapping).
///
/// Annotations are set with `add` only, on just the needed fields: one `add` of
/// `/metadata/annotations` (a whole map) when the object has no annotations map, else one `add`
/// per key at `/metadata/annotations/<key>` with the key pointer-escaped (`/` → `~1`, `~` → `~0`,
/// RFC 6901). `add` on an existing member replaces it (RFC 6902 §4.1), so an empty value is
/// overwritten. Keys already holding the wanted value get no operation, so the patch of an
/// already-fixed object is empty (idempotence). A backend name is set with `replace` at its
/// pointer (the field exists: the finding was made from it).
pub fn json_patch<'a>(
    fixes: impl IntoIterator<Item = &'a Fix>,
    existing: Option<&BTreeMap<String, String>>,
) -> Patch {
    let mut new_map = Map::new();
    let mut ops = Vec::new();
    for fix in fixes {
        let (key, value) = match fix {
            Fix::SetAnnotation { key, value } => (key, value),
            Fix::SetBackendName { pointer, value, .. } => {
                if let Ok(path) = PointerBuf::parse(pointer.as_str()) {
                    ops.push(PatchOperation::Replace(ReplaceOperation {
                        path,
                        value: Value::String(value.clone()),
                    }));
                }
                continue;
            }
        };
        if existing.and_then(|m| m.get(key)) == Some(value) {
            continue;
        }
        match existing {
            Some(_) => ops.push(PatchOperation::Add(AddOperation {
                path: PointerBuf::from_tokens(["metadata", "annotations", key.as_str()]),
                value: Value::String(value.clone()),
            })),
            None => {
                new_map.insert(key.clone(), Value::String(value.clone()));
            }
        }
    }
    if !new_map.is_empty() {
        ops.push(PatchOperation::Add(AddOperation {
            path: PointerBuf::from_tokens(["metadata", "annotations"]),
            value: Value::Object(new_map),
        }));
    }
    Patch(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `metadata.annotations` of a test object.
    fn annotations(object: &Value) -> Option<BTreeMap<String, String>> {
        object
            .pointer("/metadata/annotations")
            .map(|a| serde_json::from_value(a.clone()).unwrap())
    }

    fn set(key: &str, value: &str) -> Fix {
        Fix::SetAnnotation {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn adds_one_key_with_escaped_pointer() {
        let object = json!({"metadata": {"annotations": {"a": "b"}}});
        let patch = json_patch(
            [&set(
                "nginx.ingress.kubernetes.io/session-cookie-path",
                "/x",
            )],
            annotations(&object).as_ref(),
        );
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add", "path": "/metadata/annotations/nginx.ingress.kubernetes.io~1session-cookie-path", "value": "/x"}])
        );
    }

    #[test]
    fn adds_the_map_when_absent() {
        let object = json!({"metadata": {"name": "n"}});
        let patch = json_patch([&set("p/k", "/x")], annotations(&object).as_ref());
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add", "path": "/metadata/annotations", "value": {"p/k": "/x"}}])
        );
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert!(
            json_patch([&set("p/k", "/x")], annotations(&patched).as_ref())
                .0
                .is_empty()
        );
    }

    #[test]
    fn tilde_is_escaped() {
        let object = json!({"metadata": {"annotations": {}}});
        let patch = json_patch([&set("a~b/c", "v")], annotations(&object).as_ref());
        assert_eq!(
            serde_json::to_value(&patch).unwrap()[0]["path"],
            "/metadata/annotations/a~0b~1c"
        );
    }
}

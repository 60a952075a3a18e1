//! Field ownership and server-side apply for the stand-in API server, modelled on
//! `sigs.k8s.io/structured-merge-diff` as kube-apiserver uses it
//! (`k8s.io/apimachinery/pkg/util/managedfields`).
//!
//! * Ownership is kept per stored object as a list of [`Entry`]s, one per manager and
//!   operation (`Apply` or `Update`, as `metadata.managedFields` would list them), each owning a
//!   set of *leaf* paths: a path through maps ending at a scalar, a list or an empty map. Lists
//!   are atomic (owned and replaced whole): none of the kinds served needs list merge keys.
//!   `apiVersion`, `kind` and the server-set metadata (`name`, `namespace`, `uid`,
//!   `resourceVersion`, `creationTimestamp`, `generation`, `selfLink`, `managedFields`) are never
//!   owned, as in kube-apiserver's `stripMeta`.
//! * Every write records ownership with [`record`]: the leaves it changed or added leave every
//!   other entry and go to the writer's entry (an `Update` for create, replace and the non-apply
//!   patches; the exact applied set for an `Apply`); leaves that disappeared leave every entry.
//! * [`apply`] merges an applied configuration into the live object: maps merge recursively,
//!   scalars and lists are replaced, and the leaves this manager applied before but omits now
//!   are removed unless another entry owns them too. A leaf owned by another entry whose value
//!   the apply would change is a conflict (409 unless `force`); equal values are shared.
//!
//! Simplification: ownership is internal (see `ApiServer::managed_fields`); stored objects carry
//! no `metadata.managedFields`.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A path of map keys from the object's root: `["spec", "holderIdentity"]`.
pub(super) type Path = Vec<String>;

/// How a manager wrote its fields, as in `metadata.managedFields[].operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One manager's fields, like one `metadata.managedFields` entry.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub(super) manager: String,
    pub(super) operation: Operation,
    /// The `apiVersion` written with (shown in conflicts with an `Update` entry).
    pub(super) api_version: &'static str,
    pub(super) fields: BTreeSet<Path>,
}

impl Entry {
    /// How kube-apiserver names the entry in a conflict: `"m"` for an apply, `"m" using v1`
    /// for an update (`printManager` of the manager identifier, which carries no time).
    fn describe(&self) -> String {
        match self.operation {
            Operation::Apply => format!("{:?}", self.manager),
            Operation::Update => format!("{:?} using {}", self.manager, self.api_version),
        }
    }
}

/// Who writes and how (see [`record`]).
#[derive(Clone, Debug)]
pub(super) struct Writer {
    pub(super) manager: String,
    pub(super) operation: Operation,
    /// For an apply: the leaves of the applied configuration.
    pub(super) applied: BTreeSet<Path>,
}

impl Writer {
    pub(super) fn update(manager: &str) -> Writer {
        Writer {
            manager: manager.to_owned(),
            operation: Operation::Update,
            applied: BTreeSet::new(),
        }
    }
}

/// One field another manager owns that an apply would change.
#[derive(Clone, Debug)]
pub(super) struct Conflict {
    /// [`Entry::describe`] of the owner.
    owner: String,
    /// For sorting like kube-apiserver (by manager identifier).
    key: (String, Operation),
    path: Path,
}

/// `.spec.holderIdentity`.
pub(super) fn display(path: &Path) -> String {
    path.iter().map(|key| format!(".{key}")).collect()
}

/// Paths that are never owned (kube-apiserver's `stripMeta`).
fn stripped(path: &[String]) -> bool {
    match path {
        [top] => top == "apiVersion" || top == "kind",
        [meta, field, ..] if meta == "metadata" => matches!(
            field.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "creationTimestamp"
                | "generation"
                | "selfLink"
                | "managedFields"
        ),
        _ => false,
    }
}

/// The owned leaves of `object` with their values (see the module documentation).
pub(super) fn leaves(object: &Value) -> BTreeMap<Path, &Value> {
    fn walk<'a>(value: &'a Value, path: &mut Path, out: &mut BTreeMap<Path, &'a Value>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(key.clone());
                    if !stripped(path) {
                        walk(child, path, out);
                    }
                    path.pop();
                }
            }
            _ if !path.is_empty() => {
                out.insert(path.clone(), value);
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(object, &mut Vec::new(), &mut out);
    out
}

/// The value at `path`, if every step is a map key that exists.
fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

/// Removes the value at `path`, then the maps it leaves empty (below the top level, which keeps
/// `spec: {}` and `metadata: {}`).
fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = parents
        .iter()
        .try_fold(&mut *value, |value, key| value.get_mut(key))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    parent.remove(last);
    if parent.is_empty() && parents.len() > 1 {
        remove(value, parents);
    }
}

/// `applied` without its `null`s: in an applied configuration a null says nothing.
pub(super) fn strip_nulls(applied: &Value) -> Value {
    match applied {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key.clone(), strip_nulls(value)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// Merges `applied` into `target`: maps recursively, anything else replaced.
fn merge(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(target), Value::Object(applied)) => {
            for (key, value) in applied {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

/// Applies `applied` (nulls stripped) by `manager` to `live` (owned as `managed`): the merged
/// object, or the conflicts when another entry owns a leaf the apply changes and `force` is off.
pub(super) fn apply(
    live: &Value,
    managed: &[Entry],
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let is_mine = |entry: &Entry| entry.manager == manager && entry.operation == Operation::Apply;
    let applied_leaves: BTreeSet<Path> = leaves(applied).into_keys().collect();
    let mut merged = live.clone();
    // What this manager applied before and omits now goes, unless someone else owns it too.
    if let Some(mine) = managed.iter().find(|entry| is_mine(entry)) {
        for path in &mine.fields {
            let still_applied = applied_leaves.iter().any(|leaf| leaf.starts_with(path));
            let shared = managed
                .iter()
                .any(|entry| !is_mine(entry) && entry.fields.contains(path));
            if !still_applied && !shared {
                remove(&mut merged, path);
            }
        }
    }
    merge(&mut merged, applied);
    let mut conflicts: Vec<Conflict> = managed
        .iter()
        .filter(|entry| !is_mine(entry))
        .flat_map(|entry| {
            entry
                .fields
                .iter()
                .filter(|path| get(live, path) != get(&merged, path))
                .map(|path| Conflict {
                    owner: entry.describe(),
                    key: (entry.manager.clone(), entry.operation),
                    path: path.clone(),
                })
        })
        .collect();
    if conflicts.is_empty() || force {
        return Ok(merged);
    }
    conflicts.sort_by(|a, b| (&a.key, &a.path).cmp(&(&b.key, &b.path)));
    Err(conflicts)
}

/// kube-apiserver's message for apply conflicts (`internal.NewConflictError`).
pub(super) fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.owner,
            display(&one.path)
        );
    }
    let mut lines = Vec::new();
    let mut previous: Option<&str> = None;
    for conflict in conflicts {
        if previous != Some(conflict.owner.as_str()) {
            lines.push(format!("conflicts with {}:", conflict.owner));
            previous = Some(&conflict.owner);
        }
        lines.push(format!("- {}", display(&conflict.path)));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// The `details.causes` of the 409 (`FieldManagerConflict`, one per field).
pub(super) fn conflict_causes(conflicts: &[Conflict]) -> Value {
    conflicts
        .iter()
        .map(|conflict| {
            serde_json::json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", conflict.owner),
                "field": display(&conflict.path),
            })
        })
        .collect()
}

/// The ownership after `writer` turned `old` (`None`: a create) into `new`, given the ownership
/// `managed` of `old` (see the module documentation).
pub(super) fn record(
    managed: &[Entry],
    old: Option<&Value>,
    new: &Value,
    writer: &Writer,
    api_version: &'static str,
) -> Vec<Entry> {
    let old_leaves = old.map(leaves).unwrap_or_default();
    let new_leaves = leaves(new);
    let changed: BTreeSet<Path> = new_leaves
        .iter()
        .filter(|(path, value)| old_leaves.get(*path) != Some(*value))
        .map(|(path, _)| path.clone())
        .collect();
    let mut entries: Vec<Entry> = managed
        .iter()
        .cloned()
        .map(|mut entry| {
            entry
                .fields
                .retain(|path| new_leaves.contains_key(path) && !changed.contains(path));
            entry
        })
        .collect();
    let mut give = |operation: Operation, fields: BTreeSet<Path>, replace: bool| {
        let position = entries
            .iter()
            .position(|e| e.manager == writer.manager && e.operation == operation);
        let entry = match position {
            Some(index) => &mut entries[index],
            None => {
                entries.push(Entry {
                    manager: writer.manager.clone(),
                    operation,
                    api_version,
                    fields: BTreeSet::new(),
                });
                entries.last_mut().expect("just pushed")
            }
        };
        entry.api_version = api_version;
        if replace {
            entry.fields = fields;
        } else {
            entry.fields.extend(fields);
        }
    };
    match writer.operation {
        Operation::Update => give(Operation::Update, changed, false),
        Operation::Apply => {
            let applied: BTreeSet<Path> = writer
                .applied
                .iter()
                .filter(|path| new_leaves.contains_key(*path))
                .cloned()
                .collect();
            // Whatever else changed (a mutating webhook's doing) is an update by the same manager.
            let rest: BTreeSet<Path> = changed.difference(&applied).cloned().collect();
            give(Operation::Apply, applied, true);
            if !rest.is_empty() {
                give(Operation::Update, rest, false);
            }
        }
    }
    entries.retain(|entry| !entry.fields.is_empty());
    entries
}

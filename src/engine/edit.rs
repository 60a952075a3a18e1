//! Minimal edits: the fixes of `fix` applied to a file's text, touching only the bytes that
//! must change, so that comments, quoting, key order, blank lines and line endings stay as
//! they were and a document that needs nothing stays byte for byte.
//!
//! Two fixes exist ([`Fix`]):
//! - **an annotation to set**: under an existing block `annotations:` mapping, a new line
//!   after its last member, at the indentation of its keys and in the quoting its values use;
//!   in a flow mapping (`{…}`, JSON), a member before its closing brace; with no
//!   `annotations` at all, the mapping is added as the first member of `metadata` (block: at
//!   the indentation of `metadata`'s keys, one step deeper for its member; flow: after `{`).
//!   An annotation that exists with another value has its value replaced in place;
//! - **a backend name to set**: the name scalar is replaced in place, in the same quoting.
//!
//! Where none of this applies (an `annotations:` with no value, an alias, a key that is not a
//! scalar), [`plan`] answers `None` and the caller rewrites the document instead.

use super::positions::{DocumentPositions, Node, Style};
use crate::rules::Fix;
use granit_parser::{ScalarStyle, StructureStyle};
use std::ops::Range;

/// One change to a text: replace `range` (empty for an insertion) with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// The bytes replaced.
    pub range: Range<usize>,
    /// What goes there.
    pub text: String,
}

/// The edits that apply `fixes` to the document of `text` whose nodes are `positions`, under
/// `prefix` (`/items/N` for an item of a `kind: List`, else `""`). `None` when a fix cannot be
/// made without rewriting the document.
pub fn plan(
    text: &str,
    positions: &DocumentPositions,
    prefix: &str,
    fixes: &[&Fix],
) -> Option<Vec<Edit>> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut edits = Vec::new();
    let mut added: Vec<(&str, &str)> = Vec::new();
    for fix in fixes {
        match fix {
            Fix::SetBackendName { pointer, value, .. } => {
                let node = positions.node(&format!("{prefix}{pointer}"))?;
                edits.push(Edit {
                    range: node.value_bytes.clone(),
                    text: scalar_like(node, value)?,
                });
            }
            Fix::SetAnnotation { key, value } => {
                let annotations = format!("{prefix}/metadata/annotations");
                let existing = format!(
                    "{annotations}/{}",
                    key.replace('~', "~0").replace('/', "~1")
                );
                if let Some(node) = positions.node(&existing) {
                    edits.push(Edit {
                        range: node.value_bytes.clone(),
                        text: scalar_like(node, value)?,
                    });
                } else {
                    added.push((key, value));
                }
            }
        }
    }
    if !added.is_empty() {
        edits.push(add_annotations(text, positions, prefix, &added, newline)?);
    }
    Some(edits)
}

/// Applies edits (non-overlapping) to `text`.
pub fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = text.to_string();
    for edit in edits {
        if edit.range.end <= out.len()
            && out.is_char_boundary(edit.range.start)
            && out.is_char_boundary(edit.range.end)
        {
            out.replace_range(edit.range, &edit.text);
        }
    }
    out
}

/// An edit that replaces the scalar `node` with `value`, written in the node's quoting (plain
/// when that reads back as the same string, else double-quoted). `None` for block scalars and
/// non-scalars.
pub fn replace_scalar(node: &Node, value: &str) -> Option<Edit> {
    Some(Edit {
        range: node.value_bytes.clone(),
        text: scalar_like(node, value)?,
    })
}

/// An edit that adds the member `key: value` (an object of strings and objects) to the
/// mapping `node` of `text`: in block style, as lines after its last member at the column of
/// its keys, nested values two columns deeper per level; in flow style (JSON), as a JSON member
/// before its closing brace. `None` for a mapping without members or anything else.
pub fn add_member(text: &str, node: &Node, key: &str, value: &serde_json::Value) -> Option<Edit> {
    match node.style {
        Style::Mapping(StructureStyle::Block) => {
            let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let column = node.first_key_column?;
            let mut lines = String::new();
            block_member(&mut lines, column, key, value, newline);
            let at = line_after(text, node.last_value_end?);
            Some(insert_lines(text, at, lines, newline))
        }
        Style::Mapping(StructureStyle::Flow) => {
            flow_insert(text, node, &format!("{}: {value}", double_quoted(key)))
        }
        _ => None,
    }
}

/// `key: value` as block YAML lines at `column`.
fn block_member(
    out: &mut String,
    column: usize,
    key: &str,
    value: &serde_json::Value,
    newline: &str,
) {
    let indent = " ".repeat(column);
    match value {
        serde_json::Value::Object(members) => {
            out.push_str(&format!("{indent}{key}:{newline}"));
            for (k, v) in members {
                block_member(out, column + 2, k, v, newline);
            }
        }
        serde_json::Value::String(s) if plain_safe(s) => {
            out.push_str(&format!("{indent}{key}: {s}{newline}"));
        }
        other => out.push_str(&format!("{indent}{key}: {other}{newline}")),
    }
}

/// `value` written as the scalar `node` is: plain, single- or double-quoted. `None` for block
/// scalars and non-scalars.
fn scalar_like(node: &Node, value: &str) -> Option<String> {
    match node.style {
        Style::Scalar(ScalarStyle::Plain) if plain_safe(value) => Some(value.to_string()),
        Style::Scalar(ScalarStyle::SingleQuoted) => {
            Some(format!("'{}'", value.replace('\'', "''")))
        }
        Style::Scalar(ScalarStyle::Plain | ScalarStyle::DoubleQuoted) => Some(double_quoted(value)),
        _ => None,
    }
}

/// A JSON (and YAML) double-quoted string.
fn double_quoted(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

/// Whether `value` reads back as the same string when written plain in block YAML: starts
/// with a letter, digit, `/` or `.`, and holds only characters that end nothing (`: `, ` #`
/// and flow indicators are excluded), and is not a YAML 1.1 boolean or null.
fn plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || first == '/' || first == '.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c))
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && value.parse::<f64>().is_err()
}

/// Adds `pairs` as annotations that do not exist yet.
fn add_annotations(
    text: &str,
    positions: &DocumentPositions,
    prefix: &str,
    pairs: &[(&str, &str)],
    newline: &str,
) -> Option<Edit> {
    let annotations = positions.node(&format!("{prefix}/metadata/annotations"));
    match annotations.map(|n| n.style) {
        Some(Style::Mapping(StructureStyle::Block)) => {
            let node = annotations?;
            let column = node.first_key_column?;
            let end = node.last_value_end?;
            let quote = first_value_style(positions, &format!("{prefix}/metadata/annotations"));
            let mut lines = String::new();
            for (key, value) in pairs {
                let written = match quote {
                    Some(ScalarStyle::SingleQuoted) => format!("'{}'", value.replace('\'', "''")),
                    Some(ScalarStyle::Plain) if plain_safe(value) => value.to_string(),
                    _ => double_quoted(value),
                };
                lines.push_str(&format!("{}{key}: {written}{newline}", " ".repeat(column)));
            }
            let at = line_after(text, end);
            Some(insert_lines(text, at, lines, newline))
        }
        Some(Style::Mapping(StructureStyle::Flow)) => {
            let node = annotations?;
            flow_insert(text, node, &members_json(pairs))
        }
        // `annotations:` with no value, or something else: rewrite.
        Some(_) => None,
        None => {
            let metadata = positions.node(&format!("{prefix}/metadata"))?;
            match metadata.style {
                Style::Mapping(StructureStyle::Block) => {
                    let column = metadata.first_key_column?;
                    let outer = metadata.key.map_or(0, |k| k.start_column - 1);
                    let step = column.checked_sub(outer).filter(|s| *s > 0).unwrap_or(2);
                    let mut lines = format!("{}annotations:{newline}", " ".repeat(column));
                    for (key, value) in pairs {
                        lines.push_str(&format!(
                            "{}{key}: {}{newline}",
                            " ".repeat(column + step),
                            double_quoted(value)
                        ));
                    }
                    // Before the first member's line, at the start of that line.
                    let first = first_member_start(positions, &format!("{prefix}/metadata"))?;
                    let before = text.get(..first)?;
                    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                    if !before[line_start..].chars().all(|c| c == ' ') {
                        return None;
                    }
                    Some(Edit {
                        range: line_start..line_start,
                        text: lines,
                    })
                }
                Style::Mapping(StructureStyle::Flow) => {
                    let member = format!("\"annotations\": {{{}}}", members_json(pairs));
                    let open = metadata.value_bytes.start;
                    if text.get(open..open + 1) != Some("{") {
                        return None;
                    }
                    let empty = text
                        .get(open + 1..metadata.value_bytes.end.saturating_sub(1))
                        .is_some_and(|inside| inside.trim().is_empty());
                    Some(Edit {
                        range: open + 1..open + 1,
                        text: if empty { member } else { format!("{member}, ") },
                    })
                }
                _ => None,
            }
        }
    }
}

/// `"k": "v", "k2": "v2"`.
fn members_json(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", double_quoted(k), double_quoted(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts `members` before the closing `}` of a flow mapping, with a comma when it has
/// members already.
fn flow_insert(text: &str, node: &Node, members: &str) -> Option<Edit> {
    let close = node.value_bytes.end.checked_sub(1)?;
    if text.get(close..close + 1) != Some("}") {
        return None;
    }
    let inside = text.get(node.value_bytes.start + 1..close)?;
    let trimmed_end = inside.trim_end().len();
    let at = node.value_bytes.start + 1 + trimmed_end;
    let text = if inside.trim().is_empty() {
        members.to_string()
    } else {
        format!(", {members}")
    };
    Some(Edit {
        range: at..at,
        text,
    })
}

/// The style of the first member value of the mapping at `pointer`.
fn first_value_style(positions: &DocumentPositions, pointer: &str) -> Option<ScalarStyle> {
    let node = positions.first_child(pointer)?;
    match node.style {
        Style::Scalar(style) => Some(style),
        _ => None,
    }
}

/// The byte where the first member (its key) of the mapping at `pointer` starts.
fn first_member_start(positions: &DocumentPositions, pointer: &str) -> Option<usize> {
    positions
        .first_child(pointer)?
        .key_bytes
        .as_ref()
        .map(|k| k.start)
}

/// The start of the line after the one holding byte `end - 1` (the end of the text when
/// there is none). A block scalar's span ends at the next token, after indentation: then the
/// start of that line.
fn line_after(text: &str, end: usize) -> usize {
    let end = end.min(text.len());
    if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\n') {
        return end;
    }
    let Some(before) = text.get(..end) else {
        return text.len();
    };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if line_start > 0 && before[line_start..].chars().all(|c| c == ' ' || c == '\t') {
        return line_start;
    }
    match text.get(end..).and_then(|rest| rest.find('\n')) {
        Some(i) => end + i + 1,
        None => text.len(),
    }
}

/// An insertion of whole lines at `at`; at the end of a text without a final line break, the
/// break comes first.
fn insert_lines(text: &str, at: usize, lines: String, newline: &str) -> Edit {
    let text = if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        format!("{newline}{}", lines.trim_end_matches(['\r', '\n']))
    } else {
        lines
    };
    Edit {
        range: at..at,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::positions::positions;

    fn set(key: &str, value: &str) -> Fix {
        Fix::SetAnnotation {
            key: key.into(),
            value: value.into(),
        }
    }

    fn fixed(text: &str, fixes: &[Fix]) -> Option<String> {
        let documents = positions(text);
        let fixes: Vec<&Fix> = fixes.iter().collect();
        plan(text, &documents[0], "", &fixes).map(|edits| apply(text, edits))
    }

    #[test]
    fn metadata_without_annotations_gets_the_mapping_first() {
        let text =
            "kind: Ingress\nmetadata:\n   name: a   # three spaces\n   namespace: b\nspec: {}\n";
        assert_eq!(
            fixed(text, &[set("p/k", "/x")]).unwrap(),
            "kind: Ingress\nmetadata:\n   annotations:\n      p/k: \"/x\"\n   name: a   # three spaces\n   namespace: b\nspec: {}\n"
        );
        let flow = "{\"kind\": \"Ingress\", \"metadata\": {\"name\": \"a\"}}\n";
        assert_eq!(
            fixed(flow, &[set("p/k", "/x")]).unwrap(),
            "{\"kind\": \"Ingress\", \"metadata\": {\"annotations\": {\"p/k\": \"/x\"}, \"name\": \"a\"}}\n"
        );
    }

    #[test]
    fn crlf_and_a_last_line_without_a_break() {
        let text = "metadata:\r\n  annotations:\r\n    a: b\r\n";
        assert_eq!(
            fixed(text, &[set("p/k", "/x")]).unwrap(),
            "metadata:\r\n  annotations:\r\n    a: b\r\n    p/k: /x\r\n"
        );
        let text = "metadata:\n  annotations:\n    a: 'b'";
        assert_eq!(
            fixed(text, &[set("p/k", "/x")]).unwrap(),
            "metadata:\n  annotations:\n    a: 'b'\n    p/k: '/x'"
        );
    }

    #[test]
    fn an_existing_key_is_replaced_in_its_quoting_and_nested_values_are_skipped() {
        let text = "metadata:\n  annotations:\n    p/k: \"\"\n    z: |\n      block\n      text\n  name: n\n";
        assert_eq!(
            fixed(text, &[set("p/k", "/x")]).unwrap(),
            "metadata:\n  annotations:\n    p/k: \"/x\"\n    z: |\n      block\n      text\n  name: n\n"
        );
        // After a block scalar: the new line goes after the block, not inside it.
        let text = "metadata:\n  annotations:\n    z: |\n      block\n  name: n\n";
        assert_eq!(
            fixed(text, &[set("p/k", "/x")]).unwrap(),
            "metadata:\n  annotations:\n    z: |\n      block\n    p/k: \"/x\"\n  name: n\n"
        );
    }

    #[test]
    fn what_cannot_be_edited_is_left_to_a_rewrite() {
        // `annotations:` with no value.
        assert_eq!(
            fixed(
                "metadata:\n  annotations:\n  name: n\n",
                &[set("p/k", "/x")]
            ),
            None
        );
        // Plain values that would read back as something else get quotes.
        assert!(!plain_safe("true"));
        assert!(!plain_safe("1.5"));
        assert!(!plain_safe("a: b"));
        assert!(plain_safe("/mysite"));
    }
}

//! Reading manifest files: multi-document YAML or JSON, `-` for stdin, directories.

use super::positions::{DocumentPositions, Region, positions};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a document came from: file and 1-based document index (and the item index inside a
/// `kind: List`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The file as given (`-` for stdin).
    pub file: String,
    /// 1-based index of the YAML document in the file (`---` separated; empty documents count).
    pub document: usize,
    /// 0-based index in `items` when the document is a `kind: List`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// 1-based line where the document's content starts (after its `---`), for editors and
    /// SARIF regions.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.document)?;
        if let Some(item) = self.item {
            write!(f, " items[{item}]")?;
        }
        Ok(())
    }
}

/// One document.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from.
    pub location: Location,
    /// Its content as JSON.
    pub value: Value,
    /// Where its nodes sit in the file (`None` when it did not come from a file, or the
    /// position reader could not follow it), and the JSON pointer of this document inside
    /// them (`/items/N` for an item of a `kind: List`, else `""`).
    pub positions: Option<(Arc<DocumentPositions>, String)>,
    /// The whole text of the file it came from (shared by its documents), for `fix`'s minimal
    /// edits; `None` when it did not come from a file.
    pub source: Option<Arc<str>>,
}

impl Document {
    /// The region to point at for `field` (a finding's field path), or for the whole document
    /// when there is no field: the key at fault, else its closest existing ancestor. Falls
    /// back to the document's first line.
    pub fn region(&self, field: Option<&str>) -> Region {
        let fallback = Region {
            start_line: self.location.line,
            start_column: 1,
            end_line: self.location.line,
            end_column: 1,
        };
        let Some((positions, prefix)) = &self.positions else {
            return fallback;
        };
        let pointer = match field.and_then(super::positions::field_pointer) {
            Some(pointer) => format!("{prefix}{pointer}"),
            None => prefix.clone(),
        };
        positions.region(&pointer).unwrap_or(fallback)
    }
}

/// A file or document that could not be read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InputError {
    /// The file, with the document when known (`file#2`).
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// Reads every document of every path. Empty documents are skipped; `kind: List` documents are
/// split into their items. Errors do not stop the reading of other files.
pub fn read(paths: &[PathBuf]) -> (Vec<Document>, Vec<InputError>) {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        for file in expand(path, &mut errors) {
            match read_text(&file) {
                Ok(text) => parse(&display(&file), &text, &mut documents, &mut errors),
                Err(message) => errors.push(InputError {
                    location: display(&file),
                    message,
                }),
            }
        }
    }
    (documents, errors)
}

/// Parses the documents of one file's text.
pub fn parse(file: &str, text: &str, out: &mut Vec<Document>, errors: &mut Vec<InputError>) {
    let starts = document_lines(text);
    let source: Arc<str> = Arc::from(text);
    let mut found = positions(text).into_iter().map(Arc::new);
    for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
        // Both parsers count documents the same way (YAML 1.2 streams).
        let document_positions = found.next();
        let index = i + 1;
        let value = match Value::deserialize(document) {
            Ok(value) => value,
            Err(e) => {
                errors.push(InputError {
                    location: format!("{file}#{index}"),
                    message: format!("not valid YAML or JSON: {e}"),
                });
                // The parser cannot resynchronise after a syntax error.
                break;
            }
        };
        let location = Location {
            file: file.to_string(),
            document: index,
            item: None,
            line: starts.get(i).copied().unwrap_or(1),
        };
        match value {
            Value::Null => {}
            Value::Object(ref map)
                if map.get("kind").and_then(Value::as_str) == Some("List")
                    && map.get("items").is_some_and(Value::is_array) =>
            {
                let items = map
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (n, item) in items.into_iter().enumerate() {
                    out.push(Document {
                        location: Location {
                            item: Some(n),
                            ..location.clone()
                        },
                        value: item,
                        positions: document_positions
                            .clone()
                            .map(|p| (p, format!("/items/{n}"))),
                        source: Some(source.clone()),
                    });
                }
            }
            value => out.push(Document {
                location,
                value,
                positions: document_positions.map(|p| (p, String::new())),
                source: Some(source.clone()),
            }),
        }
    }
}

/// The first content line of each YAML document, counted as the YAML parser counts documents:
/// content before the first `---` is a document of its own; each `---` starts one.
fn document_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let is_marker = |l: &str| l == "---" || l.starts_with("--- ") || l.starts_with("---\t");
    let is_content = |l: &str| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
    };
    let mut starts = Vec::new();
    let mut bare: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        if is_marker(line) {
            if let (true, Some(first)) = (starts.is_empty(), bare) {
                starts.push(first);
            }
            let next = lines[i + 1..]
                .iter()
                .position(|l| is_content(l) || is_marker(l))
                .map_or(i + 1, |p| i + 2 + p);
            starts.push(next.min(lines.len().max(1)));
        } else if starts.is_empty() && bare.is_none() && is_content(line) {
            bare = Some(i + 1);
        }
    }
    if let (true, Some(first)) = (starts.is_empty(), bare) {
        starts.push(first);
    }
    starts
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn expand(path: &Path, errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    if path.as_os_str() == "-" || !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(InputError {
                    location: display(&dir),
                    message: format!("cannot read directory: {e}"),
                });
                continue;
            }
        };
        for entry in entries.flatten() {
            let p = entry.path();
            // Symbolic links to directories are not followed (no loops, no file read twice);
            // links to files are read.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(p);
            } else if (kind.is_file() || p.is_file())
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn read_text(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        return Ok(text);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read file: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> (Vec<Document>, Vec<InputError>) {
        let (mut docs, mut errors) = (Vec::new(), Vec::new());
        parse("t.yaml", text, &mut docs, &mut errors);
        (docs, errors)
    }

    #[test]
    fn counts_documents_including_empty_ones() {
        let (docs, errors) = parse_str("---\n---\nkind: A\n---\nkind: B\n");
        assert!(errors.is_empty());
        let idx: Vec<usize> = docs.iter().map(|d| d.location.document).collect();
        assert_eq!(idx, vec![2, 3]);
    }

    #[test]
    fn document_lines_follow_the_parser() {
        let text = "# comment\n---\n# about A\nkind: A\n---\nkind: B\n";
        let (docs, _) = parse_str(text);
        let at: Vec<(usize, usize)> = docs
            .iter()
            .map(|d| (d.location.document, d.location.line))
            .collect();
        assert_eq!(at, vec![(1, 4), (2, 6)]);
        let (docs, _) = parse_str("kind: A\n---\nkind: B\n");
        assert_eq!(docs[0].location.line, 1);
        assert_eq!(docs[1].location.line, 3);
    }

    #[test]
    fn splits_lists() {
        let (docs, _) = parse_str("kind: List\nitems:\n- kind: A\n- kind: B\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].location.to_string(), "t.yaml#1 items[1]");
    }

    #[test]
    fn json_is_read_too() {
        let (docs, errors) = parse_str(r#"{"kind": "A", "n": 1}"#);
        assert!(errors.is_empty());
        assert_eq!(docs[0].value["n"], 1);
    }

    #[test]
    fn syntax_errors_name_the_document() {
        let (docs, errors) = parse_str("kind: A\n---\nkind: [unclosed\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].location, "t.yaml#2");
    }
}

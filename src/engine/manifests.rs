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

/// A file or document that could not be read, located as findings are: `FILE:LINE:COL` in
/// text, `file`, `document`, `line` and `column` in JSON.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InputError {
    /// The file as given (`-` for stdin), a folder, or the paths given (for "nothing to
    /// judge").
    pub file: String,
    /// 1-based index of the YAML document, when the error is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line of the error (the parser's, the key at fault's, or the document's first),
    /// when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, with `line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl InputError {
    /// An error about a whole file or folder.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            file: file.into(),
            document: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error in `document`, at the key at `field` (a finding-style field path) or, without
    /// one, at the document's first line.
    pub fn in_document(
        document: &Document,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        let region = document.region(field);
        InputError {
            file: document.location.file.clone(),
            document: Some(document.location.document),
            line: Some(region.start_line),
            column: Some(region.start_column),
            message: message.into(),
        }
    }

    /// Where it is, as an editor jumps to it: `FILE:LINE:COL`, or `FILE` for a whole file.
    pub fn position(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.file),
            (Some(line), None) => format!("{}:{line}:1", self.file),
            _ => self.file.clone(),
        }
    }
}

/// A document or path left out of the judgement, and why. Every one is named in the report,
/// so nothing is left out silently.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The file or folder (`-` for stdin).
    pub file: String,
    /// 1-based index of the document, when one document of the file was skipped (not the
    /// whole file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line where that document starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Why.
    pub reason: SkipReason,
    /// Why, in words (the same text as the text report).
    pub message: &'static str,
}

impl Skipped {
    /// A whole file or folder skipped for `reason`.
    pub fn path(file: impl Into<String>, reason: SkipReason) -> Self {
        Self {
            file: file.into(),
            document: None,
            line: None,
            reason,
            message: reason.message(),
        }
    }

    /// `FILE:LINE:1` for a document, `FILE` for a file or folder: where an editor should jump.
    pub fn at(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}:1", self.file),
            None => self.file.clone(),
        }
    }
}

/// Why a document or path was not judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A YAML document without `apiVersion` or without `kind`: a kustomization file, a CI
    /// workflow, Helm values, a chart's `Chart.yaml`.
    NotAKubernetesObject,
    /// A file holding `{{`: a Helm (or other Go) template, which is not YAML until rendered.
    HelmTemplate,
    /// A folder whose name starts with `.` (`.git`, `.github`), met while walking a folder.
    HiddenFolder,
    /// A path matched by `--exclude` or by the `.sticky-guard-ignore` of the folder given.
    Excluded,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 4] = [
        Self::NotAKubernetesObject,
        Self::HelmTemplate,
        Self::HiddenFolder,
        Self::Excluded,
    ];

    /// The reason in words.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotAKubernetesObject => "not a Kubernetes object (no apiVersion and kind)",
            Self::HelmTemplate => {
                "Helm template: render it first (`helm template … | sticky-guard check -`)"
            }
            Self::HiddenFolder => "hidden folder, not walked",
            Self::Excluded => "excluded (--exclude or .sticky-guard-ignore)",
        }
    }

    /// Whether the reason is about the input itself (a document or file that is not a
    /// Kubernetes manifest), which `--strict` turns into an error; hidden folders and
    /// exclusions are the user's choice and stay skipped.
    pub fn is_about_input(self) -> bool {
        matches!(self, Self::NotAKubernetesObject | Self::HelmTemplate)
    }
}

/// The name of the file, at the root of a folder given, that lists paths to leave out, in
/// gitignore syntax.
pub const IGNORE_FILE: &str = ".sticky-guard-ignore";

/// How to walk the paths given.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Paths to leave out, in gitignore syntax (`--exclude`): matched relative to each folder
    /// given, and, for files given by name, relative to the current directory.
    pub exclude: Vec<String>,
}

/// Everything read from the paths given.
#[derive(Debug, Default)]
pub struct Input {
    /// The documents, in path order.
    pub documents: Vec<Document>,
    /// Files and documents that could not be read.
    pub errors: Vec<InputError>,
    /// Files and folders left out, with why (documents that are not Kubernetes objects are
    /// found later, by the engine).
    pub skipped: Vec<Skipped>,
}

/// Reads every document of every path. Empty documents are skipped; `kind: List` documents are
/// split into their items. Errors do not stop the reading of other files.
///
/// Folders are walked for `*.yaml`, `*.yml` and `*.json`, except hidden folders and the paths
/// `options.exclude` or the folder's own [`IGNORE_FILE`] match (gitignore syntax, read with
/// ripgrep's `ignore` crate). `.gitignore` files are not honoured, on purpose: rendered
/// manifests (`helm template > out/`) are often git-ignored and are exactly what is checked.
/// A file given by name is always read unless `--exclude` matches it. A file holding `{{` is
/// skipped as a Helm template. Whatever is left out is listed in [`Input::skipped`].
///
/// # Errors
/// An `--exclude` pattern that is not valid gitignore syntax.
pub fn read(paths: &[PathBuf], options: &ReadOptions) -> Result<Input, String> {
    let mut input = Input::default();
    let given = excludes(Path::new("."), &options.exclude, None)?;
    for path in paths {
        let files = if path.as_os_str() == "-" || !path.is_dir() {
            if path.as_os_str() != "-" && excluded_by_name(&given, path) {
                input
                    .skipped
                    .push(Skipped::path(display(path), SkipReason::Excluded));
                continue;
            }
            vec![path.to_path_buf()]
        } else {
            let ignore_file = path.join(IGNORE_FILE);
            let matcher = excludes(path, &options.exclude, Some(&ignore_file))?;
            walk(path, &matcher, &mut input)
        };
        for file in files {
            match read_text(&file) {
                Ok(text) if text.contains("{{") => input
                    .skipped
                    .push(Skipped::path(display(&file), SkipReason::HelmTemplate)),
                Ok(text) => parse(
                    &display(&file),
                    &text,
                    &mut input.documents,
                    &mut input.errors,
                ),
                Err(message) => input.errors.push(InputError::file(display(&file), message)),
            }
        }
    }
    Ok(input)
}

/// The gitignore matcher of one folder given: `--exclude` patterns, then its ignore file if it
/// has one (a later line wins, as in one `.gitignore`).
fn excludes(
    root: &Path,
    patterns: &[String],
    ignore_file: Option<&Path>,
) -> Result<ignore::gitignore::Gitignore, String> {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
    for pattern in patterns {
        builder
            .add_line(None, pattern)
            .map_err(|e| format!("--exclude {pattern}: {e}"))?;
    }
    if let Some(file) = ignore_file.filter(|f| f.is_file())
        && let Some(e) = builder.add(file)
    {
        return Err(format!("{}: {e}", display(file)));
    }
    builder.build().map_err(|e| e.to_string())
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
                // The parser's own position (1-based), else the document's first line.
                let (line, column) = match e.location() {
                    Some(at) => (at.line(), at.column()),
                    None => (starts.get(i).copied().unwrap_or(1), 1),
                };
                errors.push(InputError {
                    file: file.to_string(),
                    document: Some(index),
                    line: Some(line),
                    column: Some(column),
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

/// Whether `--exclude` matches a file given by name, or one of its folders (relative to the
/// current directory when the path is under it).
fn excluded_by_name(matcher: &ignore::gitignore::Gitignore, path: &Path) -> bool {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    matcher.matched(&relative, false).is_ignore()
        || relative
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty() && a.as_os_str() != "." && !a.has_root())
            .any(|a| matcher.matched(a, true).is_ignore())
}

/// The manifest files under `root`, sorted; hidden folders and excluded paths are recorded in
/// `input.skipped` and not entered.
fn walk(root: &Path, matcher: &ignore::gitignore::Gitignore, input: &mut Input) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                input.errors.push(InputError::file(
                    display(&dir),
                    format!("cannot read directory: {e}"),
                ));
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
                if entry.file_name().to_string_lossy().starts_with('.') {
                    input
                        .skipped
                        .push(Skipped::path(display(&p), SkipReason::HiddenFolder));
                } else if matcher.matched(&p, true).is_ignore() {
                    input
                        .skipped
                        .push(Skipped::path(display(&p), SkipReason::Excluded));
                } else {
                    stack.push(p);
                }
            } else if (kind.is_file() || p.is_file())
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            {
                if matcher.matched(&p, false).is_ignore() {
                    input
                        .skipped
                        .push(Skipped::path(display(&p), SkipReason::Excluded));
                } else {
                    files.push(p);
                }
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
        assert_eq!(
            (errors[0].document, errors[0].position()),
            (Some(2), "t.yaml:4:1".to_string()),
            "the parser's own position, past the unclosed flow sequence"
        );
    }
}

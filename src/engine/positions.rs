//! Where each node of a manifest sits in its file, so that findings point at the key at fault.
//!
//! `serde_norway` gives values without positions; this module reads the same text a second time
//! with an event parser that keeps them (`granit-parser`, the parser under `serde-saphyr`) and
//! records, per YAML document, the span of every mapping key and every node by JSON pointer
//! (RFC 6901). JSON input is YAML 1.2 flow syntax and goes through the same parser. Block and
//! flow style, block scalars, anchors and aliases (an alias node is located at the alias), tabs
//! and CRLF line endings keep their positions.

use granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle};
use std::collections::HashMap;
use std::ops::Range;

/// A region of a file: 1-based lines and columns (columns count Unicode code points), end
/// exclusive, as SARIF's `region` with `columnKind: unicodeCodePoints`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    /// First line, 1-based.
    pub start_line: usize,
    /// First column, 1-based.
    pub start_column: usize,
    /// Last line, 1-based.
    pub end_line: usize,
    /// Column just after the region, 1-based.
    pub end_column: usize,
}

impl Region {
    fn of(span: &Span) -> Region {
        Region {
            start_line: span.start.line(),
            start_column: span.start.col() + 1,
            end_line: span.end.line(),
            end_column: span.end.col() + 1,
        }
    }
}

/// How a node is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A scalar: plain, quoted or block.
    Scalar(ScalarStyle),
    /// A mapping in block (indented) or flow (`{…}`) style.
    Mapping(StructureStyle),
    /// A sequence in block or flow style.
    Sequence(StructureStyle),
    /// An alias (`*name`).
    Alias,
}

/// One node: where its key and it are, in lines and columns and in bytes, and how it is
/// written. For a mapping, also where its first key starts (column, 0-based) and where its
/// last member's value ends (byte), which is where a member is added in block style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The key's region, for a mapping member.
    pub key: Option<Region>,
    /// The node's region (for a collection: its start).
    pub value: Region,
    /// The key's bytes, for a mapping member.
    pub key_bytes: Option<Range<usize>>,
    /// The node's bytes: a scalar's source text (quotes included), a collection's from its
    /// start to its end event (for flow style, the closing bracket included).
    pub value_bytes: Range<usize>,
    /// How it is written.
    pub style: Style,
    /// For a mapping with members: the 0-based column of its first key.
    pub first_key_column: Option<usize>,
    /// For a mapping with members: the byte just after its last member's value.
    pub last_value_end: Option<usize>,
}

/// The positions of one YAML document, by JSON pointer (`""` is the root).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentPositions {
    nodes: HashMap<String, Node>,
}

impl DocumentPositions {
    /// The node at `pointer`, if the document holds it.
    pub fn node(&self, pointer: &str) -> Option<&Node> {
        self.nodes.get(pointer)
    }

    /// The first member (by position) of the mapping at `pointer`.
    pub fn first_child(&self, pointer: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .filter(|(p, n)| n.key_bytes.is_some() && parent_pointer(p) == Some(pointer))
            .min_by_key(|(_, n)| n.key_bytes.as_ref().map(|k| k.start))
            .map(|(_, n)| n)
    }

    /// The region to point at for the node at `pointer`: its key when it is a mapping member,
    /// else the node itself; for a pointer that does not exist (a field a fix would add), the
    /// closest existing ancestor. `None` only for an empty document.
    pub fn region(&self, pointer: &str) -> Option<Region> {
        let mut pointer = pointer;
        loop {
            if let Some(node) = self.nodes.get(pointer) {
                return Some(node.key.unwrap_or(node.value));
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
    }
}

/// A container being read.
enum Frame {
    Mapping {
        pointer: String,
        /// Whether members are recorded (`false` under a key that is not a scalar).
        recorded: bool,
        /// The key just read, waiting for its value: its text and region (`None` for a key
        /// that is not a scalar, whose value is then not recorded).
        key: Option<Option<(String, Region, Range<usize>)>>,
    },
    Sequence {
        pointer: String,
        recorded: bool,
        next: usize,
    },
}

/// The bytes a span covers (the parser reads a `&str`, so byte offsets are known).
fn bytes(span: &Span) -> Range<usize> {
    let start = span.start.byte_offset().unwrap_or(0);
    start..span.end.byte_offset().unwrap_or(start).max(start)
}

/// The positions of every document of `text`, in document order as the YAML parser counts
/// them (the count `serde_norway` uses too). A syntax error ends the list at the document it
/// is in; positions are best effort and never an error.
pub fn positions(text: &str) -> Vec<DocumentPositions> {
    let mut documents = Vec::new();
    let mut current: Option<DocumentPositions> = None;
    let mut stack: Vec<Frame> = Vec::new();
    for next in Parser::new_from_str(text) {
        let Ok((event, span)) = next else { break };
        let style = match &event {
            Event::DocumentStart(..) => {
                current = Some(DocumentPositions::default());
                stack.clear();
                continue;
            }
            Event::DocumentEnd => {
                if let Some(done) = current.take() {
                    documents.push(done);
                }
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let (
                    Some(
                        Frame::Mapping {
                            pointer,
                            recorded: true,
                            ..
                        }
                        | Frame::Sequence {
                            pointer,
                            recorded: true,
                            ..
                        },
                    ),
                    Some(document),
                ) = (stack.pop(), current.as_mut())
                    && let Some(node) = document.nodes.get_mut(&pointer)
                {
                    let end = bytes(&span).end.max(node.value_bytes.start);
                    node.value_bytes.end = end;
                    // A flow collection ends at its closing bracket, which its enclosing
                    // mappings hold.
                    if matches!(
                        node.style,
                        Style::Mapping(StructureStyle::Flow)
                            | Style::Sequence(StructureStyle::Flow)
                    ) {
                        extend_ancestors(document, &pointer, end);
                    }
                }
                continue;
            }
            Event::Scalar(_, style, ..) => Style::Scalar(*style),
            Event::Alias(_) => Style::Alias,
            Event::MappingStart(style, ..) => Style::Mapping(*style),
            Event::SequenceStart(style, ..) => Style::Sequence(*style),
            _ => continue,
        };
        let scalar = match &event {
            Event::Scalar(value, ..) => Some(value.as_ref()),
            _ => None,
        };
        let placed = place(&mut stack, scalar, &span);
        if let (Some((pointer, key, key_bytes)), Some(document)) = (&placed, current.as_mut()) {
            // The parent mapping learns where its first key is.
            if let Some(parent) = parent_pointer(pointer)
                && let Some(parent) = document.nodes.get_mut(parent)
                && matches!(parent.style, Style::Mapping(_))
                && parent.first_key_column.is_none()
            {
                parent.first_key_column = key.map(|k| k.start_column - 1);
            }
            // Every enclosing mapping ends no earlier than this scalar.
            if matches!(style, Style::Scalar(_) | Style::Alias) {
                extend_ancestors(document, pointer, bytes(&span).end);
            }
            document.nodes.insert(
                pointer.clone(),
                Node {
                    key: *key,
                    value: Region::of(&span),
                    key_bytes: key_bytes.clone(),
                    value_bytes: bytes(&span),
                    style,
                    first_key_column: None,
                    last_value_end: None,
                },
            );
        }
        let recorded = placed.is_some() && current.is_some();
        let pointer = placed.map(|(pointer, ..)| pointer).unwrap_or_default();
        match style {
            Style::Mapping(_) => stack.push(Frame::Mapping {
                pointer,
                recorded,
                key: None,
            }),
            Style::Sequence(_) => stack.push(Frame::Sequence {
                pointer,
                recorded,
                next: 0,
            }),
            _ => {}
        }
    }
    documents
}

/// Moves the `last_value_end` of every mapping enclosing `pointer` to at least `end`.
fn extend_ancestors(document: &mut DocumentPositions, pointer: &str, end: usize) {
    let mut at = pointer;
    while let Some(parent) = parent_pointer(at) {
        if let Some(node) = document.nodes.get_mut(parent)
            && matches!(node.style, Style::Mapping(_))
        {
            node.last_value_end = Some(node.last_value_end.map_or(end, |e| e.max(end)));
        }
        at = parent;
    }
}

/// The pointer of a node's parent (`None` for the root).
fn parent_pointer(pointer: &str) -> Option<&str> {
    pointer.rfind('/').map(|i| &pointer[..i])
}

/// Where a node that starts at `span` goes: `Some((pointer, key region))` for a value, `None`
/// for a mapping key (remembered in its frame) or a node that cannot be addressed. `scalar` is
/// the node's text when it is a scalar (a key must be one to be addressable).
fn place(
    stack: &mut [Frame],
    scalar: Option<&str>,
    span: &Span,
) -> Option<(String, Option<Region>, Option<Range<usize>>)> {
    let Some(parent) = stack.last_mut() else {
        return Some((String::new(), None, None));
    };
    match parent {
        Frame::Mapping {
            pointer,
            recorded,
            key,
        } => match key.take() {
            None => {
                *key = Some(scalar.map(|s| (s.to_string(), Region::of(span), bytes(span))));
                None
            }
            Some(Some((name, region, key_bytes))) if *recorded => {
                Some((child(pointer, &name), Some(region), Some(key_bytes)))
            }
            Some(_) => None,
        },
        Frame::Sequence {
            pointer,
            recorded,
            next,
        } => {
            let pointer = child(pointer, &next.to_string());
            *next += 1;
            recorded.then_some((pointer, None, None))
        }
    }
}

/// `parent/token`, the token escaped (`~` → `~0`, `/` → `~1`).
fn child(parent: &str, token: &str) -> String {
    format!("{parent}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// A finding's field path (`spec.rules[0].http.paths[1].backend.service.name`,
/// `metadata.annotations["nginx.ingress.kubernetes.io/affinity"]`) as a JSON pointer. `None`
/// for text that is not such a path.
pub fn field_pointer(field: &str) -> Option<String> {
    let mut pointer = String::new();
    let mut rest = field;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[\"") {
            let end = after.find("\"]")?;
            pointer = child(&pointer, &after[..end]);
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let index = &after[..end];
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            pointer = child(&pointer, index);
            rest = &after[end + 1..];
        } else {
            let rest_trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trimmed.find(['.', '[']).unwrap_or(rest_trimmed.len());
            if end == 0 {
                return None;
            }
            pointer = child(&pointer, &rest_trimmed[..end]);
            rest = &rest_trimmed[end..];
        }
    }
    Some(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> (usize, usize) {
        (line, column)
    }

    fn start(region: Option<Region>) -> (usize, usize) {
        let r = region.expect("a region");
        (r.start_line, r.start_column)
    }

    #[test]
    fn field_paths_become_pointers() {
        assert_eq!(
            field_pointer("spec.rules[0].http.paths[1].backend.service.name").as_deref(),
            Some("/spec/rules/0/http/paths/1/backend/service/name")
        );
        assert_eq!(
            field_pointer("metadata.annotations[\"nginx.ingress.kubernetes.io/affinity\"]")
                .as_deref(),
            Some("/metadata/annotations/nginx.ingress.kubernetes.io~1affinity")
        );
        assert_eq!(field_pointer("spec.type").as_deref(), Some("/spec/type"));
        assert_eq!(field_pointer("spec[x]"), None);
    }

    #[test]
    fn block_flow_and_several_documents() {
        let text = "# a comment\n---\napiVersion: v1\nmetadata:\n  annotations:\n    a/b: \"x\"\n---\n{\"kind\": \"Ingress\", \"spec\": {\"rules\": [{\"host\": \"h\"}]}}\n";
        let docs = positions(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            start(docs[0].region("/metadata/annotations/a~1b")),
            at(6, 5)
        );
        assert_eq!(start(docs[0].region("/apiVersion")), at(3, 1));
        // A key that does not exist: its closest ancestor (where a fix would add it).
        assert_eq!(start(docs[0].region("/metadata/annotations/c")), at(5, 3));
        assert_eq!(start(docs[1].region("/spec/rules/0/host")), at(8, 41));
        // Sequence items have no key: the item itself.
        assert_eq!(start(docs[1].region("/spec/rules/0")), at(8, 40));
    }

    #[test]
    fn tabs_crlf_block_scalars_and_anchors() {
        let text = "a: &x\r\n  b:\t1\r\nc: *x\r\nd: |\r\n  text\r\ne: 2\r\n";
        let docs = positions(text);
        assert_eq!(docs.len(), 1);
        assert_eq!(start(docs[0].region("/a/b")), at(2, 3));
        assert_eq!(start(docs[0].region("/c")), at(3, 1));
        assert_eq!(start(docs[0].region("/e")), at(6, 1));
    }

    #[test]
    fn empty_documents_count_and_bad_yaml_stops() {
        let docs = positions("---\n---\nx: 1\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(start(docs[1].region("/x")), at(3, 1));
        let docs = positions("a: 1\n--\nb: [\n");
        assert!(docs.len() <= 1);
    }
}

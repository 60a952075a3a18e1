//! Building blocks of the exported CEL: literals, annotation lookups and the Go parsers the
//! controllers use, written once so that each rule's expressions read as their rule does.
//!
//! Everything here is standard CEL (`has`, macros, `in`, `size`, `matches`) or the Kubernetes
//! extended strings library (`trim`, `replace`, `split`, `join`, `indexOf`, `lastIndexOf`,
//! `substring`), which every Kubernetes version with ValidatingAdmissionPolicy has (1.25+;
//! <https://kubernetes.io/docs/reference/using-api/cel/>, "CEL options, language features, and
//! libraries").

/// A CEL string literal holding `text` exactly: JSON's escapes (`\\`, `\"`, `\n`, `\uXXXX`) are
/// all CEL escapes, so JSON's quoting is CEL's.
pub fn lit(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "''".to_string())
}

/// The value of annotation `key` on `object`, `''` when it is absent: a string in both branches
/// (the API server's type check wants one type).
pub fn annotation(key: &str) -> String {
    let key = lit(key);
    format!(
        "(has(object.metadata.annotations) && {key} in object.metadata.annotations ? \
object.metadata.annotations[{key}] : '')"
    )
}

/// Go's `strconv.ParseBool` reads `expr` (a string) as true: `1 t T TRUE true True`, untrimmed
/// (as [`crate::controllers::nginx::annotations::go_parse_bool`]).
pub fn go_true(expr: &str) -> String {
    format!("({expr} in ['1', 't', 'T', 'TRUE', 'true', 'True'])")
}

/// `expr` (a string) cut to [`crate::echo::MAX_TOKEN_CHARS`] characters, marked with `…`: a
/// message never repeats an unbounded value.
pub fn bounded(expr: &str) -> String {
    let max = crate::echo::MAX_TOKEN_CHARS;
    // A messageExpression result with a line break is dropped by the API server, so line
    // breaks and tabs are escaped, as crate::echo::bounded does.
    format!(
        "(size({expr}) > {max} ? {expr}.substring(0, {max}) + '…' : {expr}).replace('\\\\', \
'\\\\\\\\').replace('\\n', '\\\\n').replace('\\r', '\\\\r').replace('\\t', '\\\\t')"
    )
}

/// The path of Ingress path `p` (a loop variable) as the controller uses it: omitted or empty is
/// `/` (controller.go L811-813; [`crate::objects::IngressObject::paths`]).
pub fn ingress_path(p: &str) -> String {
    format!("(has({p}.path) && {p}.path != '' ? {p}.path : '/')")
}

/// The host of Ingress rule `r` (a loop variable), `''` for a rule without one.
pub fn ingress_host(r: &str) -> String {
    format!("(has({r}.host) ? {r}.host : '')")
}

/// A JSON pointer (RFC 6901) token: `~` → `~0`, `/` → `~1`.
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The JSONPatch list (MutatingAdmissionPolicy `jsonPatch.expression`) that sets annotation `key`
/// to the string `value` (a CEL expression), as [`crate::rules::json_patch`] does: one `add` at
/// `/metadata/annotations/<key>` when the object has annotations, else one `add` of the whole map.
pub fn set_annotation_patch(key: &str, value: &str) -> String {
    let at_key = lit(&format!("/metadata/annotations/{}", pointer_token(key)));
    let key = lit(key);
    format!(
        "has(object.metadata.annotations) ? [JSONPatch{{op: 'add', path: {at_key}, value: \
{value}}}] : [JSONPatch{{op: 'add', path: '/metadata/annotations', value: {{{key}: {value}}}}}]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_pointers_escape() {
        assert_eq!(lit(r"a'b\c"), r#""a'b\\c""#);
        assert_eq!(pointer_token("a~b/c"), "a~0b~1c");
        assert!(
            set_annotation_patch("p.io/k", "variables.v")
                .contains(r#"path: "/metadata/annotations/p.io~1k""#)
        );
    }
}

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

/// Whether `object` has annotation `key` (any value, empty included: a superset of "set").
pub fn has_annotation(key: &str) -> String {
    format!(
        "(has(object.metadata.annotations) && {} in object.metadata.annotations)",
        lit(key)
    )
}

/// Whether some annotation key `k` of `object` satisfies `predicate` (CEL over `k`).
pub fn some_annotation(predicate: &str) -> String {
    format!(
        "(has(object.metadata.annotations) && object.metadata.annotations.exists(k, {predicate}))"
    )
}

/// The Ingress's class (`spec.ingressClassName`, else the `kubernetes.io/ingress.class`
/// annotation) is one of `classes`, or it has none (as [`crate::policy::Policy::judges_ingress_class`]).
pub fn ingress_class_judged(classes: &[String]) -> String {
    let list = serde_json::to_string(classes).unwrap_or_else(|_| "[]".into());
    // JSON string literals are CEL string literals (lit).
    format!(
        "(has(object.spec.ingressClassName) ? object.spec.ingressClassName in {list} : \
(!has(object.metadata.annotations) || !('kubernetes.io/ingress.class' in \
object.metadata.annotations) || object.metadata.annotations['kubernetes.io/ingress.class'] in \
{list}))"
    )
}

/// The Ingress's class (as in [`ingress_class_judged`]) is exactly `class`.
pub fn ingress_class_is(class: &str) -> String {
    let class = lit(class);
    format!(
        "(has(object.spec.ingressClassName) ? object.spec.ingressClassName == {class} : \
(has(object.metadata.annotations) && 'kubernetes.io/ingress.class' in \
object.metadata.annotations && object.metadata.annotations['kubernetes.io/ingress.class'] == \
{class}))"
    )
}

/// Some HTTP path `p` of some rule of the Ingress satisfies `predicate` (CEL over `p`).
pub fn some_ingress_path(predicate: &str) -> String {
    format!(
        "(has(object.spec.rules) && object.spec.rules.exists(r, has(r.http) && has(r.http.paths) \
&& r.http.paths.exists(p, {predicate})))"
    )
}

/// Some Service backend of the Ingress (the default backend, or a path's) has a Service name
/// `n` satisfying `predicate` (`predicate` is a function of the name expression).
pub fn some_ingress_service_name(predicate: impl Fn(&str) -> String) -> String {
    let default = "object.spec.defaultBackend.service.name";
    format!(
        "((has(object.spec.defaultBackend) && has(object.spec.defaultBackend.service) && \
has({default}) && {}) || {})",
        predicate(default),
        some_ingress_path(&format!(
            "has(p.backend) && has(p.backend.service) && has(p.backend.service.name) && {}",
            predicate("p.backend.service.name")
        ))
    )
}

/// Some rule `r` of the route (HTTPRoute, GRPCRoute) satisfies `predicate` (CEL over `r`).
pub fn some_route_rule(predicate: &str) -> String {
    format!("(has(object.spec.rules) && object.spec.rules.exists(r, {predicate}))")
}

/// Some backendRef `b` of some rule `r` of the route satisfies `predicate` (CEL over `b` and
/// `r`).
pub fn some_route_backend(predicate: &str) -> String {
    some_route_rule(&format!(
        "has(r.backendRefs) && r.backendRefs.exists(b, {predicate})"
    ))
}

/// The object is of kind `kind` (its `kind` field, which admission requests always carry).
pub fn kind_is(kind: &str) -> String {
    format!("(has(object.kind) && object.kind == {})", lit(kind))
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

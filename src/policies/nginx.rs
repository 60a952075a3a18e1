//! The ingress-nginx rules CEL can judge from one Ingress: `cookie-path-for-regex` (per object,
//! with a MutatingAdmissionPolicy for the paths whose cookie path CEL derives exactly),
//! `cookie-path-not-literal`, `affinity-with-service-upstream`, `affinity-with-ssl-passthrough`
//! and `canary-affinity`.
//!
//! Both read the annotations as the controller does ([`crate::controllers::nginx::Annotations`]):
//! cookie affinity is `affinity` trimmed equal to `cookie` on one line, on an Ingress that is not
//! a canary; an empty annotation is unset. Regex mode is this Ingress's own only (`use-regex`, or
//! a `rewrite-target` differing from a path of the host): another Ingress on the same host that
//! turns it on is beyond CEL, which sees one object, and is left to the webhook.

use super::{Cel, CelValidation, Mutation};
use crate::cel::{annotation, bounded, go_true, ingress_host, ingress_path, lit};
use crate::controllers::nginx::REGEX_TELL;
use crate::controllers::nginx::annotation as name;
use crate::objects::kinds::Kind;
use crate::policy::Policy;

/// `rewrite-target`'s validator (ingress-nginx `rewrite/main.go`; the annotation table), as an
/// equivalent RE2 class; it admits no space or line break, so the accepted value is the raw one.
const REWRITE_TARGET: &str = r"^/?[-._~a-zA-Z0-9/:$]*$";

/// `URLIsValidRegex` (validators.go L65), the validator of `session-cookie-path`.
const URL_IS_VALID: &str = r"^[-._~a-zA-Z0-9/:,?&=]*$";

/// A literal absolute cookie path the controller uses as written: [`URL_IS_VALID`]'s characters
/// less `?`, starting with `/` (what `cookie-path-not-literal`'s `literal_problem` accepts).
const LITERAL_COOKIE_PATH: &str = r"^/[-._~a-zA-Z0-9/:,&=]*$";

/// One path segment of the paths whose cookie path CEL derives: characters that are literal in
/// a regex and may stand in a cookie path (`.` is a regex metacharacter, so it is left out).
const SEGMENT: &str = "/[-_~:,&=a-zA-Z0-9]+";

/// The regex paths whose derivation CEL reproduces exactly ([`crate::cookie_path::derive`] on
/// each): `<segments>(/|$)` with an optional `(.*)` or `.*` after it (the literal is kept, as
/// every match continues with `/` or ends), `<segments>/` followed by nothing, `(.*)`, `.*`,
/// `.+` or `(.+)` (cut back to before the last `/`), and literal `<segments>` (cut back too: in
/// regex mode `/api` also matches `/apiary`).
pub fn derivable_path() -> String {
    format!(
        r"^({SEGMENT})+\(/\|\$\)(\(\.\*\)|\.\*)?$|^({SEGMENT})*/(\(\.\*\)|\.\*|\.\+|\(\.\+\))?$|^({SEGMENT})+$"
    )
}

/// The variables both policies of the two rules read: the annotations, and `sticky`.
fn annotation_variables(prefix: &str) -> Vec<(&'static str, String)> {
    let key = |n: &str| format!("{prefix}/{n}");
    vec![
        ("affinity", annotation(&key(name::AFFINITY))),
        ("canary", annotation(&key(name::CANARY))),
        ("cookiePath", annotation(&key(name::SESSION_COOKIE_PATH))),
        (
            "sticky",
            format!(
                "variables.affinity.trim() == 'cookie' && !variables.affinity.contains('\\n') && \
!{}",
                go_true("variables.canary")
            ),
        ),
    ]
}

/// `cookie-path-for-regex`, per object: a ValidatingAdmissionPolicy that denies a sticky Ingress
/// in its own regex mode without `session-cookie-path`, and a MutatingAdmissionPolicy that adds
/// the derived path when every path of the Ingress is [`derivable_path`] and the common prefix
/// is among the first path's prefix and its three nearest ancestors (else the webhook derives
/// it). Mutation runs before validation, so an Ingress the mutation fixes passes the validation.
pub fn cookie_path_for_regex(policy: &Policy) -> Cel {
    let prefix = &policy.annotation_prefix;
    let mut variables = annotation_variables(prefix);
    let path = ingress_path("p");
    let other_path = ingress_path("q");
    let tell = format!("{path}.matches({})", lit(REGEX_TELL));
    // regex_mode.rs: Own regex mode for the host of rule `r`.
    let host_in_regex_mode = format!(
        "(variables.useRegex || (variables.rewriteOn && object.spec.rules.exists(o, {} == {} && \
has(o.http) && o.http.paths.exists(q, {other_path} != variables.rewriteTarget))))",
        ingress_host("o"),
        ingress_host("r"),
    );
    let regex_rule =
        format!("has(r.http) && {host_in_regex_mode} && r.http.paths.exists(p, {tell})");
    variables.extend([
        (
            "useRegex",
            go_true(&annotation(&format!("{prefix}/{}", name::USE_REGEX))),
        ),
        (
            "rewriteTarget",
            annotation(&format!("{prefix}/{}", name::REWRITE_TARGET)),
        ),
        (
            "rewriteOn",
            format!(
                "variables.rewriteTarget != '' && variables.rewriteTarget.matches({})",
                lit(REWRITE_TARGET)
            ),
        ),
        (
            "fires",
            format!(
                "variables.sticky && variables.cookiePath == '' && has(object.spec.rules) && \
object.spec.rules.exists(r, {regex_rule})"
            ),
        ),
        (
            "regexPath",
            format!(
                "variables.fires ? object.spec.rules.filter(r, {regex_rule})[0].http.paths\
.filter(p, {tell}).map(p, {path})[0] : ''"
            ),
        ),
    ]);
    let key = format!("{prefix}/{}", name::SESSION_COOKIE_PATH);
    let validation = CelValidation {
        expression: "!variables.fires".into(),
        message_expression: format!(
            "'cookie affinity is on and path `' + {} + '` is a regex, so ingress-nginx would set \
the session cookie\\'s Path to the regex and browsers would never send the cookie back; set \
annotation {key} to the literal part of the paths (sticky-guard check prints it)'",
            bounded("variables.regexPath")
        ),
    };
    Cel {
        kinds: &[Kind::Ingress],
        variables,
        validations: vec![validation],
        mutation: Some(cookie_path_mutation(&key)),
    }
}

/// The MutatingAdmissionPolicy half of [`cookie_path_for_regex`]: its own variables (after the
/// shared ones) and the JSONPatch.
fn cookie_path_mutation(key: &str) -> Mutation {
    // Step 1-2 of cookie_path::derive for a derivable path `s`: the literal before `(/|$)`, else
    // cut back to before the last `/` (`/` when nothing is left).
    let prefix_of = |s: &str| {
        format!(
            "({s}.matches({b}) ? {s}.substring(0, {s}.indexOf('(/|$)')) : {})",
            parent(s),
            b = lit(&format!(r"^({SEGMENT})+\(/\|\$\)(\(\.\*\)|\.\*)?$")),
        )
    };
    let path = ingress_path("p");
    // RFC 6265 §5.1.4 for the literal prefixes: cookie path `c` covers prefix `s`.
    let covers = |c: &str| {
        format!(
            "variables.prefixes.all(l, l.all(s, {c} == '/' || s == {c} || s.startsWith({c} + '/')))"
        )
    };
    let next = |s: &str| {
        format!(
            "(variables.derived == '/' ? {s}.substring(1) : {s}.substring(size(variables.derived) + \
1)).split('/')[0]"
        )
    };
    let variables = vec![
        (
            "shaped",
            format!(
                "has(object.spec.rules) && object.spec.rules.all(r, !has(r.http) || \
r.http.paths.all(p, {path}.matches({})))",
                lit(&derivable_path())
            ),
        ),
        (
            "prefixes",
            format!(
                "variables.fires && variables.shaped ? object.spec.rules.filter(r, has(r.http))\
.map(r, r.http.paths.map(p, {})) : []",
                prefix_of(&path)
            ),
        ),
        (
            "first",
            "variables.prefixes.exists(l, size(l) > 0) ? variables.prefixes.filter(l, size(l) > \
0)[0][0] : '/'"
                .to_string(),
        ),
        ("parent1", parent("variables.first")),
        ("parent2", parent("variables.parent1")),
        ("parent3", parent("variables.parent2")),
        (
            // Step 3: the longest candidate that covers every prefix.
            "derived",
            format!(
                "{} ? variables.first : {} ? variables.parent1 : {} ? variables.parent2 : {} ? \
variables.parent3 : '/'",
                covers("variables.first"),
                covers("variables.parent1"),
                covers("variables.parent2"),
                covers("variables.parent3"),
            ),
        ),
        (
            // It is the longest common one of all: a prefix is it, or two continue differently.
            "exact",
            format!(
                "variables.prefixes.exists(l, l.exists(s, s == variables.derived)) || \
variables.prefixes.exists(l, l.exists(s, {} != {}))",
                next("s"),
                next("variables.first")
            ),
        ),
    ];
    Mutation {
        variables,
        json_patch: format!(
            "variables.fires && variables.shaped && variables.exact ? ({}) : []",
            crate::cel::set_annotation_patch(key, "variables.derived")
        ),
    }
}

/// CEL: the path `s` cut back to before its last `/`; `/` when nothing is left.
fn parent(s: &str) -> String {
    format!("({s}.lastIndexOf('/') > 0 ? {s}.substring(0, {s}.lastIndexOf('/')) : '/')")
}

/// `cookie-path-not-literal`: with cookie affinity on, the value the cookie gets (the accepted
/// value with each line trimmed, else the value as written) is not a literal absolute path.
pub fn cookie_path_not_literal(policy: &Policy) -> Cel {
    let prefix = &policy.annotation_prefix;
    let mut variables = annotation_variables(prefix);
    variables.extend([
        (
            "normalized",
            "variables.cookiePath.split('\\n').map(l, l.trim()).join('\\n')".to_string(),
        ),
        (
            // annotations.rs `read`: the validator sees the value without spaces; an accepted
            // value is used normalized (parser/main.go L228-235), a rejected one as written.
            "used",
            format!(
                "variables.cookiePath.replace(' ', '').matches({}) && variables.normalized != '' \
? variables.normalized : variables.cookiePath",
                lit(URL_IS_VALID)
            ),
        ),
    ]);
    let key = format!("{prefix}/{}", name::SESSION_COOKIE_PATH);
    Cel {
        kinds: &[Kind::Ingress],
        variables,
        validations: vec![CelValidation {
            expression: format!(
                "!variables.sticky || variables.cookiePath == '' || variables.used.matches({})",
                lit(LITERAL_COOKIE_PATH)
            ),
            message_expression: format!(
                "'annotation {key} is `' + {} + '`, which is not a literal absolute path: \
ingress-nginx uses only letters, digits and - . _ ~ / : , & = there as written; set it to one, \
such as the literal part of the Ingress paths'",
                bounded("variables.cookiePath")
            ),
        }],
        mutation: None,
    }
}

/// A rule that fires on a sticky Ingress (cookie affinity, not a canary) whose boolean
/// annotation `flag` Go's ParseBool reads as true, with the engine's fixed `message`.
fn sticky_with_flag(policy: &Policy, flag: &str, message: &str) -> Cel {
    let mut variables = annotation_variables(&policy.annotation_prefix);
    variables.push((
        "flag",
        go_true(&annotation(&format!("{}/{flag}", policy.annotation_prefix))),
    ));
    Cel {
        kinds: &[Kind::Ingress],
        variables,
        validations: vec![CelValidation {
            expression: "!(variables.sticky && variables.flag)".into(),
            message_expression: lit(message),
        }],
        mutation: None,
    }
}

/// `affinity-with-service-upstream`: cookie affinity with `service-upstream` true (the
/// ClusterIP is the only endpoint; controller.go L1115-1121).
pub fn affinity_with_service_upstream(policy: &Policy) -> Cel {
    sticky_with_flag(
        policy,
        name::SERVICE_UPSTREAM,
        crate::rules::affinity_with_service_upstream::MESSAGE,
    )
}

/// `affinity-with-ssl-passthrough`: cookie affinity with `ssl-passthrough` true (layer 4: nginx
/// never sees the cookie).
pub fn affinity_with_ssl_passthrough(policy: &Policy) -> Cel {
    sticky_with_flag(
        policy,
        name::SSL_PASSTHROUGH,
        crate::rules::affinity_with_ssl_passthrough::MESSAGE,
    )
}

/// `canary-affinity`: a canary (`canary` ParseBool true) with affinity family annotations
/// (`affinity`, `affinity-*`, `session-cookie-*`, non-empty; `affinity-canary-behavior` aside),
/// which the controller ignores; the message counts them as the engine's does.
pub fn canary_affinity(policy: &Policy) -> Cel {
    let prefix = lit(&format!("{}/", policy.annotation_prefix));
    let mut variables = annotation_variables(&policy.annotation_prefix);
    variables.push((
        "ignored",
        format!(
            "has(object.metadata.annotations) ? object.metadata.annotations.filter(k, \
k.startsWith({prefix}) && object.metadata.annotations[k] != '' && (k.substring(size({prefix})) \
== 'affinity' || k.substring(size({prefix})).startsWith('affinity-') || \
k.substring(size({prefix})).startsWith('session-cookie-')) && k.substring(size({prefix})) != \
'affinity-canary-behavior').size() : 0"
        ),
    ));
    Cel {
        kinds: &[Kind::Ingress],
        variables,
        validations: vec![CelValidation {
            expression: format!("!{} || variables.ignored == 0", go_true("variables.canary")),
            message_expression: "(variables.ignored == 1 ? '1 affinity annotation is' : \
string(variables.ignored) + ' affinity annotations are') + ' ignored on a canary: set affinity \
on the primary Ingress'"
                .into(),
        }],
        mutation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RE2 forms agree with the Rust functions they stand for.
    #[test]
    fn the_regexes_are_the_functions() {
        let tell = regex::Regex::new(REGEX_TELL).unwrap();
        for path in [
            "/", "/a", "/a.b", "/a+b", "/a$", "/a$b", "/a.*", "/a.+", "/(a)", "/a?", "/[a]",
            "/a{2}", "/a|b", "^/a", r"/a\d", "/a*", "/a-b~c", "/.", "/..", "/a.+b",
        ] {
            assert_eq!(
                tell.is_match(path),
                crate::controllers::nginx::regex_tell(path).is_some(),
                "{path}"
            );
        }
        let literal = regex::Regex::new(LITERAL_COOKIE_PATH).unwrap();
        let url = regex::Regex::new(URL_IS_VALID).unwrap();
        for c in (0u8..128).map(char::from).chain(['é', '\u{a0}']) {
            let value = format!("/a{c}");
            assert_eq!(
                literal.is_match(&value),
                crate::controllers::nginx::annotations::is_url_valid_char(c) && c != '?',
                "{c:?}"
            );
            assert_eq!(
                url.is_match(&c.to_string()),
                crate::controllers::nginx::annotations::is_url_valid_char(c),
                "{c:?}"
            );
        }
    }

    /// Every path the derivable shapes admit derives, with the real parser, to what the
    /// mutation computes for it alone.
    #[test]
    fn derivable_paths_derive_as_the_mutation_says() {
        let shape = regex::Regex::new(&derivable_path()).unwrap();
        for (path, derived) in [
            ("/mysite(/|$)(.*)", "/mysite"),
            ("/a/b(/|$)", "/a/b"),
            ("/a(/|$).*", "/a"),
            ("/(.*)", "/"),
            ("/", "/"),
            ("/api/", "/api"),
            ("/api", "/"),
            ("/a/b", "/a"),
            ("/shop/.+", "/shop"),
            ("/x-y_z~1/(.+)", "/x-y_z~1"),
        ] {
            assert!(shape.is_match(path), "{path}");
            assert_eq!(crate::cookie_path::derive([path]).path, derived, "{path}");
        }
        for path in [
            "/a.b(/|$)(.*)",
            "^/a(/|$)(.*)",
            "/a(/|$)(.*)x",
            "/api/v[0-9]+",
            "",
            "/a//b",
            "/a(/|$)(/.*)",
        ] {
            assert!(!shape.is_match(path), "{path}");
        }
    }
}

//! ingress-nginx's annotations as the controller declares them: one table, [`TABLE`], with each
//! annotation's validator (the controller's own, with its space handling), scope, default,
//! documentation and source line, and [`read`], which gives the value the controller ends up
//! using.
//!
//! Source: kubernetes/ingress-nginx `main` at `dbb11b92` (identical in the last releases,
//! `controller-v1.15.1` and `controller-v1.14.5`, for every file cited here):
//! - `internal/ingress/annotations/parser/validators.go` L44-85 (character sets and regexes),
//!   L111-125 (`ValidateRegex`), L143-158 (`ValidateOptions`), L161-164 (`ValidateBool`),
//!   L207-251 (`checkAnnotation`: empty values are not validated; a value that fails is an
//!   error for the getter);
//! - `internal/ingress/annotations/parser/main.go` L117-128 (`parseString`), L228-235
//!   (`normalizeString`: each line trimmed), L105-152 (`parseBool`: not trimmed);
//! - `internal/ingress/annotations/sessionaffinity/main.go` L73-154 (the affinity annotations)
//!   and L196-294 (`Parse`: every failure falls back to the default, silently; the Ingress is
//!   never rejected for an affinity annotation);
//! - `serviceupstream/main.go` L28-39, `loadbalancing/main.go` L32-43, `upstreamhashby/main.go`
//!   L35-61, `canary/main.go` L28-90, `sslpassthrough/main.go`, `rewrite/main.go`.
//!
//! **Validation and use see different values.** A validator checks the value with every space
//! removed (`ValidateRegex(…, true)`) or trimmed and lowercased (`ValidateOptions`), but the
//! annotation's consumer gets the raw value with each line trimmed (`normalizeString`): so
//! `affinity: " cookie"` is cookie affinity, and `session-cookie-name: "a b"` passes and names a
//! cookie `a b`. Booleans are parsed untrimmed (`" true"` fails).

use std::sync::OnceLock;

/// `BasicCharsRegex` (validators.go L68): `"^[/" + alphaNumericChars + "]*$"`, where
/// `alphaNumericChars` (L45) is ``\-\.\_\~a-zA-Z0-9\/:``: despite its name it holds
/// `- . _ ~ / :` too.
pub const BASIC_CHARS_REGEX: &str = r"^[/\-\.\_\~a-zA-Z0-9\/:]*$";

/// `URLIsValidRegex` (validators.go L65): `"^[" + alphaNumericChars + urlEnabledChars + "]*$"`,
/// with `urlEnabledChars = regexp.QuoteMeta(",:?&=")` (L48).
pub const URL_IS_VALID_REGEX: &str = r"^[\-\.\_\~a-zA-Z0-9\/:,:\?&=]*$";

/// `affinityCookieExpiresRegex` (sessionaffinity/main.go L154), as written: `(^0|-?[1-9]\d*$)`.
/// The anchors sit inside the alternation and Go's `MatchString` searches, so it accepts any
/// value that starts with `0` or ends with an optional `-` and digits (`0abc`, `abc123`, `1e3`).
/// `\d` is ASCII in Go; the regex is compiled without Unicode classes here for the same meaning.
pub const COOKIE_EXPIRES_REGEX: &str = r"(^0|-?[1-9]\d*$)";

/// `hashByRegex` (upstreamhashby/main.go L35-37): `^[A-Za-z0-9\-` + QuoteMeta("_${}") + `]*$`.
pub const HASH_BY_REGEX: &str = r"^[A-Za-z0-9\-_\$\{\}]*$";

/// `MaliciousRegex` (validators.go L84): a value matching it fails every `ValidateRegex`.
const MALICIOUS_REGEX: &str = r"\r|\n";

/// Whether `value` matches `affinityCookieExpiresRegex` as Go's `MatchString` does. The
/// controller checks the normalized value of expires and max-age against it a second time, after
/// the validator (sessionaffinity/main.go L207-217), without removing spaces: `36 00` passes the
/// expires validator (spaces removed) and is then dropped.
pub fn cookie_expires_regex_matches(value: &str) -> bool {
    compiled(COOKIE_EXPIRES_REGEX).is_match(value)
}

/// The characters of `alphaNumericChars` and `urlEnabledChars`: what a `session-cookie-path` may
/// hold (spaces aside).
pub fn is_url_valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/:,?&=".contains(c)
}

/// How the controller validates an annotation's value (`parser.AnnotationValidator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// `ValidateOptions(options, caseSensitive, trimSpace)` (validators.go L143-158): the value
    /// (trimmed if `trim_space`, lowercased if not `case_sensitive`) is one of `options`.
    Options {
        /// The accepted values, as the controller writes them.
        options: &'static [&'static str],
        /// `caseSensitive`: when false only the value is lowercased, so options are lowercase.
        case_sensitive: bool,
        /// `trimSpace`.
        trim_space: bool,
    },
    /// `ValidateRegex(regex, removeSpace)` (validators.go L111-125): the value, with every
    /// ASCII space removed if `remove_space`, matches `pattern` (Go's `MatchString`, a search)
    /// and not `MaliciousRegex` (`\r|\n`).
    Regex {
        /// The controller's regex, expanded from its string concatenation.
        pattern: &'static str,
        /// `removeSpace`.
        remove_space: bool,
    },
    /// `ValidateBool` (validators.go L161-164): Go's `strconv.ParseBool`.
    Bool,
    /// `ValidateInt` (validators.go L167-170): Go's `strconv.Atoi`.
    Int,
}

/// The family an annotation belongs to, for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Session affinity (`sessionaffinity/main.go`, group `"affinity"`).
    Affinity,
    /// What decides how the controller reaches or balances the backend.
    Upstream,
    /// Path matching (regex mode).
    Paths,
    /// Canary.
    Canary,
}

/// One annotation of the table.
#[derive(Debug)]
pub struct Annotation {
    /// The name, without prefix (`session-cookie-path`).
    pub name: &'static str,
    /// The controller's validator.
    pub validator: Validator,
    /// `Ingress` or `Location` (`parser.AnnotationScope`).
    pub scope: &'static str,
    /// What applies when it is unset or rejected, in a few words (messages quote it).
    pub default: &'static str,
    /// The controller's documentation string, shortened.
    pub doc: &'static str,
    /// Where it is declared: file and line in kubernetes/ingress-nginx.
    pub source: &'static str,
    /// Its family.
    pub group: Group,
}

/// Every annotation sticky-guard reads, as the controller declares it.
pub static TABLE: &[Annotation] = &[
    Annotation {
        name: "affinity",
        validator: Validator::Options {
            options: &["cookie"],
            case_sensitive: true,
            trim_space: true,
        },
        scope: "Ingress",
        default: "no affinity",
        doc: "Type of the affinity; the only affinity type available for NGINX is cookie",
        source: "internal/ingress/annotations/sessionaffinity/main.go L73-78",
        group: Group::Affinity,
    },
    Annotation {
        name: "affinity-mode",
        validator: Validator::Options {
            options: &["balanced", "persistent"],
            case_sensitive: true,
            trim_space: true,
        },
        scope: "Ingress",
        default: "balanced",
        doc: "balanced redistributes some sessions when the deployment scales; persistent never \
              rebalances",
        source: "internal/ingress/annotations/sessionaffinity/main.go L79-86",
        group: Group::Affinity,
    },
    Annotation {
        name: "affinity-canary-behavior",
        validator: Validator::Options {
            options: &["sticky", "legacy"],
            case_sensitive: true,
            trim_space: true,
        },
        scope: "Ingress",
        default: "sticky",
        doc: "sticky keeps a session on the canary once routed there; legacy restores the \
              original canary behaviour",
        source: "internal/ingress/annotations/sessionaffinity/main.go L87-94",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-name",
        validator: Validator::Regex {
            pattern: BASIC_CHARS_REGEX,
            remove_space: true,
        },
        scope: "Ingress",
        default: "INGRESSCOOKIE",
        doc: "Name of the cookie that will be used to route the requests",
        source: "internal/ingress/annotations/sessionaffinity/main.go L95-100",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-secure",
        validator: Validator::Bool,
        scope: "Ingress",
        default: "Secure if nginx ends TLS",
        doc: "Set the cookie as secure regardless the protocol of the incoming request",
        source: "internal/ingress/annotations/sessionaffinity/main.go L101-106",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-expires",
        validator: Validator::Regex {
            pattern: COOKIE_EXPIRES_REGEX,
            remove_space: true,
        },
        scope: "Ingress",
        default: "no Expires",
        doc: "Legacy version of session-cookie-max-age: an Expires attribute, in seconds from now",
        source: "internal/ingress/annotations/sessionaffinity/main.go L107-112, L154",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-max-age",
        validator: Validator::Regex {
            pattern: COOKIE_EXPIRES_REGEX,
            remove_space: false,
        },
        scope: "Ingress",
        default: "no Max-Age",
        doc: "Time until the cookie expires, in seconds (Max-Age)",
        source: "internal/ingress/annotations/sessionaffinity/main.go L113-118, L154",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-path",
        validator: Validator::Regex {
            pattern: URL_IS_VALID_REGEX,
            remove_space: true,
        },
        scope: "Ingress",
        default: "the Ingress path",
        doc: "Path that will be set on the cookie (required if your Ingress paths use regular \
              expressions)",
        source: "internal/ingress/annotations/sessionaffinity/main.go L119-124",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-domain",
        validator: Validator::Regex {
            pattern: BASIC_CHARS_REGEX,
            remove_space: true,
        },
        scope: "Ingress",
        default: "no Domain",
        doc: "Domain attribute of the sticky cookie",
        source: "internal/ingress/annotations/sessionaffinity/main.go L125-130",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-samesite",
        validator: Validator::Options {
            options: &["none", "lax", "strict"],
            case_sensitive: false,
            trim_space: true,
        },
        scope: "Ingress",
        default: "no SameSite",
        doc: "SameSite attribute of the cookie; browser accepted values are None, Lax and Strict",
        source: "internal/ingress/annotations/sessionaffinity/main.go L131-137",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-conditional-samesite-none",
        validator: Validator::Bool,
        scope: "Ingress",
        default: "false",
        doc: "Omit SameSite=None for browsers with SameSite incompatibilities",
        source: "internal/ingress/annotations/sessionaffinity/main.go L138-143",
        group: Group::Affinity,
    },
    Annotation {
        name: "session-cookie-change-on-failure",
        validator: Validator::Bool,
        scope: "Ingress",
        default: "false",
        doc: "When true, a failed upstream gets the session a new cookie; when false the cookie \
              keeps pointing at it",
        source: "internal/ingress/annotations/sessionaffinity/main.go L144-150",
        group: Group::Affinity,
    },
    Annotation {
        name: "service-upstream",
        validator: Validator::Bool,
        scope: "Ingress",
        default: "false (ConfigMap service-upstream)",
        doc: "Use the Service's Cluster IP and port instead of its endpoints as the upstream",
        source: "internal/ingress/annotations/serviceupstream/main.go L28-39",
        group: Group::Upstream,
    },
    Annotation {
        name: "load-balance",
        validator: Validator::Options {
            options: &[
                "round_robin",
                "chash",
                "chashsubset",
                "sticky_balanced",
                "sticky_persistent",
                "ewma",
            ],
            case_sensitive: true,
            trim_space: true,
        },
        scope: "Location",
        default: "round_robin (ConfigMap load-balance; controller.go L1108-1111)",
        doc: "Load balancing algorithm of the upstream",
        source: "internal/ingress/annotations/loadbalancing/main.go L32-43",
        group: Group::Upstream,
    },
    Annotation {
        name: "upstream-hash-by",
        validator: Validator::Regex {
            pattern: HASH_BY_REGEX,
            remove_space: true,
        },
        scope: "Location",
        default: "unset",
        doc: "Consistent hashing of requests on an nginx variable, text or both",
        source: "internal/ingress/annotations/upstreamhashby/main.go L35-49",
        group: Group::Upstream,
    },
    Annotation {
        name: "ssl-passthrough",
        validator: Validator::Bool,
        scope: "Ingress",
        default: "false",
        doc: "TLS is passed through to the backend (layer 4); every other annotation is ignored",
        source: "internal/ingress/annotations/sslpassthrough/main.go L28-41; \
                 docs/user-guide/nginx-configuration/annotations.md L598-600",
        group: Group::Upstream,
    },
    Annotation {
        name: "use-regex",
        validator: Validator::Bool,
        scope: "Location",
        default: "false",
        doc: "Paths of the host are regular expressions",
        source: "internal/ingress/annotations/rewrite/main.go L67-71",
        group: Group::Paths,
    },
    Annotation {
        name: "rewrite-target",
        validator: Validator::Regex {
            pattern: r"^/?[\-\.\_\~a-zA-Z0-9\/:\/\$]*$",
            remove_space: false,
        },
        scope: "Ingress",
        default: "unset",
        doc: "Target URI where the traffic must be redirected; turns regex mode on when it \
              differs from the path",
        source: "internal/ingress/annotations/rewrite/main.go L42-46; parser/validators.go L77 \
                 (RegexPathWithCapture)",
        group: Group::Paths,
    },
    Annotation {
        name: "canary",
        validator: Validator::Bool,
        scope: "Ingress",
        default: "false",
        doc: "The Ingress is a canary of the Ingress with the same host and path",
        source: "internal/ingress/annotations/canary/main.go L41-46",
        group: Group::Canary,
    },
];

/// The table entry of annotation `name` (without prefix).
pub fn find(name: &str) -> Option<&'static Annotation> {
    TABLE.iter().find(|a| a.name == name)
}

/// Whether `name` belongs to the session affinity family by its shape: `affinity`,
/// `affinity-*` and `session-cookie-*` (known or not; see [`find`] for the known ones).
pub fn is_affinity_family(name: &str) -> bool {
    name == "affinity" || name.starts_with("affinity-") || name.starts_with("session-cookie-")
}

/// What the controller makes of one annotation value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Unset, or set to the empty string (never validated; the getter reports it missing or
    /// invalid, and the default applies).
    Unset,
    /// Rejected by the validator (or, for a boolean, unparseable): the controller logs it and
    /// uses the default.
    Rejected {
        /// What the controller expects, for messages.
        expected: String,
    },
    /// Accepted: the value the consumer gets (each line trimmed, as `normalizeString` does).
    Accepted(String),
}

/// The value the controller uses for annotation `spec` set to `raw`.
pub fn read(spec: &Annotation, raw: Option<&str>) -> Value {
    let Some(raw) = raw.filter(|v| !v.is_empty()) else {
        return Value::Unset;
    };
    if let Some(expected) = validate(spec.validator, raw) {
        return Value::Rejected { expected };
    }
    match spec.validator {
        // parseBool / parseInt read the raw value; validation already proved it parses.
        Validator::Bool | Validator::Int => Value::Accepted(raw.to_string()),
        // ValidateOptions trims the whole value, but the consumer gets it with each line
        // trimmed (normalizeString): "cookie\n" passes and is used as "cookie\n", which is no
        // option at all, so the default applies.
        Validator::Options {
            options,
            case_sensitive,
            ..
        } => {
            let normalized = normalize(raw);
            let compared = if case_sensitive {
                normalized.clone()
            } else {
                normalized.to_lowercase()
            };
            if options.contains(&compared.as_str()) {
                Value::Accepted(normalized)
            } else {
                Value::Rejected {
                    expected: format!(
                        "{}, on one line",
                        validate(spec.validator, "\u{0}").unwrap_or_default()
                    ),
                }
            }
        }
        _ => {
            let normalized = normalize(raw);
            if normalized.is_empty() {
                // parseString: an empty result is invalid content.
                Value::Rejected {
                    expected: "a non-blank value".into(),
                }
            } else {
                Value::Accepted(normalized)
            }
        }
    }
}

/// `normalizeString` (parser/main.go L228-235): each line trimmed, joined with `\n`.
pub fn normalize(value: &str) -> String {
    value
        .split('\n')
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the controller's validator: `None` when `value` passes, else what it expects.
pub fn validate(validator: Validator, value: &str) -> Option<String> {
    let ok = match validator {
        Validator::Options {
            options,
            case_sensitive,
            trim_space,
        } => {
            let mut v = value.to_string();
            if trim_space {
                v = v.trim().to_string();
            }
            if !case_sensitive {
                v = v.to_lowercase();
            }
            options.contains(&v.as_str())
        }
        Validator::Regex {
            pattern,
            remove_space,
        } => {
            let v = if remove_space {
                value.replace(' ', "")
            } else {
                value.to_string()
            };
            compiled(pattern).is_match(&v) && !compiled(MALICIOUS_REGEX).is_match(&v)
        }
        Validator::Bool => go_parse_bool(value).is_some(),
        Validator::Int => go_atoi(value),
    };
    if ok {
        return None;
    }
    Some(match validator {
        Validator::Options { options, .. } => {
            let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
            match quoted.as_slice() {
                [one] => format!("{one} (the only value)"),
                [init @ .., last] => format!("{} or {last}", init.join(", ")),
                [] => String::new(),
            }
        }
        Validator::Regex { pattern, .. } if pattern == URL_IS_VALID_REGEX => {
            "only [A-Za-z0-9._~/:,?&=-]".into()
        }
        Validator::Regex { pattern, .. } if pattern == BASIC_CHARS_REGEX => {
            "only [A-Za-z0-9._~/:-]".into()
        }
        Validator::Regex { pattern, .. } if pattern == COOKIE_EXPIRES_REGEX => {
            "whole seconds, e.g. \"3600\"".into()
        }
        Validator::Regex { pattern, .. } => format!("a value matching `{pattern}`"),
        Validator::Bool => "\"true\" or \"false\"".into(),
        Validator::Int => "a whole number".into(),
    })
}

/// The controller's regexes, compiled once each (ASCII classes, as Go's RE2 has them).
fn compiled(pattern: &'static str) -> &'static regex::Regex {
    static CACHE: OnceLock<Vec<(&'static str, regex::Regex)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        let mut patterns: Vec<&'static str> = TABLE
            .iter()
            .filter_map(|a| match a.validator {
                Validator::Regex { pattern, .. } => Some(pattern),
                _ => None,
            })
            .collect();
        patterns.push(MALICIOUS_REGEX);
        patterns.sort_unstable();
        patterns.dedup();
        patterns
            .into_iter()
            .filter_map(|p| {
                regex::RegexBuilder::new(p)
                    .unicode(false)
                    .build()
                    .ok()
                    .map(|r| (p, r))
            })
            .collect()
    });
    // Every pattern of the table compiles (tested); an unknown one matches nothing.
    static NOTHING: OnceLock<regex::Regex> = OnceLock::new();
    all.iter()
        .find(|(p, _)| *p == pattern)
        .map(|(_, r)| r)
        .unwrap_or_else(|| {
            NOTHING.get_or_init(|| regex::Regex::new(r"[^\s\S]").expect("literal regex"))
        })
}

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn go_parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.Atoi`: an optional sign and ASCII digits, within 64 bits.
fn go_atoi(value: &str) -> bool {
    value.parse::<i64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(name: &str, value: &str) -> bool {
        let spec = find(name).expect("in the table");
        matches!(read(spec, Some(value)), Value::Accepted(_))
    }

    #[test]
    fn every_regex_of_the_table_compiles() {
        for a in TABLE {
            if let Validator::Regex { pattern, .. } = a.validator {
                assert!(
                    regex::RegexBuilder::new(pattern)
                        .unicode(false)
                        .build()
                        .is_ok(),
                    "{pattern}"
                );
            }
        }
    }

    /// validators.go L65: URLIsValidRegex = "^[" + alphaNumericChars + urlEnabledChars + "]*$",
    /// used for session-cookie-path with removeSpace (sessionaffinity/main.go L119-124).
    #[test]
    fn url_is_valid_regex_for_session_cookie_path() {
        for ok in [
            "/",
            "/mysite",
            "/a-b.c_d~e/f:g",
            "/a,b",
            "/a?b=c&d",
            "/my site",
        ] {
            assert!(accepts("session-cookie-path", ok), "{ok}");
        }
        for bad in [
            "/a+b", "/~user!", "/it's", "/a@b", "/a%20b", "/a(b)", "/a;b", "/a\nb",
        ] {
            assert!(!accepts("session-cookie-path", bad), "{bad}");
        }
    }

    /// validators.go L68: BasicCharsRegex = "^[/" + alphaNumericChars + "]*$", used for
    /// session-cookie-name and -domain with removeSpace (sessionaffinity/main.go L95-100,
    /// L125-130).
    #[test]
    fn basic_chars_regex_for_cookie_name_and_domain() {
        for ok in [
            "INGRESSCOOKIE",
            "route",
            "ns/name",
            "a:b",
            "a.b-c_d~e",
            "a b",
        ] {
            assert!(accepts("session-cookie-name", ok), "{ok}");
        }
        for bad in ["SESS$ID", "a,b", "a=b", "a;b", "a@b", "ä"] {
            assert!(!accepts("session-cookie-name", bad), "{bad}");
        }
        assert!(accepts("session-cookie-domain", ".example.com"));
        assert!(!accepts("session-cookie-domain", "*.example.com"));
    }

    /// sessionaffinity/main.go L154: `(^0|-?[1-9]\d*$)`, searched (Go MatchString), with
    /// removeSpace for expires (L107-112) and without for max-age (L113-118).
    #[test]
    fn expires_regex_as_written() {
        for ok in [
            "0", "3600", "-1", "0abc", "00", "abc123", "1e3", "1.5", "+5", " 3600",
        ] {
            assert!(accepts("session-cookie-max-age", ok), "{ok}");
        }
        for bad in ["-0", "abc", "1h", "36 00", "3600s"] {
            assert!(!accepts("session-cookie-max-age", bad), "{bad}");
        }
        // expires removes spaces before matching: "36 00" passes there.
        assert!(accepts("session-cookie-expires", "36 00"));
        assert!(!accepts("session-cookie-expires", "1h"));
    }

    /// validators.go L143-158: ValidateOptions trims, and lowercases the value only when not
    /// case-sensitive; the consumer gets the trimmed value (parser/main.go L228-235).
    #[test]
    fn options_trim_and_case() {
        let affinity = find("affinity").unwrap();
        assert_eq!(
            read(affinity, Some(" cookie")),
            Value::Accepted("cookie".into())
        );
        assert!(!accepts("affinity", "Cookie"), "case-sensitive");
        assert!(accepts("session-cookie-samesite", " None "));
        assert!(accepts("session-cookie-samesite", "LAX"));
        assert!(!accepts("session-cookie-samesite", "Lax;"));
        assert!(accepts("affinity-mode", "persistent"));
        assert!(!accepts("affinity-mode", "always"));
    }

    /// validators.go L161-164: strconv.ParseBool, untrimmed.
    #[test]
    fn bools_are_go_parse_bool_untrimmed() {
        for ok in ["true", "True", "TRUE", "1", "t", "false", "0", "F"] {
            assert!(accepts("session-cookie-secure", ok), "{ok}");
        }
        for bad in ["yes", " true", "on", "tRue"] {
            assert!(!accepts("session-cookie-secure", bad), "{bad}");
        }
    }

    /// validators.go L241: empty values are not validated; the getter reports them, and the
    /// default applies.
    /// validators.go L145 trims the whole value; parser/main.go L228-235 keeps the line break:
    /// the controller's affinity type becomes "cookie\n", which is not cookie.
    #[test]
    fn an_option_with_a_line_break_passes_but_is_no_option() {
        let affinity = find("affinity").unwrap();
        assert_eq!(validate(affinity.validator, "cookie\n"), None);
        assert_eq!(
            read(affinity, Some("cookie\n")),
            Value::Rejected {
                expected: "\"cookie\" (the only value), on one line".into()
            }
        );
    }

    #[test]
    fn empty_is_unset() {
        assert_eq!(read(find("affinity").unwrap(), Some("")), Value::Unset);
        assert_eq!(read(find("affinity").unwrap(), None), Value::Unset);
    }

    #[test]
    fn no_partitioned_annotation() {
        // `git grep -i partitioned` finds nothing in ingress-nginx or its lua-resty-cookie.
        assert!(find("session-cookie-partitioned").is_none());
    }

    #[test]
    fn url_valid_chars_match_the_regex() {
        for c in (0u8..128).map(char::from) {
            let in_regex = compiled(URL_IS_VALID_REGEX).is_match(&c.to_string());
            assert_eq!(is_url_valid_char(c), in_regex, "{c:?}");
        }
    }
}

//! The two value conversions of `migrate`: a `RegularExpression` path match that is exactly a
//! prefix match, and an ingress-nginx cookie lifetime in seconds as a Gateway API Duration.

/// The literal path prefix that the regex `value` matches exactly, or `None`.
///
/// The shapes that qualify (P is a literal path: it starts with `/`, does not end with `/`,
/// and holds no regex metacharacter `. ^ $ * + ? ( ) [ ] { } | \` once `\`-escapes of
/// punctuation are undone; `\d`, `\w` and other letter escapes are classes, so not literal):
///
/// | regex                      | where it comes from                                    | prefix |
/// |----------------------------|--------------------------------------------------------|--------|
/// | `P(/\|$)(.*)`              | the ingress-nginx rewrite idiom, written by hand       | `P`    |
/// | `(?i)P(/\|$)(.*).*`        | the same, as ingress2gateway v1.1.0 wraps it¹          | `P`    |
/// | `P(/.*)?`, `(?i)P(/.*)?.*` | the other common "P and below" idiom                   | `P`    |
/// | `/.*`, `(?i)/.*`           | the Ingress path `/` (ingress2gateway wraps `/` so¹)   | `/`    |
///
/// ¹ ingress2gateway v1.1.0 `pkg/i2gw/providers/ingressnginx/regex.go` L74-81: every path match
/// of an HTTPRoute whose hostname has a `use-regex`/`rewrite-target` Ingress becomes
/// `RegularExpression` `"(?i)" + path + ".*"`.
///
/// Each matches `P` itself and `P/…` and nothing else, whether the regex is anchored at both
/// ends (Envoy's full match) or only at the start (nginx's `location ~*`), which is what
/// Gateway API's `PathPrefix` `P` matches (element-wise: `P/…` but not `Px`). A leading `^`
/// is allowed. Only the case differs: ingress-nginx matches regex locations case-insensitively
/// (`~*`), the `(?i)` says so too, and `PathPrefix` is case-sensitive; the caller reports that.
///
/// Not converted: `(?i)P.*` for a P without a trailing `/` (it also matches `Px`: `/p.*`
/// matches `/px`), `(?i)P/.*` (it does not match `P` itself, while `PathPrefix` `P/` does),
/// and every other regex.
pub fn prefix_of_regex(value: &str) -> Option<String> {
    let body = value.strip_prefix("(?i)").unwrap_or(value);
    let body = body.strip_prefix('^').unwrap_or(body);
    if body == "/.*" {
        return Some("/".into());
    }
    for tail in ["(/|$)(.*)", "(/.*)?"] {
        for end in ["", ".*"] {
            let suffix = format!("{tail}{end}");
            if let Some(literal) = body.strip_suffix(&suffix)
                && let Some(prefix) = literal_path(literal)
            {
                return Some(prefix);
            }
        }
    }
    None
}

/// `text` as a literal path: `\`-escapes of punctuation undone; `None` when it holds a regex
/// metacharacter or a class escape, does not start with `/`, or ends with `/`.
fn literal_path(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if escaped.is_ascii_punctuation() => out.push(escaped),
                _ => return None,
            },
            '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => {
                return None;
            }
            c => out.push(c),
        }
    }
    (out.starts_with('/') && !out.ends_with('/')).then_some(out)
}

/// `seconds` as a Gateway API Duration (GEP-2257; Gateway API v1.6.1 `apis/v1/shared_types.go`
/// L876-880: `^([0-9]{1,5}(h|m|s|ms)){1,4}$`): `3600s` up to 99999 seconds, else hours, minutes
/// and seconds with the zero parts left out (`100000` → `27h46m40s`). `None` for 0 or for more
/// than 99999 hours, which the pattern cannot write.
pub fn duration(seconds: u64) -> Option<String> {
    if seconds == 0 {
        return None;
    }
    if seconds <= 99_999 {
        return Some(format!("{seconds}s"));
    }
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 99_999 {
        return None;
    }
    let mut out = format!("{hours}h");
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if rest > 0 {
        out.push_str(&format!("{rest}s"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_shapes_that_qualify() {
        for (regex, prefix) in [
            ("/app(/|$)(.*)", "/app"),
            ("(?i)/app(/|$)(.*).*", "/app"),
            ("^/app(/|$)(.*)", "/app"),
            ("/app(/.*)?", "/app"),
            ("(?i)/app(/.*)?.*", "/app"),
            ("/.*", "/"),
            ("(?i)/.*", "/"),
            (r"/v1\.0/api(/|$)(.*)", "/v1.0/api"),
            ("/a/b-c_d~e(/|$)(.*)", "/a/b-c_d~e"),
        ] {
            assert_eq!(prefix_of_regex(regex).as_deref(), Some(prefix), "{regex}");
        }
    }

    #[test]
    fn shapes_that_do_not_qualify() {
        for regex in [
            // ingress2gateway's wrap of a plain path: also matches `/px`.
            "(?i)/p.*",
            // Does not match `/p` itself.
            "(?i)/p/.*",
            "/app/(/|$)(.*)",
            // A metacharacter or a class in P.
            "/app.v1(/|$)(.*)",
            r"/api/v\d+(/|$)(.*)",
            "/api/v[0-9]+(/|$)(.*)",
            "/mysite(/|$)(.*)x",
            "app(/|$)(.*)",
            "(/|$)(.*)",
            "/api/v[0-9]+/users",
        ] {
            assert_eq!(prefix_of_regex(regex), None, "{regex}");
        }
    }

    #[test]
    fn durations_follow_gep_2257() {
        assert_eq!(duration(3600).as_deref(), Some("3600s"));
        assert_eq!(duration(99_999).as_deref(), Some("99999s"));
        assert_eq!(duration(100_000).as_deref(), Some("27h46m40s"));
        assert_eq!(duration(172_800).as_deref(), Some("48h"));
        assert_eq!(duration(360_060).as_deref(), Some("100h1m"));
        assert_eq!(
            duration(99_999 * 3600 + 59 * 60 + 59).as_deref(),
            Some("99999h59m59s")
        );
        assert_eq!(duration(100_000 * 3600), None);
        assert_eq!(duration(0), None);
        // Every answer fits the pattern: at most 5 digits per part, at most 4 parts.
        for seconds in [1, 59, 60, 99_999, 100_000, 3_600_000, 359_999_999] {
            let text = duration(seconds).unwrap();
            let parts: Vec<&str> = text
                .split(|c: char| c.is_ascii_alphabetic())
                .filter(|p| !p.is_empty())
                .collect();
            assert!(
                parts.iter().all(|p| p.len() <= 5) && parts.len() <= 4,
                "{text}"
            );
        }
    }
}

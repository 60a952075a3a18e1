//! Deriving a literal `session-cookie-path` from an Ingress's regex paths.
//!
//! ingress-nginx sets the sticky cookie's `Path` to `session-cookie-path` when it is set, and
//! otherwise to the Ingress path verbatim (`rootfs/etc/nginx/lua/balancer/sticky.lua`; `nginx.tmpl`
//! `set $location_path`). For a regex path like `/mysite(/|$)(.*)` that is a Path no browser ever
//! sends back. This module finds the literal path to use instead.
//!
//! **Goal**: the longest literal path `P` such that every request path the Ingress's paths can
//! match [path-matches](path_matches) `P` (RFC 6265 §5.1.4), so that the browser sends the cookie
//! on every page the Ingress serves.
//!
//! **Model of nginx**: a location regex is anchored at the start only (`~* "^<path>"`), so what
//! the regex matches may be followed by anything. The regex is parsed with `regex-syntax` (nginx
//! uses PCRE; PCRE-only syntax such as look-around, back-references or possessive quantifiers
//! does not parse, and the derivation then falls back to `/`).
//!
//! **Limits**, by design:
//! - nginx matches `~*` case-insensitively while browsers compare cookie paths
//!   case-sensitively. The path is derived from the path *as written*; requests spelled in
//!   another case (`/MySite/x` for `/mysite(/|$)(.*)`) are not covered.
//! - PCRE's `$` also matches before a final newline, which only a percent-encoded newline in a
//!   URL could produce; `$` is taken as the end of the request path.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// The result of [`derive()`]: the cookie path, and the paths that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    /// A literal absolute path: starts with `/`, and has no trailing `/` unless it is `/`.
    pub path: String,
    /// `(path, parser error)` for each path that did not parse as a regex; each of them
    /// contributed `/`.
    pub unparseable: Vec<(String, String)>,
}

/// Derives the `session-cookie-path` for an Ingress whose paths are matched in regex mode.
///
/// Steps (sticky-guard `RULES.md`, "Deriving session-cookie-path"):
/// 1. for each path, take its literal prefix with a real regex parser;
/// 2. keep the prefix if, in every request path the regex matches, the prefix is followed by
///    `/` or by the end of the request path (a `$` assertion, not merely the end of the pattern);
///    otherwise cut back to before its last `/` (see [`path_prefix`]);
/// 3. across all paths, take the longest common prefix that ends on a path-segment boundary;
///    `/` when nothing else is common, or when there are no paths;
/// 4. a path that does not parse contributes `/` and is listed in [`Derived::unparseable`].
///
/// In regex mode every path of the host is a regex, `pathType: Exact` included: ingress-nginx's
/// `buildLocation` checks regex mode before the path type.
///
/// Examples: `/mysite(/|$)(.*)` → `/mysite`; `/(.*)` → `/`; `/api/v[0-9]+/users` → `/api`;
/// `/shop/(cart|checkout)` → `/shop`; `{/a/b(/|$)(.*), /a/c(/|$)(.*)}` → `/a`.
pub fn derive<'a>(paths: impl IntoIterator<Item = &'a str>) -> Derived {
    let mut unparseable = Vec::new();
    let mut common: Option<String> = None;
    for path in paths {
        let prefix = match path_prefix(path) {
            Ok(prefix) => prefix,
            Err(e) => {
                unparseable.push((path.to_string(), e));
                "/".to_string()
            }
        };
        common = Some(match common {
            None => prefix,
            Some(c) => common_segments(&c, &prefix),
        });
    }
    Derived {
        path: common.unwrap_or_else(|| "/".to_string()),
        unparseable,
    }
}

/// Steps 1 and 2 of [`derive()`] for one regex path: the longest literal path that every request
/// path matched by `^<regex>` path-matches.
///
/// # Errors
/// The `regex-syntax` parser's message when `regex` does not parse.
pub fn path_prefix(regex: &str) -> Result<String, String> {
    if regex.len() > MEMO_MAX_PATH_BYTES {
        return parse_prefix(regex);
    }
    let memo = MEMO.get_or_init(|| {
        std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(MEMO_ENTRIES).unwrap_or(std::num::NonZeroUsize::MIN),
        ))
    });
    let lock = || memo.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = lock().get(regex) {
        return known.clone();
    }
    let prefix = parse_prefix(regex);
    lock().put(regex.to_string(), prefix.clone());
    prefix
}

/// How many regex paths [`path_prefix`] remembers (the most recently used): parsing one with
/// `regex-syntax` takes microseconds, and the webhook meets the same paths again and again (every
/// apply of an Ingress, every Ingress of a host). At most about 4096 × 256 bytes of keys.
pub const MEMO_ENTRIES: usize = 4096;

/// Longer regex paths are parsed every time rather than remembered.
pub const MEMO_MAX_PATH_BYTES: usize = 256;

/// The remembered results of [`path_prefix`], by regex path.
type Memo = std::sync::Mutex<lru::LruCache<String, Result<String, String>>>;
static MEMO: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();

/// [`path_prefix`] without the memo.
fn parse_prefix(regex: &str) -> Result<String, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(regex)
        .map_err(|e| first_line(&e.to_string()))?;
    let mut atoms = Vec::new();
    flatten(&hir, &mut atoms);

    let mut literal = String::new();
    let mut rest = atoms.as_slice();
    while let Some((atom, tail)) = rest.split_first() {
        match atom.kind() {
            // `^` before anything else is what nginx adds anyway.
            HirKind::Look(Look::Start) if literal.is_empty() => {}
            HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
                Ok(s) => literal.push_str(s),
                Err(_) => break,
            },
            _ => break,
        }
        rest = tail;
    }

    // A character that cannot stand in a cookie Path as browsers send request paths ends the
    // literal there, as if a regex followed it.
    let cut_at = literal.find(|c: char| !is_cookie_path_char(c));
    if let Some(i) = cut_at {
        literal.truncate(i);
    }
    let follow = first_of_concat(rest);
    let kept = if cut_at.is_none() && !follow.may_start_with_other && !follow.may_be_open {
        literal.as_str()
    } else {
        // Cut back to before the last `/`: every match starts with `<cut>/`.
        literal.rfind('/').map_or("", |i| &literal[..i])
    };
    Ok(normalize(kept))
}

/// Characters a derived cookie path may hold: those ingress-nginx accepts in
/// `session-cookie-path` (`URLIsValidRegex`, `internal/ingress/annotations/parser/validators.go`
/// L65: letters, digits and `- . _ ~ / : , ? & =`; a value with any other character is dropped
/// and the cookie Path falls back to the regex), less `?`, which never appears in a request
/// path. Everything else is cut: regex metacharacters a literal may still hold when escaped
/// (`\(`, `\*`, `\$`, `\+`), `! ' @ %`, `;` and whitespace, and non-ASCII (browsers compare
/// the percent-encoded request path, nginx matches the decoded one). So a derived path always
/// passes the controller's validator.
fn is_cookie_path_char(c: char) -> bool {
    c != '?' && crate::controllers::nginx::annotations::is_url_valid_char(c)
}

/// RFC 6265 §5.1.4: whether a cookie with Path `cookie_path` is sent for `request_path`.
///
/// True when they are equal; or `cookie_path` is a prefix of `request_path` and either ends in
/// `/` or is followed by `/` in `request_path`.
pub fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// Step 3 of [`derive()`] for paths that are already literal: the longest common prefix of
/// `paths` that ends on a path-segment boundary, without a trailing `/`; `/` when nothing else
/// is common, or when there are no paths. Each path is taken as absolute (one that is not counts
/// as `/`).
///
/// Example: `{/a/b, /a/c/, /a}` → `/a`; `{/app, /apple}` → `/`.
pub fn common_path<'a>(paths: impl IntoIterator<Item = &'a str>) -> String {
    paths
        .into_iter()
        .map(normalize)
        .reduce(|a, b| common_segments(&a, &b))
        .unwrap_or_else(|| "/".to_string())
}

/// The longest common prefix of two absolute paths that ends on a segment boundary.
fn common_segments(a: &str, b: &str) -> String {
    let common: Vec<&str> = a
        .split('/')
        .zip(b.split('/'))
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    normalize(&common.join("/"))
}

/// An absolute path without trailing `/` (except `/` itself); anything not absolute becomes `/`.
fn normalize(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        "/".to_string()
    }
}

/// Splits concatenations and capture groups into a flat sequence of items.
fn flatten<'h>(hir: &'h Hir, out: &mut Vec<&'h Hir>) {
    match hir.kind() {
        HirKind::Concat(items) => items.iter().for_each(|h| flatten(h, out)),
        HirKind::Capture(capture) => flatten(&capture.sub, out),
        HirKind::Empty => {}
        _ => out.push(hir),
    }
}

/// What can come first in a match of a sub-pattern, seen from the position where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Follow {
    /// Some match starts with a character other than `/`.
    may_start_with_other: bool,
    /// Some match is empty without asserting the end of the request path, so whatever comes
    /// next (more pattern, or anything at all after the pattern) decides.
    may_be_open: bool,
}

const OPEN: Follow = Follow {
    may_start_with_other: false,
    may_be_open: true,
};
const CLOSED: Follow = Follow {
    may_start_with_other: false,
    may_be_open: false,
};

fn first_of_concat(items: &[&Hir]) -> Follow {
    let mut acc = OPEN;
    for item in items {
        if !acc.may_be_open {
            break;
        }
        let f = first(item);
        acc.may_start_with_other |= f.may_start_with_other;
        acc.may_be_open = f.may_be_open;
    }
    acc
}

fn first(hir: &Hir) -> Follow {
    match hir.kind() {
        HirKind::Empty => OPEN,
        HirKind::Literal(lit) => Follow {
            may_start_with_other: lit.0.first().is_some_and(|&b| b != b'/'),
            may_be_open: lit.0.is_empty(),
        },
        HirKind::Class(class) => Follow {
            may_start_with_other: class_has_other_than_slash(class),
            may_be_open: false,
        },
        // Only the end of the request path closes; other assertions (multi-line `$`, word
        // boundaries, `^`) match empty and let what follows decide.
        HirKind::Look(Look::End) => CLOSED,
        HirKind::Look(_) => OPEN,
        HirKind::Repetition(rep) if rep.max == Some(0) => OPEN,
        HirKind::Repetition(rep) => {
            let f = first(&rep.sub);
            Follow {
                may_start_with_other: f.may_start_with_other,
                may_be_open: f.may_be_open || rep.min == 0,
            }
        }
        HirKind::Capture(capture) => first(&capture.sub),
        HirKind::Concat(items) => first_of_concat(&items.iter().collect::<Vec<_>>()),
        HirKind::Alternation(alternatives) => {
            alternatives.iter().map(first).fold(CLOSED, |a, f| Follow {
                may_start_with_other: a.may_start_with_other || f.may_start_with_other,
                may_be_open: a.may_be_open || f.may_be_open,
            })
        }
    }
}

fn class_has_other_than_slash(class: &Class) -> bool {
    match class {
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .any(|r| (r.start(), r.end()) != ('/', '/')),
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .any(|r| (r.start(), r.end()) != (b'/', b'/')),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| s.lines().next().unwrap_or(s))
        .trim()
        .to_string()
}

/// Whether a cookie with Path `cookie_path` is sent with every request path the regex (matched
/// whole, as Envoy's `safe_regex` and RE2 full matches do) can match: `Some(false)` when some
/// request path the regex matches is certainly not path-matched (RFC 6265 §5.1.4),
/// `Some(true)` when every one is, `None` when the regex does not parse, is too large to decide
/// (a DFA over 1 MiB), or matches no request path.
///
/// Decided on the regex's anchored DFA (`regex-automata`), walked along `cookie_path` byte by
/// byte: a match that ends before the cookie path does (other than the empty string), or one
/// that continues with another byte (after the leading `/`, as request paths all start with
/// `/`), is missed; once the cookie path is consumed, a match may only end or go on with `/`
/// (any byte, when the cookie path ends with `/`).
pub fn covers(cookie_path: &str, regex: &str) -> Option<bool> {
    use regex_automata::dfa::{Automaton, dense};
    use regex_automata::{Anchored, Input};
    if cookie_path == "/" {
        return Some(true);
    }
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .dfa_size_limit(Some(1 << 20))
                .determinize_size_limit(Some(1 << 20)),
        )
        .build(&format!("^(?:{regex})$"))
        .ok()?;
    let ends_here = |state| dfa.is_match_state(dfa.next_eoi_state(state));
    let live = |state| !dfa.is_dead_state(state) && !dfa.is_quit_state(state);
    let mut state = dfa
        .start_state_forward(&Input::new("").anchored(Anchored::Yes))
        .ok()?;
    let mut reachable = false;
    for (i, expected) in cookie_path.bytes().enumerate() {
        if i > 0 && ends_here(state) {
            return Some(false);
        }
        for byte in 0..=u8::MAX {
            if byte != expected && live(dfa.next_state(state, byte)) {
                if i > 0 {
                    return Some(false);
                }
                reachable = true;
            }
        }
        state = dfa.next_state(state, expected);
        if !live(state) {
            // Nothing the regex matches starts with the cookie path: every request path it
            // matches (if any) is missed.
            return reachable.then_some(false);
        }
    }
    if cookie_path.ends_with('/') {
        return Some(true);
    }
    let other = (0..=u8::MAX).any(|byte| byte != b'/' && live(dfa.next_state(state, byte)));
    Some(!other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex_paths(paths: &[&'static str]) -> Derived {
        derive(paths.iter().copied())
    }

    #[test]
    fn common_path_of_literal_paths() {
        assert_eq!(common_path(["/a/b", "/a/c/", "/a"]), "/a");
        assert_eq!(common_path(["/app", "/apple"]), "/");
        assert_eq!(common_path(["/shop/"]), "/shop");
        assert_eq!(common_path([]), "/");
        assert_eq!(common_path(["relative"]), "/");
    }

    #[test]
    fn catalogue_examples() {
        assert_eq!(path_prefix("/mysite(/|$)(.*)").unwrap(), "/mysite");
        assert_eq!(path_prefix("/(.*)").unwrap(), "/");
        assert_eq!(path_prefix("/api/v[0-9]+/users").unwrap(), "/api");
        assert_eq!(path_prefix("/shop/(cart|checkout)").unwrap(), "/shop");
        assert_eq!(regex_paths(&["/a/b(/|$)(.*)", "/a/c(/|$)(.*)"]).path, "/a");
    }

    #[test]
    fn open_endings_cut_back_to_the_last_slash() {
        // `.*` may continue the last segment: `/foo.*` matches `/foobar`.
        assert_eq!(path_prefix("/foo.*").unwrap(), "/");
        // `(/|)` may be empty with no `$`, so `/mysitefoo` matches too.
        assert_eq!(path_prefix("/mysite(/|)").unwrap(), "/");
        // A bare literal in regex mode is a prefix match: `^/app` matches `/application`.
        assert_eq!(path_prefix("/app").unwrap(), "/");
        assert_eq!(path_prefix("/app/v1").unwrap(), "/app");
    }

    #[test]
    fn closed_endings_keep_the_literal() {
        assert_eq!(path_prefix("/app(/.*)?$").unwrap(), "/app");
        assert_eq!(path_prefix("/app$").unwrap(), "/app");
        assert_eq!(path_prefix("/app/(.*)").unwrap(), "/app");
        assert_eq!(path_prefix("^/app(/|$)").unwrap(), "/app");
        assert_eq!(path_prefix("/app(?:/|$)(.*)").unwrap(), "/app");
        assert_eq!(path_prefix("/app(/+|$)").unwrap(), "/app");
    }

    #[test]
    fn escapes_and_classes() {
        // `\.` is a literal dot; `.` is any character.
        assert_eq!(path_prefix(r"/v1\.0(/|$)(.*)").unwrap(), "/v1.0");
        assert_eq!(path_prefix("/v1.0(/|$)(.*)").unwrap(), "/");
        // A class that can only be `/` is as good as `/`.
        assert_eq!(path_prefix("/app[/](.*)").unwrap(), "/app");
        assert_eq!(path_prefix("/app[/x](.*)").unwrap(), "/");
        assert_eq!(path_prefix("/(?i)app(/|$)").unwrap(), "/");
    }

    #[test]
    fn alternations() {
        // Top level: nginx's `^` binds to the first branch only; nothing literal is common.
        assert_eq!(path_prefix("/a|/b").unwrap(), "/");
        assert_eq!(path_prefix("/(a|b)/(.*)").unwrap(), "/");
        assert_eq!(path_prefix("/x/(a|b)(/|$)").unwrap(), "/x");
    }

    #[test]
    fn unparseable_paths_give_root_and_are_reported() {
        let d = regex_paths(&["/ok(/|$)(.*)", "/look(?=ahead)"]);
        assert_eq!(d.path, "/");
        assert_eq!(d.unparseable.len(), 1);
        assert_eq!(d.unparseable[0].0, "/look(?=ahead)");
        assert!(d.unparseable[0].1.contains("look-around"), "{:?}", d);
    }

    #[test]
    fn common_prefix_is_segment_aligned() {
        assert_eq!(regex_paths(&["/ab(/|$)", "/ac(/|$)"]).path, "/");
        assert_eq!(regex_paths(&["/a/b/c$", "/a/b$"]).path, "/a/b");
        assert_eq!(regex_paths(&[]).path, "/");
    }

    #[test]
    fn characters_a_cookie_path_cannot_hold_end_the_literal() {
        assert_eq!(path_prefix(r"/a\(b/(.*)").unwrap(), "/");
        assert_eq!(path_prefix(r"/x/a\(b/(.*)").unwrap(), "/x");
        assert_eq!(path_prefix(r"/x/a\$(/|$)").unwrap(), "/x");
        assert_eq!(path_prefix("/x/a b(/|$)").unwrap(), "/x");
        assert_eq!(path_prefix("/x/a;b(/|$)").unwrap(), "/x");
        assert_eq!(path_prefix("/x/café(/|$)").unwrap(), "/x");
        assert_eq!(path_prefix("/x/v1.0(/|$)").unwrap(), "/x");
        assert_eq!(path_prefix(r"/x/v1\.0(/|$)").unwrap(), "/x/v1.0");
        // Accepted in URLs but not by ingress-nginx's URLIsValidRegex (validators.go L65): a
        // derived path must pass the controller's validator or the controller drops it.
        for c in ["!", "'", "@", "%", "+"] {
            let regex = format!(r"/x/a\{c}b(/|$)");
            assert_eq!(path_prefix(&regex).unwrap(), "/x", "{regex}");
        }
        assert_eq!(path_prefix("/x/a,b:c=d&e(/|$)").unwrap(), "/x/a,b:c=d&e");
    }

    #[test]
    fn rfc6265_path_match() {
        assert!(path_matches("/mysite", "/mysite"));
        assert!(path_matches("/mysite", "/mysite/x"));
        assert!(!path_matches("/mysite", "/mysitefoo"));
        assert!(path_matches("/", "/anything"));
        assert!(path_matches("/a/", "/a/b"));
        assert!(!path_matches("/mysite(/|$)(.*)", "/mysite/x"));
    }

    #[test]
    fn coverage_of_cookie_paths() {
        for (path, regex, expected) in [
            ("/mysite(", "/mysite(/|$)(.*)", Some(false)),
            ("/api/v[0-9]+/users", "/api/v[0-9]+/users", Some(false)),
            ("^/api", "^/api/.*", Some(false)),
            ("/foo", "/foo/.*", Some(true)),
            ("/p1/p2", "/p1/p2/*/p3", Some(true)),
            ("/app", "/app", Some(true)),
            ("/app", "/apple/.*", Some(false)),
            ("/", "/anything/.*", Some(true)),
            ("/a", "(", None),
            // Envoy Gateway keeps regex text in the Path when no segment holds a `*`.
            ("/foo/.+", "/foo/.+", Some(false)),
            (
                "/api/v[0-9a-f]+/users",
                "/api/v[0-9a-f]+/users",
                Some(false),
            ),
            ("/api/v1.+", "/api/v1.+", Some(false)),
            // An alternative that matches no request path (the empty string) is no miss.
            ("/foo", "/foo/.*|", Some(true)),
            ("/foo", "/foo/.*|/bar/.*", Some(false)),
            ("/foo", "/foo", Some(true)),
            ("/foo", "/foo(/.*)?", Some(true)),
            ("/foo", "/foo.*", Some(false)),
            ("/foo/", "/foo/.*", Some(true)),
        ] {
            assert_eq!(covers(path, regex), expected, "{path} for {regex}");
        }
    }
}

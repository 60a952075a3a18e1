//! Property: for every request path that nginx's regex `^<path>` matches (case-sensitive here),
//! the browser sends the cookie whose Path is the derived `session-cookie-path`
//! (RFC 6265 §5.1.4 path-match).
//!
//! nginx is modelled with the `regex` crate on `"^" + path`, exactly as ingress-nginx writes the
//! location (`~* "^<path>"`), so a top-level alternation binds `^` to its first branch only. The
//! end of the regex is not anchored: candidates are strings generated from the pattern (by
//! proptest, with `$`/`^` assertions dropped, since its generator refuses them) followed by
//! arbitrary suffixes, and only those the real regex matches are kept.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
use std::sync::atomic::{AtomicUsize, Ordering};
use sticky_guard::cookie_path::{derive, path_matches};

/// The pattern with every look-around assertion replaced by the empty regex.
fn without_assertions(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Look(_) => Hir::empty(),
        HirKind::Concat(items) => Hir::concat(items.iter().map(without_assertions).collect()),
        HirKind::Alternation(items) => {
            Hir::alternation(items.iter().map(without_assertions).collect())
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(without_assertions(&rep.sub)),
            ..rep.clone()
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            sub: Box::new(without_assertions(&cap.sub)),
            ..cap.clone()
        }),
        _ => hir.clone(),
    }
}

/// Checks the property for `pattern` on `candidates`; returns how many candidates nginx matched.
fn check(pattern: &str, candidates: &[String]) -> Result<usize, TestCaseError> {
    let derived = derive([pattern]);
    prop_assert!(derived.path.starts_with('/'), "{pattern} → {derived:?}");
    let Ok(nginx) = regex::Regex::new(&format!("^{pattern}")) else {
        // Not a regex we can model (PCRE-only or broken): the derivation must fall back to `/`,
        // which every request path path-matches.
        prop_assert_eq!(&derived.path, "/", "{}", pattern);
        prop_assert_eq!(derived.unparseable.len(), 1);
        return Ok(0);
    };
    let mut matched = 0;
    for request in candidates {
        if !request.starts_with('/') || !nginx.is_match(request) {
            continue;
        }
        matched += 1;
        prop_assert!(
            path_matches(&derived.path, request),
            "pattern {:?} derived {:?}, but request {:?} (matched by nginx) would not carry the cookie",
            pattern,
            derived.path,
            request
        );
    }
    Ok(matched)
}

/// Strings from `pattern` (assertions dropped), each followed by several suffixes.
fn candidates(pattern: &str) -> BoxedStrategy<Vec<String>> {
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else {
        return Just(Vec::new()).boxed();
    };
    let Ok(strings) = proptest::string::string_regex_parsed(&without_assertions(&hir)) else {
        return Just(Vec::new()).boxed();
    };
    proptest::collection::vec((strings, "[a-zA-Z0-9/.]{0,4}"), 1..12)
        .prop_map(|pairs| {
            let mut out = Vec::new();
            for (s, suffix) in pairs {
                for tail in ["", "/", "x", "/x", &suffix] {
                    out.push(format!("{s}{tail}"));
                }
            }
            out
        })
        .boxed()
}

/// Regex paths as people write them, and as they go wrong.
fn pattern() -> impl Strategy<Value = String> {
    let head =
        prop::collection::vec("[a-z]{1,4}", 0..3).prop_map(|segs| format!("/{}", segs.join("/")));
    let piece = prop::sample::select(vec![
        "(/|$)",
        "(/|)",
        "(.*)",
        "(/.*)?",
        "$",
        "/",
        "(cart|checkout)",
        "[0-9]+",
        r"\.",
        ".",
        "[/]",
        "[a/]",
        "(a|/b)",
        "(/x)?",
        "(/|$)(.*)",
        "x",
        "-",
        "(?:/|$)",
        "/?",
        "(?i)ab",
        r"\d*",
        "[^/]+",
        "(/[a-z]+)*",
        "(/|$)?",
        "/+",
        "(v1|v2)/",
        "(?=x)",
        r"\1",
        "(",
        "a++",
        "|/other",
    ]);
    (head, prop::collection::vec(piece, 0..4)).prop_map(|(head, pieces)| {
        let mut pattern = head;
        for p in pieces {
            pattern.push_str(p);
        }
        pattern
    })
}

#[test]
fn derived_cookie_path_covers_every_matched_request() {
    let matched = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = pattern().prop_flat_map(|p| (Just(p.clone()), candidates(&p)));
    let result = runner.run(&strategy, |(pattern, candidates)| {
        matched.fetch_add(check(&pattern, &candidates)?, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The property must have been exercised on many real matches, not vacuously.
    assert!(matched.load(Ordering::Relaxed) > 5000, "{matched:?}");
}

#[test]
fn adversarial_paths() {
    let requests: Vec<String> = [
        "/",
        "/mysite",
        "/mysite/",
        "/mysite/x",
        "/mysitefoo",
        "/mysite.x",
        "/api/v1/users",
        "/api/v12/users/7",
        "/api/vx/users",
        "/shop/cart",
        "/shop/cartoon",
        "/shop/checkout/pay",
        "/a/b",
        "/a/b/c",
        "/a/c",
        "/abc",
        "/v1.0/x",
        "/v1x0/x",
        "/file.txt",
        "/fileXtxt",
        "/other",
        "/x/other",
        "/foo",
        "/foobar",
        "/app",
        "/app/",
        "/application",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let patterns = [
        "/mysite(/|$)(.*)",
        "/mysite(/|)",
        "/(.*)",
        "/api/v[0-9]+/users",
        "/shop/(cart|checkout)",
        r"/v1\.0(/|$)(.*)",
        "/v1.0(/|$)(.*)",
        "/file.txt",
        "/a|/other",
        "/app(/.*)?$",
        "/app$",
        "/foo.*",
        "/a/(b|c)(/|$)",
        "/app[/](.*)",
        "/app[/x](.*)",
        "/x(?=y)",
        "/(a|b",
        "^/app(/|$)",
    ];
    let mut total = 0;
    for pattern in patterns {
        total += check(pattern, &requests).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(total > 20, "{total}");
}

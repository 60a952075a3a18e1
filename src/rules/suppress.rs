//! Suppressions, as kube-linter does them: an annotation
//! `ignore-check.sticky-guard.dev/<rule-id>: "<reason>"` on an object removes that rule's
//! findings on that object.
//!
//! One function, [`apply`], decides for the offline engine and the webhook alike; the caller
//! says which rules may be suppressed. `check`, `fix` and `audit` honour every suppression
//! (they are the author's own tooling); the webhook honours only the rules the policy lists
//! under `suppressible` ([`crate::policy::Policy::may_suppress`]), none by default, so that a
//! Deployment author cannot switch off a deny.
//!
//! An annotation is reported only when it matters: when it removed findings
//! ([`Suppressions::suppressed`]), when it named a rule that fired but may not be suppressed
//! here ([`Suppressions::refused`]), or when it names no rule of the catalogue
//! ([`Suppressions::unknown`]: it suppresses nothing). An annotation for a rule that did not
//! fire is silent. An empty reason still suppresses (kube-linter requires none); reports show
//! it as `(no reason given)`.

use super::Finding;
use std::collections::BTreeMap;

/// The annotation prefix of a suppression; the rule ID follows the `/`.
pub const PREFIX: &str = "ignore-check.sticky-guard.dev/";

/// What reports show for an empty reason.
pub const NO_REASON: &str = "(no reason given)";

/// One suppression annotation that named a rule of the catalogue which fired on the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The rule ID.
    pub rule: &'static str,
    /// The annotation's value, bounded ([`crate::echo::bounded`]); empty when none was given.
    pub reason: String,
    /// The findings of the rule it names: removed, or for [`Suppressions::refused`], copies
    /// of those kept.
    pub findings: Vec<Finding>,
}

impl Suppression {
    /// The annotation key: `ignore-check.sticky-guard.dev/<rule>`.
    pub fn annotation(&self) -> String {
        format!("{PREFIX}{}", self.rule)
    }

    /// The reason, or [`NO_REASON`] when it is empty.
    pub fn reason_text(&self) -> &str {
        if self.reason.trim().is_empty() {
            NO_REASON
        } else {
            &self.reason
        }
    }
}

/// A suppression annotation whose rule ID is not in the catalogue: it suppresses nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSuppression {
    /// The annotation key as written, bounded.
    pub annotation: String,
    /// "unknown rule ID `…`", with the closest known ID when one is close.
    pub message: String,
}

/// The findings of one object after its suppression annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suppressions {
    /// The findings that stand, in their order.
    pub kept: Vec<Finding>,
    /// Annotations that removed findings, in annotation key order.
    pub suppressed: Vec<Suppression>,
    /// Annotations naming a rule that fired but that `may_suppress` refused: its findings are
    /// kept.
    pub refused: Vec<Suppression>,
    /// Annotations naming no rule of the catalogue.
    pub unknown: Vec<UnknownSuppression>,
}

/// Applies the suppression annotations among `annotations` (an object's
/// `metadata.annotations`) to `findings`: a finding of a rule named by an annotation is
/// removed when `may_suppress(rule)`; otherwise it is kept and the annotation is listed as
/// refused. Never fails: every value is accepted as a reason.
pub fn apply(
    annotations: Option<&BTreeMap<String, String>>,
    findings: Vec<Finding>,
    may_suppress: impl Fn(&str) -> bool,
) -> Suppressions {
    let mut out = Suppressions::default();
    let Some(annotations) = annotations else {
        out.kept = findings;
        return out;
    };
    // Rule ID → reason, for the annotations that name a rule of the catalogue.
    let mut named: BTreeMap<&'static str, &str> = BTreeMap::new();
    for (key, value) in annotations.range::<str, _>((
        std::ops::Bound::Included(PREFIX),
        std::ops::Bound::Unbounded,
    )) {
        let Some(id) = key.strip_prefix(PREFIX) else {
            break; // past the prefix: the map is ordered
        };
        match super::find(id) {
            Some(rule) => {
                named.insert(rule.id, value);
            }
            None => out.unknown.push(UnknownSuppression {
                annotation: crate::echo::bounded(key),
                message: crate::policy::unknown_rule(id, &super::ids()),
            }),
        }
    }
    if named.is_empty() {
        out.kept = findings;
        return out;
    }
    let mut named_findings: BTreeMap<&'static str, (bool, Vec<Finding>)> = BTreeMap::new();
    for finding in findings {
        if !named.contains_key(finding.rule) {
            out.kept.push(finding);
            continue;
        }
        let allowed = may_suppress(finding.rule);
        let entry = named_findings
            .entry(finding.rule)
            .or_insert_with(|| (allowed, Vec::new()));
        if allowed {
            entry.1.push(finding);
        } else {
            entry.1.push(finding.clone());
            out.kept.push(finding);
        }
    }
    for (rule, (allowed, findings)) in named_findings {
        let suppression = Suppression {
            rule,
            reason: crate::echo::bounded(named[rule]),
            findings,
        };
        if allowed {
            out.suppressed.push(suppression);
        } else {
            out.refused.push(suppression);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Level, find};

    fn finding(rule: &str) -> Finding {
        Finding::deny(find(rule).expect("a rule of the catalogue"), "it fired")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn suppresses_only_the_named_rule_and_keeps_the_reason() {
        let annotations = map(&[
            ("nginx.ingress.kubernetes.io/affinity", "cookie"),
            (
                "ignore-check.sticky-guard.dev/cookie-path-for-regex",
                "legacy app, cookie path set at the app",
            ),
        ]);
        let findings = vec![
            finding("cookie-path-for-regex"),
            finding("regex-path-without-regex-mode"),
            finding("cookie-path-for-regex"),
        ];
        let out = apply(Some(&annotations), findings, |_| true);
        let kept: Vec<&str> = out.kept.iter().map(|f| f.rule).collect();
        assert_eq!(kept, ["regex-path-without-regex-mode"]);
        assert_eq!(
            out.suppressed,
            [Suppression {
                rule: "cookie-path-for-regex",
                reason: "legacy app, cookie path set at the app".into(),
                findings: vec![
                    finding("cookie-path-for-regex"),
                    finding("cookie-path-for-regex")
                ],
            }]
        );
        assert!(out.refused.is_empty() && out.unknown.is_empty());
        assert_eq!(
            out.suppressed[0].annotation(),
            "ignore-check.sticky-guard.dev/cookie-path-for-regex"
        );
    }

    #[test]
    fn a_rule_that_may_not_be_suppressed_keeps_its_findings() {
        let annotations = map(&[
            ("ignore-check.sticky-guard.dev/cookie-path-for-regex", "why"),
            (
                "ignore-check.sticky-guard.dev/regex-path-without-regex-mode",
                "ok",
            ),
        ]);
        let findings = vec![
            finding("cookie-path-for-regex"),
            finding("regex-path-without-regex-mode"),
        ];
        let out = apply(Some(&annotations), findings, |id| {
            id == "regex-path-without-regex-mode"
        });
        let kept: Vec<&str> = out.kept.iter().map(|f| f.rule).collect();
        assert_eq!(kept, ["cookie-path-for-regex"]);
        assert_eq!(out.kept[0].level, Level::Deny);
        assert_eq!(out.suppressed.len(), 1);
        assert_eq!(out.suppressed[0].rule, "regex-path-without-regex-mode");
        assert_eq!(out.refused.len(), 1);
        assert_eq!(out.refused[0].rule, "cookie-path-for-regex");
    }

    #[test]
    fn an_unknown_rule_id_is_reported_and_suppresses_nothing() {
        let annotations = map(&[("ignore-check.sticky-guard.dev/cookie-path-for-regexp", "x")]);
        let out = apply(
            Some(&annotations),
            vec![finding("cookie-path-for-regex")],
            |_| true,
        );
        assert_eq!(out.kept.len(), 1);
        assert!(out.suppressed.is_empty());
        assert_eq!(
            out.unknown,
            [UnknownSuppression {
                annotation: "ignore-check.sticky-guard.dev/cookie-path-for-regexp".into(),
                message: "unknown rule ID `cookie-path-for-regexp`; did you mean \
                          `cookie-path-for-regex`? (`sticky-guard rules` lists them all)"
                    .into(),
            }]
        );
        // An empty ID is unknown too.
        let annotations = map(&[("ignore-check.sticky-guard.dev/", "x")]);
        let out = apply(Some(&annotations), Vec::new(), |_| true);
        assert_eq!(out.unknown.len(), 1);
    }

    #[test]
    fn an_empty_reason_still_suppresses() {
        let annotations = map(&[("ignore-check.sticky-guard.dev/cookie-path-for-regex", " ")]);
        let out = apply(
            Some(&annotations),
            vec![finding("cookie-path-for-regex")],
            |_| true,
        );
        assert!(out.kept.is_empty());
        assert_eq!(out.suppressed[0].reason_text(), NO_REASON);
    }

    #[test]
    fn unused_or_missing_annotations_change_nothing_and_reasons_are_bounded() {
        let out = apply(None, vec![finding("cookie-path-for-regex")], |_| true);
        assert_eq!(out.kept.len(), 1);
        assert_eq!(
            out,
            Suppressions {
                kept: out.kept.clone(),
                ..Suppressions::default()
            }
        );
        let long = "x".repeat(10_000) + "\n\u{1b}[31m";
        let annotations = map(&[
            ("ignore-check.sticky-guard.dev/canary-affinity", "not fired"),
            (
                "ignore-check.sticky-guard.dev/cookie-path-for-regex",
                long.as_str(),
            ),
        ]);
        let out = apply(
            Some(&annotations),
            vec![finding("cookie-path-for-regex")],
            |_| true,
        );
        assert_eq!(
            out.suppressed.len(),
            1,
            "a rule that did not fire is silent"
        );
        let reason = &out.suppressed[0].reason;
        assert!(reason.chars().count() < 300, "{}", reason.len());
        assert!(!reason.chars().any(char::is_control));
    }
}

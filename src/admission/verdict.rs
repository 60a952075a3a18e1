//! Findings → verdict: allow or deny, JSONPatch, warnings.

use crate::rules::{Finding, Fix, Level, Phase, json_patch};
use json_patch::Patch;
use std::collections::BTreeMap;

/// The longest warning sticky-guard sends. The `admission.k8s.io/v1` reference for
/// `AdmissionResponse.warnings`: "Limit warnings to 120 characters if possible. Warnings over
/// 256 characters and large numbers of warnings may be truncated."
pub const MAX_WARNING_CHARS: usize = 120;

/// The answer to one admission request.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// On denial, the message for the user: every deny-level finding, each saying what to do
    /// (input repeated in it is bounded: [`crate::echo::bounded`]).
    pub denial: Option<String>,
    /// The JSONPatch to apply (mutating phase only; empty otherwise, and on denial).
    pub patch: Patch,
    /// Warnings, each at most [`MAX_WARNING_CHARS`] characters.
    pub warnings: Vec<String>,
    /// IDs of the rules that fired, without duplicates, in catalogue order of appearance.
    pub rules: Vec<&'static str>,
}

impl Verdict {
    /// Decides on `findings` for an object whose `metadata.annotations` are `annotations`
    /// (`None` when the object has no annotations mapping).
    ///
    /// - In [`Phase::Mutating`], fixable findings are fixed: their [`Fix`]es become one
    ///   JSONPatch, and a warning says what was changed. Deny-level findings without a fix deny.
    /// - In [`Phase::Validating`], every deny-level finding denies (a fixable one means the
    ///   mutation did not happen, e.g. the mutating webhook failed open).
    /// - Warn-level findings become warnings; a denial carries them too.
    pub fn decide(
        findings: &[Finding],
        phase: Phase,
        annotations: Option<&BTreeMap<String, String>>,
        subject: &str,
    ) -> Verdict {
        let mutating = phase == Phase::Mutating;
        let fixed = |f: &Finding| mutating && f.fix.is_some();
        let denials: Vec<String> = findings
            .iter()
            .filter(|f| f.level == Level::Deny && !fixed(f))
            .map(|f| match &f.field {
                Some(field) => format!("[{}] {field}: {}", f.rule, f.message),
                None => format!("[{}] {}", f.rule, f.message),
            })
            .collect();
        let mut rules: Vec<&'static str> = Vec::new();
        for f in findings {
            if !rules.contains(&f.rule) {
                rules.push(f.rule);
            }
        }
        let mut warnings: Vec<String> = findings
            .iter()
            .filter(|f| f.level == Level::Warn && !fixed(f))
            .map(|f| warning(f.rule, &f.message))
            .collect();

        if !denials.is_empty() {
            return Verdict {
                allowed: false,
                denial: Some(crate::echo::bounded(&format!(
                    "sticky-guard denied {subject}: {}",
                    denials.join("; ")
                ))),
                patch: Patch(Vec::new()),
                warnings,
                rules,
            };
        }
        let fixes: Vec<(&'static str, &Fix)> = findings
            .iter()
            .filter(|f| fixed(f))
            .filter_map(|f| f.fix.as_ref().map(|fix| (f.rule, fix)))
            .collect();
        let patch = json_patch(fixes.iter().map(|(_, fix)| *fix), annotations);
        if !patch.0.is_empty() {
            for (rule, fix) in &fixes {
                let done = match fix {
                    Fix::SetAnnotation { key, value } => format!("sticky-guard set {key}: {value}"),
                    Fix::SetBackendName { field, value, .. } => {
                        format!("sticky-guard set {field} to {value}")
                    }
                };
                warnings.push(warning(rule, &done));
            }
        }
        Verdict {
            allowed: true,
            denial: None,
            patch,
            warnings,
            rules,
        }
    }
}

impl Verdict {
    /// Adds a warning `<rule>: <message>` (bounded and cut as the others are), denial or not.
    pub fn warn(&mut self, rule: &str, message: &str) {
        self.warnings.push(warning(rule, message));
    }
}

/// `<rule>: <message>`, cut to [`MAX_WARNING_CHARS`] characters with `…` when longer.
fn warning(rule: &str, message: &str) -> String {
    let text = crate::echo::bounded(&format!("{rule}: {message}"));
    if text.chars().count() <= MAX_WARNING_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_WARNING_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_cut_to_120_characters() {
        let long = "é".repeat(300);
        let w = warning("some-rule", &long);
        assert_eq!(w.chars().count(), MAX_WARNING_CHARS);
        assert!(w.ends_with('…'));
        assert_eq!(warning("r", "short"), "r: short");
    }
}

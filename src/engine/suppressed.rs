//! Suppressions as the offline engine reports them: each `ignore-check.sticky-guard.dev/<rule>`
//! annotation that removed findings, located at the annotation, with the findings it removed
//! ([`ReportedSuppression`]), and each one naming no rule ([`ReportedUnknown`]). The decision
//! itself is [`crate::rules::suppress::apply`], shared with the webhook.

use super::Reported;
use super::manifests::{Document, Location};
use super::positions::Region;
use crate::objects::ObjectRef;
use crate::rules::suppress::{PREFIX, Suppression, UnknownSuppression};
use serde::Serialize;

/// One suppression annotation that removed findings on one object.
///
/// In JSON: `rule`, the object's `kind`, `namespace` and `name`, `file`, `document` (and
/// `item`), `line` (of the annotation), `region`, `annotation`, `reason` (as written, bounded;
/// empty when none was given), `webhook` (whether the webhook would honour it under the same
/// policy: the rule is listed under `suppressible`) and `findings` (the findings it removed,
/// shaped as `findings` of the report).
#[derive(Debug)]
pub struct ReportedSuppression {
    /// The rule ID.
    pub rule: &'static str,
    /// The object carrying the annotation.
    pub object: ObjectRef,
    /// Where the object came from.
    pub location: Location,
    /// The annotation key in the file.
    pub region: Region,
    /// The reason, bounded ([`crate::echo::bounded`]); empty when none was given.
    pub reason: String,
    /// Whether the webhook honours it too (the policy lists the rule as suppressible).
    pub webhook: bool,
    /// The findings it removed.
    pub findings: Vec<Reported>,
}

impl ReportedSuppression {
    /// The annotation key: `ignore-check.sticky-guard.dev/<rule>`.
    pub fn annotation(&self) -> String {
        format!("{PREFIX}{}", self.rule)
    }

    /// The reason, or `(no reason given)`.
    pub fn reason_text(&self) -> &str {
        if self.reason.trim().is_empty() {
            crate::rules::suppress::NO_REASON
        } else {
            &self.reason
        }
    }

    pub(super) fn new(
        suppression: Suppression,
        object: ObjectRef,
        document: &Document,
        webhook: bool,
        findings: Vec<Reported>,
    ) -> Self {
        let field = format!("metadata.annotations[\"{}\"]", suppression.annotation());
        ReportedSuppression {
            rule: suppression.rule,
            object,
            location: document.location.clone(),
            region: document.region(Some(&field)),
            reason: suppression.reason,
            webhook,
            findings,
        }
    }
}

impl Serialize for ReportedSuppression {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Json<'a> {
            rule: &'static str,
            #[serde(flatten)]
            object: &'a ObjectRef,
            file: &'a str,
            document: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            item: Option<usize>,
            line: usize,
            region: &'a Region,
            annotation: String,
            reason: &'a str,
            webhook: bool,
            findings: &'a [Reported],
        }
        Json {
            rule: self.rule,
            object: &self.object,
            file: &self.location.file,
            document: self.location.document,
            item: self.location.item,
            line: self.region.start_line,
            region: &self.region,
            annotation: self.annotation(),
            reason: &self.reason,
            webhook: self.webhook,
            findings: &self.findings,
        }
        .serialize(serializer)
    }
}

/// A suppression annotation naming no rule of the catalogue: it suppresses nothing.
///
/// In JSON: `annotation`, the object's `kind`, `namespace` and `name`, `file`, `document`
/// (and `item`), `line`, `region`, `message` ("unknown rule ID …", with a "did you mean").
#[derive(Debug)]
pub struct ReportedUnknown {
    /// The annotation key, bounded.
    pub annotation: String,
    /// The object carrying it.
    pub object: ObjectRef,
    /// Where the object came from.
    pub location: Location,
    /// The annotation key in the file (the document's first line when it cannot be found).
    pub region: Region,
    /// What is wrong.
    pub message: String,
}

impl ReportedUnknown {
    pub(super) fn new(unknown: UnknownSuppression, object: ObjectRef, document: &Document) -> Self {
        let field = format!("metadata.annotations[\"{}\"]", unknown.annotation);
        ReportedUnknown {
            region: document.region(Some(&field)),
            annotation: unknown.annotation,
            object,
            location: document.location.clone(),
            message: unknown.message,
        }
    }
}

impl Serialize for ReportedUnknown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Json<'a> {
            annotation: &'a str,
            #[serde(flatten)]
            object: &'a ObjectRef,
            file: &'a str,
            document: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            item: Option<usize>,
            line: usize,
            region: &'a Region,
            message: &'a str,
        }
        Json {
            annotation: &self.annotation,
            object: &self.object,
            file: &self.location.file,
            document: self.location.document,
            item: self.location.item,
            line: self.region.start_line,
            region: &self.region,
            message: &self.message,
        }
        .serialize(serializer)
    }
}

//! The offline engine: manifest bundle → decoded objects → cluster view → findings → report
//! (and, for `fix`, the patched documents). `check`, `fix` and `audit` are this module plus a
//! command line; the webhook runs the same rules through [`crate::admission`].
//!
//! `check` judges each object as written, as the validating webhook would see it if the
//! mutating webhook had not run: a fixable finding (one the mutating webhook would patch) is
//! reported at its rule's level and marked fixable. `fix` applies what the mutating webhook
//! would patch.
//!
//! Nothing is skipped silently: the [`Summary`] counts the objects judged and those skipped,
//! with why (another ingress class, an excluded namespace, a kind no rule judges), and names
//! duplicated objects (same kind, namespace and name): `kubectl apply` keeps the later one, so
//! the later one is what the other objects see; each is still judged on its own. Documents and
//! files that are not Kubernetes manifests (no `apiVersion` and `kind`, Helm templates) and
//! folders left out are listed in [`Report::skipped`] with why.
//!
//! Suppressions (`ignore-check.sticky-guard.dev/<rule>: "<reason>"`, see
//! [`crate::rules::suppress`]) are all honoured here: a suppressed finding leaves
//! [`Report::findings`] (and so the exit code) for [`Report::suppressed`], and `fix` does not
//! make its change.
//!
//! Nothing judged is not success: a run that read no Kubernetes object at all (an empty
//! folder, a wrong path) is an error unless the caller allows it ([`Report::finish_input`]).
//! Objects the policy leaves out (another ingress class, a kind no rule judges) were read:
//! they count, and the summary says why each was not judged.

pub mod edit;
pub mod manifests;
pub mod positions;
pub mod suppressed;

use crate::objects::{self, Object, ObjectRef};
use crate::policy::{Judged, Policy};
use crate::rules::{self, Context, Finding, Fix, Level, Phase};
use crate::view::offline::OfflineView;
use edit::Edit;
use manifests::{Document, InputError, Location, SkipReason, Skipped};
use positions::Region;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use suppressed::{ReportedSuppression, ReportedUnknown};

/// One finding, located, as `check` reports it.
///
/// In JSON (`-o json`) it is one flat object: `rule`, `level`, the object's `kind`,
/// `namespace` and `name`, then `file`, `document` (and `item` in a `kind: List`), `line` (the
/// line of the key at fault, as text and SARIF point at it: `region.startLine`),
/// `documentLine` (the document's first line), `region`, `field`, `message`, `hint`, `fixable`.
#[derive(Debug)]
pub struct Reported {
    /// Rule ID.
    pub rule: &'static str,
    /// `deny` or `warn`.
    pub level: Level,
    /// The object.
    pub object: ObjectRef,
    /// Where the object came from.
    pub location: Location,
    /// The key at fault in the file (the annotation, the path entry, the backend name), or
    /// the closest existing ancestor for a field a fix would add.
    pub region: Region,
    /// The offending field, if the rule names one.
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Whether `sticky-guard fix` (and the mutating webhook) fixes it.
    pub fixable: bool,
}

impl Serialize for Reported {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Json<'a> {
            rule: &'static str,
            level: Level,
            #[serde(flatten)]
            object: &'a ObjectRef,
            file: &'a str,
            document: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            item: Option<usize>,
            line: usize,
            document_line: usize,
            region: &'a Region,
            #[serde(skip_serializing_if = "Option::is_none")]
            field: Option<&'a str>,
            message: &'a str,
            hint: &'a str,
            fixable: bool,
        }
        Json {
            rule: self.rule,
            level: self.level,
            object: &self.object,
            file: &self.location.file,
            document: self.location.document,
            item: self.location.item,
            line: self.region.start_line,
            document_line: self.location.line,
            region: &self.region,
            field: self.field.as_deref(),
            message: &self.message,
            hint: &self.hint,
            fixable: self.fixable,
        }
        .serialize(serializer)
    }
}

/// What was judged and what was not, with why.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Objects judged (every rule that applies ran).
    pub judged: usize,
    /// Ingresses of a class the policy does not judge, by class (only the rules about other
    /// controllers' Ingresses ran).
    pub other_class: BTreeMap<String, usize>,
    /// Objects in an excluded namespace.
    pub excluded_namespace: usize,
    /// Documents of kinds no rule judges, by kind (`Deployment`, `BackendConfig`, …; those the
    /// rules read still count in the cluster view).
    pub kind_not_judged: BTreeMap<String, usize>,
    /// Objects given more than once (same kind, namespace and name): `Kind ns/name` with the
    /// locations, in order; the later one is what the other objects see.
    pub duplicates: Vec<String>,
}

impl Summary {
    /// Kubernetes objects read: those judged and those the policy left out (another ingress
    /// class, an excluded namespace, a kind no rule judges).
    pub fn objects(&self) -> usize {
        self.judged
            + self.other_class.values().sum::<usize>()
            + self.excluded_namespace
            + self.kind_not_judged.values().sum::<usize>()
    }

    /// One line: `judged 3 object(s); skipped 2: 1 Ingress of class gce, 1 Deployment`.
    pub fn line(&self) -> String {
        let mut skipped = Vec::new();
        for (class, n) in &self.other_class {
            skipped.push(format!(
                "{n} Ingress(es) of class {class} (only other-controller rules ran)"
            ));
        }
        if self.excluded_namespace > 0 {
            skipped.push(format!(
                "{} in excluded namespaces",
                self.excluded_namespace
            ));
        }
        for (kind, n) in &self.kind_not_judged {
            skipped.push(format!("{n} {kind} (kind not judged)"));
        }
        let total: usize = self.other_class.values().sum::<usize>()
            + self.excluded_namespace
            + self.kind_not_judged.values().sum::<usize>();
        let mut line = format!("judged {} object(s)", self.judged);
        if total > 0 {
            line.push_str(&format!("; skipped {total}: {}", skipped.join(", ")));
        }
        line
    }
}

/// The outcome of judging a set of documents.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Findings, in document order.
    pub findings: Vec<Reported>,
    /// Files and documents that could not be read or decoded.
    pub errors: Vec<InputError>,
    /// Documents, files and folders left out, with why, in path order (`-o json`: `file`,
    /// `document` and `line` for one document of a file, `reason`, `message`).
    pub skipped: Vec<Skipped>,
    /// What was judged and skipped.
    pub summary: Summary,
    /// Suppression annotations that removed findings, in document order; their findings do
    /// not count toward the exit code.
    pub suppressed: Vec<ReportedSuppression>,
    /// Suppression annotations that name no rule (they suppress nothing), in document order.
    #[serde(rename = "unknownSuppressions")]
    pub unknown_suppressions: Vec<ReportedUnknown>,
}

impl Report {
    /// 2 if there are errors, else 1 if there is a deny-level finding, else 0.
    pub fn exit_code(&self) -> u8 {
        self.exit_code_failing_on(Some(Level::Deny))
    }

    /// 2 if there are errors, else 1 if there is a finding at `fail_on` or above (`None`:
    /// findings never fail the run), else 0 (`--fail-on`). Suppressed findings
    /// ([`Report::suppressed`]) never count.
    pub fn exit_code_failing_on(&self, fail_on: Option<Level>) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if fail_on.is_some_and(|at| self.findings.iter().any(|f| f.level >= at)) {
            1
        } else {
            0
        }
    }

    /// Completes a report of files read from disk: adds what the reader left out
    /// (`skipped`: Helm templates, hidden folders, excluded paths) to what the engine left out
    /// (documents that are not Kubernetes objects), in path order; with `strict`, skipped
    /// documents and Helm templates become errors (hidden folders and exclusions stay the
    /// user's choice); and unless `allow_empty`, a run that read no Kubernetes object and met
    /// no other error gets the error "nothing to judge", located at `inputs` (the paths given).
    pub fn finish_input(
        &mut self,
        skipped: Vec<Skipped>,
        strict: bool,
        allow_empty: bool,
        inputs: &str,
    ) {
        self.skipped.extend(skipped);
        self.skipped
            .sort_by(|a, b| (&a.file, a.document).cmp(&(&b.file, b.document)));
        if strict {
            let (errors, kept) = std::mem::take(&mut self.skipped)
                .into_iter()
                .partition(|s| s.reason.is_about_input());
            self.skipped = kept;
            let errors: Vec<Skipped> = errors;
            self.errors.extend(errors.into_iter().map(|s| InputError {
                file: s.file,
                document: s.document,
                line: s.line,
                column: s.line.map(|_| 1),
                message: format!("{} (--strict)", s.message),
            }));
        }
        if !allow_empty && self.errors.is_empty() && self.summary.objects() == 0 {
            let skipped = match self.skipped.len() {
                0 => String::new(),
                n => format!(" ({n} skipped)"),
            };
            self.errors.push(InputError::file(
                inputs,
                format!(
                    "nothing to judge: no Kubernetes object found{skipped}; pass --allow-empty \
                     when that is expected (pre-commit over unrelated files)"
                ),
            ));
        }
    }
}

/// A decoded document.
struct Decoded {
    document: Document,
    /// `None` for a kind no rule judges, and for a document that is not a Kubernetes object.
    object: Option<Arc<Object>>,
    /// Not a Kubernetes object ([`is_kubernetes_object`]): listed in [`Report::skipped`], not
    /// counted in the summary; kept so that `fix` can write its file back whole.
    not_an_object: bool,
}

/// Whether a document is meant as a Kubernetes object: a mapping with both `apiVersion` and
/// `kind`. Other YAML (kustomization files, CI workflows, Helm values, `Chart.yaml`, which has
/// `apiVersion` but no `kind`) is skipped. A document with both keys is read as an object, so
/// a broken manifest (a `kind` that is a number) is still an error.
fn is_kubernetes_object(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.contains_key("apiVersion") && map.contains_key("kind"))
}

fn decode_all(
    documents: Vec<Document>,
    errors: &mut Vec<InputError>,
    skipped: &mut Vec<Skipped>,
) -> Vec<Decoded> {
    documents
        .into_iter()
        .filter_map(|document| {
            if !is_kubernetes_object(&document.value) {
                let reason = SkipReason::NotAKubernetesObject;
                skipped.push(Skipped {
                    file: document.location.file.clone(),
                    document: Some(document.location.document),
                    line: Some(document.location.line),
                    reason,
                    message: reason.message(),
                });
                return Some(Decoded {
                    document,
                    object: None,
                    not_an_object: true,
                });
            }
            match objects::decode(&document.value) {
                Ok(object) => Some(Decoded {
                    object: object.map(Arc::new),
                    document,
                    not_an_object: false,
                }),
                Err(e) => {
                    let message = match describe(&document.value) {
                        Some(what) => format!("{what}: {e}"),
                        None => e.to_string(),
                    };
                    let field = e.field();
                    errors.push(InputError::in_document(
                        &document,
                        field.as_deref(),
                        message,
                    ));
                    None
                }
            }
        })
        .collect()
}

/// The cluster view of a bundle: every decoded object, shared (a later duplicate replaces an
/// earlier one, as `kubectl apply` would).
fn offline_view(decoded: &[Decoded], mut view: OfflineView) -> OfflineView {
    for object in decoded.iter().filter_map(|d| d.object.clone()) {
        view.add_shared(object);
    }
    view
}

/// `Kind name` of a raw document, for error messages.
fn describe(value: &Value) -> Option<String> {
    let kind = value.get("kind")?.as_str()?;
    let name = value.pointer("/metadata/name").and_then(Value::as_str)?;
    Some(format!("{kind} {name}"))
}

/// Judges one file's text as `check` does (bytes in, report out): the manifest reader and the
/// rules without the file system. `file` names the text in locations.
pub fn check_text(file: &str, text: &str, policy: &Policy) -> Report {
    let (mut documents, mut errors) = (Vec::new(), Vec::new());
    manifests::parse(file, text, &mut documents, &mut errors);
    check_documents(documents, errors, policy)
}

/// Fixes one file's text as `fix` does (bytes in, fixed text and what remains out), without
/// the file system. `file` names the text in locations.
pub fn fix_text(file: &str, text: &str, policy: &Policy) -> Fixed {
    let (mut documents, mut errors) = (Vec::new(), Vec::new());
    manifests::parse(file, text, &mut documents, &mut errors);
    fix_documents(documents, errors, policy)
}

/// Judges documents as `check` does: the documents are part of a cluster.
pub fn check_documents(
    documents: Vec<Document>,
    errors: Vec<InputError>,
    policy: &Policy,
) -> Report {
    judge(documents, errors, policy, OfflineView::new())
}

/// Judges documents that are everything a cluster holds (`audit`): an object they do not hold
/// is absent.
pub fn audit_documents(
    documents: Vec<Document>,
    errors: Vec<InputError>,
    policy: &Policy,
) -> Report {
    judge(documents, errors, policy, OfflineView::complete())
}

fn judge(
    documents: Vec<Document>,
    mut errors: Vec<InputError>,
    policy: &Policy,
    view: OfflineView,
) -> Report {
    let mut skipped = Vec::new();
    let decoded = decode_all(documents, &mut errors, &mut skipped);
    let view = offline_view(&decoded, view);
    let context = Context {
        policy,
        view: &view,
        old: None,
    };
    let mut findings = Vec::new();
    let (mut suppressed, mut unknown_suppressions) = (Vec::new(), Vec::new());
    for Decoded {
        document, object, ..
    } in &decoded
    {
        let Some(object) = object else { continue };
        // Offline, every suppression is honoured: these are the author's own tools.
        let outcome = rules::suppress::apply(
            object.meta().annotations.as_ref(),
            rules::evaluate(object, Phase::Validating, &context),
            |_| true,
        );
        for finding in outcome.kept {
            findings.push(report(finding, object, document, policy));
        }
        for mut suppression in outcome.suppressed {
            let removed = std::mem::take(&mut suppression.findings)
                .into_iter()
                .map(|finding| report(finding, object, document, policy))
                .collect();
            let webhook = policy.may_suppress(suppression.rule);
            suppressed.push(ReportedSuppression::new(
                suppression,
                object.reference(),
                document,
                webhook,
                removed,
            ));
        }
        for unknown in outcome.unknown {
            unknown_suppressions.push(ReportedUnknown::new(unknown, object.reference(), document));
        }
    }
    let summary = summarize(&decoded, policy);
    Report {
        findings,
        errors,
        skipped,
        summary,
        suppressed,
        unknown_suppressions,
    }
}

fn summarize(decoded: &[Decoded], policy: &Policy) -> Summary {
    let mut summary = Summary::default();
    let mut seen: HashMap<ObjectRef, Vec<String>> = HashMap::new();
    let mut order = Vec::new();
    for Decoded {
        document,
        object,
        not_an_object,
    } in decoded
    {
        if *not_an_object {
            continue;
        }
        let Some(object) = object else {
            let kind = document
                .value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("(no kind)");
            *summary
                .kind_not_judged
                .entry(crate::echo::bounded(kind))
                .or_default() += 1;
            continue;
        };
        let mut reference = object.reference();
        reference.namespace = Some(objects::namespace_of(object.meta()).to_string());
        let locations = seen.entry(reference.clone()).or_default();
        if locations.is_empty() {
            order.push(reference);
        }
        locations.push(document.location.to_string());
        if object.kind().info().webhooks.is_none() {
            *summary
                .kind_not_judged
                .entry(object.kind().name().to_string())
                .or_default() += 1;
            continue;
        }
        match policy.judges(object) {
            Judged::Yes => summary.judged += 1,
            Judged::ExcludedNamespace => summary.excluded_namespace += 1,
            Judged::OtherClass => {
                let class = object
                    .as_ingress()
                    .and_then(|i| i.ingress_class())
                    .unwrap_or_default();
                *summary
                    .other_class
                    .entry(crate::echo::bounded(class))
                    .or_default() += 1;
            }
        }
    }
    for reference in order {
        if let Some(locations) = seen.get(&reference).filter(|l| l.len() > 1) {
            summary
                .duplicates
                .push(format!("{reference} at {}", locations.join(", ")));
        }
    }
    summary
}

fn report(finding: Finding, object: &Object, document: &Document, policy: &Policy) -> Reported {
    let hint = match &finding.fix {
        Some(Fix::SetAnnotation { key, value }) => {
            format!("`sticky-guard fix` sets {key}: \"{value}\" (so does the mutating webhook)")
        }
        Some(Fix::SetBackendName { field, value, .. }) => {
            format!("`sticky-guard fix` sets {field} to `{value}` (so does the mutating webhook)")
        }
        None => rules::find(finding.rule)
            .map(|r| r.fix.replace("<prefix>", &policy.annotation_prefix))
            .unwrap_or_default(),
    };
    Reported {
        rule: finding.rule,
        level: finding.level,
        object: object.reference(),
        location: document.location.clone(),
        region: document.region(finding.field.as_deref()),
        field: finding.field,
        message: finding.message,
        hint,
        fixable: finding.fix.is_some(),
    }
}

/// The result of `fix` on a set of documents.
pub struct Fixed {
    /// Every document, patched where a patch applies, in input order.
    pub documents: Vec<Value>,
    /// Each file read, in input order, before and after its fixes.
    pub files: Vec<FixedFile>,
    /// What is left after patching: findings no patch fixes.
    pub remaining: Report,
}

/// One file's text before and after `fix`.
#[derive(Clone, Debug)]
pub struct FixedFile {
    /// The file as given (`-` for stdin).
    pub file: String,
    /// Its text as read.
    pub before: Arc<str>,
    /// Its text with the fixes: minimal edits ([`edit`]); `before` itself when nothing needed
    /// fixing.
    pub after: String,
    /// Documents (1-based) that could not be edited in place and were written anew from their
    /// values (comments and formatting of those documents are lost).
    pub rewritten: Vec<usize>,
    /// Whether any document of the file is a Kubernetes object; a file that holds none
    /// (a kustomization file, Helm values) is left out of `fix`'s output stream.
    pub has_objects: bool,
}

/// Applies the mutating webhook's patches to each document, then judges the result. Files
/// come back with minimal edits ([`edit`]): only the documents that need a fix change, and in
/// them only the bytes the fix needs.
pub fn fix_documents(
    documents: Vec<Document>,
    mut errors: Vec<InputError>,
    policy: &Policy,
) -> Fixed {
    // What is skipped is found again when the patched documents are judged below.
    let decoded = decode_all(documents, &mut errors, &mut Vec::new());
    let view = offline_view(&decoded, OfflineView::new());
    let context = Context {
        policy,
        view: &view,
        old: None,
    };
    let mut out = Vec::new();
    let mut patched_documents = Vec::new();
    let mut files: Vec<(FixedFile, Vec<Edit>)> = Vec::new();
    for Decoded {
        mut document,
        object,
        not_an_object,
    } in decoded
    {
        let file_index = match (&document.source, files.last()) {
            (Some(_), Some((last, _))) if last.file == document.location.file => files.len() - 1,
            (Some(source), _) => {
                files.push((
                    FixedFile {
                        file: document.location.file.clone(),
                        before: source.clone(),
                        after: String::new(),
                        rewritten: Vec::new(),
                        has_objects: false,
                    },
                    Vec::new(),
                ));
                files.len() - 1
            }
            (None, _) => usize::MAX,
        };
        if !not_an_object && let Some((file, _)) = files.get_mut(file_index) {
            file.has_objects = true;
        }
        if let Some(object) = &object {
            // A suppressed finding is not fixed either (`check` reports the suppression).
            let findings = rules::suppress::apply(
                object.meta().annotations.as_ref(),
                rules::evaluate(object, Phase::Mutating, &context),
                |_| true,
            )
            .kept;
            let fixes: Vec<&Fix> = findings.iter().filter_map(|f| f.fix.as_ref()).collect();
            let patch =
                rules::json_patch(fixes.iter().copied(), object.meta().annotations.as_ref());
            if let Err(e) = json_patch::patch(&mut document.value, &patch) {
                errors.push(InputError::in_document(
                    &document,
                    None,
                    format!("the patch does not apply: {e}"),
                ));
            }
            if !patch.0.is_empty()
                && let Some((file, edits)) = files.get_mut(file_index)
            {
                let planned = document.positions.as_ref().and_then(|(positions, prefix)| {
                    edit::plan(&file.before, positions, prefix, &fixes)
                });
                match planned {
                    Some(planned) => edits.extend(planned),
                    None => file.rewritten.push(document.location.document),
                }
            }
        }
        out.push(document.value.clone());
        patched_documents.push(document);
    }
    let files = files
        .into_iter()
        .map(|(mut file, edits)| {
            file.after = if file.rewritten.is_empty() {
                edit::apply(&file.before, edits)
            } else {
                rewrite(&file, &patched_documents)
            };
            file
        })
        .collect();
    let remaining = check_documents(patched_documents, errors, policy);
    Fixed {
        documents: out,
        files,
        remaining,
    }
}

/// A file written anew from its (patched) documents, as multi-document YAML (as JSON for a
/// `.json` file): what `fix` does when a fix cannot be made as an edit.
fn rewrite(file: &FixedFile, documents: &[Document]) -> String {
    let mut text = String::new();
    let mut last_document = 0;
    for document in documents.iter().filter(|d| d.location.file == file.file) {
        // The items of a `kind: List` come back as separate documents.
        if document.location.document == last_document && document.location.item.is_none() {
            continue;
        }
        last_document = document.location.document;
        // A JSON file stays JSON (one document; YAML documents are written as YAML).
        if file.file.ends_with(".json") {
            if let Ok(json) = serde_json::to_string_pretty(&document.value) {
                text.push_str(&json);
                text.push('\n');
            }
        } else if let Ok(yaml) = serde_norway::to_string(&document.value) {
            text.push_str("---\n");
            text.push_str(&yaml);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: a, namespace: app}
spec: {ingressClassName: nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: g, namespace: app}
spec: {ingressClassName: gce}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: cloud.google.com/v1
kind: BackendConfig
metadata: {name: bc}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: a, namespace: app}
spec: {ingressClassName: nginx}
";

    #[test]
    fn the_summary_counts_judged_and_skipped_with_why() {
        let policy = Policy {
            excluded_namespaces: vec!["kube-system".into()],
            ..Policy::default()
        };
        let report = check_text("b.yaml", BUNDLE, &policy);
        let summary = &report.summary;
        assert_eq!(summary.judged, 2, "both copies of Ingress a");
        assert_eq!(summary.other_class.get("gce"), Some(&1));
        assert_eq!(summary.excluded_namespace, 1);
        assert_eq!(summary.kind_not_judged.get("Deployment"), Some(&1));
        assert_eq!(summary.kind_not_judged.get("BackendConfig"), Some(&1));
        assert_eq!(summary.duplicates, ["Ingress app/a at b.yaml#1, b.yaml#6"]);
        assert_eq!(
            summary.line(),
            "judged 2 object(s); skipped 4: 1 Ingress(es) of class gce (only other-controller \
             rules ran), 1 in excluded namespaces, 1 BackendConfig (kind not judged), \
             1 Deployment (kind not judged)"
        );
    }

    /// A document that cannot be edited is written anew: YAML for YAML files, JSON for JSON.
    #[test]
    fn a_rewritten_file_keeps_its_format() {
        let mut documents = Vec::new();
        manifests::parse(
            "a.json",
            "{\"kind\": \"ConfigMap\", \"apiVersion\": \"v1\"}",
            &mut documents,
            &mut Vec::new(),
        );
        let file = FixedFile {
            file: "a.json".into(),
            before: Arc::from(""),
            after: String::new(),
            rewritten: vec![1],
            has_objects: true,
        };
        assert_eq!(
            rewrite(&file, &documents),
            "{\n  \"kind\": \"ConfigMap\",\n  \"apiVersion\": \"v1\"\n}\n"
        );
        let yaml = FixedFile {
            file: "a.yaml".into(),
            ..file
        };
        for document in &mut documents {
            document.location.file = "a.yaml".into();
        }
        assert_eq!(
            rewrite(&yaml, &documents),
            "---\nkind: ConfigMap\napiVersion: v1\n"
        );
    }

    /// YAML that lacks apiVersion or kind is skipped (Chart.yaml has apiVersion only); a
    /// document with both is an object, so a broken one is still an error.
    #[test]
    fn documents_without_api_version_and_kind_are_skipped_not_errors() {
        let text = "apiVersion: v2\nname: chart\n---\nresources: [a.yaml]\n---\n- a list\n\
                    ---\napiVersion: v1\nkind: 5\n---\napiVersion: v1\nkind: Service\n\
                    metadata: {name: s}\n";
        let report = check_text("t.yaml", text, &Policy::default());
        let skipped: Vec<(Option<usize>, SkipReason)> = report
            .skipped
            .iter()
            .map(|s| (s.document, s.reason))
            .collect();
        let not_an_object = SkipReason::NotAKubernetesObject;
        assert_eq!(
            skipped,
            [
                (Some(1), not_an_object),
                (Some(2), not_an_object),
                (Some(3), not_an_object)
            ]
        );
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].document, Some(4));
        assert_eq!(report.errors[0].file, "t.yaml");
        assert_eq!(report.summary.judged, 1);
    }

    #[test]
    fn finish_input_applies_strict_and_nothing_to_judge() {
        let mut report = check_text("t.yaml", "name: x\n", &Policy::default());
        report.finish_input(
            vec![Skipped::path("t/.git", SkipReason::HiddenFolder)],
            true,
            false,
            "t",
        );
        assert_eq!(report.errors.len(), 1, "strict: the document is an error");
        assert_eq!(report.errors[0].position(), "t.yaml:1:1");
        assert_eq!(report.skipped.len(), 1, "the hidden folder stays skipped");
        assert_eq!(report.exit_code(), 2);
        let mut report = check_text("t.yaml", "", &Policy::default());
        report.finish_input(Vec::new(), false, true, "t.yaml");
        assert_eq!(report.exit_code(), 0, "--allow-empty");
        report.finish_input(Vec::new(), false, false, "t.yaml");
        assert_eq!(report.exit_code(), 2);
        assert!(report.errors[0].message.starts_with("nothing to judge"));
    }

    #[test]
    fn nothing_skipped_says_so_briefly() {
        let report = check_text(
            "b.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
            &Policy::default(),
        );
        assert_eq!(report.summary.line(), "judged 1 object(s)");
    }
}

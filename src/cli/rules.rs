//! `sticky-guard rules [ID]`: the catalogue, and a rule's long explanation.

use crate::policy::{Action, Policy};
use crate::rules::{CATALOGUE, Rule, find};
use clap::{Args, ValueEnum};
use std::process::ExitCode;

/// Arguments of `rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A rule ID: print its long explanation.
    pub id: Option<String>,
    /// Output format of the list.
    #[arg(long, short, value_enum, default_value_t = RulesOutput::Human)]
    pub output: RulesOutput,
    /// The policy that `--output match-conditions` generates the conditions for (the rules'
    /// actions, the annotation prefix and the ingress classes decide them); the other outputs
    /// show the catalogue's defaults.
    #[command(flatten)]
    pub policy: super::policy::PolicyArgs,
}

/// Formats of the rule list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RulesOutput {
    /// Aligned columns: ID, kind, default action, title.
    Human,
    /// The Markdown table in docs/rules.md; with an ID, the rule's page (`docs/rules/<id>.md`).
    Markdown,
    /// Every rule (or, with an ID, one) as JSON.
    Json,
    /// The `matchConditions` of every webhook, as a strategic-merge patch over
    /// `manifests/base/webhooks.yaml` (which carries them for the default policy).
    MatchConditions,
    /// The ingress-nginx annotation table (the controller's validators) as the Markdown table
    /// in docs/rules.md.
    Annotations,
    /// What the kinds table asks of `manifests/base/`: each webhook's `rules` and the view
    /// ClusterRole's `rules`, as YAML (a test keeps the manifests equal to them).
    Kinds,
}

/// Runs `rules`: the list in the chosen format, or one rule (`rules ID`) as text, a Markdown
/// page or JSON. The whole-catalogue outputs (match-conditions, annotations, kinds) take no ID.
pub fn run(args: RulesArgs) -> ExitCode {
    match &args.id {
        Some(id) => {
            let Some(rule) = find(id) else {
                return super::fail(crate::policy::unknown_rule(id, &crate::rules::ids()));
            };
            match args.output {
                RulesOutput::Human => super::out(&explain(rule)),
                RulesOutput::Markdown => super::out(&rule_page(rule)),
                RulesOutput::Json => match serde_json::to_string_pretty(&rule_json(rule)) {
                    Ok(text) => super::out(&format!("{text}\n")),
                    Err(e) => return super::fail(format!("cannot write JSON: {e}")),
                },
                other => {
                    return super::fail(format!(
                        "--output {} describes the whole catalogue: drop the rule ID",
                        other
                            .to_possible_value()
                            .map(|v| v.get_name().to_string())
                            .unwrap_or_default()
                    ));
                }
            }
            ExitCode::SUCCESS
        }
        None => {
            match args.output {
                RulesOutput::Human => super::out(&human_table()),
                RulesOutput::Markdown => super::out(&markdown_table()),
                RulesOutput::Json => {
                    let all: Vec<serde_json::Value> =
                        CATALOGUE.iter().map(|r| rule_json(r)).collect();
                    match serde_json::to_string_pretty(&all) {
                        Ok(text) => super::out(&format!("{text}\n")),
                        Err(e) => return super::fail(format!("cannot write JSON: {e}")),
                    }
                }
                RulesOutput::MatchConditions => match args.policy.load() {
                    Ok(policy) => super::out(&match_conditions_yaml(&policy)),
                    Err(e) => return super::fail(e.to_string()),
                },
                RulesOutput::Annotations => super::out(&annotations_table()),
                RulesOutput::Kinds => match kinds_yaml() {
                    Ok(text) => super::out(&text),
                    Err(e) => return super::fail(format!("cannot write YAML: {e}")),
                },
            }
            ExitCode::SUCCESS
        }
    }
}

/// One rule as JSON: `id`, `title`, `kinds`, `defaultAction`, `mutating`, `anyClass`,
/// `controllers` (which Ingress controllers it judges), `knows`,
/// `why`, `fix`, `source`, and `matchCondition` (CEL, under the default policy).
pub fn rule_json(rule: &Rule) -> serde_json::Value {
    let kinds: Vec<&str> = rule.check.kinds().iter().map(|k| k.name()).collect();
    serde_json::json!({
        "id": rule.id,
        "title": rule.title,
        "kinds": kinds,
        "defaultAction": default_action(rule),
        "mutating": rule.mutating,
        "anyClass": rule.controllers == crate::rules::Controllers::Any,
        "controllers": rule.controllers.text(),
        "knows": rule.knows,
        "why": rule.why,
        "fix": rule.fix,
        "source": rule.source,
        "matchCondition": (rule.match_condition)(&Policy::default()),
    })
}

/// One rule as a Markdown page (`docs/rules/<id>.md`).
pub fn rule_page(rule: &Rule) -> String {
    let webhooks = if rule.mutating {
        "mutating and validating"
    } else {
        "validating"
    };
    format!(
        "# `{id}`\n\n{title}.\n\n| | |\n|---|---|\n| judges | {kinds} |\n| default action | \
`{action}` |\n| webhooks | {webhooks} |\n| knows | {knows} |\n| exported as a CEL policy | \
{cel} |\n\n## Why\n\n{why}\n\n## What to do\n\n{fix}\n\n{policy}## Fires on\n\n```yaml\n{fires}```\n\n\
## Does not fire on\n\n```yaml\n{passes}```\n\n(The first document is the object judged; the \
others are the rest of its cluster. A test checks both.)\n\n## Source\n\n{source}\n\n## When \
the API server calls sticky-guard for it\n\nUnder the default policy (`sticky-guard rules --output \
match-conditions` gives it for another):\n\n```cel\n{condition}\n```\n",
        id = rule.id,
        title = rule.title,
        kinds = applies(rule),
        action = default_action(rule),
        knows = rule.knows,
        cel = crate::policies::summary(rule),
        // `<prefix>` would read as an HTML tag.
        why = rule.why.replace("<prefix>", "`<prefix>`"),
        fix = rule.fix.replace("<prefix>", "`<prefix>`"),
        policy = if rule.examples.policy.is_empty() {
            String::new()
        } else {
            format!(
                "## Under the policy\n\nThe examples are judged under this policy file \
(`--config`):\n\n```yaml\n{}```\n\n",
                rule.examples.policy
            )
        },
        fires = rule.examples.fires,
        passes = rule.examples.passes,
        source = rule.source,
        condition = (rule.match_condition)(&Policy::default()),
    )
}

/// The kinds the rule judges, with the Ingress controllers it judges for when it judges
/// Ingresses: `Ingress (ingress-nginx)`, `Service`, `Ingress, Service (ingress-nginx, Traefik's
/// NGINX provider)`.
pub fn applies(rule: &Rule) -> String {
    if rule.judges(crate::objects::kinds::Kind::Ingress) {
        format!("{} ({})", rule.kinds_text(), rule.controllers.text())
    } else {
        rule.kinds_text()
    }
}

/// `deny`, `warn` or `off`.
pub fn default_action(rule: &Rule) -> &'static str {
    match rule.default_action {
        Action::Deny => "deny",
        Action::Warn => "warn",
        Action::Off => "off",
    }
}

/// The long explanation of one rule, like a linter's `explain`.
pub fn explain(rule: &Rule) -> String {
    let condition = match (rule.match_condition)(&Policy::default()) {
        cel if cel == "true" => format!("every {} write", rule.kinds_text()),
        cel => format!("only when {cel} (under the default policy)"),
    };
    let phase = if rule.mutating {
        "mutating and validating webhooks (fixable findings are patched in the mutating webhook)"
    } else {
        "validating webhook"
    };
    let reads = if rule.reads.kinds.is_empty() {
        "nothing but the object".to_string()
    } else {
        let kinds: Vec<&str> = rule.reads.kinds.iter().map(|k| k.name()).collect();
        format!(
            "other {} from the cluster view{}",
            kinds.join(", "),
            if rule.reads.needs_view {
                " (skipped without one)"
            } else {
                ""
            }
        )
    };
    format!(
        "{id}: {title}\n\nJudges: {applies}\nKnows: {knows}\nCEL policy (`export policies`): {cel}\nReads: {reads}\nDefault action: {action}\nRuns in: {phase}\nAPI server calls sticky-guard for it: {condition}\n\nWhy:\n  {why}\n\nFix:\n  {fix}\n\nSource:\n  {source}\n",
        id = rule.id,
        title = rule.title,
        knows = rule.knows,
        cel = crate::policies::summary(rule),
        applies = applies(rule),
        action = default_action(rule),
        why = rule.why,
        fix = rule.fix,
        source = rule.source,
    )
}

/// The webhook `rules` and the view ClusterRole `rules` the kinds table asks of
/// `manifests/base/` (webhooks.yaml, rbac.yaml), as one YAML mapping.
///
/// # Errors
/// The YAML writer's, which a mapping of strings never produces.
pub fn kinds_yaml() -> Result<String, serde_norway::Error> {
    use crate::objects::kinds::KINDS;
    let webhook = |wants: fn(&crate::objects::kinds::Webhooks) -> bool| -> Vec<serde_json::Value> {
        KINDS
            .iter()
            .filter(|k| k.webhooks.as_ref().is_some_and(wants))
            .map(|k| k.webhook_rule())
            .collect()
    };
    let value = serde_json::json!({
        "mutatingWebhookRules": webhook(|w| w.mutate),
        "validatingWebhookRules": webhook(|w| w.validate),
        "viewClusterRoleRules": KINDS.iter().map(|k| k.view_rule()).collect::<Vec<_>>(),
    });
    serde_norway::to_string(&value)
}

/// The ingress-nginx annotation table ([`crate::controllers::nginx::annotations::TABLE`]) as
/// Markdown: name, the controller's validator, scope, default, source.
pub fn annotations_table() -> String {
    use crate::controllers::nginx::annotations::{TABLE, Validator};
    let mut out = String::from(
        "| annotation | validator (the controller's) | scope | when unset or rejected | source |\n\
         |---|---|---|---|---|\n",
    );
    for a in TABLE {
        let validator = match a.validator {
            Validator::Options {
                options,
                case_sensitive,
                trim_space,
            } => format!(
                "one of {}{}{}",
                options.join(", "),
                if case_sensitive { "" } else { ", any case" },
                if trim_space { ", trimmed" } else { "" }
            ),
            Validator::Regex {
                pattern,
                remove_space,
            } => format!(
                "`{}`{}",
                pattern.replace('|', "\\|"),
                if remove_space { ", spaces removed" } else { "" }
            ),
            Validator::Bool => "Go `strconv.ParseBool`".into(),
            Validator::Int => "Go `strconv.Atoi`".into(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` |\n",
            a.name, validator, a.scope, a.default, a.source
        ));
    }
    out
}

/// The `matchConditions` of every sticky-guard webhook under `policy`, generated from the
/// rules' [`Rule::match_condition`](crate::rules::Rule::match_condition) declarations (see
/// [`crate::rules::condition`]): two YAML documents, the MutatingWebhookConfiguration and the
/// ValidatingWebhookConfiguration `sticky-guard`, each listing its webhooks by name with their
/// `matchConditions` only. That is a strategic-merge patch (webhooks and matchConditions merge
/// by `name`) that kustomize applies over `manifests/base/webhooks.yaml`; the base carries the
/// output for the default policy, which a test keeps in step.
pub fn match_conditions_yaml(policy: &Policy) -> String {
    use crate::rules::condition::{MATCH_CONDITION_NAME, WEBHOOKS, expression};
    let mut out = String::from(
        "# The matchConditions of sticky-guard's webhooks, generated from the rule catalogue \
(`sticky-guard rules --output match-conditions`, with the policy flags or --config of the \
server). A strategic-merge patch over manifests/base/webhooks.yaml.\n",
    );
    for (mutating, kind) in [
        (true, "MutatingWebhookConfiguration"),
        (false, "ValidatingWebhookConfiguration"),
    ] {
        if !mutating {
            out.push_str("---\n");
        }
        out.push_str(&format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: sticky-guard\nwebhooks:\n"
        ));
        for webhook in WEBHOOKS.iter().filter(|w| w.mutating() == mutating) {
            out.push_str(&format!(
                "  - name: {}\n    matchConditions:\n      - name: {MATCH_CONDITION_NAME}\n        expression: >-\n          {}\n",
                webhook.name,
                expression(webhook, policy)
            ));
        }
    }
    out
}

/// `sticky-guard rules`: one line per rule, in columns (ID, kinds judged, default action,
/// title), each as wide as its widest entry, so every column starts at the same character.
pub fn human_table() -> String {
    let rows: Vec<[String; 4]> = CATALOGUE
        .iter()
        .map(|rule| {
            [
                rule.id.to_string(),
                rule.kinds_text(),
                default_action(rule).to_string(),
                rule.title.to_string(),
            ]
        })
        .collect();
    let width = |column: usize| {
        rows.iter()
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (id, kinds, action) = (width(0), width(1), width(2));
    rows.iter()
        .map(|[a, b, c, d]| format!("{a:<id$}  {b:<kinds$}  {c:<action$}  {d}\n"))
        .collect()
}

/// The rule table of docs/rules.md, generated from the catalogue.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| ID | on | default | webhooks | what | knows | CEL policy |\n|---|---|---|---|---|---|---|\n",
    );
    for rule in CATALOGUE {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            rule.id,
            applies(rule),
            default_action(rule),
            if rule.mutating {
                "mutate + validate"
            } else {
                "validate"
            },
            rule.title,
            rule.knows,
            crate::policies::summary(rule)
        ));
    }
    out
}

//! The webhooks' `matchConditions`: when a rule can fire, as CEL over the admission request's
//! `object` and `oldObject`, and which webhook each rule's condition goes to.
//!
//! kube-apiserver evaluates a webhook's `matchConditions` before it calls the webhook and skips
//! the call when one is false (Kubernetes 1.28+ on by default, GA in 1.30;
//! <https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#matching-requests-matchconditions>).
//! So a write that no rule can judge never waits for sticky-guard, and is never refused because
//! no replica answers.
//!
//! Each kind's writes go to two validating webhooks that partition them:
//! - `<kinds>.validate` (`failurePolicy: Fail`): the writes on which a rule whose action is
//!   `deny` can fire. It answers with every finding, warnings included.
//! - `<kinds>.warn` (`failurePolicy: Ignore`, the same `/validate` path): the other writes on
//!   which a `warn` rule can fire. A missed warning blocks nothing, so it fails open; its
//!   condition excludes what `.validate` takes, so no write is judged (and warned about) twice.
//!
//! The mutating webhooks (`failurePolicy: Ignore`) get the writes on which a rule that runs at
//! `/mutate` ([`Rule::mutating`]) can fire.
//!
//! A condition only has to be true whenever its rule can fire: a superset is safe and costs
//! a webhook call. `tests/match_conditions.rs` evaluates the generated conditions against every
//! fixture and variant, with a cluster view in which every rule that can fire does, and drops
//! each disjunct in turn to see a finding hidden.
//!
//! Cost: every condition is a fixed number of `has`, `in`, `startsWith` and `matches` per
//! annotation, per path and per backendRef, so it is linear in the object. Kubernetes limits the
//! runtime cost of one expression (`PerCallLimit`, 1,000,000 cost units); a test bounds the
//! generated conditions on an Ingress with 5,000 paths (see `tests/match_conditions.rs`).

use super::{CATALOGUE, Rule};
use crate::cel;
use crate::objects::kinds::Kind;
use crate::policy::{Action, Policy};

/// The name of the one matchCondition on each of sticky-guard's webhooks.
pub const MATCH_CONDITION_NAME: &str = "a-sticky-guard-rule-can-fire";

/// What a webhook answers for, which decides which rules' conditions it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answers {
    /// `/mutate`: the rules that run in the mutating webhook ([`Rule::mutating`]).
    Mutations,
    /// `/validate`, failing closed: the rules whose action is `deny`.
    Denials,
    /// `/validate`, failing open: the rules whose action is `warn`, on writes that
    /// [`Answers::Denials`] does not take.
    Warnings,
}

/// One webhook of `manifests/base/webhooks.yaml`.
#[derive(Clone, Copy, Debug)]
pub struct Webhook {
    /// Its name, unique within its configuration.
    pub name: &'static str,
    /// The kinds it receives.
    pub kinds: &'static [Kind],
    /// What it answers for.
    pub answers: Answers,
}

impl Webhook {
    /// Whether it belongs to the MutatingWebhookConfiguration (else the validating one).
    pub fn mutating(&self) -> bool {
        self.answers == Answers::Mutations
    }

    /// Its `failurePolicy`: `Fail` only for [`Answers::Denials`].
    pub fn failure_policy(&self) -> &'static str {
        match self.answers {
            Answers::Denials => "Fail",
            Answers::Mutations | Answers::Warnings => "Ignore",
        }
    }
}

const ROUTES: &[Kind] = &[Kind::HttpRoute, Kind::GrpcRoute];

/// sticky-guard's webhooks, in the order of `manifests/base/webhooks.yaml`.
pub static WEBHOOKS: &[Webhook] = &[
    Webhook {
        name: "ingresses.mutate.sticky-guard.dev",
        kinds: &[Kind::Ingress],
        answers: Answers::Mutations,
    },
    Webhook {
        name: "gateway-routes.mutate.sticky-guard.dev",
        kinds: ROUTES,
        answers: Answers::Mutations,
    },
    Webhook {
        name: "ingresses.validate.sticky-guard.dev",
        kinds: &[Kind::Ingress],
        answers: Answers::Denials,
    },
    Webhook {
        name: "ingresses.warn.sticky-guard.dev",
        kinds: &[Kind::Ingress],
        answers: Answers::Warnings,
    },
    Webhook {
        name: "services.validate.sticky-guard.dev",
        kinds: &[Kind::Service],
        answers: Answers::Denials,
    },
    Webhook {
        name: "services.warn.sticky-guard.dev",
        kinds: &[Kind::Service],
        answers: Answers::Warnings,
    },
    Webhook {
        name: "gateway-routes.validate.sticky-guard.dev",
        kinds: ROUTES,
        answers: Answers::Denials,
    },
    Webhook {
        name: "gateway-routes.warn.sticky-guard.dev",
        kinds: ROUTES,
        answers: Answers::Warnings,
    },
];

/// The rules whose conditions `webhook` carries under `policy`, in catalogue order: rules that
/// judge one of its kinds, are not `off`, and match what it answers for.
pub fn rules_of(webhook: &Webhook, policy: &Policy) -> Vec<&'static Rule> {
    CATALOGUE
        .iter()
        .copied()
        .filter(|rule| webhook.kinds.iter().any(|k| rule.judges(*k)))
        .filter(|rule| {
            let action = policy.action(rule.id, rule.default_action);
            match webhook.answers {
                Answers::Mutations => rule.mutating && action != Action::Off,
                Answers::Denials => action == Action::Deny,
                Answers::Warnings => action == Action::Warn,
            }
        })
        .collect()
}

/// The disjunction of `rules`' conditions under `policy`, each parenthesised; `false` for none.
///
/// The disjuncts are ordered by what they iterate ([`iterates`]): those that read fields only
/// first, then those that go through the annotations, then those that go through the paths or
/// route rules (catalogue order within each). `||` short-circuits, so on an Ingress of a judged
/// class a cheap disjunct (`client-ip-affinity-behind-ingress` holds for all of them) decides
/// before any path is read, and the cost does not grow with the paths' length.
pub fn any_of(rules: &[&Rule], policy: &Policy) -> String {
    if rules.is_empty() {
        return "false".into();
    }
    let mut parts: Vec<String> = rules
        .iter()
        .map(|rule| format!("({})", (rule.match_condition)(policy)))
        .collect();
    parts.sort_by_key(|part| iterates(part));
    parts.join(" || ")
}

/// How much of an object a condition goes through: 0 for fields only, 1 for the annotations
/// (or any other map or list but the spec's rules), 2 for the spec's rules (an Ingress's paths, a
/// route's rules).
pub fn iterates(condition: &str) -> u8 {
    if condition.contains("object.spec.rules.exists(") {
        2
    } else if condition.contains(".exists(") {
        1
    } else {
        0
    }
}

/// The matchCondition expression of `webhook` under `policy`. For [`Answers::Warnings`]:
/// `!(<the denials' condition>) && (<the warnings' condition>)`.
pub fn expression(webhook: &Webhook, policy: &Policy) -> String {
    let own = any_of(&rules_of(webhook, policy), policy);
    if webhook.answers != Answers::Warnings {
        return own;
    }
    let denials = WEBHOOKS
        .iter()
        .find(|w| w.answers == Answers::Denials && w.kinds == webhook.kinds)
        .map(|w| any_of(&rules_of(w, policy), policy))
        .unwrap_or_else(|| "false".into());
    format!("!({denials}) && ({own})")
}

// Building blocks of the rules' conditions.

/// `<prefix>/<name>` is set on the object.
pub fn nginx_annotation(policy: &Policy, name: &str) -> String {
    cel::has_annotation(&format!("{}/{name}", policy.annotation_prefix))
}

/// Some annotation under `<prefix>/` starts with one of `names` (`affinity`,
/// `session-cookie-`).
pub fn nginx_annotation_starting(policy: &Policy, names: &[&str]) -> String {
    let tests: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "k.startsWith({})",
                cel::lit(&format!("{}/{n}", policy.annotation_prefix))
            )
        })
        .collect();
    cel::some_annotation(&tests.join(" || "))
}

/// An Ingress of a class the policy judges (or of none).
pub fn judged(policy: &Policy) -> String {
    cel::ingress_class_judged(&policy.ingress_classes)
}

/// An Ingress of a judged class with `<prefix>/affinity` set: a superset of cookie affinity
/// ([`crate::controllers::nginx::Annotations::cookie_affinity`]).
pub fn sticky(policy: &Policy) -> String {
    format!(
        "{} && {}",
        judged(policy),
        nginx_annotation(policy, crate::controllers::nginx::annotation::AFFINITY)
    )
}

/// A Service becoming `ExternalName`: created as one, or changed to one from another type.
pub const BECOMES_EXTERNAL_NAME: &str = "has(object.spec.type) && object.spec.type == \
'ExternalName' && !(oldObject != null && has(oldObject.spec.type) && oldObject.spec.type == \
'ExternalName')";

/// CEL over the string `name`: it is not a DNS-1035 label (what
/// [`crate::objects::is_dns1035_label`] accepts: 1-63 characters of `[-a-z0-9]`, starting with a
/// letter, not ending with `-`). The length test comes first, so the regex never reads more
/// than 63 characters (its cost is the string's length times the regex's).
pub fn not_dns1035_label(name: &str) -> String {
    format!("(size({name}) > 63 || {name} == '' || {name}.matches('[^-a-z0-9]|^[^a-z]|-$'))")
}

/// `for_ingress` on an Ingress, `for_service` on a Service.
pub fn ingress_or_service(for_ingress: &str, for_service: &str) -> String {
    format!(
        "{} ? ({for_ingress}) : ({for_service})",
        cel::kind_is("Ingress")
    )
}

/// An annotation key whose name (after the last `/`) is of ingress-nginx's session affinity
/// family ([`crate::controllers::nginx::annotation::is_affinity_family`]), under any prefix.
pub const AFFINITY_FAMILY_KEY: &str =
    "k.matches('/(affinity|affinity-[^/]*|session-cookie-[^/]*)$')";

/// Traefik's sticky cookie annotations on a Service: `service.sticky.cookie` or any
/// `service.sticky.cookie.*` key (a superset of [`crate::controllers::traefik::sticky`]).
pub fn traefik_sticky() -> String {
    use crate::controllers::traefik::STICKY_COOKIE;
    cel::some_annotation(&format!(
        "k == {} || k.startsWith({})",
        cel::lit(STICKY_COOKIE),
        cel::lit(&format!("{STICKY_COOKIE}."))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`not_dns1035_label`]'s CEL agrees with [`crate::objects::is_dns1035_label`].
    #[test]
    fn the_dns1035_negation_is_the_function() {
        let regex = regex::Regex::new("[^-a-z0-9]|^[^a-z]|-$").unwrap();
        let long = "a".repeat(64);
        let longest = "a".repeat(63);
        for name in [
            "",
            "a",
            "web",
            "web-1",
            "1web",
            "-web",
            "web-",
            "Web",
            "web_1",
            "web.shop",
            "w-1-b",
            long.as_str(),
            longest.as_str(),
            "a.b.c",
            "ü",
        ] {
            let cel = name.chars().count() > 63 || name.is_empty() || regex.is_match(name);
            assert_eq!(cel, !crate::objects::is_dns1035_label(name), "{name:?}");
        }
        assert!(not_dns1035_label("n").starts_with("(size(n) > 63 ||"));
    }

    #[test]
    fn cheap_disjuncts_come_first() {
        assert_eq!(iterates("a && b"), 0);
        assert_eq!(
            iterates("object.metadata.annotations.exists(k, k == 'x')"),
            1
        );
        assert_eq!(
            iterates("has(object.spec.rules) && object.spec.rules.exists(r, true)"),
            2
        );
    }
}

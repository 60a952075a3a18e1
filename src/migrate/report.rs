//! What `migrate` reports: per Ingress, what was carried, what Gateway API v1.6.1 cannot
//! carry, and what was not found.

use super::shapes::duration;
use crate::controllers::nginx::Annotations;
use crate::controllers::nginx::affinity::Affinity;
use crate::objects::IngressObject;
use serde::Serialize;
use serde_json::Value;

/// How an item of the report weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// A sticky path carried: sessionPersistence written.
    Carried,
    /// Information: nothing lost (a regex written as PathPrefix, what the implementation does).
    Note,
    /// Carried with a caveat that loses stickiness for some requests (a regex match kept whose
    /// cookie Path misses them): exit 1.
    Warning,
    /// An attribute of the ingress-nginx cookie that Gateway API cannot carry: exit 1.
    Dropped,
    /// A sticky path left without sessionPersistence: exit 1.
    NotCarried,
}

impl Level {
    /// Whether the item makes `migrate` exit 1.
    pub fn fails(self) -> bool {
        matches!(self, Level::Warning | Level::Dropped | Level::NotCarried)
    }

    /// The level in words, as the text report starts each message.
    pub fn word(self) -> &'static str {
        match self {
            Level::Carried => "carried",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Dropped => "dropped",
            Level::NotCarried => "not carried",
        }
    }
}

/// One item of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reported {
    /// The Ingress (`ns/name`; for a route that cannot be edited, the route).
    pub ingress: String,
    /// What the item is about: a full annotation key, `HttpOnly`, or `path HOST PATH (TYPE) →
    /// SERVICE:PORT`.
    pub subject: String,
    /// How it weighs.
    pub level: Level,
    /// Why, and what to do.
    pub message: String,
}

impl Reported {
    /// An item.
    pub fn new(ingress: &str, level: Level, subject: String, message: String) -> Self {
        Reported {
            ingress: crate::echo::bounded(ingress),
            subject,
            level,
            message,
        }
    }

    /// The text line: `ns/name: SUBJECT: LEVEL: MESSAGE`.
    pub fn line(&self) -> String {
        format!(
            "{}: {}: {}: {}",
            self.ingress,
            self.subject,
            self.level.word(),
            self.message
        )
    }
}

/// The annotations of the ingress-nginx sticky cookie that Gateway API v1.6.1's
/// `SessionPersistence` (`apis/v1/shared_types.go` L914-1017: sessionName, absoluteTimeout,
/// type, cookieConfig.lifetimeType) has no field for, with why.
const NOT_IN_GATEWAY_API: [(&str, &str); 7] = [
    (
        "session-cookie-samesite",
        "Gateway API v1.6.1 sessionPersistence has no SameSite: the implementation decides (browsers default to Lax)",
    ),
    (
        "session-cookie-conditional-samesite-none",
        "Gateway API v1.6.1 sessionPersistence has no SameSite, so nothing to make conditional",
    ),
    (
        "session-cookie-secure",
        "Gateway API v1.6.1 sessionPersistence has no Secure: the implementation decides; set it in the implementation's own policy if it has one",
    ),
    (
        "session-cookie-domain",
        "Gateway API v1.6.1 sessionPersistence has no Domain: the cookie becomes host-only",
    ),
    (
        "session-cookie-path",
        "Gateway API v1.6.1 sessionPersistence has no Path: the implementation derives it from the rule's match (GEP-1619)",
    ),
    (
        "affinity-mode",
        "Gateway API v1.6.1 has no affinity mode: how sessions move when endpoints change is the implementation's",
    ),
    (
        "session-cookie-change-on-failure",
        "Gateway API v1.6.1 has no equivalent: whether a failed upstream gets a new cookie is the implementation's",
    ),
];

/// The report items for the cookie attributes of a sticky Ingress: annotations with no Gateway
/// API field (dropped), values ingress-nginx rejects (note), and HttpOnly, which ingress-nginx
/// always sets (`rootfs/etc/nginx/lua/balancer/sticky.lua` L99 at controller-v1.15.1) and
/// Gateway API cannot ask for (a note, not a drop: no annotation of the user's is lost).
pub fn attributes(
    who: &str,
    ingress: &IngressObject,
    affinity: &Affinity,
    prefix: &str,
) -> Vec<Reported> {
    let annotations = Annotations::new(ingress, prefix);
    let mut out = Vec::new();
    for rejected in &affinity.rejected {
        out.push(Reported::new(
            who,
            Level::Note,
            crate::echo::bounded(&rejected.key),
            format!(
                "ingress-nginx rejects `{}` (expected {}) and uses its default, so the migration does too",
                crate::echo::bounded(&rejected.value),
                rejected.expected
            ),
        ));
    }
    for (name, why) in NOT_IN_GATEWAY_API {
        if annotations.get(name).is_some() && !affinity.rejected.iter().any(|r| r.name == name) {
            out.push(Reported::new(
                who,
                Level::Dropped,
                annotations.key(name),
                why.into(),
            ));
        }
    }
    out.push(Reported::new(
        who,
        Level::Note,
        "HttpOnly".into(),
        "ingress-nginx always sets HttpOnly on the sticky cookie; Gateway API v1.6.1 has no field for it, so whether the cookie is HttpOnly is the implementation's".into(),
    ));
    out
}

/// The `sessionPersistence` for a sticky Ingress, per Gateway API v1.6.1: `sessionName` the
/// cookie name (`session-cookie-name`, else ingress-nginx's `INGRESSCOOKIE`); with
/// `session-cookie-max-age`, else `session-cookie-expires` (seconds), `absoluteTimeout` and
/// lifetimeType `Permanent` (the CEL rule at shared_types.go L915 wants both); without,
/// lifetimeType `Session`. A lifetime that is not a positive whole number of seconds, or too
/// long for a Duration, is reported and left out.
pub fn persistence(who: &str, affinity: &Affinity, prefix: &str, out: &mut Vec<Reported>) -> Value {
    let settings = &affinity.cookie_settings;
    if settings.name.chars().count() > 128 {
        out.push(Reported::new(
            who,
            Level::Dropped,
            format!("{prefix}/session-cookie-name"),
            "longer than sessionName's 128 characters (Gateway API v1.6.1 MaxLength): the API server refuses the route as written; shorten the cookie name".into(),
        ));
    }
    let lifetime = match (&settings.max_age, &settings.expires) {
        (Some(v), expires) => {
            if expires.is_some() {
                out.push(Reported::new(
                    who,
                    Level::Note,
                    format!("{prefix}/session-cookie-expires"),
                    "session-cookie-max-age is set too: absoluteTimeout is taken from max-age, which browsers honour over Expires".into(),
                ));
            }
            Some(("session-cookie-max-age", v))
        }
        (None, Some(v)) => Some(("session-cookie-expires", v)),
        (None, None) => None,
    };
    let timeout = lifetime.and_then(|(name, value)| {
        let written = value.parse::<u64>().ok().and_then(duration);
        if written.is_none() {
            out.push(Reported::new(
                who,
                Level::Dropped,
                format!("{prefix}/{name}"),
                format!(
                    "`{}` is not a positive whole number of seconds up to 99999 hours: no absoluteTimeout written, the cookie becomes a session cookie; write whole seconds",
                    crate::echo::bounded(value)
                ),
            ));
        }
        written
    });
    super::session_persistence(&settings.name, timeout.as_deref())
}

/// What Envoy Gateway does with the sessionPersistence written on `at`, whose cookie Path it
/// derives as `cookie_path`. Envoy Gateway v1.9.0 (39763b1c): the cookie gets the name, the
/// Path from the route's match (`internal/xds/translator/session_persistence.go` L114-123,
/// L158-190) and a TTL only for lifetimeType Permanent with absoluteTimeout
/// (`internal/gatewayapi/route.go` L1181-1188); nothing sets SameSite, Secure, Domain or
/// HttpOnly there, so no extension is written. BackendTrafficPolicy's consistent-hash
/// `Cookie` (`api/v1alpha1/loadbalancer_types.go` L161-179) takes cookie attributes, but it is
/// hash-based load balancing, which remaps sessions when endpoints change: not session
/// persistence, so it is not offered as a carrier either.
pub fn envoy_gateway_note(at: &str, cookie_path: &str) -> String {
    format!(
        "Envoy Gateway sets the cookie Path `{}` for {at}, Max-Age only with lifetimeType Permanent, and no SameSite, Secure or Domain (it has no session-persistence setting for them, so no extension is written)",
        crate::echo::bounded(cookie_path)
    )
}

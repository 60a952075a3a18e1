//! Host-wide regex mode: shared by `cookie-path-for-regex` and `regex-path-without-regex-mode`.
//!
//! ingress-nginx builds one nginx `server` per host from every Ingress of its class, and makes
//! all of that server's locations regexes when any of those Ingresses turns regex mode on
//! (`enforceRegexModifier` in `internal/ingress/controller/template/template.go`). Rules without
//! a host share the catch-all server (host `""` here).

use super::Context;
use super::host::{HostFacts, Subject};
use crate::controllers::nginx;
use crate::objects::{IngressObject, ObjectRef};

/// Who turns regex mode on for a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegexMode {
    /// This Ingress itself (`use-regex`, or a `rewrite-target` differing from a path).
    Own,
    /// Another Ingress on the same host.
    Other(ObjectRef),
}

/// Whether regex mode is on for `host`, and who turns it on: this Ingress, else another
/// Ingress of the same controller on the same host (from the host's summary in the cluster
/// view, [`HostFacts`], built once per change to the host's Ingresses).
pub fn regex_mode(ingress: &IngressObject, host: &str, context: &Context<'_>) -> Option<RegexMode> {
    let prefix = &context.policy.annotation_prefix;
    if nginx::turns_on_regex_mode(ingress, host, prefix) {
        return Some(RegexMode::Own);
    }
    HostFacts::of(host, context)
        .regex_mode_from_other(&Subject::of(ingress))
        .map(|other| RegexMode::Other(other.reference.clone()))
}

/// [`regex_mode`] for the hosts of one Ingress, each host computed once: rules that ask per
/// path stay linear in the number of paths (an Ingress near the API server's size limit holds
/// tens of thousands).
pub struct RegexModes<'a, 'c> {
    ingress: &'a IngressObject,
    context: &'a Context<'c>,
    known: std::collections::HashMap<String, Option<RegexMode>>,
}

impl<'a, 'c> RegexModes<'a, 'c> {
    /// No host computed yet.
    pub fn new(ingress: &'a IngressObject, context: &'a Context<'c>) -> Self {
        RegexModes {
            ingress,
            context,
            known: std::collections::HashMap::new(),
        }
    }

    /// Regex mode for `host` (`""` for rules without a host).
    pub fn of(&mut self, host: &str) -> Option<RegexMode> {
        if let Some(known) = self.known.get(host) {
            return known.clone();
        }
        let mode = regex_mode(self.ingress, host, self.context);
        self.known.insert(host.to_string(), mode.clone());
        mode
    }
}

//! What the Ingresses of one host, and of one upstream, add up to for ingress-nginx: derived
//! once per change to them through [`crate::view::ClusterView::derive`] and kept beside the
//! view's caches, so that a rule judging one Ingress reads a summary instead of walking the
//! other Ingresses of its host or upstream. `check` of N Ingresses on one host, and a review
//! against a cache holding them, stay linear in N.
//!
//! - [`HostFacts`]: per host (one nginx `server`), who turns regex mode on (`enforceRegexModifier`,
//!   `internal/ingress/controller/template/template.go`) and, per cookie name, the sticky paths
//!   indexed by path for the overlap test of `conflicting-cookie-settings`;
//! - [`UpstreamFacts`]: per upstream (namespace, Service, port as written; `upstreamName`,
//!   `internal/ingress/controller/util.go` L50-60), the sticky Ingresses grouped by their
//!   affinity settings (controller.go L875-897 keeps one set per upstream).
//!
//! A summary depends on the policy's annotation prefix and ingress classes; they are hashed into
//! the memo's key ([`Settings`]).

use super::Context;
use super::cookie_path_not_literal::literal_problem;
use crate::controllers::nginx;
use crate::controllers::nginx::affinity::{Affinity, CookieSettings};
use crate::cookie_path::{path_matches, path_prefix};
use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{IngressObject, ObjectRef, PathRef, namespace_of, port_as_written};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

/// `(namespace, name)` of an Ingress, `default` for no namespace.
pub type ObjectKey = (String, String);

/// The policy fields a summary is built with: annotation prefix and judged ingress classes.
type Settings<'a> = (&'a str, &'a [String]);

fn settings<'a>(context: &Context<'a>) -> Settings<'a> {
    (
        &context.policy.annotation_prefix,
        &context.policy.ingress_classes,
    )
}

/// `(namespace, name)` of an Ingress, `default` for no namespace.
pub fn object_key(ingress: &IngressObject) -> ObjectKey {
    (
        namespace_of(&ingress.meta).to_string(),
        ingress.meta.name.clone().unwrap_or_default(),
    )
}

/// The Ingress being judged, as [`Member::same_controller_as`] compares it.
pub struct Subject<'a> {
    key: ObjectKey,
    class: Option<&'a str>,
}

impl<'a> Subject<'a> {
    /// The subject `ingress`.
    pub fn of(ingress: &'a IngressObject) -> Self {
        Subject {
            key: object_key(ingress),
            class: ingress.ingress_class(),
        }
    }
}

/// Another Ingress of a host or an upstream.
#[derive(Debug)]
pub struct Member {
    /// Its `(namespace, name)`.
    pub key: ObjectKey,
    /// How messages name it.
    pub reference: ObjectRef,
    class: Option<String>,
    class_judged: bool,
}

impl Member {
    fn of(ingress: &IngressObject, context: &Context<'_>) -> Member {
        Member {
            key: object_key(ingress),
            reference: ObjectRef::ingress(ingress),
            class: ingress.ingress_class().map(str::to_string),
            class_judged: context.policy.judges_ingress_class(ingress),
        }
    }

    /// Whether this is another Ingress served by the subject's controller: a judged class, and
    /// the same class, or no class on either side (it may be the default class). Two
    /// configured classes are two controllers, with their own servers and upstreams.
    pub fn same_controller_as(&self, subject: &Subject<'_>) -> bool {
        self.key != subject.key
            && self.class_judged
            && match (subject.class, self.class.as_deref()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// One path of a sticky Ingress as the browser and the controller see it.
pub struct Routed<'a> {
    /// The path.
    pub path: PathRef<'a>,
    /// `(namespace, Service, port as written)`: the upstream.
    pub upstream: (String, &'a str, String),
    /// The literal every request the path serves starts with.
    pub reach: String,
    /// The sticky cookie's Path there: `session-cookie-path`, else the path itself
    /// (sticky.lua L75-78), a regex path by its literal prefix.
    pub cookie_path: String,
}

/// The paths of a sticky Ingress on `host` with their upstreams and cookie Paths. Paths with
/// no Service backend, and regex paths that do not parse, are left out.
pub fn routed<'a>(
    ingress: &'a IngressObject,
    affinity: &Affinity,
    host: &str,
    regex_host: bool,
) -> Vec<Routed<'a>> {
    let namespace = namespace_of(&ingress.meta);
    let services = ingress
        .spec
        .rules
        .iter()
        .flatten()
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| http.paths.iter().map(|p| p.backend.service.as_ref()));
    let explicit = affinity
        .cookie_settings
        .path
        .as_deref()
        .filter(|p| literal_problem(p).is_none());
    ingress
        .paths()
        .into_iter()
        .zip(services)
        .filter(|(p, _)| p.host.unwrap_or("") == host)
        .filter_map(|(path, service)| {
            let service = service?;
            let reach = if regex_host && nginx::regex_tell(path.path).is_some() {
                path_prefix(path.path).ok()?
            } else {
                path.path.to_string()
            };
            Some(Routed {
                upstream: (
                    namespace.to_string(),
                    service.name.as_str(),
                    port_as_written(service.port.as_ref()),
                ),
                cookie_path: explicit.map_or_else(|| reach.clone(), str::to_string),
                reach,
                path,
            })
        })
        .collect()
}

/// Whether one of two paths is the other, or a prefix of it on a segment boundary.
pub fn overlap(a: &str, b: &str) -> bool {
    path_matches(a, b) || path_matches(b, a)
}

/// The Ingresses of one host (one nginx `server`): see the module docs.
#[derive(Debug, Default)]
pub struct HostFacts {
    members: Vec<Member>,
    /// Members that turn regex mode on for the host, in key order.
    turners: Vec<usize>,
    /// Sticky paths of sticky Ingresses that are not canaries, by cookie name.
    cookies: HashMap<String, CookieGroup>,
}

/// The sticky paths under one cookie name, as the host reads them without regex mode and with
/// it (a regex path then reaches only its literal prefix).
#[derive(Debug, Default)]
struct CookieGroup {
    literal: PathIndex,
    regex: PathIndex,
}

/// One sticky path of a member.
#[derive(Debug)]
struct Entry {
    member: usize,
    /// Service and port as written (the namespace is the member's).
    upstream: (String, String),
    reach: String,
    cookie_path: String,
    /// The member's affinity-mode is `persistent`.
    persistent: bool,
}

/// Entries indexed by reach and by cookie Path, ordered so that the paths below one path (on
/// a segment boundary) are one range.
#[derive(Debug, Default)]
struct PathIndex {
    entries: Vec<Entry>,
    by_reach: BTreeMap<String, Vec<usize>>,
    by_cookie_path: BTreeMap<String, Vec<usize>>,
}

impl PathIndex {
    fn add(&mut self, entry: Entry) {
        let i = self.entries.len();
        self.by_reach
            .entry(entry.reach.clone())
            .or_default()
            .push(i);
        self.by_cookie_path
            .entry(entry.cookie_path.clone())
            .or_default()
            .push(i);
        self.entries.push(entry);
    }

    /// Entries whose key overlaps `path` (see [`overlap`]): the keys that path-match it (its
    /// segment prefixes) and the keys it path-matches (a range of the map).
    fn overlapping<'m>(
        map: &'m BTreeMap<String, Vec<usize>>,
        path: &'m str,
    ) -> impl Iterator<Item = usize> + 'm {
        // Keys that are `path` or one of its prefixes ending on a segment boundary.
        let ancestors = (0..path.len())
            .filter(|&i| path.as_bytes()[i] == b'/')
            .flat_map(|i| [&path[..i], &path[..=i]])
            .chain(std::iter::once(path))
            .filter(|key| path_matches(key, path))
            .filter_map(|key| map.get(key))
            .flatten()
            .copied();
        // Keys below `path`: `path/…` (or `path…` when it ends with `/`).
        let below = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        let descendants = map
            .range::<str, _>((Bound::Included(below.as_str()), Bound::Unbounded))
            .take_while(move |(key, _)| key.starts_with(below.as_str()))
            .flat_map(|(_, entries)| entries.iter().copied())
            .collect::<Vec<_>>();
        ancestors.chain(descendants)
    }
}

impl HostFacts {
    /// The facts of `host` (`""` for rules without a host and default backends) from the
    /// cluster view, built once per change to the host's Ingresses.
    pub fn of(host: &str, context: &Context<'_>) -> Arc<HostFacts> {
        context.view.derive(
            Kind::Ingress,
            &IndexKey::Host(host.to_string()),
            settings(context),
            |listing| HostFacts::build(listing.ingresses(), host, context),
        )
    }

    fn build<'i>(
        ingresses: impl Iterator<Item = &'i IngressObject>,
        host: &str,
        context: &Context<'_>,
    ) -> HostFacts {
        let prefix = context.policy.annotation_prefix.as_str();
        let mut facts = HostFacts::default();
        for ingress in ingresses {
            let i = facts.members.len();
            facts.members.push(Member::of(ingress, context));
            if nginx::turns_on_regex_mode(ingress, host, prefix) {
                facts.turners.push(i);
            }
            // A canary's own affinity annotations are never used: the primary's are copied
            // into its upstream (controller.go L807, L1597-1598); `cookie` is false for it.
            let affinity = Affinity::of(ingress, prefix);
            if !affinity.cookie {
                continue;
            }
            let persistent = affinity.mode == "persistent";
            let group = facts
                .cookies
                .entry(affinity.cookie_settings.name.clone())
                .or_default();
            for (regex_host, index) in [(false, &mut group.literal), (true, &mut group.regex)] {
                for routed in routed(ingress, &affinity, host, regex_host) {
                    index.add(Entry {
                        member: i,
                        upstream: (routed.upstream.1.to_string(), routed.upstream.2),
                        reach: routed.reach,
                        cookie_path: routed.cookie_path,
                        persistent,
                    });
                }
            }
        }
        facts
    }

    /// The first Ingress (in key order) of the subject's controller that turns regex mode on
    /// for the host.
    pub fn regex_mode_from_other(&self, subject: &Subject<'_>) -> Option<&Member> {
        self.turners
            .iter()
            .map(|&i| &self.members[i])
            .find(|m| m.same_controller_as(subject))
    }

    /// The Ingresses of the host that send the subject's cookie name to another upstream on a
    /// path overlapping one of `mine`, with a different cookie Path or a persistent affinity
    /// mode, each with the first of `mine` that clashes; in key order. `skip` leaves members
    /// out (other controllers, the subject, Ingresses already reported).
    pub fn same_cookie_clashes(
        &self,
        cookie_name: &str,
        mine: &[Routed<'_>],
        my_persistent: bool,
        regex_host: bool,
        skip: impl Fn(&Member) -> bool,
    ) -> Vec<(&Member, usize)> {
        let Some(group) = self.cookies.get(cookie_name) else {
            return Vec::new();
        };
        let index = if regex_host {
            &group.regex
        } else {
            &group.literal
        };
        // member → the first of `mine` that clashes with one of its paths.
        let mut first: BTreeMap<usize, usize> = BTreeMap::new();
        let mut skipped: HashMap<usize, bool> = HashMap::new();
        for (a_index, a) in mine.iter().enumerate() {
            let candidates = PathIndex::overlapping(&index.by_reach, &a.cookie_path)
                .chain(PathIndex::overlapping(&index.by_cookie_path, &a.reach));
            for e in candidates {
                let b = &index.entries[e];
                if first.contains_key(&b.member)
                    || *skipped
                        .entry(b.member)
                        .or_insert_with(|| skip(&self.members[b.member]))
                {
                    continue;
                }
                let namespace = &self.members[b.member].key.0;
                let other_upstream = a.upstream.0 != *namespace
                    || a.upstream.1 != b.upstream.0
                    || a.upstream.2 != b.upstream.1;
                if other_upstream
                    && (a.cookie_path != b.cookie_path || my_persistent || b.persistent)
                    && (overlap(&a.cookie_path, &b.reach) || overlap(&b.cookie_path, &a.reach))
                {
                    first.insert(b.member, a_index);
                }
            }
        }
        first
            .into_iter()
            .map(|(m, a)| (&self.members[m], a))
            .collect()
    }
}

/// The sticky Ingresses of one upstream, grouped by their affinity settings: see the module
/// docs.
#[derive(Debug, Default)]
pub struct UpstreamFacts {
    members: Vec<Member>,
    /// Settings (mode and cookie settings, as [`Affinity::differences`] compares them) and the
    /// members that have them.
    groups: Vec<(Affinity, Vec<usize>)>,
}

impl UpstreamFacts {
    /// The facts of upstream `namespace`/`service`:`port` (as written) from the cluster view,
    /// built once per change to its Ingresses.
    pub fn of(namespace: &str, service: &str, port: &str, context: &Context<'_>) -> Arc<Self> {
        let key = IndexKey::Upstream {
            namespace: namespace.to_string(),
            service: service.to_string(),
            port: port.to_string(),
        };
        context
            .view
            .derive(Kind::Ingress, &key, settings(context), |listing| {
                let prefix = context.policy.annotation_prefix.as_str();
                let mut facts = UpstreamFacts::default();
                let mut groups: HashMap<(String, CookieSettings), usize> = HashMap::new();
                for ingress in listing.ingresses() {
                    let affinity = Affinity::of(ingress, prefix);
                    if !affinity.cookie {
                        continue;
                    }
                    let i = facts.members.len();
                    facts.members.push(Member::of(ingress, context));
                    let key = (affinity.mode.clone(), affinity.cookie_settings.clone());
                    match groups.get(&key) {
                        Some(&g) => facts.groups[g].1.push(i),
                        None => {
                            groups.insert(key, facts.groups.len());
                            facts.groups.push((affinity, vec![i]));
                        }
                    }
                }
                facts
            })
    }

    /// The sticky Ingresses of the upstream whose settings differ from `mine`, with the
    /// annotations that differ, in key order; `skip` leaves members out.
    pub fn differing(
        &self,
        mine: &Affinity,
        skip: impl Fn(&Member) -> bool,
    ) -> Vec<(&Member, Vec<&'static str>)> {
        let mut out: Vec<(usize, Vec<&'static str>)> = Vec::new();
        for (settings, members) in &self.groups {
            let differing = mine.differences(settings);
            if differing.is_empty() {
                continue;
            }
            out.extend(
                members
                    .iter()
                    .filter(|&&m| !skip(&self.members[m]))
                    .map(|&m| (m, differing.clone())),
            );
        }
        out.sort_by_key(|(m, _)| *m);
        out.into_iter()
            .map(|(m, d)| (&self.members[m], d))
            .collect()
    }
}

//! What the Ingresses of one host, and of one upstream, add up to for ingress-nginx: derived
//! through [`crate::view::ClusterView::derive`] and kept beside the view's caches, so that a rule judging one Ingress reads a summary instead of walking the
//! other Ingresses of its host or upstream. `check` of N Ingresses on one host, and a review
//! against a cache holding them, stay linear in N.
//!
//! Both are [`Summary`]s: built once from the objects under their key, then updated object by
//! object as the view's caches change (a watch event costs what the changed Ingress holds).
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
use crate::controllers::nginx::annotation;
use crate::cookie_path::{path_matches, path_prefix};
use crate::objects::kinds::{IndexKey, Kind};
use crate::objects::{IngressObject, Object, ObjectRef, PathRef, namespace_of, port_as_written};
use crate::policy::Policy;
use crate::view::cache::Summary;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Its `(namespace, name)`.
    pub key: ObjectKey,
    /// How messages name it.
    pub reference: ObjectRef,
    class: Option<String>,
    class_judged: bool,
}

impl Member {
    fn of(ingress: &IngressObject, policy: &Policy) -> Member {
        Member {
            key: object_key(ingress),
            reference: ObjectRef::ingress(ingress),
            class: ingress.ingress_class().map(str::to_string),
            class_judged: policy.judges_ingress_class(ingress),
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
#[derive(Clone, Debug, PartialEq)]
pub struct HostFacts {
    host: String,
    /// The policy it was built with (annotation prefix, judged ingress classes).
    policy: Policy,
    members: BTreeMap<ObjectKey, HostMember>,
    /// Members that turn regex mode on for the host, in key order.
    turners: BTreeSet<ObjectKey>,
    /// Sticky members (not canaries) without `session-cookie-path` that have a regex-looking
    /// path on the host and do not turn regex mode on themselves: another Ingress that turns
    /// it on makes their cookie Path a regex.
    unpinned: BTreeSet<ObjectKey>,
    /// Sticky paths of sticky Ingresses that are not canaries, by cookie name.
    cookies: HashMap<String, CookieGroup>,
}

/// One Ingress of a host.
#[derive(Clone, Debug, PartialEq)]
struct HostMember {
    member: Member,
    /// Its cookie name, when it is sticky and not a canary.
    cookie: Option<String>,
    /// Its sticky paths without regex mode, and with it.
    literal: Vec<Entry>,
    regex: Vec<Entry>,
    /// Its first regex-looking path on the host, when it is in [`HostFacts::unpinned`].
    regex_path: Option<String>,
}

/// The sticky paths under one cookie name, as the host reads them without regex mode and with
/// it (a regex path then reaches only its literal prefix).
#[derive(Clone, Debug, Default, PartialEq)]
struct CookieGroup {
    literal: PathIndex,
    regex: PathIndex,
}

/// One sticky path of a member.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    /// Service and port as written (the namespace is the member's).
    upstream: (String, String),
    reach: String,
    cookie_path: String,
    /// The member's affinity-mode is `persistent`.
    persistent: bool,
}

/// A member's entry: its key and the entry's position among its paths.
type EntryRef = (ObjectKey, usize);

/// Entries indexed by reach and by cookie Path, ordered so that the paths below one path (on
/// a segment boundary) are one range.
#[derive(Clone, Debug, Default, PartialEq)]
struct PathIndex {
    by_reach: BTreeMap<String, BTreeSet<EntryRef>>,
    by_cookie_path: BTreeMap<String, BTreeSet<EntryRef>>,
}

impl PathIndex {
    fn add(&mut self, key: &ObjectKey, entries: &[Entry]) {
        for (i, entry) in entries.iter().enumerate() {
            for (map, path) in [
                (&mut self.by_reach, &entry.reach),
                (&mut self.by_cookie_path, &entry.cookie_path),
            ] {
                map.entry(path.clone())
                    .or_default()
                    .insert((key.clone(), i));
            }
        }
    }

    fn remove(&mut self, key: &ObjectKey, entries: &[Entry]) {
        for (i, entry) in entries.iter().enumerate() {
            for (map, path) in [
                (&mut self.by_reach, &entry.reach),
                (&mut self.by_cookie_path, &entry.cookie_path),
            ] {
                if let Some(refs) = map.get_mut(path) {
                    refs.remove(&(key.clone(), i));
                    if refs.is_empty() {
                        map.remove(path);
                    }
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.by_reach.is_empty()
    }

    /// Entries whose key overlaps `path` (see [`overlap`]): the keys that path-match it (its
    /// segment prefixes) and the keys it path-matches (a range of the map).
    fn overlapping<'m>(
        map: &'m BTreeMap<String, BTreeSet<EntryRef>>,
        path: &'m str,
    ) -> impl Iterator<Item = &'m EntryRef> + 'm {
        // Keys that are `path` or one of its prefixes ending on a segment boundary.
        let ancestors = (0..path.len())
            .filter(|&i| path.as_bytes()[i] == b'/')
            .flat_map(|i| [&path[..i], &path[..=i]])
            .chain(std::iter::once(path))
            .filter(|key| path_matches(key, path))
            .filter_map(|key| map.get(key))
            .flatten();
        // Keys below `path`: `path/…` (or `path…` when it ends with `/`).
        let below = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        let descendants = map
            .range::<str, _>((Bound::Included(below.as_str()), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(below.as_str()))
            .flat_map(|(_, refs)| refs.iter())
            .collect::<Vec<_>>();
        ancestors.chain(descendants)
    }
}

impl HostFacts {
    /// The facts of `host` (`""` for rules without a host and default backends) from the
    /// cluster view: built on first use, then kept up to date as the host's Ingresses change.
    pub fn of(host: &str, context: &Context<'_>) -> Arc<HostFacts> {
        context.view.derive(
            Kind::Ingress,
            &IndexKey::Host(host.to_string()),
            settings(context),
            |listing| HostFacts::build(host, context.policy, &listing.objects),
        )
    }

    /// The facts of `host` from its Ingresses `objects` under `policy`.
    pub fn build(host: &str, policy: &Policy, objects: &[Arc<Object>]) -> HostFacts {
        let mut facts = HostFacts {
            host: host.to_string(),
            policy: policy.clone(),
            members: BTreeMap::new(),
            turners: BTreeSet::new(),
            unpinned: BTreeSet::new(),
            cookies: HashMap::new(),
        };
        for object in objects {
            facts.add(object);
        }
        facts
    }

    /// The first Ingress (in key order) of the subject's controller that turns regex mode on
    /// for the host.
    pub fn regex_mode_from_other(&self, subject: &Subject<'_>) -> Option<&Member> {
        self.turners
            .iter()
            .filter_map(|key| self.members.get(key))
            .map(|m| &m.member)
            .find(|m| m.same_controller_as(subject))
    }

    /// The sticky Ingresses of the subject's controller that this host's regex mode would break,
    /// with the first regex-looking path of each, in key order: sticky (not canaries), without
    /// `session-cookie-path`, with a regex-looking path on the host, and not turning regex mode
    /// on themselves (cookie-path-for-regex judges those on their own writes).
    pub fn unpinned_regex_paths(&self, subject: &Subject<'_>) -> Vec<(&Member, &str)> {
        self.unpinned
            .iter()
            .filter_map(|key| self.members.get(key))
            .filter(|m| m.member.same_controller_as(subject))
            .filter_map(|m| Some((&m.member, m.regex_path.as_deref()?)))
            .collect()
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
        let mut first: BTreeMap<&ObjectKey, usize> = BTreeMap::new();
        let mut skipped: HashMap<&ObjectKey, bool> = HashMap::new();
        for (a_index, a) in mine.iter().enumerate() {
            let candidates = PathIndex::overlapping(&index.by_reach, &a.cookie_path)
                .chain(PathIndex::overlapping(&index.by_cookie_path, &a.reach));
            for (key, e) in candidates {
                let Some(member) = self.members.get(key) else {
                    continue;
                };
                if first.contains_key(key)
                    || *skipped.entry(key).or_insert_with(|| skip(&member.member))
                {
                    continue;
                }
                let entries = if regex_host {
                    &member.regex
                } else {
                    &member.literal
                };
                let Some(b) = entries.get(*e) else { continue };
                let other_upstream = a.upstream.0 != key.0
                    || a.upstream.1 != b.upstream.0
                    || a.upstream.2 != b.upstream.1;
                if other_upstream
                    && (a.cookie_path != b.cookie_path || my_persistent || b.persistent)
                    && (overlap(&a.cookie_path, &b.reach) || overlap(&b.cookie_path, &a.reach))
                {
                    first.insert(key, a_index);
                }
            }
        }
        first
            .into_iter()
            .filter_map(|(key, a)| Some((&self.members.get(key)?.member, a)))
            .collect()
    }
}

impl Summary for HostFacts {
    fn add(&mut self, object: &Object) {
        let Some(ingress) = object.as_ingress() else {
            return;
        };
        let prefix = self.policy.annotation_prefix.as_str();
        let member = Member::of(ingress, &self.policy);
        let key = member.key.clone();
        let turner = nginx::turns_on_regex_mode(ingress, &self.host, prefix);
        if turner {
            self.turners.insert(key.clone());
        }
        // A canary's own affinity annotations are never used: the primary's are copied into
        // its upstream (controller.go L807, L1597-1598); `cookie` is false for it.
        let affinity = Affinity::of(ingress, prefix);
        let mut facts = HostMember {
            member,
            cookie: None,
            literal: Vec::new(),
            regex: Vec::new(),
            regex_path: None,
        };
        let annotations = nginx::Annotations::new(ingress, prefix);
        if affinity.cookie && !turner && annotations.get(annotation::SESSION_COOKIE_PATH).is_none()
        {
            // Straight over the spec (no per-path field strings), as turns_on_regex_mode reads it.
            facts.regex_path = ingress
                .spec
                .rules
                .iter()
                .flatten()
                .filter(|rule| rule.host.as_deref().unwrap_or("") == self.host)
                .filter_map(|rule| rule.http.as_ref())
                .flat_map(|http| &http.paths)
                .filter_map(|p| p.path.as_deref().filter(|p| !p.is_empty()))
                .find(|path| nginx::regex_tell(path).is_some())
                .map(str::to_string);
            if facts.regex_path.is_some() {
                self.unpinned.insert(key.clone());
            }
        }
        if affinity.cookie {
            let persistent = affinity.mode == "persistent";
            let entries = |regex_host: bool| -> Vec<Entry> {
                routed(ingress, &affinity, &self.host, regex_host)
                    .into_iter()
                    .map(|routed| Entry {
                        upstream: (routed.upstream.1.to_string(), routed.upstream.2),
                        reach: routed.reach,
                        cookie_path: routed.cookie_path,
                        persistent,
                    })
                    .collect()
            };
            facts.literal = entries(false);
            facts.regex = entries(true);
            let group = self
                .cookies
                .entry(affinity.cookie_settings.name.clone())
                .or_default();
            group.literal.add(&key, &facts.literal);
            group.regex.add(&key, &facts.regex);
            facts.cookie = Some(affinity.cookie_settings.name);
        }
        self.members.insert(key, facts);
    }

    fn remove(&mut self, object: &Object) {
        let Some(ingress) = object.as_ingress() else {
            return;
        };
        let key = object_key(ingress);
        self.turners.remove(&key);
        self.unpinned.remove(&key);
        let Some(facts) = self.members.remove(&key) else {
            return;
        };
        if let Some(name) = &facts.cookie
            && let Some(group) = self.cookies.get_mut(name)
        {
            group.literal.remove(&key, &facts.literal);
            group.regex.remove(&key, &facts.regex);
            if group.literal.is_empty() && group.regex.is_empty() {
                self.cookies.remove(name);
            }
        }
    }

    fn clone_boxed(&self) -> Box<dyn Summary> {
        Box::new(self.clone())
    }
}

/// The sticky Ingresses of one upstream, grouped by their affinity settings: see the module
/// docs.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamFacts {
    /// The policy it was built with.
    policy: Policy,
    /// Sticky members and the settings of their group.
    members: BTreeMap<ObjectKey, (Member, GroupKey)>,
    /// Settings (mode and cookie settings, as [`Affinity::differences`] compares them) and the
    /// members that have them.
    groups: HashMap<GroupKey, (Affinity, BTreeSet<ObjectKey>)>,
}

/// Affinity mode and cookie settings: what [`Affinity::differences`] compares.
type GroupKey = (String, CookieSettings);

impl UpstreamFacts {
    /// The facts of upstream `namespace`/`service`:`port` (as written) from the cluster view:
    /// built on first use, then kept up to date as its Ingresses change.
    pub fn of(namespace: &str, service: &str, port: &str, context: &Context<'_>) -> Arc<Self> {
        let key = IndexKey::Upstream {
            namespace: namespace.to_string(),
            service: service.to_string(),
            port: port.to_string(),
        };
        context
            .view
            .derive(Kind::Ingress, &key, settings(context), |listing| {
                UpstreamFacts::build(context.policy, &listing.objects)
            })
    }

    /// The facts of an upstream from its Ingresses `objects` under `policy`.
    pub fn build(policy: &Policy, objects: &[Arc<Object>]) -> UpstreamFacts {
        let mut facts = UpstreamFacts {
            policy: policy.clone(),
            members: BTreeMap::new(),
            groups: HashMap::new(),
        };
        for object in objects {
            facts.add(object);
        }
        facts
    }

    /// The sticky Ingresses of the upstream whose settings differ from `mine`, with the
    /// annotations that differ, in key order; `skip` leaves members out.
    pub fn differing(
        &self,
        mine: &Affinity,
        skip: impl Fn(&Member) -> bool,
    ) -> Vec<(&Member, Vec<&'static str>)> {
        let mut out: Vec<(&ObjectKey, Vec<&'static str>)> = Vec::new();
        for (settings, keys) in self.groups.values() {
            let differing = mine.differences(settings);
            if differing.is_empty() {
                continue;
            }
            out.extend(keys.iter().map(|key| (key, differing.clone())));
        }
        out.sort_by(|a, b| a.0.cmp(b.0));
        out.into_iter()
            .filter_map(|(key, d)| Some((&self.members.get(key)?.0, d)))
            .filter(|(member, _)| !skip(member))
            .collect()
    }
}

impl Summary for UpstreamFacts {
    fn add(&mut self, object: &Object) {
        let Some(ingress) = object.as_ingress() else {
            return;
        };
        let affinity = Affinity::of(ingress, &self.policy.annotation_prefix);
        if !affinity.cookie {
            return;
        }
        let member = Member::of(ingress, &self.policy);
        let key = member.key.clone();
        let group: GroupKey = (affinity.mode.clone(), affinity.cookie_settings.clone());
        self.groups
            .entry(group.clone())
            .or_insert_with(|| (affinity, BTreeSet::new()))
            .1
            .insert(key.clone());
        self.members.insert(key, (member, group));
    }

    fn remove(&mut self, object: &Object) {
        let Some(ingress) = object.as_ingress() else {
            return;
        };
        let key = object_key(ingress);
        let Some((_, group)) = self.members.remove(&key) else {
            return;
        };
        if let Some((_, keys)) = self.groups.get_mut(&group) {
            keys.remove(&key);
            if keys.is_empty() {
                self.groups.remove(&group);
            }
        }
    }

    fn clone_boxed(&self) -> Box<dyn Summary> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::decode;
    use crate::view::cache::Cache;
    use serde_json::{Value, json};

    fn ingress(name: &str, annotations: Value, paths: &[(&str, &str)]) -> Arc<Object> {
        let paths: Vec<Value> = paths
            .iter()
            .map(|(path, service)| {
                json!({"path": path, "pathType": "ImplementationSpecific",
                       "backend": {"service": {"name": service, "port": {"number": 80}}}})
            })
            .collect();
        let value = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "app", "annotations": annotations},
            "spec": {"ingressClassName": "nginx",
                     "rules": [{"host": "h.example", "http": {"paths": paths}}]}});
        Arc::new(decode(&value).unwrap().unwrap())
    }

    fn sticky(extra: &[(&str, &str)]) -> Value {
        let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
        for (k, v) in extra {
            annotations[format!("nginx.ingress.kubernetes.io/{k}")] = json!(v);
        }
        annotations
    }

    /// After every add, change and delete, the summaries the cache keeps up to date equal
    /// summaries built anew from the objects then filed under their keys.
    #[test]
    fn summaries_kept_up_to_date_equal_summaries_built_anew() {
        let policy = Policy::default();
        let host = IndexKey::Host("h.example".into());
        let upstream = IndexKey::Upstream {
            namespace: "app".into(),
            service: "web".into(),
            port: "80".into(),
        };
        let host_id = (std::any::TypeId::of::<HostFacts>(), 0);
        let upstream_id = (std::any::TypeId::of::<UpstreamFacts>(), 0);
        let mut cache = Cache::new(Kind::Ingress);
        let steps: Vec<(&str, Option<Arc<Object>>)> = vec![
            ("a", Some(ingress("a", sticky(&[]), &[("/", "web")]))),
            (
                "b",
                Some(ingress(
                    "b",
                    sticky(&[("use-regex", "true")]),
                    &[("/b(/|$)(.*)", "api")],
                )),
            ),
            (
                "c",
                Some(ingress(
                    "c",
                    sticky(&[("session-cookie-name", "x")]),
                    &[("/c", "web"), ("/d", "web")],
                )),
            ),
            // b changes: no regex mode any more, another path.
            ("b", Some(ingress("b", sticky(&[]), &[("/b2", "web")]))),
            ("d", Some(ingress("d", json!({}), &[("/d", "web")]))),
            // c becomes a canary, then goes.
            (
                "c",
                Some(ingress(
                    "c",
                    sticky(&[("canary", "true")]),
                    &[("/c", "web")],
                )),
            ),
            ("c", None),
            ("a", None),
            ("b", None),
            ("d", None),
        ];
        let mut held = Vec::new();
        for (name, object) in steps {
            match object {
                Some(object) => cache.apply(object),
                None => cache.delete(&("app".to_string(), name.to_string())),
            }
            let kept = cache.derive(&host, host_id, &mut |objects| {
                Arc::new(HostFacts::build("h.example", &policy, objects))
            });
            let anew = HostFacts::build("h.example", &policy, &cache.find(&host));
            let kept: Arc<dyn std::any::Any + Send + Sync> = kept;
            assert_eq!(
                kept.downcast_ref::<HostFacts>(),
                Some(&anew),
                "after {name}"
            );
            let kept = cache.derive(&upstream, upstream_id, &mut |objects| {
                Arc::new(UpstreamFacts::build(&policy, objects))
            });
            let anew = UpstreamFacts::build(&policy, &cache.find(&upstream));
            let kept: Arc<dyn std::any::Any + Send + Sync> = kept;
            assert_eq!(
                kept.downcast_ref::<UpstreamFacts>(),
                Some(&anew),
                "after {name}"
            );
            // A reader holding a summary while the cache changes keeps what it read (the
            // cache copies before changing it).
            held.push(kept);
        }
        assert!(cache.is_empty());
    }
}

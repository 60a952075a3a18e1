//! Policy reports kept current from the live view (`serve --reports`): what is already broken in
//! the cluster (objects stored before the webhook, objects broken later by a change elsewhere),
//! shown where platform teams look (Policy Reporter, `kubectl get reports -A`).
//!
//! - **Which API** ([`ReportsMode`]): `auto` takes `openreports.io/v1alpha1` `reports` when the
//!   API server serves them, else `wgpolicyk8s.io/v1alpha2` `policyreports`, else writes nothing;
//!   the log and `/readyz` (`reports`) say which. Discovery is asked once at start (retried
//!   while the API server does not answer): installing the CRD later needs a restart.
//! - **What** ([`desired`]): every object of the judged kinds in the live view's caches, judged
//!   as `audit` judges it (every suppression annotation honoured), gives one report per object
//!   with findings ([`crate::report::policy_reports`]); `audit -o openreports` prints the same.
//! - **When**: after the caches change, at most once per `interval` (debounced: a burst of
//!   changes is one pass), and only while this replica leads. A pass judges every cached object
//!   (linear in the objects; off the async workers) and writes only the reports whose content
//!   changed: created or updated by server-side apply with field manager [`FIELD_MANAGER`],
//!   deleted once their object is fixed or gone, at most `max_writes_per_second`.
//! - **Who**: one replica, elected with a Lease by `kube-lease-manager` (0.13: kube 5, SSA on the
//!   Lease with one field manager per candidate, so two replicas cannot both take it;
//!   maintained, and kube-rs has no leader election of its own). A replica that loses the Lease
//!   stops writing; the new leader lists the reports labelled as sticky-guard's and carries on
//!   from them.

use crate::objects::kinds::KINDS;
use crate::policy::{Judged, Policy};
use crate::report::policy_reports::{self, Entry, MANAGED_BY_LABEL, ReportApi, SOURCE};
use crate::rules::{self, Context, Phase};
use crate::view::live::LiveView;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The field manager of every report write.
pub const FIELD_MANAGER: &str = "sticky-guard";

/// The Lease the replicas contend for.
pub const LEASE_NAME: &str = "sticky-guard-reports";

/// `serve --reports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportsMode {
    /// openreports.io when its CRD is served, else wgpolicyk8s.io when that one is, else off.
    Auto,
    /// `openreports.io/v1alpha1` Reports (off, with an error in the log, when not served).
    Openreports,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReports (likewise).
    Policyreport,
    /// No reports.
    Off,
}

/// Where the reports stand, for `/readyz` and `/metrics`. Clones share one state.
#[derive(Clone, Debug, Default)]
pub struct ReportStatus(Arc<StatusInner>);

#[derive(Debug, Default)]
struct StatusInner {
    state: Mutex<String>,
    leader: AtomicBool,
    reports: AtomicU64,
    writes_ok: AtomicU64,
    writes_failed: AtomicU64,
}

impl ReportStatus {
    /// A status that says `state` (`off: --reports off`, `openreports`, …).
    pub fn new(state: &str) -> ReportStatus {
        let status = ReportStatus::default();
        status.set_state(state);
        status
    }

    fn set_state(&self, state: &str) {
        *self.0.state.lock().unwrap_or_else(|e| e.into_inner()) = state.to_string();
    }

    /// What `/readyz` shows: `off: --reports off`, `openreports (leader)`,
    /// `policyreport (standby)`, `off: no policy report CRD is served`, ….
    pub fn describe(&self) -> String {
        let state = self
            .0
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if state.is_empty() {
            "off".to_string()
        } else if state.starts_with("off") || state.starts_with("deciding") {
            state
        } else if self.is_leader() {
            format!("{state} (leader)")
        } else {
            format!("{state} (standby)")
        }
    }

    /// Whether this replica holds the Lease.
    pub fn is_leader(&self) -> bool {
        self.0.leader.load(Ordering::Acquire)
    }

    /// Reports written and not deleted, as last known to the leader (0 on a standby).
    pub fn reports(&self) -> u64 {
        self.0.reports.load(Ordering::Relaxed)
    }

    /// Report writes (apply and delete) that succeeded and that failed.
    pub fn writes(&self) -> (u64, u64) {
        (
            self.0.writes_ok.load(Ordering::Relaxed),
            self.0.writes_failed.load(Ordering::Relaxed),
        )
    }
}

/// How the writer runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Which API.
    pub mode: ReportsMode,
    /// The namespace of the Lease (sticky-guard's own).
    pub namespace: String,
    /// This replica's identity in the Lease (the pod name).
    pub identity: String,
    /// The shortest time between two passes.
    pub interval: Duration,
    /// Writes per second, at most.
    pub max_writes_per_second: u32,
}

/// The report API to write under `mode`, from discovery: `Ok(None)` when off.
///
/// # Errors
/// The API server's error when discovery cannot be answered (not a 404).
pub async fn choose(
    client: &kube::Client,
    mode: ReportsMode,
) -> Result<Option<ReportApi>, kube::Error> {
    let candidates: &[ReportApi] = match mode {
        ReportsMode::Off => &[],
        ReportsMode::Auto => &[ReportApi::OpenReports, ReportApi::PolicyReport],
        ReportsMode::Openreports => &[ReportApi::OpenReports],
        ReportsMode::Policyreport => &[ReportApi::PolicyReport],
    };
    for api in candidates {
        if served(client, *api).await? {
            return Ok(Some(*api));
        }
    }
    Ok(None)
}

/// Whether the API server serves `api`'s namespaced report kind.
async fn served(client: &kube::Client, api: ReportApi) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(&api.api_version()).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == api.plural())),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(error),
    }
}

/// The API resource of `api`'s report kind.
fn resource(api: ReportApi) -> ApiResource {
    ApiResource {
        group: api.group().to_string(),
        version: api.version().to_string(),
        api_version: api.api_version(),
        kind: api.kind().to_string(),
        plural: api.plural().to_string(),
    }
}

/// A report's key: namespace and name.
type ReportKey = (String, String);

/// One report to write: its content hash (without timestamps) and its body.
struct Wanted {
    hash: u64,
    body: Value,
}

/// The reports the cached objects call for, by namespace and name, judged under `policy` with
/// the caches as the view. `stamps` keeps, per report, the content hash and the timestamp it was
/// first seen with, so that an unchanged report keeps its timestamp (and is not rewritten).
fn desired(
    view: &LiveView,
    policy: &Policy,
    api: ReportApi,
    stamps: &mut HashMap<ReportKey, (u64, i64)>,
    now: i64,
) -> BTreeMap<ReportKey, Wanted> {
    let cached = view.cached();
    let context = Context {
        policy,
        view: &cached,
        old: None,
    };
    let mut out = BTreeMap::new();
    for info in KINDS.iter().filter(|k| k.webhooks.is_some()) {
        for object in view.objects(info.kind) {
            if policy.judges(&object) == Judged::ExcludedNamespace {
                continue;
            }
            let findings = rules::suppress::apply(
                object.meta().annotations.as_ref(),
                rules::evaluate(&object, Phase::Validating, &context),
                |_| true,
            )
            .kept;
            if findings.is_empty() {
                continue;
            }
            let subject = policy_reports::subject_of(&object);
            let entries: Vec<Entry> = findings
                .into_iter()
                .map(|f| Entry {
                    rule: f.rule.to_string(),
                    level: f.level,
                    message: f.message,
                    field: f.field,
                })
                .collect();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (&subject, &entries).hash(&mut hasher);
            let hash = hasher.finish();
            let key = (
                subject.namespace.clone(),
                policy_reports::report_name(&subject),
            );
            let stamp = match stamps.get(&key) {
                Some((seen, at)) if *seen == hash => *at,
                _ => now,
            };
            stamps.insert(key.clone(), (hash, stamp));
            let body = policy_reports::report(api, &subject, &entries, stamp);
            out.insert(key, Wanted { hash, body });
        }
    }
    stamps.retain(|key, _| out.contains_key(key));
    out
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs the writer until the process ends: chooses the API, contends for the Lease, and while
/// leading keeps the reports in step with the caches. Logs what it decides; never returns an
/// error (a failed write is counted, logged and retried on the next pass).
pub async fn run(view: LiveView, policy: Arc<Policy>, settings: Settings, status: ReportStatus) {
    let client = view.client();
    if settings.mode == ReportsMode::Off {
        status.set_state("off: --reports off");
        tracing::info!("policy reports off (--reports off)");
        return;
    }
    status.set_state("deciding: asking discovery which report API is served");
    let api = loop {
        match choose(&client, settings.mode).await {
            Ok(api) => break api,
            Err(error) => {
                tracing::warn!(%error, "policy reports: discovery failed, retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let Some(api) = api else {
        let state = match settings.mode {
            ReportsMode::Auto => "off: neither openreports.io/v1alpha1 reports nor \
wgpolicyk8s.io/v1alpha2 policyreports is served (install a CRD and restart)"
                .to_string(),
            mode => format!(
                "off: --reports {} asked for, but its CRD is not served",
                match mode {
                    ReportsMode::Openreports => "openreports",
                    _ => "policyreport",
                }
            ),
        };
        if settings.mode == ReportsMode::Auto {
            tracing::info!("policy reports {state}");
        } else {
            tracing::error!("policy reports {state}");
        }
        status.set_state(&state);
        return;
    };
    status.set_state(api.name());
    tracing::info!(
        api = %api.api_version(),
        kind = api.kind(),
        lease = %format!("{}/{LEASE_NAME}", settings.namespace),
        identity = %settings.identity,
        "policy reports: writing them while this replica holds the Lease"
    );
    let manager = loop {
        match kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(&settings.namespace)
            .with_identity(&settings.identity)
            // The identity does not set the field manager (it stays the random default's).
            .with_field_manager(format!("sticky-guard-{}", settings.identity))
            .with_duration(15)
            .with_grace(5)
            .build()
            .await
        {
            Ok(manager) => break manager,
            Err(error) => {
                tracing::warn!(%error, "policy reports: cannot make the Lease manager, retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let (mut leading, _task) = manager.watch().await;
    let mut writer = Writer::new(client, api, settings.max_writes_per_second, status.clone());
    loop {
        let leader = *leading.borrow_and_update();
        status.0.leader.store(leader, Ordering::Release);
        if leader {
            tracing::info!("policy reports: this replica leads");
            tokio::select! {
                () = writer.lead(&view, &policy, settings.interval) => {}
                changed = leading.changed() => {
                    if changed.is_err() {
                        tracing::warn!("policy reports: the Lease manager stopped");
                        status.0.leader.store(false, Ordering::Release);
                        return;
                    }
                }
            }
            if !*leading.borrow() {
                tracing::info!("policy reports: this replica lost the Lease and stops writing");
                status.0.leader.store(false, Ordering::Release);
                status.0.reports.store(0, Ordering::Relaxed);
                writer.forget();
            }
        } else if leading.changed().await.is_err() {
            tracing::warn!("policy reports: the Lease manager stopped");
            return;
        }
    }
}

/// The leader's side: what it has written, and how it writes.
struct Writer {
    client: kube::Client,
    api: ReportApi,
    resource: ApiResource,
    pause: Duration,
    status: ReportStatus,
    /// Reports that exist, with the hash of what was written (`None`: found at start, content
    /// not known).
    written: HashMap<ReportKey, Option<u64>>,
    stamps: HashMap<ReportKey, (u64, i64)>,
    listed: bool,
}

impl Writer {
    fn new(
        client: kube::Client,
        api: ReportApi,
        max_writes_per_second: u32,
        status: ReportStatus,
    ) -> Writer {
        Writer {
            client,
            api,
            resource: resource(api),
            pause: Duration::from_secs(1) / max_writes_per_second.max(1),
            status,
            written: HashMap::new(),
            stamps: HashMap::new(),
            listed: false,
        }
    }

    /// Forgets what was written: a new leader may have changed it.
    fn forget(&mut self) {
        self.written.clear();
        self.listed = false;
    }

    /// Passes for as long as the future runs: one when the caches have synced, then one after
    /// each change (at most one per `interval`).
    async fn lead(&mut self, view: &LiveView, policy: &Arc<Policy>, interval: Duration) {
        let mut changes = view.changes();
        loop {
            let mut complete = false;
            if view.is_synced() {
                changes.borrow_and_update();
                complete = self.pass(view, policy).await;
            }
            tokio::time::sleep(interval).await;
            // A pass that could not write everything is retried without waiting for a change.
            if complete && changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// One pass: the reports the caches call for, written where they differ. Whether every
    /// write succeeded.
    async fn pass(&mut self, view: &LiveView, policy: &Arc<Policy>) -> bool {
        if !self.listed {
            match self.list_existing().await {
                Ok(existing) => {
                    self.written = existing.into_iter().map(|key| (key, None)).collect();
                    self.listed = true;
                }
                Err(error) => {
                    tracing::warn!(%error, "policy reports: cannot list existing reports; retrying next pass");
                    self.status.0.writes_failed.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
        let (view_owned, policy_owned, api) = (view.clone(), policy.clone(), self.api);
        let mut stamps = std::mem::take(&mut self.stamps);
        let judged = tokio::task::spawn_blocking(move || {
            let wanted = desired(&view_owned, &policy_owned, api, &mut stamps, now());
            (wanted, stamps)
        })
        .await;
        let Ok((wanted, stamps)) = judged else {
            tracing::error!("policy reports: the pass panicked; retrying next pass");
            return false;
        };
        self.stamps = stamps;
        let (mut applied, mut deleted, mut failed) = (0usize, 0usize, 0usize);
        for (key, want) in &wanted {
            if self.written.get(key) == Some(&Some(want.hash)) {
                continue;
            }
            if self.apply(key, &want.body).await {
                self.written.insert(key.clone(), Some(want.hash));
                applied += 1;
            } else {
                failed += 1;
            }
            tokio::time::sleep(self.pause).await;
        }
        let gone: Vec<ReportKey> = self
            .written
            .keys()
            .filter(|key| !wanted.contains_key(*key))
            .cloned()
            .collect();
        for key in gone {
            if self.delete(&key).await {
                self.written.remove(&key);
                deleted += 1;
            } else {
                failed += 1;
            }
            tokio::time::sleep(self.pause).await;
        }
        self.status
            .0
            .reports
            .store(self.written.len() as u64, Ordering::Relaxed);
        if applied + deleted + failed > 0 {
            tracing::info!(
                applied,
                deleted,
                failed,
                reports = self.written.len(),
                "policy reports written"
            );
        }
        failed == 0
    }

    /// The reports labelled as sticky-guard's, in every namespace.
    async fn list_existing(&self) -> Result<Vec<ReportKey>, kube::Error> {
        let api = Api::<DynamicObject>::all_with(self.client.clone(), &self.resource);
        let mut params = ListParams::default()
            .labels(&format!("{MANAGED_BY_LABEL}={SOURCE}"))
            .limit(500);
        let mut out = Vec::new();
        loop {
            let page = api.list(&params).await?;
            for item in &page.items {
                if let (Some(namespace), Some(name)) =
                    (&item.metadata.namespace, &item.metadata.name)
                {
                    out.push((namespace.clone(), name.clone()));
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(out),
            }
        }
    }

    /// Server-side apply of one report; counts and logs the outcome.
    async fn apply(&self, key: &ReportKey, body: &Value) -> bool {
        let api =
            Api::<DynamicObject>::namespaced_with(self.client.clone(), &key.0, &self.resource);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let outcome = api.patch(&key.1, &params, &Patch::Apply(body)).await;
        self.count(outcome.map(|_| ()), "apply", key)
    }

    /// Deletes one report (already gone counts as done).
    async fn delete(&self, key: &ReportKey) -> bool {
        let api =
            Api::<DynamicObject>::namespaced_with(self.client.clone(), &key.0, &self.resource);
        let outcome = match api.delete(&key.1, &DeleteParams::default()).await {
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            other => other.map(|_| ()),
        };
        self.count(outcome, "delete", key)
    }

    fn count(&self, outcome: Result<(), kube::Error>, verb: &str, key: &ReportKey) -> bool {
        match outcome {
            Ok(()) => {
                self.status.0.writes_ok.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(error) => {
                self.status.0.writes_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, verb, namespace = %key.0, name = %key.1, "policy report write failed; retrying next pass");
                false
            }
        }
    }
}

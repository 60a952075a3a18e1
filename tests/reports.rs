//! `serve --reports` against the stand-in API server: the real kube client, watcher, Lease
//! manager and server-side apply. A policy report appears for a stored sticky regex Ingress,
//! changes when the Ingress is fixed, and goes when it is deleted; of two replicas only the
//! leader writes; without a report CRD nothing is written and `/readyz` says so.

mod common;

use common::Server;
use common::apiserver::{ApiServer, Options};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use sticky_guard::policy::Policy;
use sticky_guard::reporter::{self, ReportStatus, ReportsMode, Settings};
use sticky_guard::view::ViewSource;
use sticky_guard::view::live::LiveView;

const WAIT: Duration = Duration::from_secs(20);

/// A synced live view on `api`.
async fn live_view(api: &ApiServer) -> LiveView {
    let view = LiveView::start(api.client());
    tokio::time::timeout(WAIT, view.wait_until_synced())
        .await
        .expect("caches sync");
    view
}

/// A replica: the webhook with a live view, and its report writer as `identity`.
async fn replica(api: &ApiServer, mode: ReportsMode, identity: &str) -> (Server, LiveView) {
    let view = live_view(api).await;
    let server =
        Server::start_with(Policy::default(), ViewSource::Live(Box::new(view.clone()))).await;
    tokio::spawn(reporter::run(
        view.clone(),
        Arc::new(Policy::default()),
        Settings {
            mode,
            namespace: "sticky-guard".into(),
            identity: identity.into(),
            interval: Duration::from_millis(100),
            max_writes_per_second: 100,
        },
        server.health.reports.clone(),
    ));
    (server, view)
}

/// Polls `condition` until it holds.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A sticky Ingress with a regex path and no session-cookie-path (a deny of
/// cookie-path-for-regex) and SameSite None without Secure (a warning).
fn sticky_regex_ingress() -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "app", "annotations": {
            "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/use-regex": "true",
            "nginx.ingress.kubernetes.io/session-cookie-samesite": "None"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {
            "paths": [{"path": "/mysite(/|$)(.*)", "pathType": "ImplementationSpecific",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
}

/// The Ingress's backend Service, a plain one with a selector: nothing to say about it.
fn web_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
}

fn rules_of(report: &Value) -> Vec<(String, String)> {
    report["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    (
                        r["rule"].as_str().unwrap_or("").to_string(),
                        r["result"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_report_follows_its_ingress_from_broken_to_fixed_to_deleted() {
    let api = ApiServer::start(Options {
        openreports_crds: true,
        policy_report_crds: true,
        ..Options::default()
    })
    .await;
    api.apply(web_service());
    api.apply(sticky_regex_ingress());
    let (server, _view) = replica(&api, ReportsMode::Auto, "replica-a").await;
    let stored = api.get("Ingress", "app", "shop").expect("stored");
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_string();
    let name = format!("sticky-guard-{uid}");

    // Auto takes openreports.io when both are served.
    eventually("the report", || api.get("Report", "app", &name).is_some()).await;
    let report = api.get("Report", "app", &name).unwrap();
    assert_eq!(report["apiVersion"], "openreports.io/v1alpha1");
    assert_eq!(
        report["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "sticky-guard"
    );
    assert_eq!(report["scope"]["uid"], json!(uid));
    assert_eq!(report["scope"]["kind"], "Ingress");
    assert_eq!(
        rules_of(&report),
        [
            ("cookie-path-for-regex".to_string(), "fail".to_string()),
            (
                "samesite-none-without-secure".to_string(),
                "warn".to_string()
            ),
        ]
    );
    assert_eq!(report["summary"]["fail"], 1);
    let (_, body) = server.get_json("/readyz").await;
    assert_eq!(body["reports"], "openreports (leader)", "{body}");
    assert!(server.health.reports.is_leader());

    // Fixed: session-cookie-path set; the warning stays, the failure goes.
    let mut fixed = sticky_regex_ingress();
    fixed["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-path"] =
        json!("/mysite");
    api.apply(fixed);
    eventually("the updated report", || {
        api.get("Report", "app", &name)
            .is_some_and(|r| rules_of(&r).len() == 1)
    })
    .await;
    let report = api.get("Report", "app", &name).unwrap();
    assert_eq!(
        rules_of(&report),
        [(
            "samesite-none-without-secure".to_string(),
            "warn".to_string()
        )]
    );
    assert_eq!(report["summary"]["fail"], 0);
    assert_eq!(report["summary"]["warn"], 1);

    // Deleted: the report goes.
    api.delete("Ingress", "app", "shop");
    eventually("the report deleted", || {
        api.get("Report", "app", &name).is_none()
    })
    .await;
    // The writer counts a write once the API server has answered it, and its gauge at the end
    // of the pass: wait for both.
    let status = server.health.reports.clone();
    eventually("create, update and delete counted", || {
        status.writes() == (3, 0) && status.reports() == 0
    })
    .await;
    let metrics = server.health.metrics.encode();
    for line in [
        "sticky_guard_report_writes_total{result=\"ok\"} 3",
        "sticky_guard_report_writes_total{result=\"failed\"} 0",
        "sticky_guard_reports 0",
        "sticky_guard_reports_leader 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn of_two_replicas_only_the_leader_writes() {
    let api = ApiServer::start(Options {
        policy_report_crds: true,
        ..Options::default()
    })
    .await;
    api.apply(web_service());
    api.apply(sticky_regex_ingress());
    let (first, _a) = replica(&api, ReportsMode::Auto, "replica-a").await;
    let (second, _b) = replica(&api, ReportsMode::Auto, "replica-b").await;
    let uid = api.get("Ingress", "app", "shop").unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let name = format!("sticky-guard-{uid}");
    // Only wgpolicyk8s.io is served: auto takes it.
    eventually("the policy report", || {
        api.get("PolicyReport", "app", &name).is_some()
    })
    .await;
    let statuses = [first.health.reports.clone(), second.health.reports.clone()];
    eventually("one leader", || {
        statuses.iter().filter(|s| s.is_leader()).count() == 1
    })
    .await;
    // A change is written by the leader alone.
    let mut fixed = sticky_regex_ingress();
    fixed["metadata"]["annotations"]["nginx.ingress.kubernetes.io/session-cookie-path"] =
        json!("/mysite");
    api.apply(fixed);
    eventually("the updated policy report", || {
        api.get("PolicyReport", "app", &name)
            .is_some_and(|r| rules_of(&r).len() == 1)
    })
    .await;
    let leader = statuses.iter().find(|s| s.is_leader()).unwrap();
    eventually("the leader's two writes counted", || {
        leader.writes() == (2, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let standby = statuses.iter().find(|s| !s.is_leader()).unwrap();
    assert_eq!(leader.writes(), (2, 0));
    assert_eq!(standby.writes(), (0, 0));
    assert_eq!(standby.describe(), "policyreport (standby)");
    assert_eq!(leader.describe(), "policyreport (leader)");
    let lease = api
        .get("Lease", "sticky-guard", "sticky-guard-reports")
        .expect("the Lease");
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap();
    assert!(holder == "replica-a" || holder == "replica-b", "{lease}");
}

#[tokio::test]
async fn without_a_report_crd_nothing_is_written_and_readyz_says_so() {
    let api = ApiServer::start(Options::default()).await;
    api.apply(web_service());
    api.apply(sticky_regex_ingress());
    let (server, _view) = replica(&api, ReportsMode::Auto, "replica-a").await;
    let off = "off: neither openreports.io/v1alpha1 reports nor wgpolicyk8s.io/v1alpha2 \
               policyreports is served (install a CRD and restart)";
    let status = server.health.reports.clone();
    eventually("the decision", || status.describe() == off).await;
    let (code, body) = server.get_json("/readyz").await;
    assert_eq!(code, 200);
    assert_eq!(body["reports"], off);
    assert!(
        api.get("Lease", "sticky-guard", "sticky-guard-reports")
            .is_none()
    );
    assert_eq!(status.writes(), (0, 0));
    // Asked for explicitly, but not served: off, saying which.
    let explicit = ReportStatus::default();
    let view = live_view(&api).await;
    reporter::run(
        view,
        Arc::new(Policy::default()),
        Settings {
            mode: ReportsMode::Openreports,
            namespace: "sticky-guard".into(),
            identity: "x".into(),
            interval: Duration::from_millis(100),
            max_writes_per_second: 100,
        },
        explicit.clone(),
    )
    .await;
    assert_eq!(
        explicit.describe(),
        "off: --reports openreports asked for, but its CRD is not served"
    );
}

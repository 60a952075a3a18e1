//! Prometheus metrics (`GET /metrics` on the plain-HTTP metrics port), with `prometheus-client`.
//!
//! One [`Metrics`] per server, no process-wide registry: tests run several servers in one process
//! and count each one's requests exactly. Series (all prefixed `sticky_guard_`):
//!
//! | series | type | labels |
//! |---|---|---|
//! | `admission_requests_total` | counter | `webhook` (`mutate`/`validate`), `kind` (`Ingress`, `Service`, `other`), `allowed`, `dry_run` |
//! | `admission_rejected_bodies_total` | counter | `webhook`: bodies that were not an AdmissionReview (HTTP 400) |
//! | `findings_total` | counter | `rule`, `action` (`deny`, `warn`, or `patch` when the mutating webhook fixed it); counted per answered call, so one write that reaches both webhooks counts in each |
//! | `admission_duration_seconds` | histogram | `webhook`; buckets 50 µs × 2ⁿ up to ~3.3 s |
//! | `cache_objects` | gauge | `resource`: objects in the watch cache |
//! | `cache_synced` | gauge | `resource`: 1 once the cache has synced |
//! | `cache_watch_failing` | gauge | `resource`: 1 while its watch fails (the cache may be stale) |
//! | `live_lookups_total` | counter | `result`: API calls (`found`, `absent`, `error`), lookups that joined one in flight (`coalesced`) or were answered from a recent "not found" (`remembered`), and `timeout` |
//! | `certificate_expiry_timestamp_seconds` | gauge | `certificate` (`serving`, `ca`): Unix time of `notAfter` |
//! | `http_errors_total` | counter | `status`: answers on the webhook port with a 4xx/5xx status |
//! | `build_info` | info | `version` |
//!
//! Gauges about the caches and certificates are read from their owners at scrape time
//! ([`Collector`]); counters are incremented where things happen.

use crate::rules::Level;
use crate::tls::ServingState;
use crate::view::ViewSource;
use crate::view::live::CacheStat;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Labels of `admission_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `mutate` or `validate`.
    pub webhook: &'static str,
    /// `request.kind.kind`: `Ingress`, `Service`, or `other`.
    pub kind: &'static str,
    /// `true` or `false`.
    pub allowed: &'static str,
    /// `request.dryRun`: `true` or `false`.
    pub dry_run: &'static str,
}

/// Labels of `findings_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    /// The rule ID.
    pub rule: &'static str,
    /// `deny`, `warn` or `patch`.
    pub action: &'static str,
}

/// Labels naming a webhook.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `mutate` or `validate`.
    pub webhook: &'static str,
}

/// What one judged request contributes to the metrics.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// `mutate` or `validate`.
    pub webhook: &'static str,
    /// `request.kind.kind`.
    pub kind: &'a str,
    /// The answer.
    pub allowed: bool,
    /// `request.dryRun`.
    pub dry_run: bool,
    /// Each finding: rule ID, level, and whether the mutating webhook patched it.
    pub findings: &'a [(&'static str, Level, bool)],
    /// Time from the body read to the response built.
    pub elapsed: Duration,
}

/// The server's metrics. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    rejected: Family<WebhookLabels, Counter>,
    findings: Family<FindingLabels, Counter>,
    duration: Family<WebhookLabels, Histogram>,
    errors: Family<StatusLabels, Counter>,
}

/// Labels of `http_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// The HTTP status code (a bounded set: 4xx and 5xx).
    pub status: u16,
}

/// Histogram buckets of `admission_duration_seconds`: 50 µs doubling 17 times (to ~3.3 s, past
/// the webhooks' 3 s `timeoutSeconds`).
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(50e-6, 2.0, 17)
}

impl Metrics {
    /// Metrics for one server: `view`, `serving` and `reports` are read at each scrape.
    pub fn new(
        view: ViewSource,
        serving: ServingState,
        reports: crate::reporter::ReportStatus,
    ) -> Metrics {
        let mut registry = Registry::with_prefix("sticky_guard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "AdmissionReview requests answered, by webhook, kind, answer and dryRun",
            requests.clone(),
        );
        let rejected = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "admission_rejected_bodies",
            "Request bodies refused with HTTP 400 (not an admission.k8s.io/v1 AdmissionReview)",
            rejected.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings in answered requests, by rule and action (deny, warn, patch)",
            findings.clone(),
        );
        let duration = Family::<WebhookLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(duration_buckets())
        });
        registry.register_with_unit(
            "admission_duration",
            "Time to answer one AdmissionReview, from the body read to the response built",
            prometheus_client::registry::Unit::Seconds,
            duration.clone(),
        );
        let errors = Family::<StatusLabels, Counter>::default();
        registry.register(
            "http_errors",
            "Answers on the webhook port with an HTTP error status (400, 404, 405, 408, 413, 415, ...)",
            errors.clone(),
        );
        registry.register(
            "build",
            "Build information",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(StateCollector {
            view,
            serving,
            reports,
        }));
        Metrics {
            registry,
            requests,
            rejected,
            findings,
            duration,
            errors,
        }
    }

    /// Counts one answered request.
    pub fn observe(&self, o: &Observation<'_>) {
        let flag = |b: bool| if b { "true" } else { "false" };
        self.requests
            .get_or_create(&RequestLabels {
                webhook: o.webhook,
                kind: bounded_kind(o.kind),
                allowed: flag(o.allowed),
                dry_run: flag(o.dry_run),
            })
            .inc();
        for (rule, level, patched) in o.findings {
            let action = if *patched { "patch" } else { level.as_str() };
            self.findings
                .get_or_create(&FindingLabels { rule, action })
                .inc();
        }
        self.duration
            .get_or_create(&WebhookLabels { webhook: o.webhook })
            .observe(o.elapsed.as_secs_f64());
    }

    /// Counts an answer with an HTTP error status (4xx or 5xx).
    pub fn http_error(&self, status: u16) {
        if (400..600).contains(&status) {
            self.errors.get_or_create(&StatusLabels { status }).inc();
        }
    }

    /// Counts a body refused with HTTP 400.
    pub fn rejected(&self, webhook: &'static str) {
        self.rejected
            .get_or_create(&WebhookLabels { webhook })
            .inc();
    }

    /// The OpenMetrics text exposition (`# EOF`-terminated), for `GET /metrics`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a collector.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "cannot encode metrics");
        }
        text
    }
}

/// `request.kind.kind` as a label value: `Ingress`, `Service`, or `other`. The webhook port is
/// reachable by anyone who can reach the Service, so a label must never take its values from a
/// request body: each new value would be a series kept for the life of the process.
fn bounded_kind(kind: &str) -> &'static str {
    match kind {
        "Ingress" => "Ingress",
        "Service" => "Service",
        _ => "other",
    }
}

/// Reads the caches and the serving certificate at scrape time.
struct StateCollector {
    view: ViewSource,
    serving: ServingState,
    reports: crate::reporter::ReportStatus,
}

impl std::fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCollector")
            .field("serving", &self.serving)
            .finish_non_exhaustive()
    }
}

/// A gauge per watch cache: name, help, and how to read it from the cache's stats.
type CacheGauge = (&'static str, &'static str, fn(&CacheStat) -> i64);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    certificate: &'static str,
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let caches = self.view.cache_stats();
        let per_cache: [CacheGauge; 3] = [
            ("cache_objects", "Objects in each watch cache", |c| {
                i64::try_from(c.objects).unwrap_or(i64::MAX)
            }),
            (
                "cache_synced",
                "1 once the watch cache has synced (listed) at least once",
                |c| i64::from(c.synced),
            ),
            (
                "cache_watch_failing",
                "1 while the watch of this cache fails (it retries with backoff; the cache may be stale)",
                |c| i64::from(c.failing),
            ),
        ];
        for (name, help, value) in per_cache {
            gauge_family(
                &mut encoder,
                name,
                help,
                caches.iter().map(|c| {
                    let labels = ResourceLabels {
                        resource: c.resource,
                    };
                    (labels, value(c))
                }),
            )?;
        }
        if let Some(lookups) = self.view.live_lookups() {
            let metric = encoder.encode_descriptor(
                "live_lookups",
                "Lookups of backend Services missing from the cache: API calls (found, absent, error), coalesced into one in flight, remembered not-found, timed out",
                None,
                prometheus_client::metrics::MetricType::Counter,
            );
            let mut metric = metric?;
            for (result, count) in lookups {
                let labels = ResultLabels { result };
                let family = metric.encode_family(&labels)?;
                ConstCounter::new(count).encode(family)?;
            }
        }
        let (ok, failed) = self.reports.writes();
        let mut metric = encoder.encode_descriptor(
            "report_writes",
            "Policy report writes (server-side applies and deletes) by result: ok, failed (serve --reports; 0 on a standby or with reports off)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (result, count) in [("ok", ok), ("failed", failed)] {
            let labels = ResultLabels { result };
            let family = metric.encode_family(&labels)?;
            ConstCounter::new(count).encode(family)?;
        }
        for (name, help, value) in [
            (
                "reports",
                "Policy reports this replica has written and not deleted (0 unless it leads)",
                i64::try_from(self.reports.reports()).unwrap_or(i64::MAX),
            ),
            (
                "reports_leader",
                "1 while this replica holds the policy report Lease",
                i64::from(self.reports.is_leader()),
            ),
        ] {
            let metric = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            ConstGauge::new(value).encode(metric)?;
        }
        let expiry = self.serving.expiry();
        gauge_family(
            &mut encoder,
            "certificate_expiry_timestamp_seconds",
            "notAfter of the certificate in use, as a Unix timestamp (serving: the served certificate; ca: its issuer)",
            [("serving", expiry.serving), ("ca", expiry.ca)]
                .into_iter()
                .filter_map(|(certificate, t)| Some((CertificateLabels { certificate }, t?))),
        )?;
        Ok(())
    }
}

fn gauge_family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (L, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut values = values.into_iter().peekable();
    if values.peek().is_none() {
        return Ok(());
    }
    let mut metric = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for (labels, value) in values {
        let family = metric.encode_family(&labels)?;
        ConstGauge::new(value).encode(family)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_requests_are_bounded_label_values() {
        assert_eq!(bounded_kind("Ingress"), "Ingress");
        assert_eq!(bounded_kind("Service"), "Service");
        for other in ["", "K000001", "Pod", "a\"b"] {
            assert_eq!(bounded_kind(other), "other");
        }
    }

    #[test]
    fn duration_buckets_start_at_50_microseconds_and_pass_3_seconds() {
        let buckets: Vec<f64> = duration_buckets().collect();
        assert_eq!(buckets[0], 50e-6);
        assert_eq!(buckets[1], 100e-6);
        assert!(buckets[buckets.len() - 1] > 3.0);
        assert!(buckets[buckets.len() - 2] < 3.0);
    }
}

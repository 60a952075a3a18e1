//! Self-managed certificates (`serve --manage-certs`) against the stand-in API server: one
//! Secret for all replicas, the CA published into every webhook's `caBundle`, a changed Secret
//! served without a restart, and a CA rotation during which every served certificate stays
//! trusted by the published bundle.

mod common;

use base64::Engine;
use common::apiserver::{ApiServer, Options};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use sticky_guard::admission::http::AppState;
use sticky_guard::policy::Policy;
use sticky_guard::tls::managed::{CA_BUNDLE, CertManager, Settings, TLS_CERT, TLS_KEY};
use sticky_guard::tls::{self, ServingState, pki};

const NS: &str = "sticky-guard";
const SECRET: &str = "sticky-guard-tls";
/// The name kube-apiserver dials for `clientConfig.service` sticky-guard/sticky-guard.
const SERVICE_DNS: &str = "sticky-guard.sticky-guard.svc";
const WAIT: Duration = Duration::from_secs(15);

/// The two webhook configurations as `manifests/` installs them (no `caBundle`), plus one webhook
/// of somebody else's that must be left alone.
fn install_webhook_configurations(api: &ApiServer) {
    let ours = |name: &str, path: &str| {
        json!({"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
               "clientConfig": {"service": {"name": "sticky-guard", "namespace": NS, "path": path, "port": 443}}})
    };
    api.apply(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "sticky-guard"},
        "webhooks": [ours("ingresses.mutate.sticky-guard.dev", "/mutate")],
    }));
    api.apply(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "sticky-guard"},
        "webhooks": [
            ours("ingresses.validate.sticky-guard.dev", "/validate"),
            ours("services.validate.sticky-guard.dev", "/validate"),
            {"name": "other.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
             "clientConfig": {"caBundle": "b3RoZXI=",
                              "service": {"name": "other", "namespace": "other", "port": 443}}},
        ],
    }));
}

/// Every `caBundle` of the webhooks that call sticky-guard, decoded (empty when unset).
fn published_bundles(api: &ApiServer) -> Vec<Vec<u8>> {
    let mut bundles = Vec::new();
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let config = api.get(kind, "", "sticky-guard").expect("configuration");
        for webhook in config["webhooks"].as_array().unwrap() {
            if webhook["clientConfig"]["service"]["name"] != "sticky-guard" {
                continue;
            }
            let bundle = webhook["clientConfig"]["caBundle"].as_str().unwrap_or("");
            bundles.push(
                base64::engine::general_purpose::STANDARD
                    .decode(bundle)
                    .unwrap(),
            );
        }
    }
    bundles
}

fn secret_data(api: &ApiServer, key: &str) -> Vec<u8> {
    let secret = api.get("Secret", NS, SECRET).expect("the Secret");
    base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap())
        .unwrap()
}

fn fast_settings() -> Settings {
    let mut settings = Settings::new(NS);
    settings.poll = Duration::from_millis(100);
    settings.settle = Duration::from_millis(300);
    settings.recheck = Duration::from_secs(1);
    settings
}

/// One replica: the real HTTPS server, started with a placeholder certificate, and its
/// certificate manager.
struct Replica {
    address: SocketAddr,
    serving: ServingState,
    manager: tokio::task::JoinHandle<()>,
    _server: tls::server::Running,
}

impl Replica {
    async fn start(api: &ApiServer, settings: Settings) -> Replica {
        let placeholder = tls::dev::generate(&settings.dns_names(), 1).unwrap();
        let config = tls::server_config(
            placeholder.cert_pem.as_bytes(),
            placeholder.key_pem.as_bytes(),
            Default::default(),
        )
        .unwrap();
        let serving = ServingState::default();
        let state = AppState::single_object(Policy::default(), "tests", serving.clone());
        let server = common::start_https(state, config).await;
        let manager = CertManager::new(
            api.client(),
            settings,
            server.tls_reloader(),
            serving.clone(),
        );
        Replica {
            address: server.local_addr,
            serving,
            manager: tokio::spawn(manager.run()),
            _server: server,
        }
    }

    async fn certificate(&self) -> Vec<u8> {
        common::served_certificate(self.address, SERVICE_DNS).await
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.manager.abort();
    }
}

async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An HTTPS GET of `/readyz` as kube-apiserver would connect: trusting only `bundle`, dialing
/// the Service's DNS name.
async fn readyz_trusting(bundle: &[u8], address: SocketAddr) -> Result<u16, reqwest::Error> {
    let bundle = std::str::from_utf8(bundle).unwrap();
    let client = common::client_trusting_at(bundle, Some((SERVICE_DNS, address)));
    let response = client
        .get(format!("https://{SERVICE_DNS}:{}/readyz", address.port()))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn two_replicas_share_one_secret_and_publish_its_ca_to_every_webhook() {
    let api = ApiServer::start(Options::default()).await;
    install_webhook_configurations(&api);
    let (a, b) = tokio::join!(
        Replica::start(&api, fast_settings()),
        Replica::start(&api, fast_settings())
    );
    eventually("both replicas serve the Secret's certificate", async || {
        a.serving.is_loaded() && b.serving.is_loaded()
    })
    .await;

    let creates = api.count("POST", "/api/v1/namespaces/sticky-guard/secrets", 201);
    assert_eq!(creates, 1, "exactly one Secret created: {:?}", api.writes());
    let tls_crt = String::from_utf8(secret_data(&api, TLS_CERT)).unwrap();
    let served = pki::parse(&tls_crt).unwrap().der;
    assert_eq!(a.certificate().await, served);
    assert_eq!(b.certificate().await, served);

    let bundle = secret_data(&api, CA_BUNDLE);
    eventually("the bundle in every webhook", async || {
        published_bundles(&api) == vec![bundle.clone(); 3]
    })
    .await;
    let validating = api
        .get("ValidatingWebhookConfiguration", "", "sticky-guard")
        .unwrap();
    assert_eq!(
        validating["webhooks"][2]["clientConfig"]["caBundle"], "b3RoZXI=",
        "another service's webhook is left alone"
    );
    // kube-apiserver's view: trusting only the published bundle, the Service name verifies.
    for replica in [&a, &b] {
        assert_eq!(
            readyz_trusting(&bundle, replica.address).await.unwrap(),
            200
        );
    }
}

#[tokio::test]
async fn a_changed_secret_is_served_without_a_restart() {
    let api = ApiServer::start(Options::default()).await;
    install_webhook_configurations(&api);
    let replica = Replica::start(&api, fast_settings()).await;
    eventually("the first certificate", async || {
        replica.serving.is_loaded()
    })
    .await;
    let first = replica.certificate().await;

    // Somebody (an operator, or another replica renewing) writes a new serving certificate from
    // the same CA into the Secret.
    let ca = pki::KeyedCert {
        cert_pem: String::from_utf8(secret_data(&api, "ca.crt")).unwrap(),
        key_pem: String::from_utf8(secret_data(&api, "ca.key")).unwrap(),
    };
    let renewed = pki::issue(
        &ca,
        &fast_settings().dns_names(),
        Duration::from_secs(80 * 86_400),
    )
    .unwrap();
    let mut secret = api.get("Secret", NS, SECRET).unwrap();
    let b64 = |s: &str| Value::from(base64::engine::general_purpose::STANDARD.encode(s));
    secret["data"][TLS_CERT] = b64(&renewed.cert_pem);
    secret["data"][TLS_KEY] = b64(&renewed.key_pem);
    api.apply(secret);

    let expected = pki::parse(&renewed.cert_pem).unwrap().der;
    assert_ne!(expected, first);
    eventually("the new certificate served", async || {
        replica.certificate().await == expected
    })
    .await;
    // The manager keeps it: it is fresh and from the current CA.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(replica.certificate().await, expected);
    assert_eq!(
        secret_data(&api, TLS_CERT),
        renewed.cert_pem.as_bytes().to_vec()
    );
}

/// CAs valid 12 s (rotated with 4 s left), serving certificates valid 6 s: within 14 s the CA is
/// rotated once, serving certificates are renewed, and the old CA expires and leaves the bundle.
/// Sampled every 100 ms, every replica's served certificate must be issued by a CA that every
/// webhook's published `caBundle` holds: kube-apiserver would never fail a call.
#[tokio::test]
async fn ca_rotation_keeps_every_served_certificate_trusted() {
    let api = ApiServer::start(Options::default()).await;
    install_webhook_configurations(&api);
    let mut settings = fast_settings();
    settings.ca_validity = Duration::from_secs(12);
    settings.serving_validity = Duration::from_secs(6);
    let replicas = [
        Replica::start(&api, settings.clone()).await,
        Replica::start(&api, settings.clone()).await,
    ];
    eventually("both replicas loaded", async || {
        replicas.iter().all(|r| r.serving.is_loaded())
    })
    .await;
    eventually("the bundle published", async || {
        published_bundles(&api).iter().all(|b| !b.is_empty())
    })
    .await;

    let first_ca = pki::parse(&String::from_utf8(secret_data(&api, "ca.crt")).unwrap()).unwrap();
    // When a newer CA was first published everywhere, and when a replica first served a
    // certificate it issued: the second must come at least the settle time after the first.
    let mut newest_published_at: Option<(Vec<u8>, tokio::time::Instant)> = None;
    let mut settle_gaps = Vec::new();
    let mut cas_seen = vec![first_ca.der.clone()];
    let mut both_cas_published = false;
    let mut served_new_while_old_published = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(16);
    let mut pruned_after_rotation = false;
    while tokio::time::Instant::now() < deadline {
        // Certificates first, then bundles: a certificate served before the bundle was read
        // must already be trusted by it.
        let mut served = Vec::new();
        for replica in &replicas {
            served.push(pki::parse_der(&replica.certificate().await).unwrap());
        }
        let now = pki::unix_now();
        for (i, cert) in served.iter().enumerate() {
            assert!(
                cert.remaining(now) > 0,
                "replica {i} serves an expired certificate"
            );
        }
        let bundles = published_bundles(&api);
        let everywhere: Vec<Vec<pki::CertInfo>> = bundles
            .iter()
            .map(|b| pki::parse_all(std::str::from_utf8(b).unwrap()).unwrap())
            .collect();
        if let Some(newest) = everywhere.first().and_then(|cas| cas.first())
            && newest.der != first_ca.der
            && everywhere
                .iter()
                .all(|cas| cas.iter().any(|c| c.der == newest.der))
            && newest_published_at
                .as_ref()
                .is_none_or(|(der, _)| *der != newest.der)
        {
            newest_published_at = Some((newest.der.clone(), tokio::time::Instant::now()));
        }
        if let Some((der, at)) = &newest_published_at {
            let ca = pki::parse_der(der).unwrap();
            if served.iter().any(|c| c.signed_by(&ca)) && settle_gaps.len() < cas_seen.len() {
                settle_gaps.push(at.elapsed());
            }
        }
        for bundle in &bundles {
            let cas = pki::parse_all(std::str::from_utf8(bundle).unwrap()).unwrap();
            for (i, cert) in served.iter().enumerate() {
                assert!(
                    cas.iter().any(|ca| cert.signed_by(ca)),
                    "replica {i} serves a certificate no published CA issued"
                );
            }
            for ca in &cas {
                if !cas_seen.contains(&ca.der) {
                    cas_seen.push(ca.der.clone());
                }
            }
            if cas.len() >= 2 {
                both_cas_published = true;
                let newest = &cas[0];
                if served.iter().all(|c| c.signed_by(newest)) {
                    served_new_while_old_published = true;
                }
            }
            if cas_seen.len() >= 2 && cas.len() == 1 && served_new_while_old_published {
                pruned_after_rotation = true;
            }
        }
        if pruned_after_rotation {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cas_seen.len() >= 2, "the CA was rotated");
    assert!(both_cas_published, "old and new CA were published together");
    assert!(
        served_new_while_old_published,
        "every replica served the new CA's certificate while the old CA was still published"
    );
    assert!(pruned_after_rotation, "the expired CA left the bundle");
    // Sampling every ~100 ms sees the publication up to one sample late.
    assert!(
        !settle_gaps.is_empty(),
        "a certificate of a new CA was served"
    );
    for gap in &settle_gaps {
        assert!(
            *gap + Duration::from_millis(150) >= settings.settle,
            "a new CA's certificate was served {gap:?} after the CA was published (settle {:?})",
            settings.settle
        );
    }
}

//! Self-managed webhook certificates (`serve --manage-certs`), the default install.
//!
//! Every replica runs the same loop; there is no leader election. The state lives in one Secret
//! in the pods' namespace (default `sticky-guard-tls`, type `kubernetes.io/tls`):
//!
//! | key | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the CA that signs serving certificates now |
//! | `tls.crt`, `tls.key` | the serving certificate, for the Service's DNS names ([`pki::service_dns_names`]) |
//! | `ca-bundle.crt` | every unexpired CA to trust, newest first: what goes into `caBundle` |
//!
//! and the annotation `sticky-guard.dev/ca-bundle-serial` (Unix milliseconds of the last change
//! of `ca-bundle.crt`).
//!
//! Each tick (every [`Settings::poll`], 5 s by default) a replica:
//! 1. GETs the Secret. Missing: it makes a CA and a serving certificate and *creates* the Secret;
//!    if another replica created it first (409 AlreadyExists) it re-reads on the next tick. Every
//!    later write is an update carrying the `resourceVersion` it read, so of two replicas racing
//!    one wins and the other (409 Conflict) re-reads. This is why no leader election is needed.
//! 2. Serves the Secret's `tls.crt`/`tls.key` if they changed (a rustls reload; open connections
//!    keep theirs). This never waits for step 3.
//! 3. Publishes `ca-bundle.crt` into `clientConfig.caBundle` of each webhook of the
//!    MutatingWebhookConfiguration and ValidatingWebhookConfiguration (default name
//!    `sticky-guard`) whose `clientConfig.service` is this Service, with a merge patch that
//!    carries the configuration's `resourceVersion` (so it cannot overwrite a concurrent change)
//!    and the bundle's serial as an annotation. A replica whose Secret read is older than the
//!    serial already published leaves the configuration alone (a stale read never removes a
//!    CA) unless that lasts three ticks (then the serial is what is wrong: a restored Secret, a
//!    clock ahead). Configurations are re-checked every [`Settings::recheck`] (10 s), so one
//!    re-created without `caBundle` is repaired within seconds.
//! 4. Makes at most one change to the Secret ([`next_step`]), in this order:
//!    - no usable CA (missing, unreadable, key mismatch, expired): a new CA; the old Secret's
//!      unexpired CAs stay in the bundle and a serving certificate they trust stays served, so
//!      the switch below applies;
//!    - the CA has less than a third of [`Settings::ca_validity`] left: a new CA becomes `ca.crt`,
//!      the bundle becomes new + old; the serving certificate stays (it is still trusted);
//!    - the serving certificate is not issued by the current CA (a rotation in progress): it is
//!      reissued from the new CA only once this replica has seen the new CA in every webhook's
//!      `caBundle` for [`Settings::settle`] (60 s), so kube-apiserver trusts it before it is served;
//!    - it has less than a third of [`Settings::serving_validity`] left, or wrong names, or does
//!      not match its key, or no trusted CA signed it: reissued from the current CA at once;
//!    - CAs in the bundle that have expired are dropped (an expired CA can no longer vouch for
//!      anything, so no replica can still be serving a certificate that needs it).
//!
//! So during a rotation the bundle holds the old and the new CA from before the first replica
//! serves a certificate of the new CA until the old CA expires, and every replica serves the
//! newest certificate within one poll of the Secret changing. Kubewarden keeps `old-ca.crt` and
//! publishes new+old; Kyverno keeps every unexpired CA: the same idea.
//!
//! RBAC: get, create, update on the Secret (create cannot be limited by name) and get, patch on
//! the two webhook configurations by `resourceNames`.

use super::ServingState;
use super::pki::{self, CertInfo, KeyedCert, PkiError};
use super::server::Reloader;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Secret key of the current CA certificate.
pub const CA_CERT: &str = "ca.crt";
/// Secret key of the current CA's private key.
pub const CA_KEY: &str = "ca.key";
/// Secret key of the serving certificate (the `kubernetes.io/tls` convention).
pub const TLS_CERT: &str = "tls.crt";
/// Secret key of the serving certificate's private key.
pub const TLS_KEY: &str = "tls.key";
/// Secret key of the CAs to trust, newest first.
pub const CA_BUNDLE: &str = "ca-bundle.crt";
/// Annotation (on the Secret and on the webhook configurations) holding the bundle's serial.
pub const SERIAL_ANNOTATION: &str = "sticky-guard.dev/ca-bundle-serial";

const DAY: Duration = Duration::from_secs(86_400);

/// Ticks in a row a newer serial on a configuration holds publication back (a stale read of the
/// Secret lasts one tick).
const STALE_TICKS_TOLERATED: u32 = 3;

/// What the certificate manager manages, and how often.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The pods' namespace: where the Secret and the webhook Service are.
    pub namespace: String,
    /// The webhook Service's name (its DNS names go into the serving certificate).
    pub service: String,
    /// The Secret's name.
    pub secret: String,
    /// The name of both the MutatingWebhookConfiguration and the ValidatingWebhookConfiguration.
    pub webhook_configuration: String,
    /// The cluster DNS domain (`cluster.local`).
    pub cluster_domain: String,
    /// How long a new CA is valid: 730 days. Rotated with a third left.
    pub ca_validity: Duration,
    /// How long a serving certificate is valid: 90 days. Renewed with a third left.
    pub serving_validity: Duration,
    /// How long the new CA must have been published in every `caBundle` before a serving
    /// certificate it issued is served: 60 s (kube-apiserver picks up webhook configuration
    /// changes through an informer; several API servers each have their own).
    pub settle: Duration,
    /// Time between ticks: 5 s.
    pub poll: Duration,
    /// The oldest TLS version served: 1.2.
    pub tls_min_version: super::MinVersion,
    /// Time between checks of the webhook configurations when nothing changed: 10 s (repairs a
    /// configuration that was re-created without `caBundle`: two GETs per replica every 10 s).
    pub recheck: Duration,
}

impl Settings {
    /// Defaults for `namespace`: Service, Secret and configurations named as in `manifests/`.
    pub fn new(namespace: &str) -> Settings {
        Settings {
            namespace: namespace.to_string(),
            service: "sticky-guard".into(),
            secret: "sticky-guard-tls".into(),
            webhook_configuration: "sticky-guard".into(),
            cluster_domain: "cluster.local".into(),
            ca_validity: 730 * DAY,
            serving_validity: 90 * DAY,
            settle: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            tls_min_version: super::MinVersion::Tls12,
            recheck: Duration::from_secs(10),
        }
    }

    /// The serving certificate's DNS names.
    pub fn dns_names(&self) -> Vec<String> {
        pki::service_dns_names(&self.service, &self.namespace, &self.cluster_domain)
    }
}

/// The PKI as the Secret holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretPki {
    /// The CA that signs serving certificates now.
    pub ca: KeyedCert,
    /// The serving certificate.
    pub serving: KeyedCert,
    /// PEM of every CA to trust, newest first.
    pub bundle: String,
    /// Unix milliseconds of the last change of `bundle`.
    pub serial: i64,
}

impl SecretPki {
    /// Reads the Secret's data. Missing keys read as empty text, a missing `ca-bundle.crt` as
    /// `ca.crt`.
    ///
    /// # Errors
    /// Which key is not UTF-8.
    pub fn from_secret(secret: &Secret) -> Result<SecretPki, String> {
        let empty = BTreeMap::new();
        let data = secret.data.as_ref().unwrap_or(&empty);
        // A missing key reads as empty: [`next_step`] then replaces what is missing and keeps
        // whatever still works (a CA to trust, a certificate still served).
        let text = |key: &str| -> Result<String, String> {
            match data.get(key) {
                None => Ok(String::new()),
                Some(bytes) => String::from_utf8(bytes.0.clone())
                    .map_err(|_| format!("`{key}` is not PEM text")),
            }
        };
        let serial = serial_of(&secret.metadata);
        let ca_cert = text(CA_CERT)?;
        let bundle = match text(CA_BUNDLE)? {
            b if b.trim().is_empty() => ca_cert.clone(),
            b => b,
        };
        Ok(SecretPki {
            ca: KeyedCert {
                cert_pem: ca_cert,
                key_pem: text(CA_KEY)?,
            },
            serving: KeyedCert {
                cert_pem: text(TLS_CERT)?,
                key_pem: text(TLS_KEY)?,
            },
            bundle,
            serial,
        })
    }

    /// Writes this PKI into `secret` (data and serial annotation; the rest is kept).
    pub fn write_into(&self, secret: &mut Secret) {
        let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        data.insert(CA_CERT.into(), bytes(&self.ca.cert_pem));
        data.insert(CA_KEY.into(), bytes(&self.ca.key_pem));
        data.insert(TLS_CERT.into(), bytes(&self.serving.cert_pem));
        data.insert(TLS_KEY.into(), bytes(&self.serving.key_pem));
        data.insert(CA_BUNDLE.into(), bytes(&self.bundle));
        secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(SERIAL_ANNOTATION.into(), self.serial.to_string());
    }
}

/// What a replica does to the Secret this tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing.
    Keep,
    /// Write this PKI (create the Secret, or update it), for this reason (logged).
    Write(Box<SecretPki>, String),
}

/// Decides the one change to make to the Secret, if any (see the module documentation for the
/// order). `current` is the Secret as read (`None`: absent; `Err`: unusable, with why);
/// `now_ms` Unix milliseconds; `ca_published_for` how long this replica has seen the current CA
/// in every webhook's `caBundle` (`None`: not yet).
///
/// # Errors
/// [`PkiError`] when a new certificate cannot be made.
pub fn next_step(
    current: Option<&Result<SecretPki, String>>,
    now_ms: i64,
    settings: &Settings,
    ca_published_for: Option<Duration>,
) -> Result<Step, PkiError> {
    let now = now_ms.div_euclid(1000);
    let pki = match current {
        None => None,
        Some(Err(_)) => None,
        Some(Ok(pki)) => Some(pki),
    };
    // A new CA and serving certificate. What still works of the old Secret is kept: its
    // unexpired CAs stay in the bundle, and a serving certificate they trust stays served until
    // the new CA is published (the CA-switch step below), so replacing a broken or expired CA
    // never makes kube-apiserver distrust a certificate being served.
    let fresh = |reason: String| -> Result<Step, PkiError> {
        let ca = pki::new_ca(&ca_name(now), settings.ca_validity)?;
        let ca_info = pki::parse(&ca.cert_pem)?;
        let mut kept: Vec<CertInfo> = Vec::new();
        if let Some(old) = pki {
            for cert in pki::parse_each(&old.bundle)
                .into_iter()
                .chain(pki::parse_each(&old.ca.cert_pem))
            {
                if cert.is_ca && cert.remaining(now) > 0 && !kept.iter().any(|k| k.der == cert.der)
                {
                    kept.push(cert);
                }
            }
        }
        let old_serving = pki.map(|old| old.serving.clone()).filter(|serving| {
            pki::parse(&serving.cert_pem).is_ok_and(|s| {
                s.remaining(now) > 0
                    && s.dns_names == settings.dns_names()
                    && pki::key_matches(&serving.cert_pem, &serving.key_pem)
                    && kept.iter().any(|ca| s.signed_by(ca))
            })
        });
        let serving = match old_serving {
            Some(serving) => serving,
            None => pki::issue(&ca, &settings.dns_names(), settings.serving_validity)?,
        };
        Ok(Step::Write(
            Box::new(SecretPki {
                bundle: bundle_pem(std::iter::once(&ca_info).chain(kept.iter())),
                ca,
                serving,
                serial: now_ms,
            }),
            reason,
        ))
    };
    let pki = match (pki, current) {
        (Some(pki), _) => pki,
        (None, Some(Err(why))) => {
            return fresh(format!(
                "the Secret is unusable ({why}): made a new CA and serving certificate"
            ));
        }
        (None, _) => return fresh("no Secret yet: made a CA and a serving certificate".into()),
    };
    let ca = match pki::parse(&pki.ca.cert_pem) {
        Ok(ca) if ca.is_ca && pki::key_matches(&pki.ca.cert_pem, &pki.ca.key_pem) => ca,
        _ => {
            return fresh(
                "the Secret holds no usable CA and key: made a new CA; the old CAs stay trusted until they expire".into(),
            );
        }
    };
    if ca.remaining(now) <= 0 {
        return fresh("the CA has expired: made a new CA and serving certificate".into());
    }
    // Blocks that do not parse are dropped; the rest of the bundle stays.
    let bundle = pki::parse_each(&pki.bundle);
    let unexpired: Vec<&CertInfo> = bundle.iter().filter(|c| c.remaining(now) > 0).collect();
    let third = |d: Duration| i64::try_from(d.as_secs() / 3).unwrap_or(i64::MAX);

    // The CA: rotate with a third of its validity left; the old one stays in the bundle.
    if ca.remaining(now) < third(settings.ca_validity) {
        let new = pki::new_ca(&ca_name(now), settings.ca_validity)?;
        let new_info = pki::parse(&new.cert_pem)?;
        let mut next = pki.clone();
        next.bundle = bundle_pem(
            std::iter::once(&new_info)
                .chain(unexpired.iter().copied().filter(|c| c.der != new_info.der)),
        );
        next.ca = new;
        next.serial = now_ms;
        return Ok(Step::Write(
            Box::new(next),
            format!(
                "the CA expires at {}: rotated to a new CA; the bundle keeps the old one until then",
                ca.not_after
            ),
        ));
    }
    if !unexpired.iter().any(|c| c.der == ca.der) {
        let mut next = pki.clone();
        next.bundle = bundle_pem(std::iter::once(&ca).chain(unexpired.iter().copied()));
        next.serial = now_ms;
        return Ok(Step::Write(
            Box::new(next),
            "the CA bundle lacked the current CA: added it".into(),
        ));
    }
    if unexpired.len() < bundle.len() {
        let mut next = pki.clone();
        next.bundle = bundle_pem(unexpired.iter().copied());
        next.serial = now_ms;
        return Ok(Step::Write(
            Box::new(next),
            "dropped expired CAs from the bundle".into(),
        ));
    }

    // The serving certificate.
    let serving = pki::parse(&pki.serving.cert_pem).ok();
    let trusted = serving.as_ref().is_some_and(|s| {
        s.remaining(now) > 0
            && pki::key_matches(&pki.serving.cert_pem, &pki.serving.key_pem)
            && s.dns_names == settings.dns_names()
            && unexpired.iter().any(|c| s.signed_by(c))
    });
    let reason = match &serving {
        _ if !trusted => Some(
            "the serving certificate is unusable (expired, wrong names or key, or no trusted CA issued it)",
        ),
        Some(s) if !s.signed_by(&ca) => {
            Some("the CA was rotated: serving certificate reissued from the new CA")
        }
        Some(s) if s.remaining(now) < third(settings.serving_validity) => {
            Some("the serving certificate expires soon: renewed")
        }
        _ => None,
    };
    let Some(reason) = reason else {
        return Ok(Step::Keep);
    };
    // A certificate that still works is replaced by one from a new CA only once kube-apiserver
    // trusts that CA (a renewal from the same CA changes nothing kube-apiserver checks).
    let switches_ca = serving.as_ref().is_some_and(|s| !s.signed_by(&ca));
    if trusted && switches_ca && ca_published_for.is_none_or(|t| t < settings.settle) {
        return Ok(Step::Keep);
    }
    let mut next = pki.clone();
    next.serving = pki::issue(&pki.ca, &settings.dns_names(), settings.serving_validity)?;
    Ok(Step::Write(Box::new(next), reason.into()))
}

fn ca_name(now: i64) -> String {
    format!("sticky-guard CA {now}")
}

fn bundle_pem<'a>(certs: impl Iterator<Item = &'a CertInfo>) -> String {
    certs.map(pki::pem_of).collect()
}

/// Why a tick did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ManagedError {
    /// The API server refused or did not answer.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// A certificate could not be made.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The tick took longer than its time limit.
    #[error("the API server did not answer within {0:?}")]
    Timeout(Duration),
}

/// A replica's certificate manager: see the module documentation.
pub struct CertManager {
    client: kube::Client,
    settings: Settings,
    reloader: Reloader,
    serving: ServingState,
    /// The certificate and key being served (from the Secret).
    served: Option<KeyedCert>,
    /// The current CA and since when this replica has seen it in every webhook's `caBundle`.
    published: Option<(Vec<u8>, Instant)>,
    /// Serial of the bundle last seen in every configuration, and when.
    checked: Option<(i64, Instant)>,
    /// Ticks in a row on which a configuration carried a newer serial than the Secret read.
    stale_ticks: u32,
}

impl CertManager {
    /// A manager that reloads `reloader`'s server with the Secret's certificate and records it in
    /// `serving`.
    pub fn new(
        client: kube::Client,
        settings: Settings,
        reloader: Reloader,
        serving: ServingState,
    ) -> CertManager {
        CertManager {
            client,
            settings,
            reloader,
            serving,
            served: None,
            published: None,
            checked: None,
            stale_ticks: 0,
        }
    }

    /// Ticks every [`Settings::poll`] forever, logging failures (the next tick retries).
    pub async fn run(mut self) {
        loop {
            let limit = (self.settings.poll * 2).max(Duration::from_secs(10));
            match tokio::time::timeout(limit, self.tick()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "certificate manager: will retry"),
                Err(_) => tracing::warn!(
                    error = %ManagedError::Timeout(limit),
                    "certificate manager: will retry"
                ),
            }
            tokio::time::sleep(self.settings.poll).await;
        }
    }

    /// One round: read the Secret, publish its bundle, serve its certificate, make at most one
    /// change.
    ///
    /// # Errors
    /// [`ManagedError`] when the API server fails; nothing is lost, the next tick starts over.
    pub async fn tick(&mut self) -> Result<(), ManagedError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        let existing = secrets.get_opt(&self.settings.secret).await?;
        let current = existing.as_ref().map(SecretPki::from_secret);
        if let Some(Ok(pki)) = &current {
            // Serving does not wait for publishing: what the Secret holds is what the bundle
            // trusts, and a configuration this replica cannot patch must not keep it unready.
            self.serve(pki);
            if let Err(error) = self.publish(pki).await {
                tracing::warn!(%error, "certificate manager: cannot publish the CA bundle; will retry");
            }
        }
        let ca_published_for = self.published.as_ref().and_then(|(der, since)| {
            let ca = current.as_ref()?.as_ref().ok()?;
            let ca = pki::parse(&ca.ca.cert_pem).ok()?;
            (ca.der == *der).then(|| since.elapsed())
        });
        let step = next_step(
            current.as_ref(),
            unix_millis(),
            &self.settings,
            ca_published_for,
        )?;
        let Step::Write(pki, reason) = step else {
            return Ok(());
        };
        let written = match existing {
            Some(mut secret) => {
                // `resourceVersion` as read: a concurrent writer makes this fail with 409.
                pki.write_into(&mut secret);
                secrets
                    .replace(&self.settings.secret, &PostParams::default(), &secret)
                    .await
            }
            None => {
                let mut secret = Secret {
                    metadata: kube::api::ObjectMeta {
                        name: Some(self.settings.secret.clone()),
                        namespace: Some(self.settings.namespace.clone()),
                        labels: Some(BTreeMap::from([(
                            "app.kubernetes.io/managed-by".to_string(),
                            "sticky-guard".to_string(),
                        )])),
                        ..Default::default()
                    },
                    type_: Some("kubernetes.io/tls".into()),
                    ..Default::default()
                };
                pki.write_into(&mut secret);
                secrets.create(&PostParams::default(), &secret).await
            }
        };
        match written {
            Ok(_) => {
                tracing::info!(secret = %self.settings.secret, %reason, "certificate manager");
                self.serve(&pki);
                if let Err(error) = self.publish(&pki).await {
                    tracing::warn!(%error, "certificate manager: cannot publish the CA bundle; will retry");
                }
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::debug!(reason = %status.reason, "another replica wrote the Secret first; re-reading");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Serves the Secret's certificate if it is not already served and is usable.
    fn serve(&mut self, pki: &SecretPki) {
        if self.served.as_ref() == Some(&pki.serving) {
            return;
        }
        match super::server_config(
            pki.serving.cert_pem.as_bytes(),
            pki.serving.key_pem.as_bytes(),
            self.settings.tls_min_version,
        ) {
            Ok(config) => {
                self.reloader.reload(config);
                let issuer = pki::parse(&pki.serving.cert_pem).ok().and_then(|leaf| {
                    pki::parse_all(&pki.bundle)
                        .ok()?
                        .into_iter()
                        .find(|ca| leaf.signed_by(ca))
                });
                let issuer_pem = issuer.as_ref().map(pki::pem_of);
                self.serving
                    .set_loaded(&pki.serving.cert_pem, issuer_pem.as_deref());
                self.served = Some(pki.serving.clone());
                tracing::info!("serving the certificate from the Secret");
            }
            Err(error) => {
                tracing::warn!(%error, "the Secret's serving certificate does not load; keeping the one in use")
            }
        }
    }

    /// Makes every webhook of both configurations that calls this Service trust `pki.bundle`.
    async fn publish(&mut self, pki: &SecretPki) -> Result<(), ManagedError> {
        let fresh = self.checked.is_some_and(|(serial, at)| {
            serial == pki.serial && at.elapsed() < self.settings.recheck
        });
        if fresh {
            return Ok(());
        }
        let mut everywhere = true;
        for resource in [
            ApiResource::erase::<MutatingWebhookConfiguration>(&()),
            ApiResource::erase::<ValidatingWebhookConfiguration>(&()),
        ] {
            everywhere &= self.publish_to(&resource, pki).await?;
        }
        if !everywhere {
            return Ok(());
        }
        self.checked = Some((pki.serial, Instant::now()));
        if let Ok(ca) = pki::parse(&pki.ca.cert_pem)
            && self
                .published
                .as_ref()
                .is_none_or(|(der, _)| *der != ca.der)
        {
            self.published = Some((ca.der, Instant::now()));
        }
        Ok(())
    }

    /// Publishes into one configuration; true when every webhook of ours there holds the bundle.
    async fn publish_to(
        &mut self,
        resource: &ApiResource,
        pki: &SecretPki,
    ) -> Result<bool, ManagedError> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), resource);
        let name = &self.settings.webhook_configuration;
        let Some(config) = api.get_opt(name).await? else {
            tracing::warn!(kind = %resource.kind, %name, "webhook configuration not found: nothing to put the CA into");
            return Ok(false);
        };
        let webhooks = config.data.get("webhooks").and_then(Value::as_array);
        let mut webhooks = webhooks.cloned().unwrap_or_default();
        let mut ours = 0;
        let mut differs = false;
        for webhook in &mut webhooks {
            let service = webhook.pointer("/clientConfig/service");
            let is_ours = service.and_then(|s| s.get("name")).and_then(Value::as_str)
                == Some(self.settings.service.as_str())
                && service
                    .and_then(|s| s.get("namespace"))
                    .and_then(Value::as_str)
                    == Some(self.settings.namespace.as_str());
            if !is_ours {
                continue;
            }
            ours += 1;
            let current = webhook
                .pointer("/clientConfig/caBundle")
                .and_then(Value::as_str)
                .and_then(base64_decode);
            if current.as_deref() != Some(pki.bundle.as_bytes()) {
                differs = true;
                webhook["clientConfig"]["caBundle"] = json!(base64_encode(pki.bundle.as_bytes()));
            }
        }
        if ours == 0 {
            tracing::warn!(kind = %resource.kind, %name, "no webhook in this configuration calls Service {}/{}", self.settings.namespace, self.settings.service);
            return Ok(false);
        }
        if !differs {
            return Ok(true);
        }
        let published_serial = serial_of(&config.metadata);
        if published_serial > pki.serial {
            // Another replica published a newer bundle than the Secret this replica read: a
            // stale read, gone on the next tick. If it persists, the serial on the configuration
            // is what is wrong (a Secret restored from a backup, a clock far ahead): the Secret
            // wins.
            self.stale_ticks += 1;
            if self.stale_ticks < STALE_TICKS_TOLERATED {
                tracing::debug!(kind = %resource.kind, "a newer CA bundle is published; re-reading the Secret");
                return Ok(false);
            }
            tracing::warn!(kind = %resource.kind, published_serial, secret_serial = pki.serial, "the configuration's CA bundle serial is newer than the Secret's for several ticks: publishing the Secret's bundle");
        }
        self.stale_ticks = 0;
        let patch = json!({
            "metadata": {
                "resourceVersion": config.metadata.resource_version,
                "annotations": {SERIAL_ANNOTATION: pki.serial.to_string()},
            },
            "webhooks": webhooks,
        });
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                tracing::info!(kind = %resource.kind, %name, serial = pki.serial, "CA bundle published");
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

/// The [`SERIAL_ANNOTATION`] of an object; 0 when absent or not a number.
fn serial_of(meta: &kube::api::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(SERIAL_ANNOTATION))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn unix_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn settings() -> Settings {
        Settings::new("sticky-guard")
    }

    fn now_ms() -> i64 {
        unix_millis()
    }

    /// A Secret's PKI: a CA valid `ca_validity`, a serving certificate from it valid
    /// `serving_validity`, and a bundle of that CA.
    fn pki_with(ca_validity: Duration, serving_validity: Duration) -> SecretPki {
        let ca = pki::new_ca("test CA", ca_validity).unwrap();
        let serving = pki::issue(&ca, &settings().dns_names(), serving_validity).unwrap();
        SecretPki {
            bundle: ca.cert_pem.clone(),
            ca,
            serving,
            serial: 1,
        }
    }

    fn write(step: Step) -> (SecretPki, String) {
        match step {
            Step::Write(pki, reason) => (*pki, reason),
            Step::Keep => panic!("expected a write"),
        }
    }

    fn bundle(pki: &SecretPki) -> Vec<CertInfo> {
        pki::parse_all(&pki.bundle).unwrap()
    }

    #[test]
    fn no_secret_makes_a_ca_and_a_serving_certificate_for_the_service() {
        let now = now_ms();
        let (pki, reason) = write(next_step(None, now, &settings(), None).unwrap());
        assert!(reason.starts_with("no Secret yet"), "{reason}");
        let (ca, serving) = (
            pki::parse(&pki.ca.cert_pem).unwrap(),
            pki::parse(&pki.serving.cert_pem).unwrap(),
        );
        assert!(ca.is_ca && serving.signed_by(&ca));
        assert_eq!(
            serving.dns_names,
            [
                "sticky-guard.sticky-guard.svc",
                "sticky-guard",
                "sticky-guard.sticky-guard",
                "sticky-guard.sticky-guard.svc.cluster.local"
            ]
        );
        assert_eq!(bundle(&pki), vec![ca.clone()]);
        assert_eq!(pki.serial, now);
        let now_s = now / 1000;
        assert!((ca.not_after - now_s - 730 * 86_400).abs() <= 2);
        assert!((serving.not_after - now_s - 90 * 86_400).abs() <= 2);
    }

    #[test]
    fn a_healthy_secret_is_kept_and_an_unusable_one_replaced() {
        let pki = pki_with(730 * DAY, 90 * DAY);
        let step = next_step(Some(&Ok(pki.clone())), now_ms(), &settings(), None).unwrap();
        assert_eq!(step, Step::Keep);
        let (_, reason) = write(
            next_step(
                Some(&Err("no `ca.key`".into())),
                now_ms(),
                &settings(),
                None,
            )
            .unwrap(),
        );
        assert!(reason.contains("no `ca.key`"), "{reason}");
        let mut broken = pki.clone();
        broken.ca.key_pem = pki::new_ca("x", DAY).unwrap().key_pem;
        let (fixed, _) = write(next_step(Some(&Ok(broken)), now_ms(), &settings(), None).unwrap());
        assert!(pki::key_matches(&fixed.ca.cert_pem, &fixed.ca.key_pem));
    }

    #[test]
    fn ca_rotation_keeps_the_old_ca_and_the_serving_certificate_until_published() {
        // The CA has less than a third of 730 days left.
        let old = pki_with(200 * DAY, 60 * DAY);
        let old_ca = pki::parse(&old.ca.cert_pem).unwrap();
        let (rotated, reason) =
            write(next_step(Some(&Ok(old.clone())), now_ms(), &settings(), None).unwrap());
        assert!(reason.contains("rotated to a new CA"), "{reason}");
        let new_ca = pki::parse(&rotated.ca.cert_pem).unwrap();
        assert_ne!(new_ca.der, old_ca.der);
        assert_eq!(bundle(&rotated), vec![new_ca.clone(), old_ca.clone()]);
        assert_eq!(
            rotated.serving, old.serving,
            "the serving certificate stays"
        );
        assert!(rotated.serial > old.serial);

        // Not yet published, or published for less than the settle time: keep serving the old.
        let s = settings();
        for published in [None, Some(s.settle / 2)] {
            let step = next_step(Some(&Ok(rotated.clone())), now_ms(), &s, published).unwrap();
            assert_eq!(step, Step::Keep, "{published:?}");
        }
        // Published long enough: reissued from the new CA; the bundle keeps both.
        let (switched, reason) =
            write(next_step(Some(&Ok(rotated.clone())), now_ms(), &s, Some(s.settle)).unwrap());
        assert!(reason.contains("reissued from the new CA"), "{reason}");
        let serving = pki::parse(&switched.serving.cert_pem).unwrap();
        assert!(serving.signed_by(&new_ca) && !serving.signed_by(&old_ca));
        assert_eq!(switched.bundle, rotated.bundle);
        assert_eq!(
            next_step(Some(&Ok(switched)), now_ms(), &s, Some(s.settle)).unwrap(),
            Step::Keep
        );
    }

    #[test]
    fn expired_cas_leave_the_bundle() {
        let mut pki = pki_with(730 * DAY, 90 * DAY);
        let expired = pki::new_ca("expired", Duration::ZERO).unwrap();
        pki.bundle = format!("{}{}", pki.bundle, expired.cert_pem);
        let later = now_ms() + 1000;
        let (pruned, reason) =
            write(next_step(Some(&Ok(pki.clone())), later, &settings(), None).unwrap());
        assert_eq!(reason, "dropped expired CAs from the bundle");
        assert_eq!(bundle(&pruned), vec![pki::parse(&pki.ca.cert_pem).unwrap()]);
        assert_eq!(pruned.serial, later);
    }

    #[test]
    fn serving_certificates_are_renewed_with_a_third_left_or_wrong_names() {
        let s = settings();
        let pki = pki_with(730 * DAY, 20 * DAY);
        let (renewed, reason) =
            write(next_step(Some(&Ok(pki.clone())), now_ms(), &s, Some(s.settle)).unwrap());
        assert_eq!(reason, "the serving certificate expires soon: renewed");
        let serving = pki::parse(&renewed.serving.cert_pem).unwrap();
        assert!((serving.remaining(now_ms() / 1000) - 90 * 86_400).abs() <= 2);
        assert_eq!(renewed.ca, pki.ca);

        let mut other = s.clone();
        other.service = "renamed".into();
        let (renamed, reason) =
            write(next_step(Some(&Ok(pki.clone())), now_ms(), &other, None).unwrap());
        assert!(
            reason.starts_with("the serving certificate is unusable"),
            "{reason}"
        );
        assert_eq!(
            pki::parse(&renamed.serving.cert_pem).unwrap().dns_names[0],
            "renamed.sticky-guard.svc"
        );
        // A serving certificate whose key is not its own is replaced at once.
        let mut mismatched = pki_with(730 * DAY, 90 * DAY);
        mismatched.serving.key_pem = pki::new_ca("y", HOUR).unwrap().key_pem;
        let (fixed, _) = write(next_step(Some(&Ok(mismatched)), now_ms(), &s, None).unwrap());
        assert!(pki::key_matches(
            &fixed.serving.cert_pem,
            &fixed.serving.key_pem
        ));
    }

    #[test]
    fn the_secret_round_trips_and_missing_keys_read_as_empty() {
        let pki = pki_with(730 * DAY, 90 * DAY);
        let mut secret = Secret::default();
        pki.write_into(&mut secret);
        assert_eq!(SecretPki::from_secret(&secret).unwrap(), pki);
        secret.data.as_mut().unwrap().remove(CA_BUNDLE);
        secret.data.as_mut().unwrap().remove(CA_KEY);
        let read = SecretPki::from_secret(&secret).unwrap();
        assert_eq!(
            read.bundle, pki.ca.cert_pem,
            "the bundle defaults to ca.crt"
        );
        assert_eq!(read.ca.key_pem, "");
        secret
            .data
            .as_mut()
            .unwrap()
            .insert(TLS_KEY.into(), ByteString(vec![0xff]));
        assert_eq!(
            SecretPki::from_secret(&secret).unwrap_err(),
            "`tls.key` is not PEM text"
        );
    }

    #[test]
    fn a_secret_without_a_ca_key_gets_a_new_ca_but_keeps_serving_what_is_trusted() {
        // As cert-manager leaves it: ca.crt, tls.crt, tls.key, no ca.key, no bundle.
        let mut foreign = pki_with(365 * DAY, 60 * DAY);
        foreign.ca.key_pem = String::new();
        foreign.bundle = foreign.ca.cert_pem.clone();
        let old_ca = pki::parse(&foreign.ca.cert_pem).unwrap();
        let (fresh, reason) =
            write(next_step(Some(&Ok(foreign.clone())), now_ms(), &settings(), None).unwrap());
        assert!(reason.contains("no usable CA"), "{reason}");
        let new_ca = pki::parse(&fresh.ca.cert_pem).unwrap();
        assert_ne!(new_ca.der, old_ca.der);
        assert!(pki::key_matches(&fresh.ca.cert_pem, &fresh.ca.key_pem));
        assert_eq!(bundle(&fresh), vec![new_ca, old_ca]);
        assert_eq!(
            fresh.serving, foreign.serving,
            "still trusted: kept until the switch"
        );
        // The switch waits for the publication like any CA rotation.
        assert_eq!(
            next_step(Some(&Ok(fresh)), now_ms(), &settings(), None).unwrap(),
            Step::Keep
        );
    }

    #[test]
    fn a_renewal_from_the_same_ca_does_not_wait_for_publication() {
        let pki = pki_with(730 * DAY, 20 * DAY);
        let (renewed, reason) =
            write(next_step(Some(&Ok(pki.clone())), now_ms(), &settings(), None).unwrap());
        assert_eq!(reason, "the serving certificate expires soon: renewed");
        assert_eq!(renewed.ca, pki.ca);
    }

    #[test]
    fn a_corrupt_block_does_not_cost_the_rest_of_the_bundle() {
        let mut pki = pki_with(730 * DAY, 90 * DAY);
        let other = pki::new_ca("other", DAY).unwrap();
        pki.bundle = format!(
            "{}{}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            pki.bundle, other.cert_pem
        );
        assert_eq!(bundle_len(&pki), 2);
        assert_eq!(
            next_step(Some(&Ok(pki)), now_ms(), &settings(), None).unwrap(),
            Step::Keep
        );
    }

    fn bundle_len(pki: &SecretPki) -> usize {
        pki::parse_each(&pki.bundle).len()
    }
}

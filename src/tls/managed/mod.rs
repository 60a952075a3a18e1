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
//!
//! Layout: [`plan`] holds the decisions without I/O (the Secret's content, [`next_step`], the
//! stale-serial guard [`StaleGuard`]) and their tests; this module is the manager that reads and
//! writes the Secret and the configurations and follows them.

pub mod plan;

pub use plan::*;

use super::ServingState;
use super::pki::{self, KeyedCert, PkiError};
use super::server::Reloader;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    stale: StaleGuard,
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
            stale: StaleGuard::default(),
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
        self.stale.begin_tick();
        for resource in [
            ApiResource::erase::<MutatingWebhookConfiguration>(&()),
            ApiResource::erase::<ValidatingWebhookConfiguration>(&()),
        ] {
            everywhere &= self.publish_to(&resource, pki).await?;
        }
        self.stale.end_tick();
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
        let published_serial = serial_of(&config.metadata);
        match self.stale.decide(differs, published_serial, pki.serial) {
            Publish::UpToDate => return Ok(true),
            Publish::HoldBack => {
                tracing::debug!(kind = %resource.kind, "a newer CA bundle is published; re-reading the Secret");
                return Ok(false);
            }
            Publish::Write if published_serial > pki.serial => {
                tracing::warn!(kind = %resource.kind, published_serial, secret_serial = pki.serial, "the configuration's CA bundle serial is newer than the Secret's for several ticks: publishing the Secret's bundle");
            }
            Publish::Write => {}
        }
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

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

//! The certificate manager's plan, without Kubernetes I/O: the Secret's content and what to
//! change in it next ([`next_step`]), and when to publish the CA bundle into the webhook
//! configurations ([`StaleGuard`]). [`super::CertManager`] reads and writes the objects and
//! follows these decisions; the tests here drive them directly.

use crate::tls::MinVersion;
use crate::tls::pki::{self, CertInfo, KeyedCert, PkiError};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;
use std::time::Duration;

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
/// Secret lasts one tick): on the third such tick in a row the Secret's bundle is published.
pub const STALE_TICKS_TOLERATED: u32 = 3;

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
    pub tls_min_version: MinVersion,
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
            tls_min_version: MinVersion::Tls12,
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

/// The [`SERIAL_ANNOTATION`] of an object; 0 when absent or not a number.
pub fn serial_of(meta: &kube::api::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(SERIAL_ANNOTATION))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// What to do with one webhook configuration on a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Every webhook of ours already holds the Secret's bundle.
    UpToDate,
    /// Write the Secret's bundle and serial.
    Write,
    /// Leave it: the configuration carries a newer serial than the Secret this replica read,
    /// most likely a stale read of the Secret, which the next tick's read corrects.
    HoldBack,
}

/// The guard against publishing an older bundle over a newer one, counted in ticks.
///
/// A configuration whose bundle differs from the Secret's but whose serial is newer holds
/// publication back, for at most [`STALE_TICKS_TOLERATED`] ticks in a row: a stale read of the
/// Secret lasts one tick, so a newer serial that persists is what is wrong (a Secret restored
/// from a backup, a clock far ahead) and the Secret wins. A tick counts once however many
/// configurations show the newer serial, and a tick on which none does starts the count again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaleGuard {
    /// Ticks in a row, this one included, on which a configuration held a newer serial.
    in_a_row: u32,
    /// Whether this tick has seen one.
    seen_this_tick: bool,
}

impl StaleGuard {
    /// A tick begins.
    pub fn begin_tick(&mut self) {
        self.seen_this_tick = false;
    }

    /// The decision for one configuration: whether its bundle `differs` from the Secret's, and
    /// the serial it carries (`published`) against the Secret's (`secret`).
    pub fn decide(&mut self, differs: bool, published: i64, secret: i64) -> Publish {
        if !differs {
            return Publish::UpToDate;
        }
        if published <= secret {
            return Publish::Write;
        }
        if !self.seen_this_tick {
            self.seen_this_tick = true;
            self.in_a_row += 1;
        }
        if self.in_a_row < STALE_TICKS_TOLERATED {
            Publish::HoldBack
        } else {
            Publish::Write
        }
    }

    /// The tick is over: one without a newer serial anywhere resets the count.
    pub fn end_tick(&mut self) {
        if !self.seen_this_tick {
            self.in_a_row = 0;
        }
    }

    /// Ticks in a row so far on which a configuration held a newer serial.
    pub fn ticks_in_a_row(&self) -> u32 {
        self.in_a_row
    }
}

/// Now, in Unix milliseconds (the serial's unit).
pub(super) fn unix_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both configurations on every tick, as the manager asks: (differs, published serial) per
    /// configuration, against the Secret's serial 10.
    fn tick(guard: &mut StaleGuard, configurations: &[(bool, i64)]) -> Vec<Publish> {
        guard.begin_tick();
        let decisions = configurations
            .iter()
            .map(|(differs, published)| guard.decide(*differs, *published, 10))
            .collect();
        guard.end_tick();
        decisions
    }

    #[test]
    fn a_newer_serial_holds_back_for_n_ticks_in_a_row_counted_once_per_tick() {
        use Publish::*;
        let mut guard = StaleGuard::default();
        let stale = [(true, 11), (true, 11)];
        // Two configurations with a newer serial count one tick, not two.
        assert_eq!(tick(&mut guard, &stale), [HoldBack, HoldBack]);
        assert_eq!(guard.ticks_in_a_row(), 1);
        assert_eq!(tick(&mut guard, &stale), [HoldBack, HoldBack]);
        // The third tick in a row: the Secret wins, in both configurations.
        assert_eq!(tick(&mut guard, &stale), [Write, Write]);
        assert_eq!(STALE_TICKS_TOLERATED, 3);
    }

    #[test]
    fn a_clean_tick_resets_the_count() {
        use Publish::*;
        let mut guard = StaleGuard::default();
        let stale = [(true, 11), (false, 10)];
        assert_eq!(tick(&mut guard, &stale), [HoldBack, UpToDate]);
        assert_eq!(tick(&mut guard, &stale), [HoldBack, UpToDate]);
        // Everything up to date for a tick: the count starts again.
        assert_eq!(
            tick(&mut guard, &[(false, 11), (false, 10)]),
            [UpToDate, UpToDate]
        );
        assert_eq!(guard.ticks_in_a_row(), 0);
        assert_eq!(tick(&mut guard, &stale), [HoldBack, UpToDate]);
        assert_eq!(tick(&mut guard, &stale), [HoldBack, UpToDate]);
        assert_eq!(tick(&mut guard, &stale), [Write, UpToDate]);
        // An older or equal serial is written at once and does not count.
        let mut guard = StaleGuard::default();
        assert_eq!(tick(&mut guard, &[(true, 9), (true, 10)]), [Write, Write]);
        assert_eq!(guard.ticks_in_a_row(), 0);
    }

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

//! The kinds sticky-guard judges or reads: one table, [`KINDS`], that every part reads.
//!
//! - the manifest reader and the admission glue decode an object through its entry
//!   ([`KindInfo::versions`], each with its decoder shape);
//! - the live cluster view watches the entries with [`Watch::Always`], and those with
//!   [`Watch::WhenInstalled`] once discovery finds their CRD;
//! - the webhook configurations' `rules` and the view ClusterRole in `manifests/base/` are
//!   generated from it ([`KindInfo::webhook_rule`], [`KindInfo::view_rule`]); a test keeps
//!   `manifests/` in step;
//! - the cluster view keeps one cache per kind, indexed by [`KindInfo::index_keys`].
//!
//! Adding a kind: an entry here, a variant of [`crate::objects::Object`] with its decoder, and
//! the rules that judge or read it (docs/architecture.md, "Adding a rule, a kind or a controller family").

use super::{DecodeError, Object, Shape};
use serde::Serialize;

/// A kind sticky-guard knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// `networking.k8s.io` Ingress.
    Ingress,
    /// Core Service.
    Service,
    /// `networking.k8s.io` IngressClass (cluster-scoped): names the controller serving a class.
    IngressClass,
    /// GKE `cloud.google.com` BackendConfig (a CRD).
    BackendConfig,
    /// Gateway API HTTPRoute (a CRD).
    HttpRoute,
    /// Gateway API GRPCRoute (a CRD).
    GrpcRoute,
    /// Gateway API Gateway (a CRD).
    Gateway,
    /// Gateway API GatewayClass (a cluster-scoped CRD).
    GatewayClass,
    /// Gateway API ReferenceGrant (a CRD).
    ReferenceGrant,
}

/// Whether and when the live view watches a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Always (a built-in kind).
    Always,
    /// Once discovery finds the kind's CRD; until then lookups are unknown, and after
    /// discovery says it is not installed they are absent.
    WhenInstalled,
}

/// Which webhooks receive objects of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Webhooks {
    /// The mutating webhook (`/mutate`).
    pub mutate: bool,
    /// The validating webhook (`/validate`).
    pub validate: bool,
}

/// A secondary index key of the cluster view.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexKey {
    /// An Ingress with a rule for this host (`""` for rules without a host and for
    /// `defaultBackend`: both land on the controller's catch-all server).
    Host(String),
    /// An object with a backend naming Service `service` in `namespace`.
    Backend {
        /// The namespace of the Service: the object's own for an Ingress (it cannot name
        /// another), the backendRef's `namespace` (default the route's) for a route.
        namespace: String,
        /// The Service name as written.
        service: String,
    },
    /// Every object of the kind in this namespace (ReferenceGrants, which are read per
    /// namespace).
    Namespace(String),
    /// An IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"`: the
    /// class the API server gives a new Ingress that names none
    /// ([`crate::objects::ingress_class::DEFAULT_CLASS_ANNOTATION`]).
    DefaultIngressClass,
    /// An Ingress with a backend naming Service `service` in `namespace` at `port` as written
    /// (the number, else the name: see [`super::port_as_written`]). ingress-nginx names
    /// an upstream so (`upstreamName`, internal/ingress/controller/util.go L50-60): `web:80`
    /// and `web:http` are two upstreams, each with its own affinity settings.
    Upstream {
        /// The Ingress's namespace.
        namespace: String,
        /// The Service name as written.
        service: String,
        /// The port as written.
        port: String,
    },
}

/// One row of the kinds table.
#[derive(Debug)]
pub struct KindInfo {
    /// The kind.
    pub kind: Kind,
    /// `kind` as the API writes it.
    pub name: &'static str,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The version the webhooks and the live view use.
    pub served_version: &'static str,
    /// Every `apiVersion` (group/version) an object of this kind is read at, with the shape it
    /// is decoded in; legacy versions the API server no longer serves are read from manifests
    /// and converted.
    pub versions: &'static [(&'static str, Shape)],
    /// The resource (plural) name.
    pub plural: &'static str,
    /// Whether objects live in a namespace (`false`: cluster-scoped, keyed under `""`).
    pub namespaced: bool,
    /// The webhooks that judge it (`None`: only read, never judged on admission).
    pub webhooks: Option<Webhooks>,
    /// When the live view watches it.
    pub watch: Watch,
}

/// Every kind, judged or read.
pub static KINDS: &[KindInfo] = &[
    KindInfo {
        kind: Kind::Ingress,
        name: "Ingress",
        group: "networking.k8s.io",
        served_version: "v1",
        versions: &[
            ("networking.k8s.io/v1", Shape::IngressV1),
            // Removed in Kubernetes 1.22, still in manifests: converted to v1 on decoding.
            ("networking.k8s.io/v1beta1", Shape::IngressLegacy),
            ("extensions/v1beta1", Shape::IngressLegacy),
        ],
        plural: "ingresses",
        namespaced: true,
        webhooks: Some(Webhooks {
            mutate: true,
            validate: true,
        }),
        watch: Watch::Always,
    },
    KindInfo {
        kind: Kind::Service,
        name: "Service",
        group: "",
        served_version: "v1",
        versions: &[("v1", Shape::ServiceV1)],
        plural: "services",
        namespaced: true,
        webhooks: Some(Webhooks {
            mutate: false,
            validate: true,
        }),
        watch: Watch::Always,
    },
    KindInfo {
        kind: Kind::IngressClass,
        name: "IngressClass",
        group: "networking.k8s.io",
        served_version: "v1",
        // `v1beta1` was served from Kubernetes 1.18 to 1.21; still found in manifests.
        versions: &[
            ("networking.k8s.io/v1", Shape::IngressClass),
            ("networking.k8s.io/v1beta1", Shape::IngressClass),
        ],
        plural: "ingressclasses",
        namespaced: false,
        webhooks: None,
        watch: Watch::Always,
    },
    KindInfo {
        kind: Kind::BackendConfig,
        name: "BackendConfig",
        group: "cloud.google.com",
        served_version: "v1",
        versions: &[
            ("cloud.google.com/v1", Shape::BackendConfig),
            ("cloud.google.com/v1beta1", Shape::BackendConfig),
        ],
        plural: "backendconfigs",
        namespaced: true,
        webhooks: None,
        watch: Watch::WhenInstalled,
    },
    // Gateway API (`objects::gateway`): the versions of releases v1.0.0 through v1.6.1.
    KindInfo {
        kind: Kind::HttpRoute,
        name: "HTTPRoute",
        group: GATEWAY_GROUP,
        served_version: "v1",
        versions: &[
            ("gateway.networking.k8s.io/v1", Shape::HttpRoute),
            ("gateway.networking.k8s.io/v1beta1", Shape::HttpRoute),
        ],
        plural: "httproutes",
        namespaced: true,
        webhooks: Some(Webhooks {
            mutate: true,
            validate: true,
        }),
        watch: Watch::WhenInstalled,
    },
    KindInfo {
        kind: Kind::GrpcRoute,
        name: "GRPCRoute",
        // `v1` since Gateway API v1.1.0; a v1.0.0 cluster serves only `v1alpha2`, which the
        // webhooks (registered for `v1`) then do not receive.
        group: GATEWAY_GROUP,
        served_version: "v1",
        versions: &[
            ("gateway.networking.k8s.io/v1", Shape::GrpcRoute),
            ("gateway.networking.k8s.io/v1alpha2", Shape::GrpcRoute),
        ],
        plural: "grpcroutes",
        namespaced: true,
        webhooks: Some(Webhooks {
            mutate: true,
            validate: true,
        }),
        watch: Watch::WhenInstalled,
    },
    KindInfo {
        kind: Kind::Gateway,
        name: "Gateway",
        group: GATEWAY_GROUP,
        served_version: "v1",
        versions: &[
            ("gateway.networking.k8s.io/v1", Shape::Gateway),
            ("gateway.networking.k8s.io/v1beta1", Shape::Gateway),
        ],
        plural: "gateways",
        namespaced: true,
        webhooks: None,
        watch: Watch::WhenInstalled,
    },
    KindInfo {
        kind: Kind::GatewayClass,
        name: "GatewayClass",
        group: GATEWAY_GROUP,
        served_version: "v1",
        versions: &[
            ("gateway.networking.k8s.io/v1", Shape::GatewayClass),
            ("gateway.networking.k8s.io/v1beta1", Shape::GatewayClass),
        ],
        plural: "gatewayclasses",
        namespaced: false,
        webhooks: None,
        watch: Watch::WhenInstalled,
    },
    KindInfo {
        kind: Kind::ReferenceGrant,
        name: "ReferenceGrant",
        group: GATEWAY_GROUP,
        // `v1` only since Gateway API v1.5.0; `v1beta1` is served by every release since
        // v0.6 (and is the storage version, apis/v1beta1/referencegrant_types.go L29 at
        // v1.6.1). The live view watches the version discovery recommends.
        served_version: "v1beta1",
        versions: &[
            ("gateway.networking.k8s.io/v1", Shape::ReferenceGrant),
            ("gateway.networking.k8s.io/v1beta1", Shape::ReferenceGrant),
            ("gateway.networking.k8s.io/v1alpha2", Shape::ReferenceGrant),
        ],
        plural: "referencegrants",
        namespaced: true,
        webhooks: None,
        watch: Watch::WhenInstalled,
    },
];

/// The Gateway API group.
const GATEWAY_GROUP: &str = super::gateway::GROUP;

impl Kind {
    /// This kind's row of [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        // Every variant has a row (tested), so the fallback is never taken.
        KINDS.iter().find(|k| k.kind == self).unwrap_or(&KINDS[0])
    }

    /// `kind` as the API writes it.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl KindInfo {
    /// The entry for `kind` as the API writes it.
    pub fn named(kind: &str) -> Option<&'static KindInfo> {
        KINDS.iter().find(|k| k.name == kind)
    }

    /// `group/version` (or `version` for core) of [`KindInfo::served_version`].
    pub fn api_version(&self) -> String {
        match self.group {
            "" => self.served_version.to_string(),
            group => format!("{group}/{}", self.served_version),
        }
    }

    /// The decoder shape for `api_version`.
    ///
    /// # Errors
    /// [`DecodeError::UnknownApiVersion`] when `api_version` is in this kind's group (or, for
    /// core, has no group) but is not one of [`KindInfo::versions`].
    pub fn shape(&self, api_version: &str) -> Result<Option<Shape>, DecodeError> {
        if let Some((_, shape)) = self.versions.iter().find(|(v, _)| *v == api_version) {
            return Ok(Some(*shape));
        }
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let own_group = self
            .versions
            .iter()
            .any(|(v, _)| v.rsplit_once('/').map_or("", |(g, _)| g) == group);
        if own_group {
            return Err(DecodeError::UnknownApiVersion {
                kind: self.name,
                api_version: crate::echo::bounded(api_version),
                known: self.known_versions(),
            });
        }
        Ok(None)
    }

    /// The known versions, for messages: `networking.k8s.io/v1 (or … )`.
    fn known_versions(&self) -> &'static str {
        match self.kind {
            Kind::Ingress => {
                "networking.k8s.io/v1 (or the legacy networking.k8s.io/v1beta1, extensions/v1beta1)"
            }
            Kind::Service => "v1",
            Kind::IngressClass => "networking.k8s.io/v1 (or the legacy networking.k8s.io/v1beta1)",
            Kind::BackendConfig => "cloud.google.com/v1 or cloud.google.com/v1beta1",
            Kind::HttpRoute | Kind::Gateway | Kind::GatewayClass => {
                "gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1"
            }
            Kind::GrpcRoute => "gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1alpha2",
            Kind::ReferenceGrant => "gateway.networking.k8s.io/v1, v1beta1 or v1alpha2",
        }
    }

    /// The secondary index keys of `object` (an object of this kind).
    pub fn index_keys(&self, object: &Object) -> Vec<IndexKey> {
        match object {
            Object::Ingress(ingress) => {
                let namespace = super::namespace_of(&ingress.meta);
                let mut keys: Vec<IndexKey> = ingress
                    .spec
                    .rules
                    .iter()
                    .flatten()
                    .map(|r| IndexKey::Host(r.host.clone().unwrap_or_default()))
                    .collect();
                if ingress.spec.default_backend.is_some() {
                    keys.push(IndexKey::Host(String::new()));
                }
                for backend in ingress.backends() {
                    keys.push(IndexKey::Backend {
                        namespace: namespace.to_string(),
                        service: backend.service_name.to_string(),
                    });
                    keys.push(IndexKey::Upstream {
                        namespace: namespace.to_string(),
                        service: backend.service_name.to_string(),
                        port: super::port_as_written(backend.port),
                    });
                }
                keys.sort();
                keys.dedup();
                keys
            }
            Object::Route(route) => {
                let namespace = super::namespace_of(&route.meta);
                let mut keys: Vec<IndexKey> = route
                    .spec
                    .rules
                    .iter()
                    .flat_map(|r| &r.backend_refs)
                    .filter(|b| b.is_service())
                    .map(|b| IndexKey::Backend {
                        namespace: b.namespace.clone().unwrap_or_else(|| namespace.to_string()),
                        service: b.name.clone(),
                    })
                    .collect();
                keys.sort();
                keys.dedup();
                keys
            }
            Object::ReferenceGrant(grant) => vec![IndexKey::Namespace(
                super::namespace_of(&grant.meta).to_string(),
            )],
            Object::IngressClass(class) if class.is_default() => {
                vec![IndexKey::DefaultIngressClass]
            }
            Object::Service(_)
            | Object::BackendConfig(_)
            | Object::Gateway(_)
            | Object::GatewayClass(_)
            | Object::IngressClass(_) => Vec::new(),
        }
    }

    /// The rule of a webhook's `rules` for this kind: the served version, CREATE and UPDATE,
    /// namespaced (`admissionregistration.k8s.io/v1` RuleWithOperations, as JSON).
    pub fn webhook_rule(&self) -> serde_json::Value {
        serde_json::json!({
            "apiGroups": [self.group],
            "apiVersions": [self.served_version],
            "operations": ["CREATE", "UPDATE"],
            "resources": [self.plural],
            "scope": "Namespaced",
        })
    }

    /// The view ClusterRole's rule for this kind: get, list, watch on its resource.
    pub fn view_rule(&self) -> serde_json::Value {
        serde_json::json!({
            "apiGroups": [self.group],
            "resources": [self.plural],
            "verbs": ["get", "list", "watch"],
        })
    }
}

/// The decoder shape for an object's `apiVersion` and `kind`: `Ok(None)` for kinds
/// sticky-guard neither judges nor reads.
///
/// # Errors
/// [`DecodeError::UnknownApiVersion`] for a known kind at an unknown version of its group.
pub fn shape_of(api_version: &str, kind: &str) -> Result<Option<Shape>, DecodeError> {
    match KindInfo::named(kind) {
        Some(info) => info.shape(api_version),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row() {
        for kind in [
            Kind::Ingress,
            Kind::Service,
            Kind::IngressClass,
            Kind::BackendConfig,
            Kind::HttpRoute,
            Kind::GrpcRoute,
            Kind::Gateway,
            Kind::GatewayClass,
            Kind::ReferenceGrant,
        ] {
            assert_eq!(KINDS.iter().filter(|k| k.kind == kind).count(), 1);
            assert_eq!(kind.info().kind, kind);
        }
    }

    #[test]
    fn shapes_by_version() {
        assert_eq!(
            shape_of("networking.k8s.io/v1", "Ingress"),
            Ok(Some(Shape::IngressV1))
        );
        assert_eq!(
            shape_of("extensions/v1beta1", "Ingress"),
            Ok(Some(Shape::IngressLegacy))
        );
        assert!(shape_of("networking.k8s.io/v2", "Ingress").is_err());
        assert!(shape_of("v2", "Service").is_err());
        assert_eq!(
            shape_of("apps/v1", "Service"),
            Ok(None),
            "another group's Service"
        );
        assert_eq!(shape_of("apps/v1", "Deployment"), Ok(None));
        assert!(shape_of("cloud.google.com/v2", "BackendConfig").is_err());
        assert_eq!(
            shape_of("gateway.networking.k8s.io/v1beta1", "HTTPRoute"),
            Ok(Some(Shape::HttpRoute))
        );
        assert!(shape_of("gateway.networking.k8s.io/v1alpha1", "HTTPRoute").is_err());
        assert_eq!(
            shape_of("gateway.networking.k8s.io/v1alpha2", "GRPCRoute"),
            Ok(Some(Shape::GrpcRoute))
        );
    }
}

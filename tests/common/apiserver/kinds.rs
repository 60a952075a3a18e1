//! The kinds the stand-in API server serves: one [`Resource`] per kind, with its names, group,
//! version, scope and the [`Options`] flag that serves it. Routing, discovery, the test helpers
//! and admission read everything about a kind from here.

use super::{Key, Options};

/// The resources the stand-in knows about (see [`Resource::namespaced`] for the scopes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Resource {
    Service,
    Secret,
    Ingress,
    IngressClass,
    BackendConfig,
    HttpRoute,
    GrpcRoute,
    Gateway,
    GatewayClass,
    ReferenceGrant,
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
    Lease,
    Report,
    ClusterReport,
    PolicyReport,
    ClusterPolicyReport,
}

impl Resource {
    /// Every resource, in discovery order.
    pub(super) const ALL: [Resource; 17] = [
        Resource::Service,
        Resource::Secret,
        Resource::Ingress,
        Resource::IngressClass,
        Resource::BackendConfig,
        Resource::HttpRoute,
        Resource::GrpcRoute,
        Resource::Gateway,
        Resource::GatewayClass,
        Resource::ReferenceGrant,
        Resource::MutatingWebhookConfiguration,
        Resource::ValidatingWebhookConfiguration,
        Resource::Lease,
        Resource::Report,
        Resource::ClusterReport,
        Resource::PolicyReport,
        Resource::ClusterPolicyReport,
    ];

    /// The verbs served for every resource, as listed in discovery.
    pub(super) const VERBS: [&'static str; 7] = [
        "create", "delete", "get", "list", "patch", "update", "watch",
    ];

    pub(super) fn kind(self) -> &'static str {
        match self {
            Resource::Service => "Service",
            Resource::Secret => "Secret",
            Resource::Ingress => "Ingress",
            Resource::IngressClass => "IngressClass",
            Resource::BackendConfig => "BackendConfig",
            Resource::HttpRoute => "HTTPRoute",
            Resource::GrpcRoute => "GRPCRoute",
            Resource::Gateway => "Gateway",
            Resource::GatewayClass => "GatewayClass",
            Resource::ReferenceGrant => "ReferenceGrant",
            Resource::MutatingWebhookConfiguration => "MutatingWebhookConfiguration",
            Resource::ValidatingWebhookConfiguration => "ValidatingWebhookConfiguration",
            Resource::Lease => "Lease",
            Resource::Report => "Report",
            Resource::ClusterReport => "ClusterReport",
            Resource::PolicyReport => "PolicyReport",
            Resource::ClusterPolicyReport => "ClusterPolicyReport",
        }
    }

    pub(super) fn plural(self) -> &'static str {
        match self {
            Resource::Service => "services",
            Resource::Secret => "secrets",
            Resource::Ingress => "ingresses",
            Resource::IngressClass => "ingressclasses",
            Resource::BackendConfig => "backendconfigs",
            Resource::HttpRoute => "httproutes",
            Resource::GrpcRoute => "grpcroutes",
            Resource::Gateway => "gateways",
            Resource::GatewayClass => "gatewayclasses",
            Resource::ReferenceGrant => "referencegrants",
            Resource::MutatingWebhookConfiguration => "mutatingwebhookconfigurations",
            Resource::ValidatingWebhookConfiguration => "validatingwebhookconfigurations",
            Resource::Lease => "leases",
            Resource::Report => "reports",
            Resource::ClusterReport => "clusterreports",
            Resource::PolicyReport => "policyreports",
            Resource::ClusterPolicyReport => "clusterpolicyreports",
        }
    }

    pub(super) fn singular(self) -> &'static str {
        match self {
            Resource::Service => "service",
            Resource::Secret => "secret",
            Resource::Ingress => "ingress",
            Resource::IngressClass => "ingressclass",
            Resource::BackendConfig => "backendconfig",
            Resource::HttpRoute => "httproute",
            Resource::GrpcRoute => "grpcroute",
            Resource::Gateway => "gateway",
            Resource::GatewayClass => "gatewayclass",
            Resource::ReferenceGrant => "referencegrant",
            Resource::MutatingWebhookConfiguration => "mutatingwebhookconfiguration",
            Resource::ValidatingWebhookConfiguration => "validatingwebhookconfiguration",
            Resource::Lease => "lease",
            Resource::Report => "report",
            Resource::ClusterReport => "clusterreport",
            Resource::PolicyReport => "policyreport",
            Resource::ClusterPolicyReport => "clusterpolicyreport",
        }
    }

    /// The API group; `""` is the core group.
    pub(super) fn group(self) -> &'static str {
        match self {
            Resource::Service | Resource::Secret => "",
            Resource::Ingress | Resource::IngressClass => "networking.k8s.io",
            Resource::BackendConfig => "cloud.google.com",
            Resource::HttpRoute
            | Resource::GrpcRoute
            | Resource::Gateway
            | Resource::GatewayClass
            | Resource::ReferenceGrant => "gateway.networking.k8s.io",
            Resource::MutatingWebhookConfiguration | Resource::ValidatingWebhookConfiguration => {
                "admissionregistration.k8s.io"
            }
            Resource::Lease => "coordination.k8s.io",
            Resource::Report | Resource::ClusterReport => "openreports.io",
            Resource::PolicyReport | Resource::ClusterPolicyReport => "wgpolicyk8s.io",
        }
    }

    /// The one version served (every group here serves a single version).
    pub(super) fn version(self) -> &'static str {
        match self {
            Resource::Report | Resource::ClusterReport => "v1alpha1",
            Resource::PolicyReport | Resource::ClusterPolicyReport => "v1alpha2",
            _ => "v1",
        }
    }

    /// `v1`, `networking.k8s.io/v1`: the `apiVersion` of the objects.
    pub(super) fn api_version(self) -> &'static str {
        match self {
            Resource::Service | Resource::Secret => "v1",
            Resource::Ingress | Resource::IngressClass => "networking.k8s.io/v1",
            Resource::BackendConfig => "cloud.google.com/v1",
            Resource::HttpRoute
            | Resource::GrpcRoute
            | Resource::Gateway
            | Resource::GatewayClass
            | Resource::ReferenceGrant => "gateway.networking.k8s.io/v1",
            Resource::MutatingWebhookConfiguration | Resource::ValidatingWebhookConfiguration => {
                "admissionregistration.k8s.io/v1"
            }
            Resource::Lease => "coordination.k8s.io/v1",
            Resource::Report | Resource::ClusterReport => "openreports.io/v1alpha1",
            Resource::PolicyReport | Resource::ClusterPolicyReport => "wgpolicyk8s.io/v1alpha2",
        }
    }

    /// Whether a CRD serves it (rather than kube-apiserver itself): such kinds have no strategic
    /// merge patch.
    pub(super) fn is_custom(self) -> bool {
        match self {
            Resource::BackendConfig
            | Resource::Report
            | Resource::ClusterReport
            | Resource::PolicyReport
            | Resource::ClusterPolicyReport => true,
            r => r.group() == "gateway.networking.k8s.io",
        }
    }

    /// Whether objects live in a namespace (`false`: cluster-scoped).
    pub(super) fn namespaced(self) -> bool {
        !matches!(
            self,
            Resource::MutatingWebhookConfiguration
                | Resource::ValidatingWebhookConfiguration
                | Resource::GatewayClass
                | Resource::IngressClass
                | Resource::ClusterReport
                | Resource::ClusterPolicyReport
        )
    }

    /// The store key of `namespace`/`name`; cluster-scoped objects are stored under the
    /// namespace `""` whatever `namespace` says.
    pub(super) fn key(self, namespace: &str, name: &str) -> Key {
        let namespace = if self.namespaced() { namespace } else { "" };
        (self, namespace.to_owned(), name.to_owned())
    }

    /// `services`, `ingresses.networking.k8s.io`: how the apiserver names it in messages.
    pub(super) fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_owned(),
            group => format!("{}.{group}", self.plural()),
        }
    }

    /// From a kind (`Service`) or plural (`services`), case-insensitively.
    pub(super) fn from_kind(name: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.kind().eq_ignore_ascii_case(name) || r.plural().eq_ignore_ascii_case(name))
    }

    pub(super) fn served(self, options: &Options) -> bool {
        match self {
            Resource::BackendConfig => options.backend_configs_crd,
            r if r.group() == "gateway.networking.k8s.io" => options.gateway_api_crds,
            Resource::Report | Resource::ClusterReport => options.openreports_crds,
            Resource::PolicyReport | Resource::ClusterPolicyReport => options.policy_report_crds,
            _ => true,
        }
    }
}

//! Controller families: what each Ingress controller does with the objects sticky-guard judges.
//! A family answers questions about its controller's behaviour (is this backend sticky, with
//! which cookie, how does the controller reach it); rules ask the family instead of reading
//! annotations, so the controller's facts, with their sources, live in one folder each.
//!
//! - [`nginx`]: kubernetes/ingress-nginx (ingress classes of the policy, annotation prefix of
//!   the policy);
//! - [`gateway`]: Gateway API implementations (Envoy Gateway, NGINX Gateway Fabric, Traefik's
//!   provider) serving HTTPRoutes and GRPCRoutes;
//! - [`gke`]: the GKE Ingress controller (BackendConfig session affinity, NEGs);
//! - [`traefik`]: Traefik v3 (sticky cookies on Services, ExternalName and native load
//!   balancing), and its Kubernetes Ingress NGINX provider ([`traefik::ingress_nginx`]), which
//!   reads ingress-nginx's annotations;
//! - [`f5_nginx`]: the F5 NGINX Ingress Controller (nginxinc/kubernetes-ingress), whose default
//!   class is also `nginx`.
//!
//! Which of them serves an Ingress is [`IngressController`], from the IngressClass's
//! `spec.controller` (resolved with the policy by [`crate::policy::Policy::serving`]).
//!
//! Adding a family: a folder here, the kinds it reads in [`crate::objects::kinds::KINDS`], and its rules
//! in [`crate::rules`].

pub mod f5_nginx;
pub mod gateway;
pub mod gke;
pub mod nginx;
pub mod traefik;

use serde::{Deserialize, Serialize};

/// The implementation serving an Ingress: a controller family.
///
/// Named in the policy's `servedBy` in kebab-case (`ingress-nginx`, `traefik-ingress-nginx`,
/// `f5-nginx`, `traefik`, `gke`, `other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IngressController {
    /// kubernetes/ingress-nginx (IngressClass controller [`nginx::CONTROLLER`]).
    IngressNginx,
    /// Traefik's Kubernetes Ingress NGINX provider: it watches the IngressClasses of
    /// ingress-nginx's own controller string, so only the policy can say it serves a class
    /// ([`traefik::ingress_nginx`]).
    TraefikIngressNginx,
    /// The F5 NGINX Ingress Controller (IngressClass controller [`f5_nginx::CONTROLLER`]).
    F5Nginx,
    /// Traefik's Kubernetes Ingress provider (IngressClass controller
    /// [`traefik::CONTROLLER`]).
    Traefik,
    /// GKE Ingress (classes [`gke::INGRESS_CLASSES`], named by annotation).
    Gke,
    /// Another controller, or one the cluster view cannot name.
    Other,
}

impl IngressController {
    /// The family of an IngressClass's `spec.controller`: the three strings below, compared
    /// whole (a controller started with another `--controller-class` is [`Self::Other`]).
    ///
    /// | `spec.controller` | family | source |
    /// |---|---|---|
    /// | `k8s.io/ingress-nginx` | ingress-nginx | `internal/ingress/controller/ingressclass/ingressclass.go` L26 (controller-v1.15.1) |
    /// | `nginx.org/ingress-controller` | F5 NGINX | `internal/k8s/controller.go` L79 (v5.5.4) |
    /// | `traefik.io/ingress-controller` | Traefik | `pkg/provider/kubernetes/ingress/kubernetes.go` L38 (v3.6.24) |
    pub fn of_controller(controller: &str) -> IngressController {
        match controller {
            nginx::CONTROLLER => IngressController::IngressNginx,
            f5_nginx::CONTROLLER => IngressController::F5Nginx,
            traefik::CONTROLLER => IngressController::Traefik,
            _ => IngressController::Other,
        }
    }

    /// Its name, for messages: `ingress-nginx`, `Traefik's NGINX provider`, ….
    pub fn name(self) -> &'static str {
        match self {
            IngressController::IngressNginx => "ingress-nginx",
            IngressController::TraefikIngressNginx => "Traefik's NGINX provider",
            IngressController::F5Nginx => "F5 NGINX Ingress Controller",
            IngressController::Traefik => "Traefik",
            IngressController::Gke => "GKE Ingress",
            IngressController::Other => "its controller",
        }
    }

    /// Its policy name: `ingress-nginx`, `traefik-ingress-nginx`, ….
    pub fn policy_name(self) -> &'static str {
        match self {
            IngressController::IngressNginx => "ingress-nginx",
            IngressController::TraefikIngressNginx => "traefik-ingress-nginx",
            IngressController::F5Nginx => "f5-nginx",
            IngressController::Traefik => "traefik",
            IngressController::Gke => "gke",
            IngressController::Other => "other",
        }
    }

    /// Whether it reads ingress-nginx's `nginx.ingress.kubernetes.io/` affinity annotations:
    /// ingress-nginx and Traefik's NGINX provider.
    pub fn reads_nginx_annotations(self) -> bool {
        matches!(
            self,
            IngressController::IngressNginx | IngressController::TraefikIngressNginx
        )
    }
}

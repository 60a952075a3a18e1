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
//!   balancing).
//!
//! Adding a family: a folder here, the kinds it reads in [`crate::objects::kinds::KINDS`], and its rules
//! in [`crate::rules`].

pub mod gateway;
pub mod gke;
pub mod nginx;
pub mod traefik;

//! sticky-guard: keeps ingress-nginx sticky sessions working.
//!
//! One rule engine, two front doors:
//!
//! ```text
//! request bytes ──► admission/ ──┐                    ┌──► verdict (allow/deny, JSONPatch, warnings)
//!                                ├─► objects/ ─► rules/ ┤
//! manifest files ─► cli/ ────────┘                    └──► findings (check) / patched manifests (fix)
//! ```
//!
//! - [`objects`] decodes Ingresses (`networking.k8s.io/v1` and the legacy `v1beta1` APIs) and
//!   Services into the one shape the rules read.
//! - [`rules`] holds the rule catalogue, one file per rule, and the engine that runs it.
//! - [`nginx`] and [`cookie_path`] hold the ingress-nginx and RFC 6265 facts the rules rest on.
//! - [`admission`] is the AdmissionReview glue and the HTTP routes; [`tls`] the HTTPS server and
//!   the certificates (self-managed in the cluster: [`tls::managed`]).
//! - [`ops`] serves `/healthz`, `/readyz` and `/metrics`; [`metrics`] defines the series.
//! - [`echo`] bounds and escapes input repeated in answers and logs.
//! - [`cli`] is the command line: `serve`, `check`, `fix`, `certs`.
//! - [`policy`] is what an operator can configure: annotation prefix, ingress classes, actions.
//! - [`view`] is the cluster view the rules read other objects from: live watch caches, or the
//!   manifests given on the command line.

pub mod admission;
pub mod cli;
pub mod cookie_path;
pub mod echo;
pub mod metrics;
pub mod nginx;
pub mod objects;
pub mod ops;
pub mod policy;
pub mod rules;
pub mod tls;
pub mod view;

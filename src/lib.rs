//! sticky-guard: keeps sticky sessions behind Ingress controllers working.
//!
//! One rule engine, two front doors; data flows one way:
//!
//! ```text
//! request bytes ──► admission/ ──┐                                       ┌──► verdict (allow/deny, JSONPatch, warnings) ──► bytes
//!                                ├─► objects/ ─► view/ ─► rules/ ────────┤
//! manifest files ─► engine/ ─────┘  (kinds table) (controllers/)         └──► findings ─► report/ (text, JSON, SARIF) / fixed manifests
//! ```
//!
//! - [`objects`] decodes the kinds of the kinds table ([`objects::kinds::KINDS`]): Ingresses
//!   (`networking.k8s.io/v1` and the legacy `v1beta1` APIs), Services, GKE BackendConfigs,
//!   Gateway API HTTPRoutes, GRPCRoutes, Gateways, GatewayClasses and ReferenceGrants.
//! - [`view`] is the cluster view the rules read other objects from: a cache per kind, filled by
//!   watches (live) or by the manifests given (offline), with summaries per index key kept up
//!   to date as objects change.
//! - [`controllers`] holds each controller family's facts (ingress-nginx, Traefik, GKE, Gateway
//!   API implementations): which backend is sticky, with which cookie, reached how;
//!   [`cookie_path`] the RFC 6265 path facts.
//! - [`rules`] holds the rule catalogue, one file per rule, the engine that runs it, and each
//!   rule's match condition ([`rules::condition`]: the webhooks' `matchConditions`), and the
//!   suppressions (`ignore-check.sticky-guard.dev/<rule>` annotations, [`rules::suppress`]) that
//!   the offline engine and the webhook both apply.
//! - [`admission`] is the AdmissionReview glue and the HTTP routes; [`tls`] the HTTPS server and
//!   the certificates (self-managed in the cluster: [`tls::managed`]).
//! - [`engine`] is the offline engine (`check`, `fix`, `audit`); [`report`] renders its reports
//!   (also as Kubernetes policy reports); [`reporter`] keeps policy reports current from the
//!   live view (`serve --reports`), on one replica elected with a Lease.
//! - [`policies`] exports the single-object rules as ValidatingAdmissionPolicies and
//!   MutatingAdmissionPolicies; [`cel`] holds the CEL building blocks they and the match
//!   conditions share.
//! - [`ops`] serves `/healthz`, `/readyz` and `/metrics`; [`metrics`] defines the series.
//! - [`echo`] bounds and escapes input repeated in answers and logs.
//! - [`policy`] is what an operator can configure: annotation prefix, ingress classes, actions.
//! - [`migrate`] carries ingress-nginx cookie affinity into the Gateway API HTTPRoutes made
//!   from the Ingresses (`migrate --to gateway-api`), as minimal edits through [`engine`]'s.
//! - [`cli`] is the command line: `serve`, `check`, `fix`, `audit`, `rules`, `export`, `certs`,
//!   `migrate`.

#![warn(missing_docs)]

pub mod admission;
pub mod cel;
pub mod cli;
pub mod controllers;
pub mod cookie_path;
pub mod echo;
pub mod engine;
pub mod metrics;
pub mod migrate;
pub mod objects;
pub mod ops;
pub mod policies;
pub mod policy;
pub mod report;
pub mod reporter;
pub mod rules;
pub mod tls;
pub mod view;

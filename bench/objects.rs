//! Objects the benchmarks generate, shared by `bench/cache_memory.rs`, `bench/scale.rs` and
//! `benches/admission.rs` (each includes this file with `#[path]`).

#![allow(dead_code)]

use serde_json::{Value, json};

/// Namespaces the spread-out objects ([`service`], [`ingress`]) are in: `team-0` … `team-99`.
pub const NAMESPACES: usize = 100;

/// Services the Ingresses of one host ([`host_ingress`]) route to: `svc-0` … `svc-49`.
pub const HOST_SERVICES: usize = 50;

/// managedFields as `kubectl apply` (client side) leaves them.
pub fn managed_fields(manager: &str) -> Value {
    json!([{"manager": manager, "operation": "Apply", "apiVersion": "v1",
            "time": "2026-11-26T10:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                          "f:labels": {".": {}, "f:app": {}}},
                         "f:spec": {"f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}},
                                    "f:selector": {}}}}])
}

/// Service `svc-<i>` in `team-<i % 100>`, shaped like a real cluster's (last-applied
/// annotation, managedFields).
pub fn service(i: usize) -> Value {
    let (name, ns) = (format!("svc-{i}"), format!("team-{}", i % NAMESPACES));
    let mut object = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.{}.{}", i / 250, i % 250),
                 "selector": {"app": name},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    });
    let applied = object.to_string();
    object["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": applied});
    object["metadata"]["managedFields"] = managed_fields("kubectl-client-side-apply");
    object
}

/// Sticky Ingress `web-<i>` on its own host in `team-<i % 100>`, two paths to `svc-<2i>` and
/// `svc-<2i+1>`, shaped like a real cluster's.
pub fn ingress(i: usize) -> Value {
    let (name, ns) = (format!("web-{i}"), format!("team-{}", i % NAMESPACES));
    let mut object = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "annotations": {
            "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/session-cookie-name": "route"}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": format!("{name}.example.com"), "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": format!("svc-{}", 2 * i), "port": {"number": 80}}}},
            {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": format!("svc-{}", 2 * i + 1), "port": {"number": 80}}}}
        ]}}]}
    });
    let applied = object.to_string();
    object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!(applied);
    object["metadata"]["managedFields"] = managed_fields("kubectl-client-side-apply");
    object
}

/// Sticky Ingress `team-<i>` in namespace `team` on host `api.company.com`, one path to
/// `svc-<i % 50>`; every 10th with `use-regex` and a `/t<i>(/|$)(.*)` path, the others `/t<i>`
/// (Prefix): a multi-tenant platform's shared host.
pub fn host_ingress(i: usize) -> Value {
    let regex = i.is_multiple_of(10);
    let mut annotations = json!({"nginx.ingress.kubernetes.io/affinity": "cookie"});
    let (path, path_type) = if regex {
        annotations["nginx.ingress.kubernetes.io/use-regex"] = json!("true");
        (format!("/t{i}(/|$)(.*)"), "ImplementationSpecific")
    } else {
        (format!("/t{i}"), "Prefix")
    };
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": format!("team-{i}"), "namespace": "team", "annotations": annotations},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "api.company.com", "http": {"paths": [
            {"path": path, "pathType": path_type,
             "backend": {"service": {"name": format!("svc-{}", i % HOST_SERVICES), "port": {"number": 80}}}}
        ]}}]}
    })
}

/// A kubeconfig for the stand-in API server at `url`, with no credentials.
pub fn kubeconfig(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {url}\n\
         users:\n- name: nobody\n  user: {{}}\ncontexts:\n- name: stand-in\n  context:\n    cluster: stand-in\n    user: nobody\n\
         current-context: stand-in\n"
    )
}

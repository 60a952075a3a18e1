//! Which implementation serves an Ingress, end to end through `sticky-guard check`: bundles in
//! `tests/data/controllers/` written from each implementation's own manifests and source (cited
//! in each file), with exact findings and exit codes.

use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sticky-guard"))
        .arg("check")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("STICKY_GUARD_CONFIG")
        .env_remove("STICKY_GUARD_SERVED_BY")
        .env_remove("STICKY_GUARD_INGRESS_CLASSES")
        .output()
        .expect("run sticky-guard")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// F5 NGINX's IngressClass `nginx`: the affinity annotations are named, and no ingress-nginx
/// rule runs (the regex path without session-cookie-path is a deny under ingress-nginx).
#[test]
fn an_f5_nginx_class_gets_the_other_controller_warning_only() {
    let out = check(&["tests/data/controllers/f5-nginx.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "tests/data/controllers/f5-nginx.yaml:17:5: warn affinity-annotations-on-other-controller \
         Ingress app/shop: F5 NGINX Ingress ignores these; use nginx.org/sticky-cookie-services\n"
    );
}

/// Class nginx with ingress-nginx's controller string: ingress-nginx's facts, unless the policy
/// says Traefik's NGINX provider serves it; then Traefik's facts (cookie Path `/`, so no
/// cookie-path-for-regex; affinity-mode balanced not carried out).
#[test]
fn the_policy_names_traefiks_nginx_provider_for_class_nginx() {
    let file = "tests/data/controllers/traefik-ingress-nginx.yaml";
    let out = check(&[file]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "{file}:18:3: deny cookie-path-for-regex Ingress default/ingress-with-sticky:"
        )),
        "{text}"
    );
    for args in [
        vec!["--served-by", "nginx=traefik-ingress-nginx", file],
        vec!["--config", "tests/data/controllers/served-by.yaml", file],
    ] {
        let out = check(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(
            stdout(&out),
            format!(
                "{file}:20:5: warn traefik-nginx-unsupported-affinity-setting Ingress \
                 default/ingress-with-sticky: Traefik's NGINX provider does not do affinity-mode: \
                 only persistent mode\n"
            ),
            "{args:?}"
        );
    }
}

/// An Ingress without a class is judged by the default IngressClass's controller.
#[test]
fn the_default_class_applies_to_an_ingress_without_one() {
    let out = check(&["tests/data/controllers/default-class.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "tests/data/controllers/default-class.yaml:27:5: warn \
         affinity-annotations-on-other-controller Ingress app/shop: F5 NGINX Ingress ignores \
         these; use nginx.org/sticky-cookie-services\n"
    );
}

/// A wrong `--served-by` is refused with exit 2, naming the flag.
#[test]
fn a_wrong_served_by_is_refused() {
    let out = check(&[
        "--served-by",
        "nginx=haproxy",
        "tests/data/controllers/f5-nginx.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: flags: --served-by nginx=haproxy: unknown controller; use ingress-nginx, \
         traefik-ingress-nginx, f5-nginx, traefik, gke or other\n"
    );
}

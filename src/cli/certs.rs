//! `sticky-guard certs`: a CA and a serving certificate for the webhook Service.

use crate::tls::dev;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Name of the webhook Service (a DNS-1035 label). The same flag as `serve --service-name`;
    /// `--service` is kept as a hidden alias.
    #[arg(long = "service-name", alias = "service", default_value = "sticky-guard", value_parser = service_name)]
    pub service: String,
    /// Namespace of the webhook Service (a DNS-1123 label).
    #[arg(long, default_value = "sticky-guard", value_parser = namespace_name)]
    pub namespace: String,
    /// Cluster DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Days the serving certificate is valid (1 to 3650).
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub days: u64,
    /// Directory to write `ca.pem`, `tls.crt` and `tls.key` to (created if missing). The same
    /// flag as `export policies --output-dir`; `--out-dir` is kept as a hidden alias.
    #[arg(
        long = "output-dir",
        alias = "out-dir",
        default_value = "certs/cluster"
    )]
    pub out_dir: PathBuf,
    /// Replace a CA already in the directory. Without it, `certs` refuses: the webhook
    /// configurations trust the old CA until their caBundle is changed.
    #[arg(long)]
    pub force: bool,
}

/// Runs `certs`.
pub fn run(args: CertsArgs) -> ExitCode {
    let svc = &args.service;
    let ns = &args.namespace;
    let existing = args.out_dir.join("ca.pem");
    if existing.exists() && !args.force {
        return super::fail(format!(
            "{} exists: the webhook configurations may trust it; pass --force to replace the CA, or \
             choose another --output-dir",
            existing.display()
        ));
    }
    let names = crate::tls::pki::service_dns_names(svc, ns, &args.cluster_domain);
    let pki = match dev::generate(&names, args.days) {
        Ok(pki) => pki,
        Err(e) => return super::fail(format!("cannot make certificates: {e}")),
    };
    if let Err(e) = write_pki(&args.out_dir, &pki) {
        return super::fail(e);
    }
    let dir = args.out_dir.display();
    println!(
        "wrote {dir}/ca.pem, {dir}/tls.crt, {dir}/tls.key for {}",
        names[0]
    );
    println!("next:");
    println!(
        "  kubectl -n {ns} create secret tls {svc}-tls --cert={dir}/tls.crt --key={dir}/tls.key"
    );
    println!(
        "  set clientConfig.caBundle of every webhook in manifests/base/webhooks.yaml (or in a \
         patch of your overlay) to: $(base64 -w0 {dir}/ca.pem)"
    );
    ExitCode::SUCCESS
}

/// Writes `ca.pem`, `tls.crt`, `tls.key` (mode 0600 on Unix) into `dir`.
/// `--service-name`: a DNS-1035 label, as a Service name must be.
fn service_name(text: &str) -> Result<String, String> {
    if crate::objects::is_dns1035_label(text) {
        Ok(text.to_string())
    } else {
        Err(
            "a Service name is a DNS-1035 label: 1-63 characters of a-z, 0-9 and -, starting \
             with a letter and ending with a letter or digit"
                .into(),
        )
    }
}

/// `--namespace`: a DNS-1123 label, as a namespace name must be.
fn namespace_name(text: &str) -> Result<String, String> {
    if crate::policy::is_dns1123_label(text) {
        Ok(text.to_string())
    } else {
        Err(
            "a namespace is a DNS-1123 label: 1-63 characters of a-z, 0-9 and -, starting and \
             ending with a letter or digit"
                .into(),
        )
    }
}

pub(super) fn write_pki(dir: &std::path::Path, pki: &dev::DevPki) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (file, content) in [
        ("ca.pem", &pki.ca_pem),
        ("tls.crt", &pki.cert_pem),
        ("tls.key", &pki.key_pem),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, content)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        #[cfg(unix)]
        if file == "tls.key" {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(())
}

//! The peer for `bench/run`: a webhook written the way kube-rs's admission example and most
//! kube-rs webhooks are: axum + axum-server (rustls), the body decoded into
//! `AdmissionReview<DynamicObject>`, answered with `AdmissionResponse::from(&request)` (allow,
//! no rules). Its TCP sockets keep axum-server's defaults.
//!
//! `cargo run --release --example kube_peer -- LISTEN CERT_PEM KEY_PEM`

use axum::Json;
use axum::routing::post;
use axum_server::tls_rustls::RustlsConfig;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};

async fn mutate(
    Json(review): Json<AdmissionReview<DynamicObject>>,
) -> Json<AdmissionReview<DynamicObject>> {
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(error) => return Json(AdmissionResponse::invalid(error.to_string()).into_review()),
    };
    Json(AdmissionResponse::from(&request).into_review())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, cert, key] = args.as_slice() else {
        return Err("usage: kube_peer LISTEN CERT_PEM KEY_PEM".into());
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = RustlsConfig::from_pem_file(cert, key).await?;
    let app = axum::Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(mutate));
    let address: std::net::SocketAddr = listen.parse()?;
    eprintln!("kube-rs peer listening on {address}");
    axum_server::bind_rustls(address, config)
        .serve(app.into_make_service())
        .await?;
    Ok(())
}

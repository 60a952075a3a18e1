//! `serve --tls-cert/--tls-key`: certificate files replaced under the running server are served
//! within 2 s, whether by `mv` or by the kubelet's `..data` symlink swap, even when the new files
//! keep the old modification time.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};
use sticky_guard::admission::http::AppState;
use sticky_guard::policy::Policy;
use sticky_guard::tls::{self, ServingState, dev, pki};

fn write_pair(dir: &Path, pki: &dev::DevPki) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tls.crt"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("tls.key"), &pki.key_pem).unwrap();
}

async fn served_within(
    address: std::net::SocketAddr,
    expected: &[u8],
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        if common::served_certificate(address, "localhost").await == expected {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not served within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn replaced_certificate_files_are_served_within_two_seconds() {
    let names = ["localhost".to_string()];
    let (a, b, c) = (
        dev::generate(&names, 1).unwrap(),
        dev::generate(&names, 1).unwrap(),
        dev::generate(&names, 1).unwrap(),
    );
    let root = tempfile::tempdir().unwrap();
    // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..v1.
    write_pair(&root.path().join("..v1"), &a);
    std::os::unix::fs::symlink("..v1", root.path().join("..data")).unwrap();
    for file in ["tls.crt", "tls.key"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), root.path().join(file)).unwrap();
    }
    let (cert, key) = (root.path().join("tls.crt"), root.path().join("tls.key"));
    let serving = ServingState::loaded(&a.cert_pem, None);
    let config = tls::load_server_config(&cert, &key, Default::default()).unwrap();
    let state = AppState::single_object(Policy::default(), "tests", serving.clone());
    let server = common::start_https(state, config).await;
    let watcher = tokio::spawn(tls::files::watch(
        cert.clone(),
        key.clone(),
        Default::default(),
        server.tls_reloader(),
        serving.clone(),
    ));
    let address = server.local_addr;
    let der = |p: &dev::DevPki| pki::parse(&p.cert_pem).unwrap().der;
    assert_eq!(
        common::served_certificate(address, "localhost").await,
        der(&a)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The kubelet's swap: a new version directory, then ..data renamed over atomically; the new
    // files get the old files' modification time.
    let mtime = std::fs::metadata(root.path().join("..v1/tls.crt"))
        .unwrap()
        .modified()
        .unwrap();
    write_pair(&root.path().join("..v2"), &b);
    for file in ["tls.crt", "tls.key"] {
        let f = std::fs::File::options()
            .write(true)
            .open(root.path().join("..v2").join(file))
            .unwrap();
        f.set_modified(mtime).unwrap();
    }
    std::os::unix::fs::symlink("..v2", root.path().join("..data_tmp")).unwrap();
    std::fs::rename(root.path().join("..data_tmp"), root.path().join("..data")).unwrap();
    served_within(address, &der(&b), Duration::from_secs(2)).await;
    assert_eq!(
        serving.expiry().serving,
        Some(pki::parse(&b.cert_pem).unwrap().not_after)
    );

    // An operator's `mv` over the links.
    let staging = root.path().join("staging");
    write_pair(&staging, &c);
    std::fs::rename(staging.join("tls.key"), &key).unwrap();
    std::fs::rename(staging.join("tls.crt"), &cert).unwrap();
    served_within(address, &der(&c), Duration::from_secs(2)).await;

    // A pair that does not load: the old certificate stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        common::served_certificate(address, "localhost").await,
        der(&c)
    );
    watcher.abort();
}

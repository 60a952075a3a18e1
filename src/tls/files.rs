//! Serving certificate files that change under the server: a Secret volume the kubelet updates
//! (an atomic `..data` symlink swap), cert-manager renewing, an operator's `mv`.
//!
//! The directories holding the files are watched with `notify` (inotify on Linux), so a change
//! is served within about 100 ms; a poll every [`FALLBACK_POLL`] catches what notifications miss
//! (a file system without them). Changes are detected by content, not modification time, so a
//! swap that keeps the files' mtime is seen too. A new pair that does not load is logged and the
//! old certificate stays in use.

use super::ServingState;
use super::server::Reloader;
use notify::Watcher;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the files are read when no notification arrives: 10 s.
pub const FALLBACK_POLL: Duration = Duration::from_secs(10);

/// How long to wait after a notification for the writer to finish (a swap is several events).
const SETTLE: Duration = Duration::from_millis(100);

/// Watches `cert` and `key` forever, reloading `reload`'s server when their contents change and
/// recording what is served in `serving`. `ca` (cert-manager's `ca.crt` beside the files), when
/// present, gives the CA expiry.
pub async fn watch(
    cert: PathBuf,
    key: PathBuf,
    min: super::MinVersion,
    reload: Reloader,
    serving: ServingState,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = tx.send(());
    });
    // Kept alive for as long as the loop runs.
    let _watcher = match watcher {
        Ok(mut watcher) => {
            let mut dirs: Vec<&Path> = [&cert, &key]
                .iter()
                .map(|p| {
                    p.parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                })
                .collect();
            dirs.dedup();
            for dir in dirs {
                if let Err(error) = watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                    tracing::warn!(%error, dir = %dir.display(), "cannot watch the certificate directory; polling every 10 s");
                }
            }
            Some(watcher)
        }
        Err(error) => {
            tracing::warn!(%error, "no file notifications; polling the certificate files every 10 s");
            None
        }
    };
    let read = |cert: &Path, key: &Path| (std::fs::read(cert).ok(), std::fs::read(key).ok());
    let mut last = read(&cert, &key);
    loop {
        tokio::select! {
            event = rx.recv() => {
                if event.is_none() {
                    // The watcher is gone: fall back to polling only.
                    tokio::time::sleep(FALLBACK_POLL).await;
                } else {
                    tokio::time::sleep(SETTLE).await;
                    while rx.try_recv().is_ok() {}
                }
            }
            () = tokio::time::sleep(FALLBACK_POLL) => {}
        }
        let now = read(&cert, &key);
        if now == last {
            continue;
        }
        last = now;
        match super::load_server_config(&cert, &key, min) {
            Ok(config) => {
                reload.reload(config);
                let pem = std::fs::read_to_string(&cert).unwrap_or_default();
                serving.set_loaded(&pem, sibling_ca(&cert).as_deref());
                tracing::info!(cert = %cert.display(), "serving certificate reloaded");
            }
            Err(error) => {
                tracing::warn!(%error, "new serving certificate does not load; keeping the old one")
            }
        }
    }
}

/// The `ca.crt` beside a certificate file, as cert-manager's Secrets hold it, for the CA expiry
/// metric; `None` when there is none.
pub fn sibling_ca(cert: &Path) -> Option<String> {
    std::fs::read_to_string(cert.with_file_name("ca.crt")).ok()
}

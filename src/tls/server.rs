//! The HTTPS server loop (axum-server over rustls), with graceful shutdown.

use super::limit::ConnectionLimit;
pub use super::limit::DEFAULT_MAX_CONNECTIONS;
use axum::Router;
use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a client has for the TLS handshake, by default.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client has to send a request's head (HTTP/1.1), from the connection's start or
/// the previous response (so it also closes idle keep-alive connections).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Concurrent streams per HTTP/2 connection by default (kube-apiserver opens a few; hyper's
/// default is 200).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 32;

/// How long in-flight requests may finish after shutdown is asked for.
pub const GRACE: Duration = Duration::from_secs(10);

/// A server that is listening.
pub struct Running {
    /// The address it listens on (useful with port 0).
    pub local_addr: SocketAddr,
    handle: Handle<SocketAddr>,
    tls: RustlsConfig,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to 10 s), and waits for the end.
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.handle.graceful_shutdown(Some(GRACE));
        self.wait().await
    }

    /// Waits until the server stops (after [`Running::shutdown`] or a fatal error).
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }

    /// A handle that can reload the certificate from elsewhere (a file watcher).
    pub fn tls_reloader(&self) -> Reloader {
        Reloader(self.tls.clone())
    }

    /// A handle that can shut the server down from elsewhere (e.g. a signal handler).
    pub fn handle(&self) -> Handle<SocketAddr> {
        self.handle.clone()
    }
}

/// Reloads a running server's TLS configuration.
#[derive(Clone)]
pub struct Reloader(RustlsConfig);

impl Reloader {
    /// Serves new connections with `config` from now on (certificate rotation); connections
    /// already open keep theirs.
    pub fn reload(&self, config: ServerConfig) {
        self.0.reload_from_config(Arc::new(config));
    }
}

/// What a client may hold of the HTTPS server (`serve` flags of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, from TCP accept; more are closed at once
    /// ([`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Time for the TLS handshake ([`HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// Time for an HTTP/1.1 request head, also between keep-alive requests
    /// ([`HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
    /// Concurrent streams per HTTP/2 connection ([`MAX_STREAMS_PER_CONNECTION`]).
    pub max_streams_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_streams_per_connection: MAX_STREAMS_PER_CONNECTION,
        }
    }
}

/// Binds `addr` and serves `app` over TLS with `tls` in a background task, with the default
/// [`Limits`].
///
/// # Errors
/// The bind error (address in use, permission).
pub async fn start(addr: SocketAddr, tls: ServerConfig, app: Router) -> std::io::Result<Running> {
    start_with(addr, tls, app, Limits::default()).await
}

/// [`start`] with `limits`.
///
/// # Errors
/// The bind error (address in use, permission).
pub async fn start_with(
    addr: SocketAddr,
    tls: ServerConfig,
    app: Router,
    limits: Limits,
) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let handle = Handle::new();
    let tls = RustlsConfig::from_config(Arc::new(tls));
    // TCP_NODELAY on every accepted socket: an answer is one small write, and Nagle's algorithm
    // with the peer's delayed ACK would hold it back for up to 40 ms.
    let acceptor = RustlsAcceptor::new(tls.clone())
        .handshake_timeout(limits.handshake_timeout)
        .acceptor(ConnectionLimit::new(
            NoDelayAcceptor::new(),
            limits.max_connections,
        ));
    let mut server = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle.clone());
    // Slow clients cannot hold a connection: the request head must arrive within
    // the header read timeout (HTTP/1.1), and HTTP/2 connections carry a bounded number of streams
    // and are pinged when idle.
    let timer = hyper_util::rt::TokioTimer::new();
    let builder = server.http_builder();
    builder
        .http1()
        .timer(timer.clone())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(timer)
        .max_concurrent_streams(limits.max_streams_per_connection)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    let task = tokio::spawn(server.serve(app.into_make_service()));
    Ok(Running {
        local_addr,
        handle,
        tls,
        task,
    })
}

/// Resolves on SIGTERM (what the kubelet sends) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

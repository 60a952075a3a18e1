//! A bound on open connections: an axum-server acceptor that holds a permit for as long as a
//! connection lives, taken at TCP accept (before the TLS handshake, so stalled handshakes count)
//! and closing connections beyond the bound at once.
//!
//! Neither hyper, hyper-util, tower nor axum-server bound connections (tower's limits count
//! requests), hence this small wrapper.

use axum_server::accept::Accept;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default bound on open connections (`serve --max-connections`): far above what the API
/// servers open (a few each, kept alive) and far below a container's file descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Wraps `inner` (the acceptor that runs on the TCP stream) with a bound of `max` connections.
#[derive(Clone, Debug)]
pub struct ConnectionLimit<A> {
    inner: A,
    permits: Arc<Semaphore>,
}

impl<A> ConnectionLimit<A> {
    /// At most `max` connections at once (at least 1).
    pub fn new(inner: A, max: usize) -> Self {
        ConnectionLimit {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl<A, I, S> Accept<I, S> for ConnectionLimit<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Limited<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let permit = self.permits.clone().try_acquire_owned();
        let Ok(permit) = permit else {
            // Dropping the stream closes the connection.
            drop(stream);
            tracing::debug!("refused a connection: --max-connections reached");
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection limit reached",
            ))));
        };
        let accepted = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                Limited {
                    stream,
                    _permit: permit,
                },
                service,
            ))
        })
    }
}

/// A connection that holds one of [`ConnectionLimit`]'s permits until it is dropped.
#[derive(Debug)]
pub struct Limited<T> {
    stream: T,
    _permit: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Limited<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

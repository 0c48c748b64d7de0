//! The HTTP service (the Passport nexus), plain and over TLS.
//!
//! `axum::serve` has neither a connection limit nor a timeout of its own, so connections reach
//! it through a channel from an accept loop that has both: at most `max_connections` open at
//! once, and each closed once it has moved no byte for the idle timeout. A flood of idle or
//! slow connections therefore holds a bounded number of file descriptors, and never those the
//! messaging fronts need.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use switchyard_net::{Connections, Slot};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Connections accepted and not yet taken by the HTTP server.
const READY_QUEUE: usize = 256;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// How many connections the service keeps, and for how long an idle one.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown`; over TLS when `tls` is given (handshakes run
/// in tasks of their own, so a slow client never holds up the next one).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: HttpLimits,
    router: axum::Router,
    shutdown: CancellationToken,
) {
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(e) => {
            tracing::error!(error = %e, "HTTP listener has no address");
            return;
        }
    };
    let (accepted, ready) = mpsc::channel(READY_QUEUE);
    let tls = tls.map(TlsAcceptor::from);
    let accepting = tokio::spawn(accept(listener, tls, limits, accepted, shutdown.clone()));
    let listener = ChannelListener { ready, local };
    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "HTTP service failed");
    }
    accepting.abort();
}

async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: HttpLimits,
    accepted: mpsc::Sender<(HttpConnection, SocketAddr)>,
    shutdown: CancellationToken,
) {
    let connections = Connections::new(limits.max_connections);
    while let Some((stream, peer, slot)) = connections.accept(&listener, &shutdown).await {
        let Some(acceptor) = &tls else {
            let connection = HttpConnection::new(Transport::Plain(stream), slot, limits.idle_timeout);
            if accepted.send((connection, peer)).await.is_err() {
                return;
            }
            continue;
        };
        let (acceptor, accepted) = (acceptor.clone(), accepted.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let transport = Transport::Tls(Box::new(tls));
                    let _ = accepted.send((HttpConnection::new(transport, slot, limits.idle_timeout), peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Connections accepted (and through their handshake), for `axum::serve`.
struct ChannelListener {
    ready: mpsc::Receiver<(HttpConnection, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for ChannelListener {
    type Io = HttpConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task is gone (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One HTTP connection: it holds its place under the limit while it lives, and fails with
/// `TimedOut` once it has waited the idle timeout without moving a byte.
struct HttpConnection {
    transport: Transport,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl HttpConnection {
    fn new(transport: Transport, slot: Slot, idle_timeout: Duration) -> Self {
        let idle = Box::pin(tokio::time::sleep(idle_timeout));
        HttpConnection { transport, idle_timeout, idle, _slot: slot }
    }

    fn moved_bytes(&mut self) {
        let deadline = Instant::now() + self.idle_timeout;
        self.idle.as_mut().reset(deadline);
    }

    /// What a pending read or write turns into once the connection has been idle too long.
    fn pending_unless_idle<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        ready!(self.idle.as_mut().poll(cx));
        tracing::debug!("idle HTTP connection closed");
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "HTTP connection idle")))
    }
}

impl AsyncRead for HttpConnection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = match &mut this.transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Transport::Tls(tls) => Pin::new(tls).poll_read(cx, buf),
        };
        match read {
            Poll::Pending => this.pending_unless_idle(cx),
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved_bytes();
                }
                Poll::Ready(result)
            }
        }
    }
}

impl AsyncWrite for HttpConnection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = match &mut this.transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Transport::Tls(tls) => Pin::new(tls).poll_write(cx, buf),
        };
        match written {
            Poll::Pending => this.pending_unless_idle(cx),
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.moved_bytes();
                }
                Poll::Ready(result)
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = match &mut this.transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Transport::Tls(tls) => Pin::new(tls).poll_flush(cx),
        };
        match flushed {
            Poll::Pending => this.pending_unless_idle(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().transport {
            Transport::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Transport::Tls(tls) => Pin::new(tls).poll_shutdown(cx),
        }
    }
}

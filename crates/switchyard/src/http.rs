//! The HTTP service (the Passport nexus), plain and over TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_net::Connections;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// TLS handshakes in progress at once; more connections wait to be accepted.
const MAX_HANDSHAKES: usize = 256;
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, router: axum::Router, shutdown: CancellationToken) {
    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "HTTP service failed");
    }
}

/// Serves `router` over TLS on `listener` until `shutdown`. Handshakes run in tasks of their
/// own, so a slow client never holds up the next one.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: axum::Router,
    shutdown: CancellationToken,
) {
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(e) => {
            tracing::error!(error = %e, "HTTPS listener has no address");
            return;
        }
    };
    let (handshaken, ready) = mpsc::channel(MAX_HANDSHAKES);
    let acceptor = TlsAcceptor::from(tls);
    let accepting = tokio::spawn(accept_tls(listener, acceptor, handshaken, shutdown.clone()));
    let listener = TlsListener { ready, local };
    if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await {
        tracing::error!(error = %e, "HTTPS service failed");
    }
    accepting.abort();
}

async fn accept_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshaken: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    shutdown: CancellationToken,
) {
    let handshakes = Connections::new(MAX_HANDSHAKES);
    while let Some((stream, peer, slot)) = handshakes.accept(&listener, &shutdown).await {
        let (acceptor, handshaken) = (acceptor.clone(), handshaken.clone());
        handshakes.spawn(slot, move || async move {
            match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = handshaken.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Connections whose TLS handshake is done, for `axum::serve`.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task is gone (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

//! The HTTP service: the Passport nexus, plain and over TLS, and whatever else an `axum` router
//! serves beside it.
//!
//! The accept loop keeps at most `max_connections` open at once, each closed once it has moved
//! no byte for the idle timeout. A flood of idle or slow connections therefore holds a bounded
//! number of file descriptors, and never those the messaging fronts need.
//!
//! Each connection's first request head is read here, within a deadline. The nexus's requests
//! are answered here too, through `switchyard_msn::nexus::http1`, byte for byte as the Passport
//! service answered them (strict clients look for its header names, and Pidgin 2.2 asks without
//! an HTTP version); any other request, and the rest of its connection, goes to the router,
//! served by hyper with the same deadline on every later request's head (a client that trickles
//! headers is closed, however many bytes it moves).

use bytes::{Buf, Bytes, BytesMut};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};
use switchyard_msn::nexus::http1::{self, Head, RequestHead, Response, Status};
use switchyard_msn::nexus::Nexus;
use switchyard_net::{ConnectionBudget, Connections, Slot};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// How long a closing connection is drained of what the client still sends, so that closing
/// with unread bytes does not reset the connection under the answer.
const LINGER: Duration = Duration::from_secs(1);

/// How many connections the service keeps (within the process's budget), and for how long an
/// idle one.
#[derive(Clone)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    /// A request's head (and a nexus request's body) must have come by then, counted from
    /// the connection's opening or, on a kept-alive one, the request's start.
    pub request_deadline: Duration,
    pub budget: ConnectionBudget,
}

/// Serves the nexus and `router` on `listener` until `shutdown`; over TLS when `tls` is given
/// (handshakes run in tasks of their own, so a slow client never holds up the next one).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: HttpLimits,
    nexus: Arc<Nexus>,
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
    tracing::debug!(%local, "HTTP service listening");
    let tls = tls.map(TlsAcceptor::from);
    accept(listener, tls, limits, nexus, router, shutdown).await;
}

async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: HttpLimits,
    nexus: Arc<Nexus>,
    router: axum::Router,
    shutdown: CancellationToken,
) {
    let connections = Connections::new(limits.max_connections, limits.budget.clone());
    let (idle_timeout, request_deadline) = (limits.idle_timeout, limits.request_deadline);
    while let Some((stream, peer, slot)) = connections.accept(&listener, &shutdown).await {
        let local = match stream.local_addr() {
            Ok(local) => local,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "accepted connection has no local address");
                continue;
            }
        };
        let (tls, nexus, router, shutdown) = (tls.clone(), nexus.clone(), router.clone(), shutdown.clone());
        tokio::spawn(async move {
            let transport = match tls {
                None => Transport::Plain(stream),
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => Transport::Tls(Box::new(tls)),
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                },
            };
            let connection = HttpConnection::new(transport, slot, idle_timeout);
            tokio::select! {
                () = route(connection, peer, local, &nexus, router, request_deadline) => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}

/// Reads the first request head: answers it here if it is the nexus's (or not HTTP), serves the
/// connection with `router` otherwise.
async fn route(
    mut connection: HttpConnection,
    peer: SocketAddr,
    local: SocketAddr,
    nexus: &Nexus,
    router: axum::Router,
    deadline: Duration,
) {
    let mut read = BytesMut::with_capacity(1024);
    let request = match tokio::time::timeout(deadline, read_request(&mut connection, &mut read)).await {
        Ok(Ok(request)) => request,
        Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "HTTP request not read"),
        Err(_) => return tracing::debug!(%peer, "HTTP request head not sent in time"),
    };
    let response = match request {
        Request::Nexus(head, body) => {
            let response = nexus.answer(&head, &body, local, peer).await;
            let (method, path, status) = (&head.method, &head.path, response.status.code());
            tracing::debug!(%peer, %method, %path, status, "nexus request");
            response
        }
        Request::Web => {
            connection.replay = read.freeze();
            let secure = matches!(connection.transport, Transport::Tls(_));
            let visitor = switchyard_web::Visitor { address: peer.ip(), secure };
            return serve_web(connection, visitor, router, deadline).await;
        }
        Request::Refused(status, why) => {
            tracing::debug!(%peer, status = status.code(), why, "HTTP request refused");
            Response::new(status)
        }
    };
    if let Err(e) = answer_and_close(&mut connection, &response).await {
        tracing::debug!(%peer, error = %e, "HTTP answer not written");
    }
}

enum Request {
    Nexus(RequestHead, Bytes),
    Web,
    Refused(Status, &'static str),
}

/// Reads one request head into `read`, and the body of a nexus request.
async fn read_request(connection: &mut HttpConnection, read: &mut BytesMut) -> io::Result<Request> {
    let (head, head_len) = loop {
        match http1::parse_head(read) {
            Head::Complete(head, len) => break (head, len),
            Head::Invalid => return Ok(Request::Refused(Status::BadRequest, "not an HTTP request head")),
            Head::Partial => {
                if connection.read_buf(read).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
        }
    };
    if !Nexus::serves(&head.path) {
        // Requests without a version get an answer with one, which nothing else here writes.
        return Ok(if head.has_version { Request::Web } else { Request::Refused(Status::NotFound, "unknown path") });
    }
    let Some(body_len) = head.content_length() else {
        return Ok(Request::Refused(Status::BadRequest, "Content-Length is not a number"));
    };
    if body_len > http1::MAX_BODY {
        return Ok(Request::Refused(Status::BadRequest, "request body too long"));
    }
    while read.len() < head_len + body_len {
        if connection.read_buf(read).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    read.advance(head_len);
    Ok(Request::Nexus(head, read.split_to(body_len).freeze()))
}

/// Writes `response`, then closes the connection the way a server that says `Connection: close`
/// should: it stops writing, and reads what the client still sends for a moment, so that the
/// answer is not lost to a reset.
async fn answer_and_close(connection: &mut HttpConnection, response: &Response) -> io::Result<()> {
    connection.write_all(&response.encode(SystemTime::now())).await?;
    connection.shutdown().await?;
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(connection.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
    Ok(())
}

/// Serves the rest of a connection with `router`: HTTP/1.1 with keep-alive, each request's
/// head due within `deadline` (hyper's `header_read_timeout`), each request carrying who sent
/// it.
async fn serve_web(
    connection: HttpConnection,
    visitor: switchyard_web::Visitor,
    router: axum::Router,
    deadline: Duration,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(deadline);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(visitor);
        tower::ServiceExt::oneshot(router.clone(), request)
    });
    let served = http.serve_connection(hyper_util::rt::TokioIo::new(connection), service).with_upgrades();
    if let Err(e) = served.await {
        tracing::debug!(peer = %visitor.address, error = %e, "HTTP connection ended");
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
    /// Bytes read before the connection went to `axum`, read again first.
    replay: Bytes,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl HttpConnection {
    fn new(transport: Transport, slot: Slot, idle_timeout: Duration) -> Self {
        let idle = Box::pin(tokio::time::sleep(idle_timeout));
        HttpConnection { transport, replay: Bytes::new(), idle_timeout, idle, _slot: slot }
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
        if !this.replay.is_empty() {
            let n = this.replay.len().min(buf.remaining());
            buf.put_slice(&this.replay.split_to(n));
            return Poll::Ready(Ok(()));
        }
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

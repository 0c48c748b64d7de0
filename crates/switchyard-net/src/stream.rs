//! One client connection: bytes read so far, replies queued, a write deadline, and the switch
//! to TLS on the same socket.

use bytes::BytesMut;
use std::fmt;
use std::io;
use std::net::SocketAddr;
#[cfg(feature = "server")]
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
#[cfg(feature = "server")]
use tokio_rustls::server::TlsStream;
#[cfg(feature = "server")]
use tokio_rustls::TlsAcceptor;

/// A client that does not take our bytes within this time is gone or hostile.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// A TLS handshake takes a few round trips; a client that stalls in it is dropped.
#[cfg(feature = "server")]
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(15);
/// Idle sessions dominate a server's memory: its buffers start this small and grow only for
/// what arrives.
const SERVER_MIN_READ: usize = 256;
/// The least a client's read is offered: a burst of replies in one system call.
const CLIENT_MIN_READ: usize = 4096;
/// The largest output buffer an idle connection keeps after a big write (a long contact list).
const RETAINED_OUTPUT: usize = 4096;
/// The most a busy connection reads at once. A read that fills the room it had grows the next
/// one: the socket may hold more, and a read that leaves room tells tokio the socket is drained,
/// which saves the system call that would only find that out.
const MAX_READ: usize = 16 * 1024;

/// A batch of ready inputs ends early once this much output is queued (see [`crate::driver`]).
const BATCH_OUTPUT: usize = 64 * 1024;

/// Why a connection stopped giving input. `E` is what the protocol's decoder found wrong.
#[derive(Debug)]
pub enum ReadError<E> {
    Closed,
    Io(io::Error),
    Protocol(E),
}

impl<E: fmt::Display> ReadError<E> {
    /// A client closing is routine; anything else is worth a warning.
    pub fn log(&self) {
        match self {
            ReadError::Closed => tracing::debug!("{self}"),
            _ => tracing::warn!("{self}"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the peer closed the connection"),
            ReadError::Io(e) => write!(f, "read failed: {e}"),
            ReadError::Protocol(e) => write!(f, "bad input: {e}"),
        }
    }
}

enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "server")]
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a handshake is running; a failed one leaves the connection unusable.
    Gone,
}

/// A TCP connection, or the TLS one it turned into, with its input and output buffers.
pub struct BufferedStream {
    transport: Transport,
    /// Bytes read and not yet taken by the decoder.
    pub input: BytesMut,
    /// Room to offer the next read.
    read_size: usize,
    /// The least room a read is offered.
    min_read: usize,
    /// Whether the room grown for a burst is given back once the input is drained: a server's
    /// idle connections are most of its memory; a client's few are not worth the allocations.
    gives_back_room: bool,
    /// Bytes queued for the next [`BufferedStream::flush`].
    pub output: BytesMut,
    /// Bytes of `output` the kernel has taken during the flush in progress.
    sent: usize,
    /// How much of the output a failed flush gave the kernel before the connection was dropped.
    sent_of_lost_output: usize,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection lost in a TLS handshake")
}

impl BufferedStream {
    /// A server's connection: small while idle.
    pub fn new(stream: TcpStream) -> Self {
        Self::with_reads(stream, SERVER_MIN_READ, true)
    }

    /// A client's connection. A client has a few connections, not thousands: fewer, larger
    /// reads matter more to it than idle memory, and it keeps the room it grew.
    pub fn client(stream: TcpStream) -> Self {
        Self::with_reads(stream, CLIENT_MIN_READ, false)
    }

    fn with_reads(stream: TcpStream, min_read: usize, gives_back_room: bool) -> Self {
        BufferedStream {
            transport: Transport::Plain(stream),
            input: BytesMut::with_capacity(min_read),
            read_size: min_read,
            min_read,
            gives_back_room,
            output: BytesMut::new(),
            sent: 0,
            sent_of_lost_output: 0,
        }
    }

    fn tcp(&self) -> io::Result<&TcpStream> {
        match &self.transport {
            Transport::Plain(tcp) => Ok(tcp),
            #[cfg(feature = "server")]
            Transport::Tls(tls) => Ok(tls.get_ref().0),
            Transport::Gone => Err(gone()),
        }
    }

    /// The address the client reached us on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp()?.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp()?.peer_addr()
    }

    pub fn is_tls(&self) -> bool {
        !matches!(self.transport, Transport::Plain(_) | Transport::Gone)
    }

    /// Reads what has arrived into `input`, waiting for at least one byte. Cancellation-safe:
    /// nothing read is lost when the future is dropped.
    pub async fn read_more<E>(&mut self) -> Result<(), ReadError<E>> {
        // A connection that quietened down gives back the room it grew for a burst.
        if self.gives_back_room && self.input.is_empty() && self.input.capacity() > 2 * self.read_size {
            self.input = BytesMut::with_capacity(self.read_size);
        }
        // Only a connection that has had bursts gets room made: an idle one reads into what it
        // has, as small as it started.
        if self.read_size > self.min_read && self.input.capacity() - self.input.len() < self.read_size {
            self.input.reserve(self.read_size);
        }
        let room = self.input.capacity() - self.input.len();
        let read = match &mut self.transport {
            Transport::Plain(tcp) => tcp.read_buf(&mut self.input).await,
            #[cfg(feature = "server")]
            Transport::Tls(tls) => tls.read_buf(&mut self.input).await,
            Transport::Gone => Err(gone()),
        };
        match read {
            Ok(0) => Err(ReadError::Closed),
            Ok(n) => {
                self.read_size = if n >= room {
                    (self.read_size * 2).min(MAX_READ)
                } else {
                    (self.read_size / 2).max(self.min_read)
                };
                Ok(())
            }
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// Whether a batch of inputs may go on before the next write (see [`crate::driver`]).
    pub fn has_room_for_more(&self) -> bool {
        self.output.len() < BATCH_OUTPUT
    }

    /// Writes everything queued; a client that stalls past the deadline is an error. After an
    /// error nothing more is written: the connection is gone.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let write = async {
            match &mut self.transport {
                Transport::Plain(tcp) => {
                    // Counted as it goes, so that a write given up part-way knows what went.
                    while self.sent < self.output.len() {
                        match tcp.write(&self.output[self.sent..]).await? {
                            0 => return Err(io::ErrorKind::WriteZero.into()),
                            n => self.sent += n,
                        }
                    }
                    Ok(())
                }
                #[cfg(feature = "server")]
                Transport::Tls(tls) => {
                    tls.write_all(&self.output).await?;
                    tls.flush().await
                }
                Transport::Gone => Err(gone()),
            }
        };
        let written = match tokio::time::timeout(WRITE_DEADLINE, write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "the peer stopped reading")),
        };
        if let Err(e) = written {
            self.lose_output();
            return Err(e);
        }
        self.sent = 0;
        self.output.clear();
        if self.output.capacity() > RETAINED_OUTPUT {
            self.output = BytesMut::new();
        }
        Ok(())
    }

    /// After a failed write: part of the output may have gone out, and writing it again from
    /// its start would repeat bytes the client has. The connection is dropped, unwritten.
    fn lose_output(&mut self) {
        // What TLS took is not known to have reached the socket: none of it counts.
        self.sent_of_lost_output = if matches!(self.transport, Transport::Plain(_)) { self.sent } else { 0 };
        self.sent = 0;
        self.transport = Transport::Gone;
        self.output = BytesMut::new();
    }

    /// How many bytes of its output the kernel took before a flush failed and the connection
    /// was dropped: what the client may have, whole, of what was being written.
    pub fn sent_of_lost_output(&self) -> usize {
        self.sent_of_lost_output
    }

    /// [`BufferedStream::flush`], given up if `stop` comes first (the session was ended while
    /// its client was not reading): the connection is then dropped unwritten, as after a
    /// failed write, rather than waiting out the write deadline. `stop` is made only if the
    /// write has to wait, which a client that reads never makes it do.
    pub async fn flush_unless<F: std::future::Future<Output = ()>>(
        &mut self,
        stop: impl FnOnce() -> F,
    ) -> io::Result<()> {
        {
            let mut write = std::pin::pin!(self.flush());
            if let std::task::Poll::Ready(written) = poll_once(write.as_mut()) {
                return written;
            }
            tokio::select! {
                biased;
                written = write => return written,
                () = stop() => {}
            }
        }
        self.lose_output();
        Err(io::Error::new(io::ErrorKind::Interrupted, "the session ended while its client was not reading"))
    }

    #[cfg(feature = "server")]
    /// Sends what is queued (the protocol's "go ahead"), then runs the TLS handshake on the same
    /// socket. The client must wait for that answer before its handshake, so nothing may be
    /// buffered from it.
    pub async fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        self.flush().await?;
        if !self.input.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "client sent data before the TLS handshake"));
        }
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Gone) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "already TLS"));
        };
        let tls = tokio::time::timeout(HANDSHAKE_DEADLINE, TlsAcceptor::from(config).accept(tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.transport = Transport::Tls(Box::new(tls));
        Ok(())
    }

    /// Sends what is queued and closes our side.
    pub async fn close(&mut self) {
        if self.flush().await.is_ok() {
            let _ = match &mut self.transport {
                Transport::Plain(tcp) => tcp.shutdown().await,
                #[cfg(feature = "server")]
                Transport::Tls(tls) => tls.shutdown().await,
                Transport::Gone => Ok(()),
            };
        }
    }
}

/// Polls a future once, without a waker to call: whether it is done already.
fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

//! One client connection: framed reads with limits, buffered replies, write deadlines.

use bytes::BytesMut;
use msnp::{Direction, Frame, FrameDecoder, Limits, Reply};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Lines that fail to parse in a row before the connection is considered garbage and closed.
const MAX_CONSECUTIVE_BAD_LINES: u32 = 8;
/// The largest output buffer an idle connection keeps.
const RETAINED_BUFFER: usize = 4096;
/// A client that does not take our bytes within this time is gone or hostile.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) enum ReadError {
    Closed,
    Io(io::Error),
    Framing(msnp::DecodeError),
    Garbage,
}

pub(crate) struct Conn {
    stream: TcpStream,
    decoder: FrameDecoder,
    input: BytesMut,
    output: BytesMut,
    bad_lines: u32,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            decoder: FrameDecoder::new(Direction::ClientToServer, Limits::default()),
            // Idle sessions dominate memory: start small, grow only for what actually arrives.
            input: BytesMut::with_capacity(256),
            output: BytesMut::new(),
            bad_lines: 0,
        }
    }

    /// The address the client reached us on: the one to refer it to for other roles.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Reads the next frame. Cancellation-safe: bytes already read stay buffered.
    /// A line that is not a command is answered with 200 here and skipped.
    pub(crate) async fn read_frame(&mut self) -> Result<Frame, ReadError> {
        loop {
            match self.decoder.decode(&mut self.input) {
                Ok(Some(frame)) => {
                    self.bad_lines = 0;
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(e) if e.is_fatal() => return Err(ReadError::Framing(e)),
                Err(e) => {
                    self.bad_lines += 1;
                    tracing::debug!(error = %e, "unparsable line");
                    if self.bad_lines >= MAX_CONSECUTIVE_BAD_LINES {
                        return Err(ReadError::Garbage);
                    }
                    self.send(Reply::Error { code: msnp::ErrorCode::SyntaxError, trid: None });
                    self.flush().await.map_err(ReadError::Io)?;
                    continue;
                }
            }
            let n = self.stream.read_buf(&mut self.input).await.map_err(ReadError::Io)?;
            if n == 0 {
                return Err(ReadError::Closed);
            }
        }
    }

    pub(crate) fn send(&mut self, reply: Reply<'_>) {
        reply.encode(&mut self.output);
    }

    /// Writes everything queued; a client that stalls past the deadline is an error.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.output);
        match tokio::time::timeout(WRITE_DEADLINE, write).await {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading")),
        }
        self.output.clear();
        // A big write (a long contact list) must not pin its buffer to an idle session.
        if self.output.capacity() > RETAINED_BUFFER {
            self.output = BytesMut::new();
        }
        Ok(())
    }

    /// Sends what is queued and closes our side.
    pub(crate) async fn close(mut self) {
        if self.flush().await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }
}

impl ReadError {
    /// A client closing is routine; anything else is worth a warning.
    pub(crate) fn log(&self) {
        match self {
            ReadError::Closed => tracing::debug!("{self}"),
            _ => tracing::warn!("{self}"),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("client closed the connection"),
            ReadError::Io(e) => write!(f, "read failed: {e}"),
            ReadError::Framing(e) => write!(f, "framing error: {e}"),
            ReadError::Garbage => f.write_str("too many unparsable lines"),
        }
    }
}

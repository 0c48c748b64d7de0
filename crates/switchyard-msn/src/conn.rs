//! One client connection: MSNP frames read with limits, replies buffered until a flush.

use msnp::{Direction, Frame, FrameDecoder, Limits, Reply};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use switchyard_net::BufferedStream;
use tokio::net::TcpStream;

/// Lines that fail to parse in a row before the connection is considered garbage and closed.
const MAX_CONSECUTIVE_BAD_LINES: u32 = 8;

/// What ends reading from an MSN client besides the socket itself.
#[derive(Debug)]
pub(crate) enum BadInput {
    Framing(msnp::DecodeError),
    Garbage,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadInput::Framing(e) => write!(f, "framing error: {e}"),
            BadInput::Garbage => f.write_str("too many unparsable lines"),
        }
    }
}

pub(crate) type ReadError = switchyard_net::ReadError<BadInput>;

pub(crate) struct Conn {
    stream: BufferedStream,
    decoder: FrameDecoder,
    bad_lines: u32,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Conn {
            stream: BufferedStream::new(stream),
            decoder: FrameDecoder::new(Direction::ClientToServer, Limits::default()),
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
            if let Some(frame) = self.buffered_frame() {
                return frame;
            }
            // A client waiting for the answer to a bad line must get it before we wait for more.
            self.flush().await.map_err(ReadError::Io)?;
            self.stream.read_more().await?;
        }
    }

    /// A frame whose bytes have all been read already, if there is one; bad lines among them
    /// are answered (queued, not yet written) and skipped.
    pub(crate) fn buffered_frame(&mut self) -> Option<Result<Frame, ReadError>> {
        loop {
            match self.decoder.decode(&mut self.stream.input) {
                Ok(Some(frame)) => {
                    self.bad_lines = 0;
                    tracing::debug!(command = %crate::wire_log::command(&frame), "received");
                    return Some(Ok(frame));
                }
                Ok(None) => return None,
                Err(e) if e.is_fatal() => return Some(Err(ReadError::Protocol(BadInput::Framing(e)))),
                Err(e) => {
                    self.bad_lines += 1;
                    tracing::debug!(error = %e, "unparsable line answered with 200");
                    if self.bad_lines >= MAX_CONSECUTIVE_BAD_LINES {
                        return Some(Err(ReadError::Protocol(BadInput::Garbage)));
                    }
                    self.send(Reply::Error { code: msnp::ErrorCode::SyntaxError, trid: None });
                }
            }
        }
    }

    /// Whether more input may be handled before the next flush.
    pub(crate) fn has_room_for_more(&self) -> bool {
        self.stream.has_room_for_more()
    }

    pub(crate) fn send(&mut self, reply: Reply<'_>) {
        let start = self.stream.output.len();
        reply.encode(&mut self.stream.output);
        // The fields are only formatted when debug logging is on.
        tracing::debug!(reply = %crate::wire_log::reply(&self.stream.output[start..]), "sent");
    }

    /// Writes everything queued; a client that stalls past the deadline is an error.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().await
    }

    /// Sends what is queued and closes our side.
    pub(crate) async fn close(self) {
        self.stream.close().await
    }
}

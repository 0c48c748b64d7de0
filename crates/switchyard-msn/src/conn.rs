//! One client connection: MSNP frames read with limits, replies buffered until a flush.

use bytes::BytesMut;
use msnp::{Direction, Frame, FrameDecoder, Limits, Reply};
use std::fmt;
use switchyard_net::Framed;
use tokio::net::TcpStream;

/// Lines that fail to parse in a row before the connection is considered garbage and closed.
const MAX_CONSECUTIVE_BAD_LINES: u32 = 8;

pub(crate) type Conn = Framed<Codec>;

pub(crate) fn new(stream: TcpStream) -> Conn {
    let decoder = FrameDecoder::new(Direction::ClientToServer, Limits::default());
    Framed::new(stream, Codec { decoder, bad_lines: 0 })
}

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

/// A client's commands; a line that is not one is answered with `200` and skipped, as the
/// official server did, until too many come in a row.
pub(crate) struct Codec {
    decoder: FrameDecoder,
    bad_lines: u32,
}

impl switchyard_net::Codec for Codec {
    type Frame = Frame;
    type Error = BadInput;

    fn decode(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> Result<Option<Frame>, BadInput> {
        loop {
            match self.decoder.decode(input) {
                Ok(Some(frame)) => {
                    self.bad_lines = 0;
                    tracing::debug!(command = %crate::wire_log::command(&frame), "received");
                    return Ok(Some(frame));
                }
                Ok(None) => return Ok(None),
                Err(e) if e.is_fatal() => return Err(BadInput::Framing(e)),
                Err(e) => {
                    self.bad_lines += 1;
                    tracing::debug!(error = %e, "unparsable line answered with 200");
                    if self.bad_lines >= MAX_CONSECUTIVE_BAD_LINES {
                        return Err(BadInput::Garbage);
                    }
                    encode(Reply::Error { code: msnp::ErrorCode::SyntaxError, trid: None }, output);
                }
            }
        }
    }
}

fn encode(reply: Reply<'_>, output: &mut BytesMut) {
    let start = output.len();
    reply.encode(output);
    // The fields are only formatted when debug logging is on.
    tracing::debug!(reply = %crate::wire_log::reply(&output[start..]), "sent");
}

/// Replies queued on a connection for its next flush.
pub(crate) trait Replies {
    fn send(&mut self, reply: Reply<'_>);
}

impl Replies for Conn {
    fn send(&mut self, reply: Reply<'_>) {
        encode(reply, &mut self.stream.output)
    }
}

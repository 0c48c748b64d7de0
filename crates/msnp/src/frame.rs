//! Framing: a command is one CRLF-terminated line of space-separated parameters; a few commands
//! carry a binary payload whose byte length is the last parameter of their line.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// A command verb: three upper-case letters (`USR`) or three digits (an error code, `911`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verb([u8; 3]);

impl Verb {
    pub const fn new(text: &[u8; 3]) -> Self {
        Verb(*text)
    }

    fn parse(token: &[u8]) -> Option<Self> {
        let bytes: [u8; 3] = token.try_into().ok()?;
        let letters = bytes.iter().all(u8::is_ascii_uppercase);
        let digits = bytes.iter().all(u8::is_ascii_digit);
        (letters || digits).then_some(Verb(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters or digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Debug for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side sent the bytes: the set of commands that carry a payload differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    /// Commands whose last parameter is the byte length of a payload following the line.
    /// Covers every dialect up to MSNP12 and the MSNP13+ commands a server may meet.
    fn carries_payload(self, verb: Verb) -> bool {
        const FROM_CLIENT: &[&[u8; 3]] =
            &[b"MSG", b"QRY", b"UUX", b"ADL", b"RML", b"FQY", b"UUN", b"PUT", b"DEL", b"SDG"];
        const FROM_SERVER: &[&[u8; 3]] = &[
            b"MSG", b"UBX", b"GCF", b"NOT", b"IPG", b"ADL", b"RML", b"UBN", b"UUN", b"FQY", b"NFY", b"PUT", b"DEL",
            b"SDG",
        ];
        let table = match self {
            Direction::ClientToServer => FROM_CLIENT,
            Direction::ServerToClient => FROM_SERVER,
        };
        table.iter().any(|v| **v == verb.0)
    }
}

/// Hard limits on what one frame may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest command line, without its CRLF.
    pub max_line: usize,
    /// Largest payload.
    pub max_payload: usize,
    /// Most parameters on one line.
    pub max_params: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // The longest MSNP2 line is an LST/ADD with a 129-byte handle and a 387-byte name;
        // later dialects add MSN objects to CHG. 4 KiB leaves room for both. Message payloads
        // of the official service were capped at 1,664 bytes; P2P chunks stay under that too.
        Limits { max_line: 4096, max_payload: 8192, max_params: 24 }
    }
}

/// One decoded command: a verb, its parameters, and the payload for the commands that have one.
/// For payload commands the length parameter is not in `params`; the encoder writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub verb: Verb,
    pub params: Vec<String>,
    pub payload: Option<Bytes>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.verb)?;
        for p in &self.params {
            write!(f, " {p}")?;
        }
        if let Some(payload) = &self.payload {
            write!(f, " <{} bytes>", payload.len())?;
        }
        Ok(())
    }
}

impl Frame {
    pub fn new(verb: Verb, params: Vec<String>) -> Self {
        Frame { verb, params, payload: None }
    }

    pub fn with_payload(verb: Verb, params: Vec<String>, payload: Bytes) -> Self {
        Frame { verb, params, payload: Some(payload) }
    }

    /// The transaction id: the first parameter, when it is a number.
    pub fn trid(&self) -> Option<u32> {
        self.params.first().and_then(|p| p.parse().ok())
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&self.verb.0);
        for p in &self.params {
            out.put_u8(b' ');
            out.put_slice(p.as_bytes());
        }
        if let Some(payload) = &self.payload {
            out.put_u8(b' ');
            out.put_slice(payload.len().to_string().as_bytes());
            out.put_slice(b"\r\n");
            out.put_slice(payload);
        } else {
            out.put_slice(b"\r\n");
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("payload length {0} over the limit")]
    PayloadTooLarge(usize),
    #[error("payload length parameter is not a number")]
    BadPayloadLength,
    #[error("line is not a command")]
    NotACommand,
    #[error("too many parameters")]
    TooManyParams,
}

impl DecodeError {
    /// A fatal error leaves the stream at an unknown position: the connection must be closed.
    /// The others consumed exactly one bad line and decoding can go on.
    pub fn is_fatal(&self) -> bool {
        matches!(self, DecodeError::LineTooLong(_) | DecodeError::PayloadTooLarge(_) | DecodeError::BadPayloadLength)
    }
}

/// Incremental decoder: feed it the bytes read so far and it returns complete frames.
#[derive(Debug)]
pub struct FrameDecoder {
    direction: Direction,
    limits: Limits,
    /// A command line whose payload has not fully arrived yet.
    awaiting_payload: Option<(Frame, usize)>,
}

impl FrameDecoder {
    pub fn new(direction: Direction, limits: Limits) -> Self {
        FrameDecoder { direction, limits, awaiting_payload: None }
    }

    /// Takes one frame off the front of `buf`, `Ok(None)` when more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        if let Some((_, len)) = &self.awaiting_payload {
            if buf.len() < *len {
                return Ok(None);
            }
            let (mut frame, len) = self.awaiting_payload.take().expect("checked above");
            frame.payload = Some(buf.split_to(len).freeze());
            return Ok(Some(frame));
        }

        let Some(newline) = buf.iter().take(self.limits.max_line + 2).position(|b| *b == b'\n') else {
            return if buf.len() > self.limits.max_line + 1 {
                Err(DecodeError::LineTooLong(self.limits.max_line))
            } else {
                Ok(None)
            };
        };
        let mut line = buf.split_to(newline + 1);
        line.truncate(newline);
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        if line.len() > self.limits.max_line {
            return Err(DecodeError::LineTooLong(self.limits.max_line));
        }
        let mut frame = self.parse_line(&line)?;
        if self.direction.carries_payload(frame.verb) {
            let len = frame.params.pop().ok_or(DecodeError::BadPayloadLength)?;
            let len: usize = len.parse().map_err(|_| DecodeError::BadPayloadLength)?;
            if len > self.limits.max_payload {
                return Err(DecodeError::PayloadTooLarge(len));
            }
            if buf.len() >= len {
                frame.payload = Some(buf.split_to(len).freeze());
            } else {
                self.awaiting_payload = Some((frame, len));
                return Ok(None);
            }
        }
        Ok(Some(frame))
    }

    fn parse_line(&self, line: &[u8]) -> Result<Frame, DecodeError> {
        let text = std::str::from_utf8(line).map_err(|_| DecodeError::NotACommand)?;
        let mut tokens = text.split([' ', '\t']).filter(|t| !t.is_empty());
        let verb = tokens.next().and_then(|t| Verb::parse(t.as_bytes())).ok_or(DecodeError::NotACommand)?;
        let mut params = Vec::new();
        for token in tokens {
            if params.len() == self.limits.max_params {
                return Err(DecodeError::TooManyParams);
            }
            params.push(token.to_owned());
        }
        Ok(Frame { verb, params, payload: None })
    }
}

/// Decodes every complete frame in `buf`; an unterminated tail stays there for the next read.
pub fn decode_all(decoder: &mut FrameDecoder, buf: &mut BytesMut) -> Result<Vec<Frame>, DecodeError> {
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(buf)? {
        frames.push(frame);
    }
    Ok(frames)
}

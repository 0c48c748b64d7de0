//! A connection that speaks in frames: a [`BufferedStream`] and the protocol's [`Codec`].

use crate::driver::Link;
use crate::{BufferedStream, ReadError};
use bytes::BytesMut;
use std::fmt;
use std::future::Future;
use std::io;
use tokio::net::TcpStream;

/// A protocol's decoder for one direction, and its state (the dialect a connection announced).
pub trait Codec {
    type Frame;
    /// What makes input undecodable; the connection ends with it.
    type Error: fmt::Display;

    /// Takes the next whole frame from `input`, if it is all there. Input that is skipped rather
    /// than fatal may be answered in `output` (MSN's `200` to a line that is not a command).
    fn decode(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> Result<Option<Self::Frame>, Self::Error>;
}

/// A TCP connection that reads frames with `C` and buffers what is written until a flush.
pub struct Framed<C> {
    pub stream: BufferedStream,
    pub codec: C,
}

impl<C: Codec> Framed<C> {
    /// A server's connection (see [`BufferedStream::new`]).
    pub fn new(stream: TcpStream, codec: C) -> Self {
        Framed { stream: BufferedStream::new(stream), codec }
    }

    /// A client's connection (see [`BufferedStream::client`]).
    pub fn client(stream: TcpStream, codec: C) -> Self {
        Framed { stream: BufferedStream::client(stream), codec }
    }

    /// A frame whose bytes have all been read already, if there is one.
    pub fn buffered(&mut self) -> Option<Result<C::Frame, ReadError<C::Error>>> {
        let Framed { stream, codec } = self;
        codec.decode(&mut stream.input, &mut stream.output).map_err(ReadError::Protocol).transpose()
    }

    /// The next frame. Cancellation-safe: bytes already read stay buffered. What the decoder
    /// answered is written before waiting for more, as the peer may be waiting for it.
    pub async fn read(&mut self) -> Result<C::Frame, ReadError<C::Error>> {
        loop {
            if let Some(frame) = self.buffered() {
                return frame;
            }
            self.stream.flush().await.map_err(ReadError::Io)?;
            self.stream.read_more().await?;
        }
    }

    /// The next frame before `deadline`; `None` when the deadline comes first.
    pub async fn read_until(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Option<Result<C::Frame, ReadError<C::Error>>> {
        tokio::time::timeout_at(deadline, self.read()).await.ok()
    }

    /// Writes what is queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().await
    }

    /// Sends what is queued and closes our side.
    pub async fn close(&mut self) {
        self.stream.close().await
    }
}

impl<C> Link for Framed<C>
where
    C: Codec + Send,
    C::Frame: Send,
    C::Error: Send,
{
    type Frame = C::Frame;
    type Bad = C::Error;

    fn buffered(&mut self) -> Option<Result<C::Frame, ReadError<C::Error>>> {
        Framed::buffered(self)
    }

    fn read(&mut self) -> impl Future<Output = Result<C::Frame, ReadError<C::Error>>> + Send {
        Framed::read(self)
    }

    fn has_room_for_more(&self) -> bool {
        self.stream.has_room_for_more()
    }

    async fn flush_unless<F: Future<Output = ()> + Send>(&mut self, stop: impl FnOnce() -> F + Send) -> io::Result<()> {
        self.stream.flush_unless(stop).await
    }

    fn sent_of_lost_output(&self) -> usize {
        self.stream.sent_of_lost_output()
    }
}

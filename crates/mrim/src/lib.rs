//! Sans-IO codec for the Mail.Ru Agent protocol (MRIM, also called MMP).
//!
//! Every integer is little-endian. A packet is a 44-byte [`header`] followed by `dlen` body
//! bytes; [`frame`] splits a byte stream into packets strictly by `dlen`. The protocol minor
//! version a client announces selects every version-dependent layout and text encoding
//! ([`Dialect`]). [`client`] decodes what clients send, [`server`] encodes what servers send;
//! bodies are read leniently: missing trailing fields read as empty, extra ones are ignored.

pub mod client;
pub mod codes;
pub mod dialect;
pub mod frame;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod offline;
pub mod server;
pub mod text;
pub mod wire;

pub use client::ClientPacket;
pub use dialect::Dialect;
pub use frame::{DecodeError, Packet, PacketDecoder};
pub use header::Header;
pub use server::ServerPacket;

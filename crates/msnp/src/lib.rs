//! Sans-IO codec for the MSN Messenger protocol.
//!
//! * [`frame`]: splitting a byte stream into command lines with optional payloads, with hard limits.
//! * [`command`]: typed client commands of the notification and switchboard roles, parsed by
//!   the server and encoded by a client.
//! * [`reply`]: typed server messages, encoded by the server and parsed by a client.
//! * [`text`]: URL-encoding of friendly names and handle syntax checks.
//! * [`message`]: the text and typing bodies of switchboard messages.
//! * [`auth`]: the MD5 challenge response of MSNP2–MSNP7.
//! * [`challenge`]: `CHL`/`QRY` answers (MSNP6+) and the known client products.
//! * [`dialect`]: MSNP2–MSNP12 and what each has.
//!
//! Nothing here performs I/O or knows about storage.

pub mod auth;
pub mod challenge;
pub mod command;
pub mod dialect;
pub mod error_code;
pub mod frame;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod message;
pub mod reply;
pub mod status;
pub mod text;

pub use command::{CommandError, List, NsCommand, SbCommand, Trid};
pub use dialect::Dialect;
pub use error_code::ErrorCode;
pub use frame::{DecodeError, Direction, Frame, FrameDecoder, Limits, Verb};
pub use reply::{BadReply, GroupRef, OwnedReply, PresenceExtras, Reply, ServerMessage, UsrOkShape};
pub use status::MsnStatus;

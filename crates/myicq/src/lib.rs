//! Sans-IO codec for MyICQ v1 (UDP, big-endian).
//!
//! * [`header`]: the 20-byte client and server headers.
//! * [`crypto`]: the client's body encryption — DES without its initial and final
//!   permutations, ECB, zero padding — and the check code that guards it.
//! * [`reliable`]: duplicate window, sequence numbers, resend queue and session expiry, as
//!   pure state with time passed in.
//!
//! * [`wire`]: BYTE/WORD/DWORD/STRING fields with myicqd's lenient reading rules, GBK text.
//! * [`codes`]: command numbers and enumerations.
//! * [`datagram`]: size checks and assembly of whole datagrams.
//! * [`client`] and [`server`]: a type for every command body, each way; [`info`] the user
//!   information block they share; [`msgtext`] the fields inside a message's text.

pub mod client;
pub mod codes;
pub mod crypto;
pub mod datagram;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod info;
pub mod msgtext;
pub mod reliable;
pub mod server;
pub mod wire;

pub use crypto::{BodyCipher, CryptoError};
pub use header::{ClientHeader, ServerHeader, HEADER_LEN};

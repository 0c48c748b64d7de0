//! Sans-IO codec for MyICQ v1 (UDP, big-endian).
//!
//! * [`header`]: the 20-byte client and server headers.
//! * [`crypto`]: the client's body encryption — DES without its initial and final
//!   permutations, ECB, zero padding — and the check code that guards it.
//!
//! Commands, the reliable-delivery bookkeeping and text encodings come with the MyICQ issue.

pub mod crypto;
pub mod header;

pub use crypto::{BodyCipher, CryptoError};
pub use header::{ClientHeader, ServerHeader, HEADER_LEN};

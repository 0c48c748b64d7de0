//! Sans-IO codec for MyICQ v1 (UDP, big-endian).
//!
//! * [`header`]: the 20-byte client and server headers.
//! * [`crypto`]: the client's body encryption — DES without its initial and final
//!   permutations, ECB, zero padding — and the check code that guards it.
//! * [`reliable`]: duplicate window, sequence numbers, resend queue and session expiry, as
//!   pure state with time passed in.
//!
//! Commands and text encodings come with the rest of the MyICQ issue.

pub mod crypto;
pub mod header;
pub mod reliable;

pub use crypto::{BodyCipher, CryptoError};
pub use header::{ClientHeader, ServerHeader, HEADER_LEN};

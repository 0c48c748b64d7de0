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
//!
//! Typed command bodies come with the rest of the MyICQ issue.

pub mod codes;
pub mod crypto;
pub mod header;
pub mod reliable;
pub mod wire;

pub use crypto::{BodyCipher, CryptoError};
pub use header::{ClientHeader, ServerHeader, HEADER_LEN};

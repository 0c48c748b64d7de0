//! What the TCP fronts (MSN, MRIM, the HTTPS nexus) share: [`Connections`] accepts under a
//! limit and tracks every connection task for shutdown; [`BufferedStream`] is one client
//! connection with buffered replies, a write deadline and the switch to TLS.

mod accept;
pub mod batch;
mod stream;

pub use accept::{ConnectionBudget, Connections, Slot};
pub use stream::{BufferedStream, ReadError};

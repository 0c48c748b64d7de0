//! What every session shares, the server's and the `yard` client's: [`driver::drive`] is the
//! one loop a session runs (inputs, batching, one write per batch, how it ends);
//! [`Framed`] is a connection that speaks in frames of a protocol's [`Codec`] over a
//! [`BufferedStream`] (buffered output, a write deadline, reads that grow with the load, and on
//! the server the switch to TLS); [`Connections`] accepts under a limit and tracks every
//! connection task for shutdown.
//!
//! Without the default feature `server` (what `yard` uses) there is no TLS and no accepting.
//!
//! # Small idle sessions
//!
//! Most sessions are idle, and an idle session's memory is mostly its task's future, which
//! keeps room for the largest state it can ever be in. So every front follows three rules:
//! a session's connection is made inside its task, never passed in (a future keeps room for its
//! arguments as well as for its locals, and an async block awaiting a future it was given keeps
//! room for it twice, rustc #62958); what is over once the session runs (logging in) and what
//! handles one input (a packet, an event, a batch of them) runs in a `Box::pin` of its own; and
//! large state is passed boxed. An idle session then holds little more than what it waits on.
//! Where the code boxes, it says "(small idle sessions)".

#[cfg(feature = "server")]
mod accept;
pub mod driver;
mod framed;
mod stream;

#[cfg(feature = "server")]
pub use accept::{ConnectionBudget, Connections, Slot};
pub use framed::{Codec, Framed};
pub use stream::{BufferedStream, ReadError};

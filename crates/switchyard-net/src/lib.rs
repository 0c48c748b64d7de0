//! What the TCP fronts (MSN, MRIM, the HTTPS nexus) share: [`Connections`] accepts under a
//! limit and tracks every connection task for shutdown; [`BufferedStream`] is one client
//! connection with buffered replies, a write deadline and the switch to TLS.
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

mod accept;
pub mod batch;
mod stream;

pub use accept::{ConnectionBudget, Connections, Slot};
pub use stream::{BufferedStream, ReadError};

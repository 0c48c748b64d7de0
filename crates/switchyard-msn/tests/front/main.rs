//! Byte-exact transcripts of MSNP2–MSNP12 against the MSN front over loopback sockets, on the
//! in-memory store.

#[path = "../support/mod.rs"]
mod support;

mod dialects;
mod lists;
mod login;
mod presence;
mod robustness;
mod switchboard;

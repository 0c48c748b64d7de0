//! Byte-exact transcripts of MSNP2 against a running server over loopback sockets.

#[path = "../common/mod.rs"]
mod common;

mod lists;
mod login;
mod presence;
mod robustness;
mod switchboard;

//! Byte-exact transcripts of MSNP2–MSNP12 against a running server over loopback sockets.

#[path = "../common/mod.rs"]
mod common;

mod dialects;
mod lists;
mod login;
mod presence;
mod real_clients;
mod robustness;
mod switchboard;

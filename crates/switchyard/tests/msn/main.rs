//! The MSN front inside the whole server: restarts, the nexus over HTTP(S), real clients'
//! recorded transcripts.

#[path = "../common/mod.rs"]
mod common;

mod real_clients;
mod server;

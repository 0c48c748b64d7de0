//! The Switchyard server: its configuration and the assembly of store, core and fronts.

pub mod config;
pub mod control;
mod data_lock;
mod fd_limit;
mod http;
mod server;
pub mod tls;

pub use config::Config;
pub use server::{open_store, RunningServer};

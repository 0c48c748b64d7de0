//! The Switchyard server: its configuration and the assembly of store, core and fronts.

pub mod config;
pub mod control;
mod data_lock;
mod fd_limit;
mod http;
pub mod import;
mod server;
pub mod tls;

pub use config::{Config, StoreLocation};
pub use server::{open_sqlite, open_store, RunningServer};

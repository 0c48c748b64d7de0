//! The Switchyard server: its configuration and the assembly of store, core and fronts.

pub mod config;
pub mod control;
mod data_lock;
mod fd_limit;
mod http;
pub mod import;
mod server;
mod store_copy;
pub mod tls;

pub use config::{Config, StoreLocation};
pub use data_lock::DataDirLock;
pub use server::{open_sqlite, open_store, open_store_at, RunningServer};
pub use store_copy::copy_store;

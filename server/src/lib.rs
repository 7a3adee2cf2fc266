//! `chinwagd`, the chinwag chat server: blocking I/O, one OS thread per
//! connection, one mutex around the chat state, one bounded outbound queue
//! per connection. See ARCHITECTURE.md for the map and the invariants.
//!
//! Tests and tools start a server in-process with [`Server::start`] on a
//! listener bound to `127.0.0.1:0`; the binary goes through [`cli::run_from`].
#![warn(missing_docs)]

pub mod cli;
pub mod cluster;
pub mod config;
mod connection;
mod data;
mod fanout;
mod flood;
pub mod hub;
pub mod limits;
mod outbox;
mod password;
mod server;
mod shared;
pub mod store;
mod threads;
pub mod tls;

pub use config::Config;
pub use server::{Listeners, Server};

//! `chinwag_bench_lib`: the plumbing `chinwag-bench` and `chinwag-soak` share:
//! our own chinwagd as a child process ([`own_server`]), a private
//! redis-server for cluster runs ([`own_redis`]), what `/proc` says about a
//! process ([`procfs`]), and reaching a server given on the command line.

pub mod own_redis;
pub mod own_server;
pub mod procfs;

use std::net::{SocketAddr, ToSocketAddrs as _};

use anyhow::Context as _;

/// Resolves `HOST:PORT` of a server given with `--server`.
///
/// # Errors
///
/// The name does not resolve, or resolves to no address.
pub fn resolve(text: &str) -> anyhow::Result<SocketAddr> {
    text.to_socket_addrs()
        .with_context(|| format!("cannot resolve {text}"))?
        .next()
        .with_context(|| format!("{text} resolves to nothing"))
}

/// Raises the open-file limit as far as it goes: thousands of client
/// sockets need thousands of descriptors. Failing leaves the old limit,
/// which only matters if the run needs more, and then shows as connect errors.
pub fn raise_fd_limit() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

//! Integration tests for `chinwag`: the real binary against an in-process
//! `chinwagd`, through a pipe and under a pseudo-terminal.

mod harness;
mod pipe;
mod pty;
mod signin;
mod term;
mod tls;
mod v2;

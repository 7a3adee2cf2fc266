//! Integration tests for `chinwag`: the real binary against an in-process
//! `chinwagd`, through a pipe and under a pseudo-terminal.

mod bell;
mod harness;
mod manners;
mod peer;
mod pipe;
mod pty;
mod reconnect;
mod script;
mod signin;
mod tap;
mod term;
mod tls;
mod v2;

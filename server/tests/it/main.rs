//! Integration tests: the real `chinwagd` binary over loopback TCP, one test
//! binary with one module per area of the protocol. Every test starts its own
//! server on port 0, so they run in parallel.

mod adversarial;
mod adversarial_net;
mod commands;
mod disconnects;
mod harness;
mod lab;
mod limits;
mod races;
mod rooms;
mod shutdown;
mod states;
mod telnet;

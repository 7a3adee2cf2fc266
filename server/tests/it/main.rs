//! Integration tests: the real `chinwagd` binary over loopback TCP, one test
//! binary with one module per area of the protocol. Every test starts its own
//! server on port 0, so they run in parallel.

// Registered names: the password step, taking a name back, the cap.
mod accounts;
// Hostile input, timing and connections, one file per kind of attack.
mod adversarial;
// A peer that vanishes without FIN or reset (network namespace; needs root).
mod adversarial_net;
// Several nodes on one Redis: a node killed or frozen, Redis restarted or
// frozen, a node joining, the whole cluster restarting.
mod cluster;
// Every row of the command table: replies, aliases, argument errors.
mod commands;
// The data directory: restarts, modes, damaged and locked files, bounds.
mod data_dir;
// What others see when a connection closes: FIN, reset, half-close, /exit.
mod disconnects;
// Starts the server, drives clients with deadlines; the control group.
mod harness;
// The 2019 lab report's scenario, replayed line by line.
mod lab;
// Version 2's manners: /me, away, ignore, operators, topic, kick, ban.
mod manners;
// Line length, UTF-8, sanitising, --max-clients, slow readers, flood control.
mod limits;
// Two users' lines racing each other: requests, names, leave, accept.
mod races;
// Group rooms: join, part, /rooms, case-insensitive names.
mod rooms;
// SIGTERM and SIGINT: BYE to everyone, exit 0, the port free again.
mod shutdown;
// The naming state and how pending requests are resolved.
mod states;
// Telnet negotiation and commands, and a session with the real telnet client.
mod telnet;
// The TLS listener: openssl s_client, rustls, certificates, bad handshakes.
mod tls;

//! Adversarial suite (issue #6), one file per kind of attack: hostile
//! bytes, hostile timing and hostile connection behaviour against the real
//! `chinwagd`. Every case checks what the offender gets (an `ERR` code,
//! `BYE`, or a closed connection) and that everyone else is undisturbed,
//! with the control group of `harness::Control`; the "vanish without FIN"
//! case needs a network namespace and lives in `adversarial_net.rs`.

mod connection_behaviour;
mod control_characters;
mod every_command_in_every_state;
mod faults_limits_and_amplification;
mod invalid_utf8;
mod over_long_lines;
mod passwords;
mod races;
mod telnet;
mod write_patterns;

/// U+FFFD REPLACEMENT CHARACTER, what forbidden characters become.
const R: char = '\u{fffd}';

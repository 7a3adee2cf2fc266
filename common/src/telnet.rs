//! Telnet's command bytes (RFC 854), named once for the decoder, the
//! server's echo offer around a password, and every test that speaks
//! telnet to the server.

/// "Interpret as command": every telnet command starts with it.
pub const IAC: u8 = 255;
/// The sender refuses, or asks the peer to stop, an option.
pub const DONT: u8 = 254;
/// The sender asks the peer to perform an option.
pub const DO: u8 = 253;
/// The sender refuses to perform, or stops performing, an option.
pub const WONT: u8 = 252;
/// The sender offers to perform an option.
pub const WILL: u8 = 251;
/// Start of a subnegotiation (`IAC SB … IAC SE`).
pub const SB: u8 = 250;
/// Break.
pub const BRK: u8 = 243;
/// Interrupt process (what telnet sends for Ctrl-C).
pub const IP: u8 = 244;
/// Are you there?
pub const AYT: u8 = 246;
/// End of a subnegotiation.
pub const SE: u8 = 240;

/// Option: the server echoes what the client types (RFC 857).
pub const ECHO: u8 = 1;
/// Option: suppress go-ahead (RFC 858).
pub const SGA: u8 = 3;
/// Option: timing mark (RFC 860); telnet asks for it after Ctrl-C.
pub const TIMING_MARK: u8 = 6;
/// Option: terminal type (RFC 1091).
pub const TTYPE: u8 = 24;
/// Option: window size (RFC 1073).
pub const NAWS: u8 = 31;

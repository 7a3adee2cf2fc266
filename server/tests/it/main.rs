//! Integration tests: the real `chinwagd` binary over loopback TCP.

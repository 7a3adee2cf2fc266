//! Signing in, in the interactive session: the answer typed at the
//! password prompt goes out whole and is never written anywhere; a
//! password given ahead of time goes out once, the first time the server
//! asks, and a refusal says it will not be sent again (the user is asked
//! next time). Whichever signs in is kept in memory, for signing back in
//! after a lost connection.

use std::time::{Duration, Instant};

use super::Session;
use crate::render;
use crate::state::Pending;

/// How long to wait for the answer to a password sent ahead of time (the
/// server's check is deliberately slow).
const PASSWORD_TIMEOUT: Duration = Duration::from_secs(30);

impl Session {
    /// Sends the password given ahead of time, if it was not used yet, and
    /// waits for the server's answer. Returns whether it was sent.
    pub(super) fn send_preset_password(&mut self) -> bool {
        let Some(preset) = self.password.take() else {
            return false;
        };
        self.notice(render::notice(&format!(
            "sending the password from {}",
            preset.source
        )));
        let Some(connection) = self.connection() else {
            return true;
        };
        let mut state = self.shared.state.lock();
        let asked = state.place.clone();
        state.sending_preset(&preset.source);
        state.keep_when_confirmed(Pending::SignIn(preset.secret.clone()));
        drop(state);
        if let Err(error) = connection.send_secret(&preset.secret) {
            self.notice(render::error(&format!("cannot send: {error}")));
            connection.close();
            return true;
        }
        let deadline = Instant::now() + PASSWORD_TIMEOUT;
        let mut state = self.shared.state.lock();
        while state.place == asked {
            if self
                .shared
                .changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                break;
            }
        }
        // A refusal is explained by the `ERR` line itself (the state knows
        // where the password came from), in its place among the others.
        true
    }

    /// Sends what was typed at the password prompt: its first line, whole
    /// (a password may start with `/` or hold spaces). Never kept.
    pub(super) fn send_password(&mut self, text: String) {
        let mut bytes = text.into_bytes();
        let line_end = bytes
            .iter()
            .position(|b| *b == b'\n')
            .unwrap_or(bytes.len());
        let line = String::from_utf8_lossy(&bytes[..line_end]);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            // The server ignores empty lines; ask again.
        } else {
            let secret = common::Secret::new(line);
            let Some(connection) = self.connection() else {
                // Gone while typing; the loop sees the state.
                bytes.fill(0);
                return;
            };
            {
                let mut state = self.shared.state.lock();
                state.sending_password();
                // Kept (in memory only) for signing back in if the
                // connection drops.
                state.keep_when_confirmed(Pending::SignIn(secret.clone()));
            }
            if let Err(error) = connection.send_secret(&secret) {
                self.notice(render::error(&format!("cannot send: {error}")));
                connection.close();
            }
        }
        bytes.fill(0);
    }
}

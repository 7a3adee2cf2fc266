//! `chinwag` under a pseudo-terminal (expectrl), with a transcript of
//! every byte read and written for failure reports.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use expectrl::process::unix::{PtyStream, UnixProcess, WaitStatus};
use expectrl::stream::log::LogStream;
use expectrl::{ControlCode, Eof, Expect as _, Session};

use crate::harness::{TIMEOUT, TestServer};

/// Everything read from and written to the terminal, for failure reports.
#[derive(Clone, Default)]
pub(crate) struct Transcript(Arc<Mutex<Vec<u8>>>);

impl Write for Transcript {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("transcript").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `chinwag` running in a 120×40 pseudo-terminal (the client may draw its
/// first lines at 80 columns, before the size is set: needles must be
/// short enough not to wrap at 80).
pub(crate) struct Term {
    pub(crate) session: Session<UnixProcess, LogStream<PtyStream, Transcript>>,
    transcript: Transcript,
    /// Every byte the terminal showed up to the end of the last match.
    seen: Vec<u8>,
}

impl Term {
    pub(crate) fn spawn(server: &TestServer, args: &[&str], history: &Path) -> Term {
        Term::spawn_at(&server.addr().to_string(), args, history, &[])
    }

    /// `chinwag --server SERVER --history HISTORY --no-color ARGS…` with
    /// these extra environment variables (`CHINWAG_PASSWORD` and
    /// `CHINWAG_NAME` are removed unless given here).
    pub(crate) fn spawn_at(
        server: &str,
        args: &[&str],
        history: &Path,
        envs: &[(&str, &str)],
    ) -> Term {
        let mut all = vec!["--no-color"];
        all.extend_from_slice(args);
        Term::spawn_in_colour(server, &all, history, envs)
    }

    /// As [`Term::spawn_at`], without `--no-color`.
    pub(crate) fn spawn_in_colour(
        server: &str,
        args: &[&str],
        history: &Path,
        envs: &[(&str, &str)],
    ) -> Term {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chinwag"));
        command
            .arg("--server")
            .arg(server)
            .arg("--history")
            .arg(history)
            .args(args)
            .env("TERM", "xterm-256color")
            .env_remove("CHINWAG_NAME")
            .env_remove("CHINWAG_PASSWORD")
            .env_remove("NO_COLOR")
            .envs(envs.iter().copied());
        let mut session = Session::spawn(command).expect("spawn chinwag in a pty");
        session
            .get_process_mut()
            .set_window_size(120, 40)
            .expect("window size");
        let transcript = Transcript::default();
        let mut session = expectrl::session::log(session, transcript.clone()).expect("log");
        session.set_expect_timeout(Some(TIMEOUT));
        Term {
            session,
            transcript,
            seen: Vec::new(),
        }
    }

    pub(crate) fn fail(&self, what: &str) -> ! {
        let bytes = self.transcript.0.lock().expect("transcript").clone();
        panic!(
            "{what}; terminal transcript:\n{}",
            String::from_utf8_lossy(&bytes)
        );
    }

    /// Waits until the terminal has shown `text`.
    pub(crate) fn expect(&mut self, text: &str) {
        match self.session.expect(text) {
            Ok(found) => {
                self.seen.extend_from_slice(found.before());
                self.seen.extend_from_slice(text.as_bytes());
            }
            Err(error) => self.fail(&format!("waiting for {text:?}: {error}")),
        }
    }

    /// A mark in what the terminal showed, for [`Term::since`].
    pub(crate) fn mark(&self) -> usize {
        self.seen.len()
    }

    /// The bytes shown from `mark` to the end of the last match.
    pub(crate) fn since(&self, mark: usize) -> &[u8] {
        &self.seen[mark..]
    }

    /// Waits until `prompt` is drawn with an empty line after it, which
    /// only happens inside the line editor. Keys meant for the editor
    /// (Ctrl-C, Ctrl-D) must wait for it: between two lines the terminal is
    /// briefly in cooked mode, and the tty driver would take them.
    pub(crate) fn expect_empty_prompt(&mut self, prompt: &str) {
        self.expect(&format!("{prompt}\r\u{1b}[{}C", prompt.len()));
    }

    /// [`Term::expect_empty_prompt`] in colour (the prompt is bold white).
    pub(crate) fn expect_empty_coloured_prompt(&mut self, prompt: &str) {
        self.expect(&format!("{prompt}\u{1b}[0m\r\u{1b}[{}C", prompt.len()));
    }

    pub(crate) fn send(&mut self, keys: &str) {
        if let Err(error) = self.session.send(keys) {
            self.fail(&format!("sending {keys:?}: {error}"));
        }
    }

    pub(crate) fn control(&mut self, code: ControlCode) {
        if let Err(error) = self.session.send(code) {
            self.fail(&format!("sending {code:?}: {error}"));
        }
    }

    /// Everything the terminal showed so far (what the client wrote, not
    /// the keys sent to it), as text.
    pub(crate) fn screen_output(&self) -> String {
        let bytes = self.transcript.0.lock().expect("transcript").clone();
        // The log holds one `read: "…"` or `write: "…"` line per call.
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| line.starts_with("read"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits for the client to exit; returns its exit code.
    pub(crate) fn exit_code(&mut self) -> i32 {
        if let Err(error) = self.session.expect(Eof) {
            self.fail(&format!("waiting for the client to exit: {error}"));
        }
        match self.session.get_process().wait() {
            Ok(WaitStatus::Exited(_, code)) => code,
            other => self.fail(&format!("unexpected exit {other:?}")),
        }
    }
}

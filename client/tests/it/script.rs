//! The client run from a pipe (its scriptable mode): with all its input at
//! once ([`run_pipe`]), or with stdin held open while the test does
//! something else ([`Script`]). Every wait is bounded; a client that
//! overstays is killed and the test fails.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::harness::TIMEOUT;

/// `chinwag --server SERVER ARGS…` with piped stdio, these extra
/// environment variables, and none of the user's own (`CHINWAG_NAME`,
/// `CHINWAG_PASSWORD`, `NO_COLOR`).
fn command(server: &str, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chinwag"));
    command
        .arg("--server")
        .arg(server)
        .args(args)
        .env_remove("CHINWAG_NAME")
        .env_remove("CHINWAG_PASSWORD")
        .env_remove("NO_COLOR")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `chinwag --server SERVER ARGS…` with `input` on stdin and these
/// extra environment variables; kills it and fails if it takes longer than
/// the timeout.
pub(crate) fn run_pipe(server: &str, args: &[&str], input: &str, envs: &[(&str, &str)]) -> Output {
    let mut child = command(server, args, envs).spawn().expect("spawn chinwag");
    let mut stdin = child.stdin.take().expect("stdin");
    // A client that gives up before reading (a refused certificate) closes
    // its stdin: a broken pipe here is its business, told by its output.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let pid = child.id();
    let (done_tx, done) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done.recv_timeout(TIMEOUT) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("chinwag did not finish within {TIMEOUT:?} (input {input:?})");
        }
    }
}

/// stdout and stderr of a finished client, for assertions and reports.
pub(crate) fn outputs(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The client from a pipe whose stdin stays open until [`Script::finish`],
/// with its stdout read as it comes.
pub(crate) struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<u8>>>,
    /// The threads reading stdout and stderr; they end with the pipes.
    readers: Vec<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Script {
    pub(crate) fn spawn(server: &str, args: &[&str], envs: &[(&str, &str)]) -> Script {
        let mut child = command(server, args, envs).spawn().expect("spawn chinwag");
        let stdin = child.stdin.take();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines) = crossbeam_channel::unbounded();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let all_out = Arc::clone(&stdout);
        let out_reader = thread::spawn(move || {
            let mut line = Vec::new();
            while out.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                all_out.lock().expect("stdout").extend_from_slice(&line);
                let _ = lines_tx.send(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let all_err = Arc::clone(&stderr);
        let err_reader = thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = err.read_to_end(&mut rest);
            all_err.lock().expect("stderr").extend_from_slice(&rest);
        });
        Script {
            child,
            stdin,
            lines,
            stdout,
            readers: vec![out_reader, err_reader],
            stderr,
        }
    }

    /// Sends one input line.
    pub(crate) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to chinwag");
    }

    /// Waits for a stdout line containing `text`; returns it.
    pub(crate) fn expect(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(TIMEOUT) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(error) => {
                    let _ = self.child.kill();
                    panic!(
                        "chinwag's stdout never showed {text:?} ({error}); it showed:\n{}",
                        String::from_utf8_lossy(&self.stdout.lock().expect("stdout"))
                    );
                }
            }
        }
    }

    /// Closes stdin (unless the client is left to end by itself, as after
    /// the server went away) and waits for the client to exit.
    pub(crate) fn finish(mut self) -> Output {
        drop(self.stdin.take());
        let status = self.wait();
        // The child is gone, so its pipes are closed and the readers end.
        for reader in self.readers.drain(..) {
            reader.join().expect("output reader");
        }
        Output {
            status,
            stdout: std::mem::take(&mut self.stdout.lock().expect("stdout")),
            stderr: std::mem::take(&mut self.stderr.lock().expect("stderr")),
        }
    }

    /// Waits for the exit, polling, since `wait` has no timeout.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.child.try_wait().expect("wait for chinwag") {
                Some(status) => return status,
                None if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                None => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "chinwag did not exit within {TIMEOUT:?}; its stdout:\n{}",
                        String::from_utf8_lossy(&self.stdout.lock().expect("stdout"))
                    );
                }
            }
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

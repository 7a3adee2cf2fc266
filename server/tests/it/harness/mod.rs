//! The test harness: starts the real `chinwagd` on `127.0.0.1:0` and gives
//! line-oriented TCP clients whose every read has a deadline. Any failure
//! prints every client's transcript and the server's stderr; `control.rs`
//! and `system.rs` add the control group and the `/proc` probes.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::ServerLine;

mod client;
mod control;
mod redis;
mod server;
mod system;

pub(crate) use client::{Client, join_room};
pub(crate) use control::{Control, assert_name_free, list};
pub(crate) use redis::Redis;
pub(crate) use server::{Cluster, Server, cluster_mode};
pub(crate) use system::{on_path, rss_kib, threads_and_fds, wait_for_baseline};

/// How long any one expected line (or close) may take to arrive.
pub(crate) const LINE_TIMEOUT: Duration = Duration::from_secs(10);

type Transcript = Arc<Mutex<Vec<String>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread may poison a mutex; the data is still good for
    // a failure report.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Diagnostics shared by a server handle and its clients, so that whoever
/// fails can print the whole picture.
#[derive(Clone, Default)]
struct Diagnostics {
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    transcripts: Arc<Mutex<Vec<(String, Transcript)>>>,
}

impl Diagnostics {
    fn report(&self) -> String {
        let mut out = String::new();
        for (label, transcript) in lock(&self.transcripts).iter() {
            let _ = writeln!(out, "--- transcript of client {label} ---");
            for entry in lock(transcript).iter() {
                let _ = writeln!(out, "  {entry}");
            }
        }
        let _ = writeln!(out, "--- server stdout ---");
        for line in lock(&self.stdout).iter() {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out, "--- server stderr ---");
        out.push_str(&String::from_utf8_lossy(&lock(&self.stderr)));
        out
    }

    fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.report());
    }
}

/// The protocol content of a server line: prose is dropped (`ERR code`,
/// `BYE reason`, `INFO`, `HELLO chinwag/2`, `PASSWORD name`), fields and
/// message text are kept.
///
/// # Errors
///
/// The line is not a well-formed server line.
pub(crate) fn key(line: &str) -> Result<String, common::LineParseError> {
    let none = || Arc::<str>::from("");
    let canonical = match ServerLine::parse(line)? {
        ServerLine::Hello(_) => ServerLine::Hello(none()),
        ServerLine::Info(_) => ServerLine::Info(none()),
        ServerLine::Err(code, _) => ServerLine::Err(code, none()),
        ServerLine::Bye(reason, _) => ServerLine::Bye(reason, none()),
        ServerLine::Password(name) => return Ok(format!("PASSWORD {name}")),
        other => other,
    };
    Ok(canonical.to_string())
}

//! `kill -9` in the middle of writing: the test binary runs itself again as
//! a child that writes without end, kills it once it reports commits, and
//! then opens what is left. The child is [`child_writer`], a test that does
//! nothing unless [`CHILD_ENV`] is set.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// Set to a data directory, makes [`child_writer`] write there forever.
const CHILD_ENV: &str = "CHINWAG_STORE_CHILD";

/// The child's limits: every message kept, so what survives must be an
/// unbroken prefix of what was written.
const CHILD_LIMITS: Limits = Limits {
    history_per_room: 1_000_000,
    history_rooms: 10,
};

/// Commits the parent waits to see before it kills the child: several
/// batches, so the kill lands with the WAL full of them.
const KILL_AFTER: u64 = 5_000;

/// The child: appends messages `0, 1, 2, …` to one room and prints
/// `committed N` each time the count of committed writes moves.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (store, _) = open_dir(Path::new(&dir), CHILD_LIMITS);
    let mut stdout = std::io::stdout().lock();
    let mut reported = 0;
    for n in 0_u64.. {
        while !store.write(append("Crash", n, &n.to_string())) {
            thread::yield_now();
        }
        let committed = store.committed();
        if committed != reported {
            writeln!(stdout, "committed {committed}").unwrap();
            stdout.flush().unwrap();
            reported = committed;
        }
    }
}

#[test]
fn kill_9_loses_at_most_the_last_batch_and_never_the_file() {
    let dir = temp();
    let (_, test_path) = module_path!().split_once("::").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("{test_path}::child_writer"),
            "--nocapture",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, reports) = crossbeam_channel::unbounded();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(count) = line.strip_prefix("committed ") {
                let _ = lines.send(count.parse::<u64>().unwrap());
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut committed = 0;
    while committed < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        match reports.recv_timeout(left) {
            Ok(count) => committed = count,
            Err(error) => {
                let _ = child.kill();
                panic!("the child reported {committed} commits, then {error}");
            }
        }
    }
    // Another process has the lock while the child lives.
    let error = open_err(dir.path(), CHILD_LIMITS);
    assert!(matches!(error, StoreError::Locked { .. }), "{error}");
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    // The child may have reported more before it died.
    committed = committed.max(reports.try_iter().max().unwrap_or(0));

    let (store, loaded) = open_dir(dir.path(), CHILD_LIMITS);
    store.close();
    let conn = raw(dir.path());
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);

    assert_eq!(loaded.rooms.len(), 1);
    let texts: Vec<u64> = loaded.rooms[0]
        .entries
        .iter()
        .map(|entry| entry.text.parse().unwrap())
        .collect();
    let expected: Vec<u64> = (0..texts.len() as u64).collect();
    assert!(texts == expected, "not an unbroken prefix");
    assert!(
        texts.len() as u64 >= committed,
        "{} messages survived, {committed} had been committed",
        texts.len()
    );
}

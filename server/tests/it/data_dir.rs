//! The data directory across restarts: registered names and room history
//! survive, the database's modes are private, a damaged, locked or newer
//! database stops start-up without being touched, and a room-creation
//! flood leaves at most `--history-rooms` rooms on disk.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::{Client, Server};

const PASSWORD: &str = "a fine passphrase";

fn data_args(dir: &Path) -> Vec<String> {
    vec!["--data".to_owned(), dir.to_str().unwrap().to_owned()]
}

fn start(dir: &Path, extra: &[&str]) -> Server {
    let mut args: Vec<&str> = Vec::new();
    let data = data_args(dir);
    args.extend(data.iter().map(String::as_str));
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// Runs `chinwagd` expecting it to refuse to start; returns its stderr.
fn refused_start(dir: &Path) -> String {
    let output = Command::new(Server::binary())
        .args(["--bind", "127.0.0.1:0", "--data", dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .expect("run chinwagd");
    assert!(
        !output.status.success(),
        "chinwagd started on a bad database"
    );
    assert!(output.stdout.is_empty(), "it printed `listening on`");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn sign_in(server: &Server, name: &str, password: &str) -> Client {
    let mut client = server.connect(name);
    client.send(name);
    client.expect(&format!("PASSWORD {name}"));
    client.send(password);
    client.expect(&format!("WELCOME {name}"));
    client.skip_info();
    client
}

#[test]
fn names_and_history_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]);
    let mut amy = server.login("amy");
    amy.send(&format!("/register {PASSWORD}"));
    amy.expect("OK register amy");
    amy.send("/join Study");
    amy.expect("OK join Study 1");
    amy.send("first, before anyone came");
    amy.send("second; a'); DROP TABLE history;--");
    amy.sync();
    server.signal("TERM");
    amy.expect_bye_and_close("shutdown");
    assert!(server.wait_exit().success());

    let server = start(dir.path(), &[]);
    // The name is still registered: a stranger gets the password prompt.
    let mut stranger = server.connect("stranger");
    stranger.send("AMY");
    stranger.expect("PASSWORD amy");
    stranger.send("not the passphrase");
    stranger.expect("ERR bad-password");
    let mut amy = sign_in(&server, "amy", PASSWORD);
    // The room's history came back, oldest first, with the room's new
    // spelling; and it is still there while the room is empty.
    amy.send("/join study");
    let lines = amy.lines_until("OK join study 1");
    assert_eq!(
        history_texts(&lines),
        [
            "study msg amy first, before anyone came",
            "study msg amy second; a'); DROP TABLE history;--",
        ]
    );
}

/// `HISTORY room time kind from text` without the time.
fn history_texts(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix("HISTORY "))
        .map(|rest| {
            let (room, rest) = rest.split_once(' ').unwrap();
            let (time, rest) = rest.split_once(' ').unwrap();
            assert!(time.parse::<u64>().is_ok(), "{time}");
            format!("{room} {rest}")
        })
        .collect()
}

#[test]
fn the_directory_and_its_files_are_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state").join("chinwagd");
    let server = start(&dir, &["--tls-bind", "127.0.0.1:0", "--tls-self-signed"]);
    let mut user = server.login("ben");
    user.send(&format!("/register {PASSWORD}"));
    user.expect("OK register ben");
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert!(dir.join("chinwag.db").exists());
    assert!(dir.join("tls-key.pem").exists());
}

#[test]
fn a_damaged_database_stops_start_up_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chinwag.db");
    let junk = b"this is not an SQLite database, just someone's notes\n".repeat(100);
    fs::write(&db, &junk).unwrap();
    let stderr = refused_start(dir.path());
    assert!(stderr.contains("chinwag.db"), "{stderr}");
    assert!(stderr.contains("move it aside"), "{stderr}");
    assert_eq!(fs::read(&db).unwrap(), junk, "the file was changed");
}

#[test]
fn a_database_in_use_by_another_server_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(dir.path(), &[]);
    let stderr = refused_start(dir.path());
    assert!(stderr.contains("in use by another chinwagd"), "{stderr}");
}

#[test]
fn a_room_creation_flood_is_bounded_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &["--history-rooms", "5", "--history", "3"]);
    let mut flooder = server.login("flooder");
    for room in 0..60 {
        flooder.send(&format!("/join r{room}"));
        flooder.expect(&format!("OK join r{room} 1"));
        for line in 0..5 {
            flooder.send(&format!("line {line} in r{room}"));
        }
        flooder.send("/leave");
        flooder.expect(&format!("OK leave room r{room}"));
    }
    server.signal("TERM");
    flooder.expect_bye_and_close("shutdown");
    assert!(server.wait_exit().success());
    let server = start(dir.path(), &["--history-rooms", "5", "--history", "3"]);
    let mut reader = server.login("reader");
    let mut kept = 0;
    for room in 0..60 {
        reader.send(&format!("/join r{room}"));
        let lines = reader.lines_until(&format!("OK join r{room} 1"));
        let history = history_texts(&lines);
        assert!(history.len() <= 3, "{history:?}");
        if !history.is_empty() {
            kept += 1;
            // The last three lines of the room, in order.
            assert_eq!(
                history,
                (2..5)
                    .map(|line| format!("r{room} msg flooder line {line} in r{room}"))
                    .collect::<Vec<_>>()
            );
        }
        reader.send("/leave");
        reader.expect(&format!("OK leave room r{room}"));
    }
    // The five rooms that spoke last, and nothing else.
    assert_eq!(kept, 5);
}

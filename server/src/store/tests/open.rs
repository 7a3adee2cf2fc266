//! Opening: the lock, the refusals (damaged, foreign, newer) that leave the
//! file as it was, the migration path, and the files' modes.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use rusqlite::params;

use super::*;
use crate::store::schema::{self, LATEST};

/// A database in `dir` with some of everything, closed.
fn populated(dir: &Path) {
    let (store, _) = open_dir(dir, Limits::default());
    for n in 0..200 {
        assert!(store.write(Write::PutAccount(account(&format!("user{n}")))));
        assert!(store.write(append("Lobby", n, &"x".repeat(200))));
    }
    store.close();
}

/// Asserts that opening `dir` fails as `matches` says and leaves the
/// database file's bytes as they were.
fn refused_unchanged(dir: &Path, matches: impl Fn(&StoreError) -> bool) -> StoreError {
    let path = dir.join(DATABASE_FILE);
    let before = fs::read(&path).unwrap();
    let error = open_err(dir, Limits::default());
    assert!(matches(&error), "unexpected error: {error}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert!(fs::read(&path).unwrap() == before, "the file was changed");
    error
}

#[test]
fn second_open_of_a_directory_is_locked_until_the_first_closes() {
    let dir = temp();
    let (first, _) = open_dir(dir.path(), Limits::default());
    assert!(first.write(Write::PutAccount(account("Ann"))));
    let error = open_err(dir.path(), Limits::default());
    assert!(matches!(error, StoreError::Locked { .. }), "{error}");
    assert!(
        error.to_string().ends_with(
            "chinwag.db is in use by another chinwagd; stop it, or give this one another --data directory"
        ),
        "{error}"
    );
    // The failed attempt must not have released the first one's lock.
    assert!(matches!(
        open_err(dir.path(), Limits::default()),
        StoreError::Locked { .. }
    ));
    first.close();
    let (second, loaded) = open_dir(dir.path(), Limits::default());
    assert_eq!(loaded.accounts, [account("Ann")]);
    second.close();
}

#[test]
fn random_bytes_are_refused_as_damaged_and_left_alone() {
    let dir = temp();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..8192)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    fs::write(dir.path().join(DATABASE_FILE), bytes).unwrap();
    let error = refused_unchanged(dir.path(), |e| matches!(e, StoreError::Corrupt { .. }));
    let message = error.to_string();
    assert!(
        message.contains("is damaged or not a chinwag database"),
        "{message}"
    );
    assert!(
        message.ends_with("move it aside (chinwagd never overwrites it) and start again, or use another --data directory"),
        "{message}"
    );
}

#[test]
fn truncated_database_is_refused_as_damaged_and_left_alone() {
    let dir = temp();
    populated(dir.path());
    let path = dir.path().join(DATABASE_FILE);
    let length = fs::metadata(&path).unwrap().len();
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(length / 2).unwrap();
    drop(file);
    refused_unchanged(dir.path(), |e| matches!(e, StoreError::Corrupt { .. }));
}

#[test]
fn someone_elses_database_is_refused_and_left_alone() {
    let dir = temp();
    raw(dir.path())
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    refused_unchanged(dir.path(), |e| matches!(e, StoreError::Corrupt { .. }));

    // A version number but not our tables is just as foreign.
    let dir = temp();
    raw(dir.path())
        .execute_batch("CREATE TABLE accounts (name TEXT); PRAGMA user_version = 2;")
        .unwrap();
    refused_unchanged(dir.path(), |e| matches!(e, StoreError::Corrupt { .. }));
}

#[test]
fn newer_schema_is_refused_and_left_alone() {
    let dir = temp();
    populated(dir.path());
    raw(dir.path())
        .pragma_update(None, "user_version", LATEST + 7)
        .unwrap();
    let error = refused_unchanged(
        dir.path(),
        |e| matches!(e, StoreError::Newer { found, known, .. } if *found == LATEST + 7 && *known == LATEST),
    );
    assert!(
        error.to_string().ends_with(&format!(
            "chinwag.db was written by a newer chinwagd (schema {}; this one knows {LATEST}); \
             upgrade chinwagd or use another --data directory",
            LATEST + 7
        )),
        "{error}"
    );
}

#[test]
fn version_1_database_is_migrated_and_keeps_its_accounts() {
    let dir = temp();
    let mut conn = raw(dir.path());
    schema::migrate(&mut conn, 0, 1).unwrap();
    conn.execute(
        "INSERT INTO accounts (name, shown, hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params!["ann", "Ann", account("Ann").hash, 1_700_000_000_000_i64],
    )
    .unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), 1);
    drop(conn);

    let (store, loaded) = open_dir(dir.path(), Limits::default());
    assert_eq!(loaded.accounts, [account("Ann")]);
    let ignore = Ignore {
        owner: "ann".into(),
        ignored: "bob".into(),
        ignored_shown: "Bob".into(),
    };
    assert!(store.write(Write::AddIgnore(ignore.clone())));
    store.close();

    let conn = raw(dir.path());
    assert_eq!(count(&conn, "PRAGMA user_version"), i64::from(LATEST));
    assert_eq!(LATEST, 2);
    drop(conn);
    let (store, loaded) = open_dir(dir.path(), Limits::default());
    assert_eq!(loaded.accounts, [account("Ann")]);
    assert_eq!(loaded.ignores, [ignore]);
    store.close();
}

#[test]
fn directory_is_0700_and_every_file_0600() {
    let parent = temp();
    let dir = parent.path().join("state/chinwagd");
    let check = |when: &str| {
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "directory {when}");
        let mut files = 0;
        for file in fs::read_dir(&dir).unwrap() {
            let file = file.unwrap();
            let mode = file.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?} {when}", file.file_name());
            files += 1;
        }
        files
    };
    let (store, _) = open_dir(&dir, Limits::default());
    write_all(&store, (0..100).map(|n| append("Lobby", n, "hello")));
    // The WAL exists from the migrations on, so this sees it.
    assert!(check("while open") >= 2);
    store.close();
    check("after close");
    let (store, _) = open_dir(&dir, Limits::default());
    check("reopened");
    store.close();
}

#[test]
fn existing_open_directory_is_used_as_it_is() {
    let dir = temp();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let (store, _) = open_dir(dir.path(), Limits::default());
    store.close();
    let mode = fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
}

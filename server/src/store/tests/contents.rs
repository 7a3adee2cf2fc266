//! What comes back after a restart: everything written, in order, within
//! the limits; and what the file itself holds, so the disk stays bounded.

use super::*;

/// Limits for a test.
fn limits(history_per_room: usize, history_rooms: usize) -> Limits {
    Limits {
        history_per_room,
        history_rooms,
    }
}

/// The texts of a loaded room.
fn texts(room: &RoomHistory) -> Vec<&str> {
    room.entries.iter().map(|entry| &*entry.text).collect()
}

#[test]
fn everything_written_is_loaded_after_a_restart() {
    let dir = temp();
    let (store, loaded) = open_dir(dir.path(), limits(5, 10));
    assert_eq!(loaded, Loaded::default());
    let ignore = |owner: &str, ignored: &str| Ignore {
        owner: owner.into(),
        ignored: ignored.to_lowercase(),
        ignored_shown: ignored.into(),
    };
    let mut at_ms = 1_700_000_000_000;
    let mut next = || {
        at_ms += 1;
        at_ms
    };
    write_all(
        &store,
        [
            Write::PutAccount(account("Bob")),
            Write::PutAccount(account("Ann")),
            Write::AddIgnore(ignore("ann", "Carol")),
            Write::AddIgnore(ignore("ann", "Bob")),
            Write::AddIgnore(ignore("bob", "Dave")),
            Write::RemoveIgnore {
                owner: "bob".into(),
                ignored: "dave".into(),
            },
        ],
    );
    write_all(
        &store,
        (0..8).map(|n| append("Alpha", next(), &format!("a{n}"))),
    );
    write_all(
        &store,
        (0..3).map(|n| append("Beta", next(), &format!("b{n}"))),
    );
    let action = Write::Append {
        room: "gamma".into(),
        room_shown: "Gamma".into(),
        entry: Entry {
            at_ms: next(),
            kind: HistoryKind::Action,
            from: "Ann".into(),
            text: "waves".into(),
        },
    };
    write_all(&store, [action]);
    store.close();

    let (store, loaded) = open_dir(dir.path(), limits(5, 10));
    assert_eq!(loaded.accounts, [account("Ann"), account("Bob")]);
    assert_eq!(
        loaded.ignores,
        [ignore("ann", "Bob"), ignore("ann", "Carol")]
    );
    let rooms: Vec<_> = loaded.rooms.iter().map(|r| r.shown.as_str()).collect();
    assert_eq!(
        rooms,
        ["Gamma", "Beta", "Alpha"],
        "most recently active first"
    );
    assert_eq!(texts(&loaded.rooms[2]), ["a3", "a4", "a5", "a6", "a7"]);
    assert_eq!(loaded.rooms[2].folded, "alpha");
    assert_eq!(texts(&loaded.rooms[1]), ["b0", "b1", "b2"]);
    let gamma = &loaded.rooms[0].entries[0];
    assert_eq!(
        (gamma.kind, &*gamma.from, gamma.at_ms),
        (HistoryKind::Action, "Ann", at_ms)
    );
    store.close();
}

/// Busy rooms interleaved, more lines than a room keeps, and a room
/// forgotten half-way and spoken in again: whatever the batches, the file
/// holds each room's newest lines, as if every line had been written.
#[test]
fn lines_a_batch_would_trim_are_not_needed_to_get_the_newest() {
    let dir = temp();
    let (store, _) = open_dir(dir.path(), limits(3, 10));
    let mut writes = Vec::new();
    for n in 0..40 {
        writes.push(append("Alpha", 1000 + n, &format!("a{n}")));
        if n % 4 == 0 {
            writes.push(append("Beta", 1000 + n, &format!("b{n}")));
        }
        if n == 20 {
            writes.push(Write::ForgetRoom {
                room: "beta".into(),
            });
        }
    }
    writes.push(append("Beta", 2000, "b-last"));
    write_all(&store, writes);
    store.close();
    let (store, loaded) = open_dir(dir.path(), limits(3, 10));
    let rooms: Vec<_> = loaded.rooms.iter().map(|r| r.shown.as_str()).collect();
    assert_eq!(rooms, ["Beta", "Alpha"]);
    assert_eq!(texts(&loaded.rooms[0]), ["b32", "b36", "b-last"]);
    assert_eq!(texts(&loaded.rooms[1]), ["a37", "a38", "a39"]);
    store.close();
    assert_eq!(count(&raw(dir.path()), "SELECT count(*) FROM history"), 6);
}

#[test]
fn replacing_and_deleting_accounts_and_forgetting_rooms() {
    let dir = temp();
    let (store, _) = open_dir(dir.path(), Limits::default());
    let mut changed = account("Ann");
    changed.hash = "$argon2id$new".into();
    let ignore = |owner: &str, ignored: &str| Ignore {
        owner: owner.into(),
        ignored: ignored.into(),
        ignored_shown: ignored.into(),
    };
    write_all(
        &store,
        [
            Write::PutAccount(account("Ann")),
            Write::PutAccount(account("Bob")),
            Write::PutAccount(changed.clone()),
            Write::AddIgnore(ignore("bob", "carol")),
            Write::AddIgnore(ignore("ann", "bob")),
            Write::DeleteAccount {
                folded: "bob".into(),
            },
            append("Kept", 1, "stays"),
            append("Gone", 2, "goes"),
            Write::ForgetRoom {
                room: "gone".into(),
            },
        ],
    );
    store.close();
    let (store, loaded) = open_dir(dir.path(), Limits::default());
    assert_eq!(loaded.accounts, [changed]);
    // Bob's own list went with him; Ann's entry about him stays.
    assert_eq!(loaded.ignores, [ignore("ann", "bob")]);
    assert_eq!(loaded.rooms.len(), 1);
    assert_eq!(loaded.rooms[0].shown, "Kept");
    store.close();
    assert_eq!(
        count(
            &raw(dir.path()),
            "SELECT count(*) FROM history WHERE room = 'gone'"
        ),
        0
    );
}

#[test]
fn the_file_holds_at_most_the_room_cap_and_the_per_room_limit() {
    let dir = temp();
    let (store, _) = open_dir(dir.path(), limits(5, 10));
    write_all(
        &store,
        (0..100).map(|n| append(&format!("Room{n}"), 1000 + n, "hi")),
    );
    write_all(
        &store,
        (0..50).map(|n| append("Room99", 2000 + n, &format!("m{n}"))),
    );
    store.close();

    let conn = raw(dir.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM rooms"), 10);
    assert_eq!(count(&conn, "SELECT count(DISTINCT room) FROM history"), 10);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM history WHERE room = 'room99'"),
        5
    );
    assert_eq!(
        count(
            &conn,
            "SELECT max(n) FROM (SELECT count(*) AS n FROM history GROUP BY room)"
        ),
        5
    );
    drop(conn);

    let (store, loaded) = open_dir(dir.path(), limits(5, 10));
    let rooms: Vec<_> = loaded.rooms.iter().map(|r| r.shown.clone()).collect();
    let expected: Vec<_> = (90..100).rev().map(|n| format!("Room{n}")).collect();
    assert_eq!(rooms, expected);
    assert_eq!(texts(&loaded.rooms[0]), ["m45", "m46", "m47", "m48", "m49"]);
    store.close();
}

#[test]
fn lowered_limits_are_applied_to_the_file_at_open() {
    let dir = temp();
    let (store, _) = open_dir(dir.path(), limits(50, 100));
    for room in 0..20 {
        let name = format!("Room{room}");
        write_all(
            &store,
            (0..10).map(|n| append(&name, room * 100 + n, &format!("{n}"))),
        );
    }
    store.close();

    let (store, loaded) = open_dir(dir.path(), limits(3, 5));
    assert_eq!(loaded.rooms.len(), 5);
    assert_eq!(loaded.rooms[0].shown, "Room19");
    assert!(
        loaded
            .rooms
            .iter()
            .all(|room| texts(room) == ["7", "8", "9"])
    );
    store.close();
    let conn = raw(dir.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM rooms"), 5);
    assert_eq!(count(&conn, "SELECT count(*) FROM history"), 15);
}

#[test]
fn history_off_stores_nothing_and_drops_what_was_stored() {
    let dir = temp();
    let (store, _) = open_dir(dir.path(), Limits::default());
    write_all(
        &store,
        [Write::PutAccount(account("Ann")), append("Lobby", 1, "old")],
    );
    store.close();

    let (store, loaded) = open_dir(dir.path(), limits(0, 10));
    assert!(loaded.rooms.is_empty());
    assert_eq!(loaded.accounts, [account("Ann")]);
    assert!(store.write(append("Lobby", 2, "new")));
    store.close();
    let conn = raw(dir.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM history"), 0);
    assert_eq!(count(&conn, "SELECT count(*) FROM rooms"), 0);
}

#[test]
fn sql_looking_input_round_trips_verbatim() {
    let nasty = [
        "x'); DROP TABLE accounts;--",
        "\"; DELETE FROM history; --",
        "Robert'); DROP TABLE rooms;-- ?1 :name $x",
        "nul\0inside and ünïcödé ✓",
        "",
    ];
    let dir = temp();
    let (store, _) = open_dir(dir.path(), Limits::default());
    for (n, text) in nasty.iter().enumerate() {
        let account = Account {
            folded: format!("{text}{n}"),
            shown: text.to_string(),
            hash: text.to_string(),
        };
        let entry = Entry {
            at_ms: n as u64,
            kind: HistoryKind::Msg,
            from: (*text).into(),
            text: (*text).into(),
        };
        write_all(
            &store,
            [
                Write::PutAccount(account),
                Write::AddIgnore(Ignore {
                    owner: text.to_string(),
                    ignored: format!("{n}{text}"),
                    ignored_shown: text.to_string(),
                }),
                Write::Append {
                    room: (*text).into(),
                    room_shown: (*text).into(),
                    entry,
                },
            ],
        );
    }
    store.close();

    let (store, loaded) = open_dir(dir.path(), Limits::default());
    assert_eq!(loaded.accounts.len(), nasty.len());
    assert_eq!(loaded.ignores.len(), nasty.len());
    assert_eq!(loaded.rooms.len(), nasty.len());
    for (n, text) in nasty.iter().enumerate() {
        assert!(
            loaded
                .accounts
                .iter()
                .any(|a| a.folded == format!("{text}{n}") && a.shown == *text && a.hash == *text)
        );
        assert!(
            loaded
                .ignores
                .iter()
                .any(|i| i.owner == *text && i.ignored_shown == *text)
        );
        let room = loaded.rooms.iter().find(|r| r.folded == *text).unwrap();
        assert_eq!(room.shown, *text);
        assert_eq!(
            (&*room.entries[0].from, &*room.entries[0].text),
            (*text, *text)
        );
    }
    store.close();
}

//! The writer thread and the queue in front of it: a write that fails
//! costs only itself, and a full or orphaned queue refuses without
//! blocking.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::*;
use crate::store::schema;
use crate::store::writer::Writer;

#[test]
fn a_write_that_cannot_be_stored_loses_only_itself() {
    let dir = temp();
    let (store, _) = open_dir(dir.path(), Limits::default());
    store.close();
    let path = dir.path().join(DATABASE_FILE);
    let conn = schema::open(&path).unwrap();
    // A real SQLITE_FULL: the file may grow by a few pages, which small
    // rows never need (every table has its root page) and a megabyte does.
    let pages = count(&conn, "PRAGMA page_count");
    conn.pragma_update(None, "max_page_count", pages + 4)
        .unwrap();

    let (sender, receiver) = crossbeam_channel::unbounded();
    // Queued before the thread starts, so the three are one batch.
    for write in [
        Write::PutAccount(account("Ann")),
        append("Lobby", 1, &"x".repeat(1 << 20)),
        Write::PutAccount(account("Bob")),
    ] {
        sender.send(Box::new(write)).unwrap();
    }
    drop(sender);
    let committed = Arc::new(AtomicU64::new(0));
    let writer = Writer {
        conn,
        path,
        limits: Limits::default(),
        queue: receiver,
        committed: Arc::clone(&committed),
        lost: None,
    };
    writer
        .spawn()
        .unwrap()
        .join()
        .expect("the writer must not panic");
    assert_eq!(committed.load(Ordering::Acquire), 2);

    let (store, loaded) = open_dir(dir.path(), Limits::default());
    assert_eq!(loaded.accounts, [account("Ann"), account("Bob")]);
    assert!(loaded.rooms.is_empty());
    store.close();
}

/// A store whose queue nobody drains, holding `capacity` writes.
fn undrained(capacity: usize) -> (Store, crossbeam_channel::Receiver<Box<Write>>) {
    let (sender, receiver) = crossbeam_channel::bounded(capacity);
    let disk = Disk {
        path: "test.db".into(),
        queue: Some(sender),
        writer: None,
        committed: Arc::default(),
        refused: AtomicU64::new(0),
        started: Instant::now(),
        next_warning_ms: AtomicU64::new(0),
    };
    let store = Store {
        disk: Some(disk),
        history_on: true,
    };
    (store, receiver)
}

#[test]
fn a_full_queue_refuses_without_blocking() {
    let (store, _receiver) = undrained(2);
    assert!(store.write(Write::PutAccount(account("Ann"))));
    assert!(store.write(Write::PutAccount(account("Bob"))));
    assert!(!store.write(Write::PutAccount(account("Carol"))));
    assert!(!store.write(Write::PutAccount(account("Dave"))));
    let Some(disk) = &store.disk else {
        unreachable!()
    };
    assert_eq!(disk.refused.load(Ordering::Relaxed), 2);
}

#[test]
fn a_stopped_writer_refuses() {
    let (store, receiver) = undrained(2);
    drop(receiver);
    assert!(!store.write(Write::PutAccount(account("Ann"))));
}

#[test]
fn appends_are_not_queued_when_history_is_off() {
    let (mut store, receiver) = undrained(2);
    store.history_on = false;
    assert!(store.write(append("Lobby", 1, "hi")));
    assert!(receiver.is_empty());
}

/// Not a check but a measurement, when `CHINWAG_STORE_BENCH` is set: time
/// to queue and commit 100,000 appends over 100 rooms, and the batches.
#[test]
fn bench_appends() {
    if std::env::var_os("CHINWAG_STORE_BENCH").is_none() {
        return;
    }
    let dir = temp();
    let (store, _) = open_dir(dir.path(), Limits::default());
    let started = Instant::now();
    let mut refused = 0;
    for n in 0..100_000_u64 {
        let write = append(
            &format!("Room{}", n % 100),
            n,
            "a message of a typical length, say fifty bytes",
        );
        while !store.write(write.clone()) {
            refused += 1;
            std::thread::yield_now();
        }
    }
    let queued = started.elapsed();
    store.close();
    println!(
        "100000 appends: queued in {queued:?} ({refused} refusals), committed and closed in {:?}",
        started.elapsed()
    );
}

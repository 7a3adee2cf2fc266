//! Between the hub and the store: what the data directory held becomes the
//! hub's [`Memory`] at start-up, and what the hub must remember becomes the
//! store's [`Write`]s while it runs. The hub stays free of SQLite's rows;
//! the store stays free of the hub's state.

use std::sync::Arc;

use common::Name;

use crate::hub::{Memory, Remember, Said};
use crate::store::{Account, Entry, Ignore, Loaded, Write};

/// The hub's view of what the store loaded. A row whose name no longer
/// passes the name rules is skipped with a warning (it cannot be typed).
pub(crate) fn memory(loaded: Loaded) -> Memory {
    let name = |shown: &str| {
        let parsed = Name::parse(shown);
        if parsed.is_err() {
            tracing::warn!(name = ?shown, "skipping a stored name that is not valid any more");
        }
        parsed.ok()
    };
    let accounts = loaded
        .accounts
        .into_iter()
        .filter_map(|account| Some((name(&account.shown)?, Arc::from(account.hash))))
        .collect();
    // The store lists the most recently active room first; the hub takes
    // the least recently active first, so that the order of use survives.
    let rooms = loaded
        .rooms
        .into_iter()
        .rev()
        .filter_map(|room| {
            let lines = room
                .entries
                .into_iter()
                .map(|entry| Said {
                    at_ms: entry.at_ms,
                    kind: entry.kind,
                    from: entry.from,
                    text: entry.text,
                })
                .collect();
            Some((name(&room.shown)?, lines))
        })
        .collect();
    let ignores = loaded
        .ignores
        .into_iter()
        .filter_map(|ignore| Some((Arc::from(ignore.owner), name(&ignore.ignored_shown)?)))
        .collect();
    Memory {
        accounts,
        rooms,
        ignores,
    }
}

/// The store's write for something the hub must remember.
pub(crate) fn write(remember: Remember) -> Write {
    match remember {
        Remember::Account { name, hash } => Write::PutAccount(Account {
            folded: name.folded().to_owned(),
            shown: name.as_str().to_owned(),
            hash: hash.to_string(),
        }),
        Remember::ForgetAccount { folded } => Write::DeleteAccount {
            folded: folded.to_string(),
        },
        Remember::Said { room, said } => Write::Append {
            room: Arc::clone(room.folded_shared()),
            room_shown: Arc::clone(room.shared()),
            entry: Entry {
                at_ms: said.at_ms,
                kind: said.kind,
                from: Arc::clone(&said.from),
                text: Arc::clone(&said.text),
            },
        },
        Remember::ForgetRoom { folded } => Write::ForgetRoom {
            room: folded.to_string(),
        },
        Remember::Ignore { owner, ignored } => Write::AddIgnore(Ignore {
            owner: owner.to_string(),
            ignored: ignored.folded().to_owned(),
            ignored_shown: ignored.as_str().to_owned(),
        }),
        Remember::Unignore { owner, ignored } => Write::RemoveIgnore {
            owner: owner.to_string(),
            ignored: ignored.to_string(),
        },
    }
}

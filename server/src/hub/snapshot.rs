//! The hub's whole state as plain data, for a cluster node that joins
//! while others run: it takes a running node's copy (as JSON) instead of
//! replaying everything since the cluster began. Peers are not part of it:
//! the joining node reaches none of these connections itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{HistoryKind, Name};
use serde::{Deserialize, Serialize};

use super::{Conn, ConnId, Hub, Room, Said, Settings, State, history};
use crate::flood::Millis;

/// Everything a hub holds, but how to reach its connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    conns: Vec<ConnCopy>,
    rooms: Vec<RoomCopy>,
    accounts: Vec<AccountCopy>,
    history_tick: u64,
    history: Vec<RoomHistoryCopy>,
    joins: u64,
    clock: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ConnCopy {
    id: ConnId,
    name: Option<String>,
    state: StateCopy,
    outgoing: Option<ConnId>,
    incoming: Vec<ConnId>,
    wrong_passwords: u8,
    away: Option<String>,
    ignores: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StateCopy {
    Naming,
    SigningIn(String),
    Checking(String),
    Available,
    Chatting(ConnId),
    InRoom(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RoomCopy {
    name: String,
    members: Vec<(ConnId, u64)>,
    operator: ConnId,
    topic: Option<(String, String)>,
    banned: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AccountCopy {
    name: String,
    hash: String,
    tokens: f64,
    tokens_at: u64,
    ignores: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RoomHistoryCopy {
    room: String,
    last: u64,
    lines: Vec<(u64, bool, String, String)>,
}

/// Why a snapshot could not be taken in: it was made by a hub that broke
/// the rules this one keeps (a bad name), which only a bug or tampering in
/// the shared store would do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the snapshot holds an invalid name {0:?}")]
pub struct BadSnapshot(String);

fn name(text: &str) -> Result<Name, BadSnapshot> {
    Name::parse(text).map_err(|_| BadSnapshot(text.to_owned()))
}

fn names(map: &BTreeMap<Arc<str>, Name>) -> Vec<String> {
    map.values().map(|name| name.as_str().to_owned()).collect()
}

fn name_map(list: &[String]) -> Result<BTreeMap<Arc<str>, Name>, BadSnapshot> {
    list.iter()
        .map(|text| {
            let name = name(text)?;
            Ok((Arc::from(name.folded()), name))
        })
        .collect()
}

impl<P: Clone> Hub<P> {
    /// Copies the state, in an order that does not depend on how it is
    /// stored, so two hubs that applied the same calls give equal copies.
    pub fn snapshot(&self) -> Snapshot {
        let mut conns: Vec<ConnCopy> = self
            .conns
            .iter()
            .map(|(&id, conn)| ConnCopy {
                id,
                name: conn.name.as_ref().map(|name| name.as_str().to_owned()),
                state: match &conn.state {
                    State::Naming => StateCopy::Naming,
                    State::SigningIn(name) => StateCopy::SigningIn(name.as_str().to_owned()),
                    State::Checking(name) => StateCopy::Checking(name.as_str().to_owned()),
                    State::Available => StateCopy::Available,
                    State::Chatting(partner) => StateCopy::Chatting(*partner),
                    State::InRoom(room) => StateCopy::InRoom(room.to_string()),
                },
                outgoing: conn.outgoing,
                incoming: conn.incoming.iter().copied().collect(),
                wrong_passwords: conn.wrong_passwords,
                away: conn.away.as_ref().map(|away| away.to_string()),
                ignores: names(&conn.ignores),
            })
            .collect();
        conns.sort_by_key(|conn| conn.id);
        let rooms = self
            .rooms
            .values()
            .map(|room| RoomCopy {
                name: room.name.as_str().to_owned(),
                members: room.members.iter().map(|(&id, &at)| (id, at)).collect(),
                operator: room.operator,
                topic: room
                    .topic
                    .as_ref()
                    .map(|(setter, text)| (setter.to_string(), text.to_string())),
                banned: room
                    .banned
                    .iter()
                    .map(|folded| folded.to_string())
                    .collect(),
            })
            .collect();
        let mut accounts: Vec<AccountCopy> = self
            .accounts
            .values()
            .map(|account| {
                let (tokens, at) = account.tries.state();
                AccountCopy {
                    name: account.name.as_str().to_owned(),
                    hash: account.hash.to_string(),
                    tokens,
                    tokens_at: at.0,
                    ignores: names(&account.ignores),
                }
            })
            .collect();
        accounts.sort_by(|a, b| {
            a.name
                .to_ascii_lowercase()
                .cmp(&b.name.to_ascii_lowercase())
        });
        let (history_tick, rooms_said) = self.history.export();
        let history = rooms_said
            .into_iter()
            .map(|(room, last, lines)| RoomHistoryCopy {
                room: room.to_string(),
                last,
                lines: lines
                    .into_iter()
                    .map(|said| {
                        let action = said.kind == HistoryKind::Action;
                        (
                            said.at_ms,
                            action,
                            said.from.to_string(),
                            said.text.to_string(),
                        )
                    })
                    .collect(),
            })
            .collect();
        Snapshot {
            conns,
            rooms,
            accounts,
            history_tick,
            history,
            joins: self.joins,
            clock: self.clock.0,
        }
    }

    /// A hub with `settings` holding what `snapshot` copied; `peer` says
    /// how to reach each connection.
    ///
    /// # Errors
    ///
    /// The snapshot holds a name this hub would never have accepted.
    pub fn restore(
        settings: Settings,
        snapshot: Snapshot,
        peer: impl Fn(ConnId) -> P,
    ) -> Result<Hub<P>, BadSnapshot> {
        let mut hub = Hub {
            conns: Default::default(),
            names: BTreeMap::new(),
            rooms: BTreeMap::new(),
            accounts: Default::default(),
            history: history::History::new(settings.history_per_room, settings.history_rooms),
            joins: snapshot.joins,
            clock: Millis(snapshot.clock),
            settings,
        };
        for copy in snapshot.conns {
            let name = copy.name.as_deref().map(name).transpose()?;
            if let Some(name) = &name {
                hub.names.insert(Arc::from(name.folded()), copy.id);
            }
            let state = match copy.state {
                StateCopy::Naming => State::Naming,
                StateCopy::SigningIn(text) => State::SigningIn(self::name(&text)?),
                StateCopy::Checking(text) => State::Checking(self::name(&text)?),
                StateCopy::Available => State::Available,
                StateCopy::Chatting(partner) => State::Chatting(partner),
                StateCopy::InRoom(room) => State::InRoom(Arc::from(room)),
            };
            let conn = Conn {
                peer: peer(copy.id),
                name,
                state,
                outgoing: copy.outgoing,
                incoming: copy.incoming.into_iter().collect(),
                wrong_passwords: copy.wrong_passwords,
                away: copy.away.map(Arc::from),
                ignores: name_map(&copy.ignores)?,
            };
            hub.conns.insert(copy.id, conn);
        }
        for copy in snapshot.rooms {
            let room_name = name(&copy.name)?;
            let room = Room {
                members: copy.members.into_iter().collect(),
                operator: copy.operator,
                topic: copy
                    .topic
                    .map(|(setter, text)| (Arc::from(setter), Arc::from(text))),
                banned: copy
                    .banned
                    .into_iter()
                    .map(Arc::from)
                    .collect::<BTreeSet<_>>(),
                name: room_name.clone(),
            };
            hub.rooms.insert(Arc::from(room_name.folded()), room);
        }
        for copy in snapshot.accounts {
            let account_name = name(&copy.name)?;
            hub.add_account(account_name.clone(), Arc::from(copy.hash));
            if let Some(account) = hub.accounts.get_mut(account_name.folded()) {
                account.tries.set_state(copy.tokens, Millis(copy.tokens_at));
                account.ignores = name_map(&copy.ignores)?;
            }
        }
        let rooms = snapshot
            .history
            .into_iter()
            .map(|copy| {
                let lines = copy
                    .lines
                    .into_iter()
                    .map(|(at_ms, action, from, text)| Said {
                        at_ms,
                        kind: if action {
                            HistoryKind::Action
                        } else {
                            HistoryKind::Msg
                        },
                        from: Arc::from(from),
                        text: Arc::from(text),
                    })
                    .collect();
                (Arc::from(copy.room), copy.last, lines)
            })
            .collect();
        hub.history.import(snapshot.history_tick, rooms);
        Ok(hub)
    }
}

//! The hub's invariants, checked by walking everything: for the unit tests,
//! the property test and the fuzz target (cargo feature `invariants`), never
//! in a release build.

use common::Name;

use super::{Hub, State};

impl<P: Clone> Hub<P> {
    /// Checks the hub's invariants and panics with a description of the
    /// first one broken.
    pub fn check_invariants(&self) {
        for (folded, id) in &self.names {
            let conn = self
                .conns
                .get(id)
                .expect("a name points at a missing connection");
            assert_eq!(
                conn.name.as_ref().map(Name::folded),
                Some(&**folded),
                "name map out of sync"
            );
        }
        for (id, conn) in &self.conns {
            match &conn.state {
                State::Naming | State::SigningIn(_) | State::Checking(_) => {
                    assert!(conn.name.is_none(), "a naming connection has a name");
                }
                State::Available => {}
                State::Chatting(partner) => {
                    let other = self
                        .conns
                        .get(partner)
                        .expect("chatting with a missing connection");
                    assert_eq!(other.state, State::Chatting(*id), "asymmetric chat");
                }
                State::InRoom(room) => {
                    let room = self.rooms.get(room).expect("in a missing room");
                    assert!(
                        room.members.contains_key(id),
                        "room does not list its member"
                    );
                }
            }
            if let Some(target) = conn.outgoing {
                let other = self
                    .conns
                    .get(&target)
                    .expect("request to a missing connection");
                assert!(
                    other.incoming.contains(id),
                    "request not recorded at its target"
                );
                assert_eq!(conn.state, State::Available, "a busy user has a request");
                assert_eq!(other.state, State::Available, "a request to a busy user");
            }
            for requester in &conn.incoming {
                let other = self
                    .conns
                    .get(requester)
                    .expect("request from a missing connection");
                assert_eq!(
                    other.outgoing,
                    Some(*id),
                    "incoming request not outgoing at its sender"
                );
            }
        }
        assert!(self.history.within_bounds(), "history over its bounds");
        for room in self.rooms.values() {
            assert!(!room.members.is_empty(), "an empty room was kept");
            for member in room.members.keys() {
                assert!(self.conns.contains_key(member), "ghost room member");
            }
            assert!(
                room.members.contains_key(&room.operator),
                "a room's operator is not a member"
            );
        }
    }

    /// Number of named users.
    pub fn n_users(&self) -> usize {
        self.names.len()
    }

    /// Number of rooms.
    pub fn n_rooms(&self) -> usize {
        self.rooms.len()
    }

    /// The operator of a room, by folded name.
    pub fn operator_of(&self, room: &str) -> Option<&Name> {
        self.name_of(self.rooms.get(room)?.operator)
    }

    /// Number of rooms with history.
    pub fn n_rooms_with_history(&self) -> usize {
        self.history.n_rooms()
    }
}

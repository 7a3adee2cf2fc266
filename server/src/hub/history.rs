//! Room history: each room's last `--history` lines, kept while the room is
//! empty and across restarts (the data directory holds a copy). At most
//! `--history-rooms` rooms keep history; a new one pushes out the room that
//! has been quiet longest, so a user creating room after room cannot make
//! the server hold, or the disk store, more than that.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use common::Name;

use super::{Outcome, Remember, Said};

/// A room's history as plain values: its folded name, when it last spoke
/// (the history's tick), and its lines, oldest first.
pub(super) type RoomLines = (Arc<str>, u64, Vec<Said>);

#[derive(Debug)]
pub(super) struct History {
    per_room: usize,
    max_rooms: usize,
    /// Folded room name to its lines, oldest first.
    rooms: HashMap<Arc<str>, Log>,
    /// Counts lines recorded, to find the room quiet longest.
    tick: u64,
}

#[derive(Debug)]
struct Log {
    lines: VecDeque<Arc<Said>>,
    /// `tick` when the room last spoke.
    last: u64,
}

impl History {
    pub(super) fn new(per_room: usize, max_rooms: usize) -> History {
        History {
            per_room,
            max_rooms,
            rooms: HashMap::new(),
            tick: 0,
        }
    }

    /// Takes what the data directory held, least recently active first.
    pub(super) fn load(&mut self, rooms: Vec<(Name, Vec<Said>)>) {
        if self.per_room == 0 {
            return;
        }
        for (room, lines) in rooms {
            let skip = lines.len().saturating_sub(self.per_room);
            let lines = lines.into_iter().skip(skip).map(Arc::new).collect();
            self.tick += 1;
            let log = Log {
                lines,
                last: self.tick,
            };
            self.rooms.insert(Arc::from(room.folded()), log);
        }
        while self.rooms.len() > self.max_rooms {
            self.evict_quietest();
        }
    }

    /// Records a line said in `room`, and asks the data directory to keep
    /// it (and to forget the room it pushed out, if any).
    pub(super) fn record<P>(&mut self, room: &Name, said: Said, out: &mut Outcome<P>) {
        if self.per_room == 0 || self.max_rooms == 0 {
            return;
        }
        self.tick += 1;
        let said = Arc::new(said);
        let tick = self.tick;
        if let Some(log) = self.rooms.get_mut(room.folded()) {
            if log.lines.len() == self.per_room {
                log.lines.pop_front();
            }
            log.lines.push_back(Arc::clone(&said));
            log.last = tick;
        } else {
            if self.rooms.len() >= self.max_rooms
                && let Some(folded) = self.evict_quietest()
            {
                out.remember.push(Remember::ForgetRoom { folded });
            }
            let log = Log {
                lines: VecDeque::from([Arc::clone(&said)]),
                last: tick,
            };
            self.rooms.insert(Arc::from(room.folded()), log);
        }
        out.remember.push(Remember::Said {
            room: room.clone(),
            said,
        });
    }

    /// The room's recent lines, oldest first.
    pub(super) fn lines(&self, folded: &str) -> impl Iterator<Item = &Said> {
        self.rooms
            .get(folded)
            .into_iter()
            .flat_map(|log| log.lines.iter().map(|said| &**said))
    }

    fn evict_quietest(&mut self) -> Option<Arc<str>> {
        let quietest = self
            .rooms
            .iter()
            .min_by_key(|(_, log)| log.last)
            .map(|(folded, _)| Arc::clone(folded))?;
        self.rooms.remove(&quietest);
        Some(quietest)
    }

    /// Every room's lines and when it last spoke, and the tick, to copy
    /// (sorted by room, so two copies are alike).
    pub(super) fn export(&self) -> (u64, Vec<RoomLines>) {
        let mut rooms: Vec<RoomLines> = self
            .rooms
            .iter()
            .map(|(folded, log)| {
                let lines = log.lines.iter().map(|said| (**said).clone()).collect();
                (Arc::clone(folded), log.last, lines)
            })
            .collect();
        rooms.sort_by(|a, b| a.0.cmp(&b.0));
        (self.tick, rooms)
    }

    /// Takes a copy made by [`History::export`].
    pub(super) fn import(&mut self, tick: u64, rooms: Vec<RoomLines>) {
        self.tick = tick;
        self.rooms = rooms
            .into_iter()
            .map(|(folded, last, lines)| {
                let lines = lines.into_iter().map(Arc::new).collect();
                (folded, Log { lines, last })
            })
            .collect();
    }

    /// Rooms with history (for tests and the invariant checker).
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn n_rooms(&self) -> usize {
        self.rooms.len()
    }

    /// Whether every room keeps at most its share of lines.
    #[cfg(any(test, feature = "invariants"))]
    pub(super) fn within_bounds(&self) -> bool {
        self.rooms.len() <= self.max_rooms
            && self
                .rooms
                .values()
                .all(|log| log.lines.len() <= self.per_room)
    }
}

//! Losing the connection and getting the session back, pure: what was
//! lost, and, line by line on the new connection, what to send next. The
//! thread that reads the socket applies each line to the [`State`], then
//! asks [`step`] what to do; waiting, connecting and sending are its own
//! business (`session/link.rs`).
//!
//! Restoring: take the same name back (a registered one with the password
//! kept from this session, in memory only), rejoin the room the user was
//! in, then say what could not be restored: a one-to-one chat (the server
//! ended it when the connection went) and chat requests either way. A
//! name still held by the dead connection is retried by the link thread
//! for as long as the server may keep it; when nothing more can be done
//! automatically (no password kept, a refused one, a name given up on),
//! the user is asked at the server's real prompt, and the room is still
//! rejoined once they are signed in.

use common::{ErrorCode, OkReply, ServerLine};

use crate::layout::Line;
use crate::render;
use crate::state::{Pending, Place, State};

/// Where the password sent when signing back in came from, as a refusal
/// names it.
pub(crate) const KEPT: &str = "earlier in this session";

/// What was lost with a connection, and how far restoring it has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outage {
    /// Where the user was: the menu, a chat, a room, or choosing a name.
    pub(crate) was: Place,
    /// The name to take back (`None`: there was none, or it was given up).
    pub(crate) name: Option<String>,
    /// What cannot be restored, said once signed back in.
    pub(crate) lost: Vec<String>,
    pub(crate) stage: Stage,
    /// The user was asked to choose a name or type the password: the
    /// prompt, and what they type, are the server's again.
    pub(crate) asking: bool,
}

/// How far restoring has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// No connection.
    Down,
    /// Connected; taking the name back.
    Naming,
    /// The kept password is sent.
    Password,
    /// Signed in; rejoining the room.
    Joining,
}

/// What the link thread does after a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    /// Send this line.
    Send(String),
    /// Send the kept password (`State::password`).
    SendPassword,
    /// The name is still held by the old connection: retry, or give up.
    NameHeld,
    /// Restored (or as restored as it gets): back to normal.
    Restored,
}

impl State {
    /// The connection is gone and will be made again: remembers what to
    /// restore (once per outage; a connection lost while restoring keeps
    /// the first one's plan) and forgets what the server forgot.
    pub(crate) fn begin_outage(&mut self) {
        self.awaiting_answer = false;
        self.password_for = None;
        self.pending = None;
        if let Some(outage) = &mut self.outage {
            outage.stage = Stage::Down;
            self.place = Place::Offline;
            return;
        }
        let was = match &self.place {
            Place::Menu | Place::Chat(_) | Place::Room(_) => self.place.clone(),
            _ => Place::Naming,
        };
        let mut lost = Vec::new();
        if let Place::Chat(partner) = &self.place {
            lost.push(format!(
                "your chat with {partner} ended when the connection dropped"
            ));
        }
        for from in self.requests.drain(..) {
            lost.push(format!(
                "{from}'s chat request was lost when the connection dropped"
            ));
        }
        if let Some(to) = self.outgoing.take() {
            lost.push(format!(
                "your chat request to {to} was lost when the connection dropped"
            ));
        }
        let name = self.me.take().filter(|_| was != Place::Naming);
        self.tried_name = None;
        self.place = Place::Offline;
        self.outage = Some(Outage {
            was,
            name,
            lost,
            stage: Stage::Down,
            asking: false,
        });
    }

    /// The link thread closes the connection to try again later.
    pub(crate) fn retry_later(&mut self) {
        if self.place != Place::Closed && self.outage.is_some() {
            self.begin_outage();
        }
    }

    /// Stops waiting for the name: the user is asked for one. Returns the
    /// name given up on.
    pub(crate) fn give_up_name(&mut self) -> Option<String> {
        let outage = self.outage.as_mut()?;
        outage.asking = true;
        outage.name.take()
    }

    /// The user stops reconnecting: the session is over.
    pub(crate) fn stop_reconnecting(&mut self) {
        self.outage = None;
        self.place = Place::Closed;
    }
}

/// What to do after `line`, which `state` already includes, and what to
/// say about it.
pub(crate) fn step(state: &mut State, line: &ServerLine) -> (Step, Vec<Line>) {
    let Some(outage) = &mut state.outage else {
        return (Step::Nothing, Vec::new());
    };
    let nothing = (Step::Nothing, Vec::new());
    let automatic = !outage.asking;
    match line {
        ServerLine::Hello(_) => {
            outage.stage = Stage::Naming;
            match outage.name.clone() {
                Some(name) if automatic => {
                    state.trying_name(&name);
                    (Step::Send(name), Vec::new())
                }
                // A name to choose, and a room to rejoin after it.
                _ if matches!(outage.was, Place::Room(_)) => {
                    outage.asking = true;
                    nothing
                }
                _ => restored(state, None),
            }
        }
        ServerLine::Password(_) if outage.stage == Stage::Naming && automatic => {
            let Some(secret) = state.password.clone() else {
                // Never signed in with a password this session: ask.
                outage.asking = true;
                return nothing;
            };
            outage.stage = Stage::Password;
            state.sending_preset(KEPT);
            state.keep_when_confirmed(Pending::SignIn(secret));
            (Step::SendPassword, Vec::new())
        }
        ServerLine::Welcome(_) => match &outage.was {
            Place::Room(room) => {
                let join = format!("/join {room}");
                outage.stage = Stage::Joining;
                (Step::Send(join), Vec::new())
            }
            _ => restored(state, None),
        },
        ServerLine::Ok(OkReply::Join(..)) if outage.stage == Stage::Joining => {
            restored(state, Some(true))
        }
        ServerLine::Err(..) if outage.stage == Stage::Joining => restored(state, Some(false)),
        ServerLine::Err(ErrorCode::NameTaken, _) if outage.stage == Stage::Naming && automatic => {
            (Step::NameHeld, Vec::new())
        }
        // A refused password, too many tries, a name now invalid: the
        // server is back at naming, and the user takes over.
        ServerLine::Err(..) if automatic && outage.stage != Stage::Down => {
            outage.asking = true;
            outage.stage = Stage::Naming;
            nothing
        }
        _ => nothing,
    }
}

/// Ends the outage and says how it went: `rejoined` is `None` when there
/// was no room to rejoin.
fn restored(state: &mut State, rejoined: Option<bool>) -> (Step, Vec<Line>) {
    let Some(outage) = state.outage.take() else {
        return (Step::Nothing, Vec::new());
    };
    let mut said = match &state.me {
        Some(me) => format!("reconnected as {me}"),
        None => "reconnected; choose a name".to_owned(),
    };
    let mut notes = Vec::new();
    match (&outage.was, rejoined, &state.place) {
        (_, Some(true), Place::Room(room)) => said.push_str(&format!(", back in #{room}")),
        (Place::Room(room), Some(false), _) => {
            notes.push(render::error(&format!("could not rejoin #{room}")));
        }
        _ => {}
    }
    let mut lines = vec![render::notice(&said)];
    lines.append(&mut notes);
    lines.extend(outage.lost.iter().map(|lost| render::notice(lost)));
    (Step::Restored, lines)
}

#[cfg(test)]
#[path = "outage_tests.rs"]
mod tests;

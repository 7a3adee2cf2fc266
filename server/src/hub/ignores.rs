//! `/ignore`, `/unignore`, `/ignores`. Ignoring is silent toward the
//! ignored user: its requests, messages, actions and room lines simply do
//! not reach the ignorer (the filters are where those lines are made, in
//! `chats.rs` and `rooms.rs`), and nothing it can see (`/list`, `/rooms`,
//! replies) changes. A registered user's list is kept across sessions.

use std::sync::Arc;

use common::{ErrorCode, Name, OkReply, ServerLine, fold};

use super::{ConnId, Hub, Outcome, Remember};

/// Names one user may ignore: a list is a little memory per entry, and
/// without a bound a client could grow it by 50 names a second.
pub(super) const MAX_IGNORED: usize = 1000;

impl<P: Clone> Hub<P> {
    /// `/ignore NAME`: any valid name, online or not.
    pub(super) fn ignore(&mut self, id: ConnId, name: &str, out: &mut Outcome<P>) {
        let Some(me) = self.name_of(id).cloned() else {
            return;
        };
        let Ok(typed) = Name::parse(name) else {
            return out.error(ErrorCode::NameInvalid);
        };
        if typed.folded() == me.folded() {
            return out.error(ErrorCode::SelfTarget);
        }
        // Shown as its owner spells it, if we know them.
        let shown = self.known_spelling(&typed);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let folded: Arc<str> = Arc::from(shown.folded());
        if !conn.ignores.contains_key(&folded) && conn.ignores.len() >= MAX_IGNORED {
            return out.reply(ServerLine::Err(
                ErrorCode::Usage,
                Arc::from("your ignore list is full (1000 names); /unignore someone first"),
            ));
        }
        conn.ignores.insert(Arc::clone(&folded), shown.clone());
        if let Some(account) = self.accounts.get_mut(me.folded()) {
            account.ignores.insert(folded, shown.clone());
            out.remember.push(Remember::Ignore {
                owner: Arc::from(me.folded()),
                ignored: shown.clone(),
            });
        }
        out.reply(ServerLine::Ok(OkReply::Ignore(shown.shared().clone())));
    }

    /// `/unignore NAME`: also for a name not ignored (nothing changes).
    pub(super) fn unignore(&mut self, id: ConnId, name: &str, out: &mut Outcome<P>) {
        let Some(me) = self.name_of(id).cloned() else {
            return;
        };
        let Ok(typed) = Name::parse(name) else {
            return out.error(ErrorCode::NameInvalid);
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let shown = conn
            .ignores
            .remove(typed.folded())
            .unwrap_or_else(|| typed.clone());
        if let Some(account) = self.accounts.get_mut(me.folded())
            && account.ignores.remove(typed.folded()).is_some()
        {
            out.remember.push(Remember::Unignore {
                owner: Arc::from(me.folded()),
                ignored: Arc::from(typed.folded()),
            });
        }
        out.reply(ServerLine::Ok(OkReply::Unignore(shown.shared().clone())));
    }

    /// `/ignores`: one `IGNORING` line per name, sorted case-insensitively.
    pub(super) fn list_ignores(&self, id: ConnId, out: &mut Outcome<P>) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        for name in conn.ignores.values() {
            out.reply(ServerLine::Ignoring(name.shared().clone()));
        }
        out.reply(ServerLine::Ok(OkReply::Ignores(conn.ignores.len())));
    }

    /// `name` as its holder spells it: online, registered, or as typed.
    pub(super) fn known_spelling(&self, name: &Name) -> Name {
        if let Some(&holder) = self.names.get(name.folded())
            && let Some(held) = self.name_of(holder)
        {
            return held.clone();
        }
        match self.accounts.get(name.folded()) {
            Some(account) => account.name.clone(),
            None => name.clone(),
        }
    }

    /// Whether `receiver` ignores the sender shown as `from` (for history,
    /// where only the shown name is kept).
    pub(super) fn is_ignoring_name(&self, receiver: ConnId, from: &str) -> bool {
        self.conns.get(&receiver).is_some_and(|conn| {
            !conn.ignores.is_empty() && conn.ignores.contains_key(fold(from).as_str())
        })
    }
}

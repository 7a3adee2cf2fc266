//! Before a name: every line is a requested username, except `/help` and
//! `/exit`; a registered name asks for its password (`accounts.rs`). And
//! `/exit` itself, which works in every state.

use std::sync::Arc;

use common::{ByeReason, Command, ErrorCode, Input, Name, ServerLine, Verb};

use super::{ConnId, Happening, Hub, Now, Outcome, State, prose};

impl<P: Clone> Hub<P> {
    pub(super) fn naming(&mut self, id: ConnId, input: Input, now: Now, out: &mut Outcome<P>) {
        let text = match input {
            Input::Command(Ok(Command::Help)) => return prose::naming_help(out),
            Input::Command(Ok(Command::Exit)) => return self.exit(id, out),
            Input::Command(Err(error)) if error.command == Some(Verb::Help) => {
                return out.error(error.code);
            }
            Input::Command(_) => return out.error(ErrorCode::NameInvalid),
            Input::Text { text, .. } if text.is_empty() => return,
            Input::Text { text, .. } => text,
        };
        let Ok(name) = Name::parse(&text) else {
            return out.error(ErrorCode::NameInvalid);
        };
        if self.is_registered(&name) {
            // Also when it is online: signing in takes it back.
            return self.ask_password(id, &name, now, out);
        }
        self.take_name_if_free(id, name, out);
    }

    /// Gives `id` the name, or answers `ERR name-taken`.
    pub(super) fn take_name_if_free(&mut self, id: ConnId, name: Name, out: &mut Outcome<P>) {
        if self.names.contains_key(name.folded()) {
            return out.error(ErrorCode::NameTaken);
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.name = Some(name.clone());
        conn.state = State::Available;
        if let Some(account) = self.accounts.get(name.folded()) {
            conn.ignores.clone_from(&account.ignores);
        }
        self.names.insert(Arc::from(name.folded()), id);
        out.reply(ServerLine::Welcome(name.shared().clone()));
        prose::welcome(&name, self.names.len() - 1, out);
        out.happened.push(Happening::Named(name));
    }

    /// `/exit`: the user leaves the hub in the same step, so a partner's
    /// message handled before the connection closes gets `ERR not-in-chat`
    /// instead of vanishing into an outbox that takes nothing more after
    /// `BYE`.
    pub(super) fn exit(&mut self, id: ConnId, out: &mut Outcome<P>) {
        out.reply(ServerLine::bye(ByeReason::Exit));
        out.close = true;
        self.disconnect(id, out);
    }
}

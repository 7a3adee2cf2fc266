//! Registered names: `/register`, `/password`, `/unregister`, and signing
//! in with a password, including taking a name back from a stale session.
//! The hub never holds a password: it decides what must be checked or
//! hashed and hands the connection a [`Task`] naming the stored hash; the
//! connection, which holds what the user typed, runs Argon2 off the lock
//! and reports with [`Hub::task_done`]. (A command's password is looked at
//! here only to refuse a weak one; a cluster's nodes see a stand-in of the
//! same length instead.)

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{ByeReason, ErrorCode, Name, OkReply, Secret, ServerLine};

use super::{Account, ConnId, Done, Happening, Hub, Now, Outcome, Purpose, Remember, State, Task};
use crate::flood::TokenBucket;

/// Wrong passwords one connection may send; the fifth closes it.
const MAX_WRONG_PASSWORDS: u8 = 5;
/// Passwords shorter than this many characters are refused.
pub(crate) const MIN_PASSWORD_CHARS: usize = 8;
/// Passwords longer than this many bytes are refused (Argon2 takes any
/// length, but nobody types more, and a cap keeps each check cheap).
pub(crate) const MAX_PASSWORD_BYTES: usize = 128;

/// Whether a new password is too short or too long.
pub(crate) fn is_weak(password: &Secret) -> bool {
    password.n_chars() < MIN_PASSWORD_CHARS || password.expose().len() > MAX_PASSWORD_BYTES
}

impl<P: Clone> Hub<P> {
    pub(super) fn add_account(&mut self, name: Name, hash: Arc<str>) {
        let per_minute = f64::from(self.settings.password_tries);
        let tries = TokenBucket::new(per_minute / 60.0, per_minute, self.clock);
        let folded = Arc::from(name.folded());
        let account = Account {
            name,
            hash,
            tries,
            ignores: BTreeMap::new(),
        };
        self.accounts.insert(folded, account);
    }

    /// Whether `name` is registered (then naming asks for its password).
    pub(super) fn is_registered(&self, name: &Name) -> bool {
        self.accounts.contains_key(name.folded())
    }

    /// Naming a registered name: ask for its password, unless its checks
    /// for this minute are used up.
    pub(super) fn ask_password(&mut self, id: ConnId, name: &Name, now: Now, out: &mut Outcome<P>) {
        let clock = self.tick(now);
        let Some(account) = self.accounts.get_mut(name.folded()) else {
            return;
        };
        if !account.tries.has_token(clock) {
            return out.error(ErrorCode::TryLater);
        }
        let registered = account.name.clone();
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.state = State::SigningIn(registered.clone());
        }
        out.offer_echo = true;
        out.reply(ServerLine::Password(registered.shared().clone()));
        out.happened.push(Happening::PasswordAsked(registered));
    }

    /// The line after `PASSWORD` arrived (the connection keeps it): costs
    /// one of the name's checks for this minute, then the check runs.
    pub fn password(&mut self, id: ConnId, now: Now, out: &mut Outcome<P>) {
        let clock = self.tick(now);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let State::SigningIn(name) = &conn.state else {
            return;
        };
        let name = name.clone();
        let Some(account) = self.accounts.get_mut(name.folded()) else {
            // Unregistered meanwhile: the name is an ordinary one now.
            conn.state = State::Naming;
            return self.take_name_if_free(id, name, out);
        };
        if !account.tries.take(clock) {
            conn.state = State::Naming;
            return out.error(ErrorCode::TryLater);
        }
        let hash = Arc::clone(&account.hash);
        conn.state = State::Checking(name.clone());
        out.task = Some(Task {
            check: Some(hash),
            hash_new: false,
            purpose: Purpose::SignIn(name),
        });
    }

    /// `/register PASSWORD`
    pub(super) fn register(&mut self, id: ConnId, password: &Secret, out: &mut Outcome<P>) {
        let Some(name) = self.name_of(id).cloned() else {
            return;
        };
        if self.is_registered(&name) {
            return out.error(ErrorCode::Registered);
        }
        if is_weak(password) {
            return out.error(ErrorCode::WeakPassword);
        }
        // A name not yet registered has no bucket; registering costs one
        // hash, and flood control already paces a connection's lines.
        out.task = Some(Task {
            check: None,
            hash_new: true,
            purpose: Purpose::Register,
        });
    }

    /// `/password OLD NEW`
    pub(super) fn change_password(
        &mut self,
        id: ConnId,
        new: &Secret,
        now: Now,
        out: &mut Outcome<P>,
    ) {
        if self
            .name_of(id)
            .is_some_and(|name| !self.is_registered(name))
        {
            return out.error(ErrorCode::NotRegistered);
        }
        if is_weak(new) {
            return out.error(ErrorCode::WeakPassword);
        }
        let Some(hash) = self.checked_account(id, now, out) else {
            return;
        };
        out.task = Some(Task {
            check: Some(hash),
            hash_new: true,
            purpose: Purpose::ChangePassword,
        });
    }

    /// `/unregister PASSWORD`
    pub(super) fn unregister(&mut self, id: ConnId, now: Now, out: &mut Outcome<P>) {
        let Some(hash) = self.checked_account(id, now, out) else {
            return;
        };
        out.task = Some(Task {
            check: Some(hash),
            hash_new: false,
            purpose: Purpose::Unregister,
        });
    }

    /// The caller's account hash, taking one of its checks for this
    /// minute; or the error for the caller.
    fn checked_account(&mut self, id: ConnId, now: Now, out: &mut Outcome<P>) -> Option<Arc<str>> {
        let clock = self.tick(now);
        let name = self.name_of(id)?.clone();
        let Some(account) = self.accounts.get_mut(name.folded()) else {
            out.error(ErrorCode::NotRegistered);
            return None;
        };
        if !account.tries.take(clock) {
            out.error(ErrorCode::TryLater);
            return None;
        }
        Some(Arc::clone(&account.hash))
    }

    /// Finishes what a [`Task`] started, once the connection has run it.
    pub fn task_done(&mut self, id: ConnId, done: Done, now: Now, out: &mut Outcome<P>) {
        self.tick(now);
        match done.purpose {
            Purpose::SignIn(name) => self.signed_in(id, name, done.checked, out),
            Purpose::Register => self.registered(id, done.hash, out),
            Purpose::ChangePassword => self.password_changed(id, done, out),
            Purpose::Unregister => self.unregistered(id, done.checked, out),
        }
    }

    fn signed_in(&mut self, id: ConnId, name: Name, checked: bool, out: &mut Outcome<P>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.state != State::Checking(name.clone()) {
            return;
        }
        conn.state = State::Naming;
        if !checked {
            conn.wrong_passwords += 1;
            out.error(ErrorCode::BadPassword);
            out.happened.push(Happening::WrongPassword(name));
            if conn.wrong_passwords >= MAX_WRONG_PASSWORDS {
                out.reply(ServerLine::bye(ByeReason::Refused));
                out.close = true;
                self.disconnect(id, out);
            }
            return;
        }
        if let Some(&old) = self.names.get(name.folded())
            && old != id
        {
            // Taking the name back: the old session ends as if it had
            // dropped, before this one is welcomed.
            if let Some(peer) = self.peer(old) {
                out.send(peer.clone(), ServerLine::bye(ByeReason::Replaced));
                out.closed.push(peer);
            }
            self.disconnect(old, out);
            out.happened.push(Happening::TookBack(name.clone()));
        }
        self.take_name_if_free(id, name, out);
    }

    fn registered(&mut self, id: ConnId, hash: Option<Arc<str>>, out: &mut Outcome<P>) {
        let (Some(name), Some(hash)) = (self.name_of(id).cloned(), hash) else {
            return;
        };
        if self.is_registered(&name) {
            return out.error(ErrorCode::Registered);
        }
        self.add_account(name.clone(), Arc::clone(&hash));
        out.remember.push(Remember::Account {
            name: name.clone(),
            hash,
        });
        // The session's ignore list becomes the account's, kept from now on.
        let ignores = self
            .conns
            .get(&id)
            .map(|conn| conn.ignores.clone())
            .unwrap_or_default();
        for ignored in ignores.values() {
            out.remember.push(Remember::Ignore {
                owner: Arc::from(name.folded()),
                ignored: ignored.clone(),
            });
        }
        if let Some(account) = self.accounts.get_mut(name.folded()) {
            account.ignores = ignores;
        }
        out.reply(ServerLine::Ok(OkReply::Register(name.shared().clone())));
        out.happened.push(Happening::Registered(name));
    }

    fn password_changed(&mut self, id: ConnId, done: Done, out: &mut Outcome<P>) {
        let Some(name) = self.name_of(id).cloned() else {
            return;
        };
        let Some(account) = self.accounts.get_mut(name.folded()) else {
            return out.error(ErrorCode::NotRegistered);
        };
        let (true, Some(hash)) = (done.checked, done.hash) else {
            out.happened.push(Happening::WrongPassword(name));
            return out.error(ErrorCode::BadPassword);
        };
        account.hash = Arc::clone(&hash);
        out.remember.push(Remember::Account {
            name: account.name.clone(),
            hash,
        });
        out.reply(ServerLine::Ok(OkReply::Password));
        out.happened.push(Happening::PasswordChanged(name));
    }

    fn unregistered(&mut self, id: ConnId, checked: bool, out: &mut Outcome<P>) {
        let Some(name) = self.name_of(id).cloned() else {
            return;
        };
        if !self.is_registered(&name) {
            return out.error(ErrorCode::NotRegistered);
        }
        if !checked {
            out.happened.push(Happening::WrongPassword(name));
            return out.error(ErrorCode::BadPassword);
        }
        self.accounts.remove(name.folded());
        out.remember.push(Remember::ForgetAccount {
            folded: Arc::from(name.folded()),
        });
        out.reply(ServerLine::Ok(OkReply::Unregister(name.shared().clone())));
        out.happened.push(Happening::Unregistered(name));
    }
}

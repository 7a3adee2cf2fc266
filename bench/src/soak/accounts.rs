//! Registered names in the soak: `/register`, `/password`, `/unregister`
//! (right, wrong and weak passwords), signing back in to a name after its
//! session ended (`PASSWORD`, then `WELCOME` or `ERR bad-password` and
//! back at naming; five wrong get `BYE refused`), and what each must be
//! answered. Only a name's owner (the client slot that took it) ever
//! checks its password, and it spends at most [`CHECK_BUDGET`] checks a
//! minute, so the server's cap (10 a minute) never applies and
//! `ERR try-later` is always a violation.
//!
//! A session signed in to a name used before stays out of one-to-one
//! chats: a chat's messages are keyed by the count of chats between the
//! two names, and a partner of the old session may have seen a chat start
//! that the old session, dropped, never read.

use common::{ByeReason, ErrorCode, OkReply, ServerLine};

use crate::actions::{Action, Chooser, End};
use crate::ledger::Ledger;
use crate::model::{Model, Place};
use crate::replies::{Check, Expect, Want, holds, is_err};
use crate::rng::Rng;

/// Password checks one name may be sent within the bucket's refill time:
/// one short of the server's default `--password-tries 10`.
pub(crate) const CHECK_BUDGET: usize = 9;
/// Wrong passwords the server allows one connection; the last gets `BYE`.
const WRONG_PER_CONNECTION: usize = 5;

/// What an account command or a sign-in must be answered.
#[derive(Debug, Clone)]
pub(crate) enum Account {
    /// `/register PASSWORD`.
    Register(String),
    /// `/password OLD NEW`.
    Change { old: String, new: String },
    /// `/unregister PASSWORD`.
    Unregister(String),
    /// The registered name `name` while naming: `PASSWORD name`.
    AskPassword(String),
    /// The line after `PASSWORD`: `WELCOME` if `right`, else
    /// `ERR bad-password`.
    SignIn { name: String, right: bool },
    /// `BYE refused` after the fifth wrong password.
    Refused,
}

/// Too short or too long for the server.
fn is_weak(password: &str) -> bool {
    password.chars().count() < 8 || password.len() > 128
}

/// A new password: never a valid name (it has a `.` or spaces), so a
/// password line can never be taken for a name.
fn new_password(rng: &mut Rng, label: &str) -> String {
    let n = rng.below(1_000_000);
    if rng.chance(20) {
        format!("open sesame {n}!")
    } else {
        format!("pw.{label}.{n}")
    }
}

fn weak_password(rng: &mut Rng) -> String {
    if rng.chance(70) {
        "short.1".to_owned()
    } else {
        "x".repeat(129)
    }
}

/// Signs in to `name` on a fresh connection: `wrong` wrong passwords first
/// (each answered `ERR bad-password`, back at naming), then `password`
/// if given; then the naming barrier (`/help` works named or not).
pub(crate) fn sign_in(name: &str, password: Option<&str>, wrong: usize) -> Action {
    let mut action = Action::new(if password.is_some() {
        "sign-in"
    } else {
        "sign-in-wrong"
    });
    for k in 0..wrong {
        action = action
            .want(name, Want::Account(Account::AskPassword(name.to_owned())))
            .want(
                format!("wrong.password.{k}"),
                Want::Account(Account::SignIn {
                    name: name.to_owned(),
                    right: false,
                }),
            );
    }
    if let Some(password) = password {
        action = action
            .want(name, Want::Account(Account::AskPassword(name.to_owned())))
            .want(
                password,
                Want::Account(Account::SignIn {
                    name: name.to_owned(),
                    right: true,
                }),
            );
    }
    action.checks = Some((name.to_owned(), wrong + usize::from(password.is_some())));
    action.want("/help", Want::Help)
}

/// Five wrong passwords for `name`: the fifth is answered
/// `ERR bad-password` and `BYE refused`, and the server closes.
pub(crate) fn refused(name: &str) -> Action {
    let mut action = Action::new("sign-in-refused");
    for k in 0..WRONG_PER_CONNECTION {
        action = action
            .want(name, Want::Account(Account::AskPassword(name.to_owned())))
            .want(
                format!("wrong.password.{k}"),
                Want::Account(Account::SignIn {
                    name: name.to_owned(),
                    right: false,
                }),
            );
    }
    action
        .expects
        .push(Expect::Reply(Want::Account(Account::Refused)));
    action.checks = Some((name.to_owned(), WRONG_PER_CONNECTION));
    action.ending(End::Quit)
}

/// Whether a name with `recent` checks may spend `cost` more.
pub(crate) fn affordable(recent: usize, cost: usize) -> bool {
    recent + cost <= CHECK_BUDGET
}

impl Chooser<'_> {
    /// An account command for our name, registered or not.
    pub(crate) fn account(&mut self) -> Action {
        let me = self.model.me().to_owned();
        let checks_left = self.check_budget;
        match self.model.password.clone() {
            None => match self.rng.below(10) {
                0..6 => {
                    let password = new_password(self.rng, self.label);
                    let line = format!("/register {password}");
                    Action::new("register").want(line, Want::Account(Account::Register(password)))
                }
                6 | 7 => {
                    let password = weak_password(self.rng);
                    let line = format!("/register {password}");
                    Action::new("register-weak")
                        .want(line, Want::Account(Account::Register(password)))
                }
                8 => {
                    let (old, new) = ("pw.old.1".to_owned(), "pw.new.1".to_owned());
                    let line = format!("/password {old} {new}");
                    Action::new("password-unregistered")
                        .want(line, Want::Account(Account::Change { old, new }))
                }
                _ => Action::new("unregister-unregistered").want(
                    "/unregister pw.any.1",
                    Want::Account(Account::Unregister("pw.any.1".to_owned())),
                ),
            },
            Some(current) => {
                let roll = self.rng.below(10);
                if roll < 3 || checks_left == 0 {
                    // Registered already: refused before any check.
                    let password = new_password(self.rng, self.label);
                    let line = format!("/register {password}");
                    return Action::new("register-again")
                        .want(line, Want::Account(Account::Register(password)));
                }
                let old = if self.rng.chance(80) {
                    current
                } else {
                    "pw.wrong.1".to_owned()
                };
                let mut action = if roll < 8 && !old.contains(' ') {
                    let new = if self.rng.chance(85) {
                        new_password(self.rng, self.label).replace(' ', ".")
                    } else {
                        weak_password(self.rng)
                    };
                    let line = format!("/password {old} {new}");
                    Action::new("password").want(line, Want::Account(Account::Change { old, new }))
                } else {
                    let line = format!("/unregister {old}");
                    Action::new("unregister").want(line, Want::Account(Account::Unregister(old)))
                };
                action.checks = Some((me, 1));
                action
            }
        }
    }
}

/// Judges the answer to an account command or a sign-in line, updating
/// the model and the ledger's record of registered names.
pub(crate) fn check(
    want: &Account,
    line: &ServerLine,
    model: &mut Model,
    ledger: &Ledger,
) -> Check {
    let me = model.me().to_owned();
    match want {
        Account::Register(password) => {
            if model.password.is_some() {
                return holds(is_err(line, ErrorCode::Registered));
            }
            if is_weak(password) {
                return holds(is_err(line, ErrorCode::WeakPassword));
            }
            holds(matches!(line, ServerLine::Ok(OkReply::Register(name)) if **name == *me))?;
            model.password = Some(password.clone());
            ledger.set_account(&me, Some(password));
            Ok(())
        }
        Account::Change { old, new } => {
            let Some(current) = &model.password else {
                return holds(is_err(line, ErrorCode::NotRegistered));
            };
            if is_weak(new) {
                return holds(is_err(line, ErrorCode::WeakPassword));
            }
            if old != current {
                return holds(is_err(line, ErrorCode::BadPassword));
            }
            holds(matches!(line, ServerLine::Ok(OkReply::Password)))?;
            model.password = Some(new.clone());
            ledger.set_account(&me, Some(new));
            Ok(())
        }
        Account::Unregister(password) => {
            let Some(current) = &model.password else {
                return holds(is_err(line, ErrorCode::NotRegistered));
            };
            if password != current {
                return holds(is_err(line, ErrorCode::BadPassword));
            }
            holds(matches!(line, ServerLine::Ok(OkReply::Unregister(name)) if **name == *me))?;
            model.password = None;
            ledger.set_account(&me, None);
            Ok(())
        }
        Account::AskPassword(name) => {
            holds(model.place == Place::Naming)?;
            holds(matches!(line, ServerLine::Password(got) if **got == *name))?;
            model.signing_in = Some(name.clone());
            Ok(())
        }
        Account::SignIn { name, right } => {
            holds(model.signing_in.take().as_ref() == Some(name))?;
            if !right {
                return holds(is_err(line, ErrorCode::BadPassword));
            }
            holds(matches!(line, ServerLine::Welcome(got) if **got == *name))?;
            model.me = Some(name.clone());
            model.place = Place::Available;
            model.password = ledger.password_of(name);
            // The server keeps a registered name's ignore list.
            model.ignoring = ledger.carry(name).unwrap_or_default().ignoring;
            Ok(())
        }
        Account::Refused => holds(matches!(line, ServerLine::Bye(ByeReason::Refused, _))),
    }
}

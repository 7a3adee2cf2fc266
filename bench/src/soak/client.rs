//! A soak client: connect, act at random until the run ends, reconnect
//! after every disconnect, now and then signing back in to the registered
//! name its last session ended with; and the sentinel, a user who stays
//! online and available all run long so some answers are known exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::accounts;
use crate::actions::{self, Chooser};
use crate::rng::Rng;
use crate::session::{After, Session, Shared};

/// A registered name the client may sign back in to.
struct Return {
    name: String,
    password: String,
}

/// Runs client `slot` of the phase whose names start with `prefix` until
/// `deadline`, then quits.
pub(crate) fn run(shared: &Arc<Shared>, prefix: char, slot: usize, seed: u64, deadline: Instant) {
    let mut rng = Rng::new(seed, u64::from(prefix) << 32 | slot as u64);
    let mut generation = 0u32;
    let mut returning: Option<Return> = None;
    while Instant::now() < deadline {
        generation += 1;
        // The label doubles as the login name, unique per connection, so a
        // name identifies one connection for the whole run, except the
        // registered names signed back in to (see `accounts.rs`).
        let label = format!("{prefix}{slot}n{generation}");
        let Ok(mut session) = Session::open(shared, label) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let mut next_seq = 0;
        if let Some(back) = returning.take()
            && let Some(after) = sign_back_in(&mut session, &mut rng, shared, &back)
        {
            if session.model.me.is_some() {
                // Every session of a name saves its carry when it ends.
                let carry = shared.ledger.carry(&back.name).unwrap_or_default();
                session.model.resume(&carry);
                next_seq = carry.next_seq;
            } else {
                // Refused, or wrong only: maybe next time.
                returning = Some(back);
            }
            if after != After::Open {
                drop(session);
                std::thread::sleep(Duration::from_millis(rng.below(200)));
                continue;
            }
        }
        let after = drive(&mut session, &mut rng, shared, deadline, &mut next_seq);
        let name = session.model.me.clone();
        let password = session.model.password.clone();
        if let Some(name) = &name {
            shared
                .ledger
                .save_carry(name, session.model.carry(next_seq));
        }
        drop(session);
        match (after, name, password) {
            (After::Open, ..) => {}
            (_, Some(name), Some(password)) if rng.chance(60) => {
                returning = Some(Return { name, password });
            }
            (After::Closed, Some(name), None) if rng.chance(25) && Instant::now() < deadline => {
                login_again(shared, &name);
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(rng.below(200)));
    }
}

/// Signs back in to `back.name` if its budget of password checks allows:
/// with the right password (after a wrong one now and then), with wrong
/// ones only (back at naming, or refused after five). `None` if nothing
/// was tried; else how the connection stands.
fn sign_back_in(
    session: &mut Session,
    rng: &mut Rng,
    shared: &Shared,
    back: &Return,
) -> Option<After> {
    let recent = shared.ledger.recent_checks(&back.name);
    let action = match rng.below(100) {
        0..5 if accounts::affordable(recent, 5) => accounts::refused(&back.name),
        5..15 if accounts::affordable(recent, 1) => accounts::sign_in(&back.name, None, 1),
        roll => {
            let wrong = match roll {
                15..35 => 1,
                35..40 => 2,
                _ => 0,
            };
            if !accounts::affordable(recent, wrong + 1) {
                return None;
            }
            accounts::sign_in(&back.name, Some(&back.password), wrong)
        }
    };
    Some(session.perform(action))
}

/// Acts until the connection ends or the run does; `next_seq` is the
/// sequence number of the next message (carried across a name's sessions).
fn drive(
    session: &mut Session,
    rng: &mut Rng,
    shared: &Shared,
    deadline: Instant,
    next_seq: &mut u64,
) -> After {
    let mut next_token = 0;
    let label = session.label().to_owned();
    loop {
        let action = if Instant::now() >= deadline {
            actions::quit()
        } else {
            let live_name = shared.ledger.live_name(rng.next_u64());
            let recent = shared.ledger.recent_checks(session.model.me());
            Chooser {
                rng: &mut *rng,
                model: &session.model,
                sentinel: &shared.sentinel,
                login: &label,
                next_seq: &mut *next_seq,
                next_token: &mut next_token,
                label: &label,
                live_name,
                check_budget: accounts::CHECK_BUDGET.saturating_sub(recent),
            }
            .choose()
        };
        let after = session.perform(action);
        if after != After::Open {
            return after;
        }
        let think = Duration::from_millis(30 + rng.below(220));
        if !session.idle(Instant::now() + think) {
            return After::Dropped;
        }
    }
}

/// Right after the server closed our connection, the name must be free:
/// log in with it again at once, then quit.
fn login_again(shared: &Arc<Shared>, name: &str) {
    let Ok(mut session) = Session::open(shared, format!("{name}-again")) else {
        return;
    };
    if session.perform(actions::login(name)) == After::Open {
        session.perform(actions::quit());
    }
}

/// Logs the sentinel in, signals `ready`, reads until `stop`, then quits.
pub(crate) fn run_sentinel(shared: &Arc<Shared>, ready: &AtomicBool, stop: &AtomicBool) {
    let Ok(mut session) = Session::open(shared, "sentinel".into()) else {
        ready.store(true, Ordering::SeqCst);
        return;
    };
    let logged_in = session.perform(actions::login(&shared.sentinel)) == After::Open;
    ready.store(true, Ordering::SeqCst);
    if !logged_in {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        if !session.idle(Instant::now() + Duration::from_millis(200)) {
            return;
        }
    }
    session.perform(actions::quit());
}

//! A soak client: connect, act at random until the run ends, reconnect
//! after every disconnect; and the sentinel, a user who stays online and
//! available all run long so some answers are known exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::actions::{self, Chooser};
use crate::rng::Rng;
use crate::session::{After, Session, Shared};

/// Runs client `slot` of the phase whose names start with `prefix` until
/// `deadline`, then quits.
pub(crate) fn run(shared: &Arc<Shared>, prefix: char, slot: usize, seed: u64, deadline: Instant) {
    let mut rng = Rng::new(seed, u64::from(prefix) << 32 | slot as u64);
    let mut generation = 0u32;
    while Instant::now() < deadline {
        generation += 1;
        // The label doubles as the login name, unique per connection, so a
        // name identifies one connection for the whole run.
        let label = format!("{prefix}{slot}n{generation}");
        let Ok(mut session) = Session::open(shared, label) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let after = drive(&mut session, &mut rng, shared, deadline);
        let name = session.model.me.clone();
        drop(session);
        if let (After::Closed, Some(name)) = (after, name)
            && rng.chance(25)
            && Instant::now() < deadline
        {
            login_again(shared, &name);
        }
        std::thread::sleep(Duration::from_millis(rng.below(200)));
    }
}

/// Acts until the connection ends or the run does.
fn drive(session: &mut Session, rng: &mut Rng, shared: &Shared, deadline: Instant) -> After {
    let mut next_seq = 0;
    let mut next_token = 0;
    let label = session.label().to_owned();
    loop {
        let action = if Instant::now() >= deadline {
            actions::quit()
        } else {
            let live_name = shared.ledger.live_name(rng.next_u64());
            Chooser {
                rng: &mut *rng,
                model: &session.model,
                sentinel: &shared.sentinel,
                login: &label,
                next_seq: &mut next_seq,
                next_token: &mut next_token,
                label: &label,
                live_name,
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

//! Password hashing: Argon2id, run on the caller's own connection thread
//! with the hub lock released, and never more than a few at once, so a
//! burst of sign-ins or wrong passwords takes at most that many cores from
//! everyone else's chat. Parameters are argon2's defaults (the OWASP
//! recommendation): 19 MiB of memory, 2 passes, 1 lane.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use common::Secret;
use parking_lot::{Condvar, Mutex};

use crate::hub::{Done, Task};

/// Hashes and checks passwords, a bounded number at a time.
#[derive(Debug)]
pub(crate) struct Passwords {
    /// Hashes that may run at once.
    limit: usize,
    running: Mutex<usize>,
    freed: Condvar,
}

/// One running hash's place; given back on drop.
struct Turn<'a>(&'a Passwords);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.running.lock() -= 1;
        self.0.freed.notify_one();
    }
}

impl Passwords {
    /// At most `limit` (at least one) hashes at once.
    pub(crate) fn new(limit: usize) -> Passwords {
        Passwords {
            limit: limit.max(1),
            running: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Half the machine's cores, at least one: the rest keep chatting.
    pub(crate) fn for_this_machine() -> Passwords {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Passwords::new(cores / 2)
    }

    /// Waits for a place among the running hashes.
    fn turn(&self) -> Turn<'_> {
        let mut running = self.running.lock();
        while *running >= self.limit {
            self.freed.wait(&mut running);
        }
        *running += 1;
        Turn(self)
    }

    /// Runs a hub [`Task`] with what the user typed: `typed` holds the
    /// password to check first and the new one last (one password may be
    /// both). Checks, then hashes the new one if the check passed.
    pub(crate) fn run(&self, task: Task, typed: &[Secret]) -> Done {
        let checked = match (&task.check, typed.first()) {
            (Some(hash), Some(password)) => self.verify(password, hash),
            (Some(_), None) => false,
            (None, _) => true,
        };
        let hash = match (task.hash_new, typed.last(), checked) {
            (true, Some(password), true) => self.hash(password),
            _ => None,
        };
        let checked = checked && (!task.hash_new || hash.is_some());
        Done {
            purpose: task.purpose,
            checked,
            hash,
        }
    }

    /// A new hash of `password` with a fresh salt, as a PHC string; `None`
    /// only if Argon2 refuses (it does not for our lengths).
    pub(crate) fn hash(&self, password: &Secret) -> Option<Arc<str>> {
        let _turn = self.turn();
        let salt = SaltString::generate(&mut OsRng);
        match argon2().hash_password(password.expose(), &salt) {
            Ok(hash) => Some(Arc::from(hash.to_string())),
            Err(error) => {
                tracing::error!(%error, "cannot hash a password");
                None
            }
        }
    }

    /// Whether `password` matches the PHC string `hash`. The hash's own
    /// parameters are used, so hashes made with other settings still work.
    pub(crate) fn verify(&self, password: &Secret, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            tracing::error!("a stored password hash cannot be read; nobody can sign in to it");
            return false;
        };
        let _turn = self.turn();
        argon2().verify_password(password.expose(), &parsed).is_ok()
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_checks_its_password_and_no_other() {
        let passwords = Passwords::new(1);
        let hash = passwords.hash(&Secret::new("correct horse")).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(passwords.verify(&Secret::new("correct horse"), &hash));
        assert!(!passwords.verify(&Secret::new("correct hors"), &hash));
        assert!(!passwords.verify(&Secret::new("correct horse"), "not a hash"));
        let again = passwords.hash(&Secret::new("correct horse")).unwrap();
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[test]
    fn no_more_than_the_limit_run_at_once() {
        let passwords = Arc::new(Passwords::new(2));
        let peak = Arc::new(Mutex::new((0usize, 0usize)));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let passwords = Arc::clone(&passwords);
                let peak = Arc::clone(&peak);
                std::thread::spawn(move || {
                    let _turn = passwords.turn();
                    let mut counts = peak.lock();
                    counts.0 += 1;
                    counts.1 = counts.1.max(counts.0);
                    drop(counts);
                    let _ = passwords.hash_unbounded_for_test();
                    peak.lock().0 -= 1;
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(peak.lock().1 <= 2);
    }

    impl Passwords {
        /// Some real work while holding a turn.
        fn hash_unbounded_for_test(&self) -> bool {
            let salt = SaltString::generate(&mut OsRng);
            argon2().hash_password(b"work work", &salt).is_ok()
        }
    }
}

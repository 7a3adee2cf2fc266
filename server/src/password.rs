//! Password hashing: Argon2id, run on the caller's own connection thread
//! with the hub lock released, and never more than a few at once, so a
//! burst of sign-ins or wrong passwords takes at most that many cores from
//! everyone else's chat. Parameters are argon2's defaults (the OWASP
//! recommendation): 19 MiB of memory, 2 passes, 1 lane.
//!
//! Each place among the running hashes keeps its 19 MiB of Argon2 memory
//! for the next hash. Allocated per hash, it was not given back: glibc
//! raises its mmap threshold after the first large free, so every thread
//! that hashed kept 19 MiB in its own arena, and a client could grow the
//! server by 19 MiB per connection with one wrong password each.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use common::Secret;
use parking_lot::{Condvar, Mutex};

use crate::hub::{Done, Task};

/// Hashes and checks passwords, a bounded number at a time.
#[derive(Debug)]
pub(crate) struct Passwords {
    /// Hashes that may run at once.
    limit: usize,
    /// How many run now, and the Argon2 memory of the places not in use.
    places: Mutex<Places>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Places {
    running: usize,
    memories: Vec<Vec<Block>>,
}

/// One running hash's place and its memory; given back on drop.
struct Turn<'a> {
    passwords: &'a Passwords,
    memory: Vec<Block>,
}

impl Turn<'_> {
    /// Memory for `params`: this place's own, grown to the default size
    /// once; a larger (stored, unusual) setting gets memory of its own.
    fn memory(&mut self, params: &Params) -> Result<&mut [Block], argon2::Error> {
        let blocks = params.block_count();
        if blocks > KEPT_BLOCKS {
            return Err(argon2::Error::MemoryTooMuch);
        }
        if self.memory.len() < blocks {
            self.memory.resize(blocks, Block::new());
        }
        Ok(&mut self.memory[..blocks])
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut places = self.passwords.places.lock();
        places.running -= 1;
        places.memories.push(std::mem::take(&mut self.memory));
        drop(places);
        self.passwords.freed.notify_one();
    }
}

/// The most Argon2 memory a place keeps (and a stored hash may ask for):
/// four times the default, 76 MiB.
const KEPT_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

impl Passwords {
    /// At most `limit` (at least one) hashes at once.
    pub(crate) fn new(limit: usize) -> Passwords {
        Passwords {
            limit: limit.max(1),
            places: Mutex::new(Places::default()),
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
        let mut places = self.places.lock();
        while places.running >= self.limit {
            self.freed.wait(&mut places);
        }
        places.running += 1;
        let memory = places.memories.pop().unwrap_or_default();
        Turn {
            passwords: self,
            memory,
        }
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
        let mut turn = self.turn();
        let salt = SaltString::generate(&mut OsRng);
        match hash_with(&mut turn, password.expose(), &salt) {
            Ok(hash) => Some(Arc::from(hash)),
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
        let mut turn = self.turn();
        match verify_with(&mut turn, password.expose(), &parsed) {
            Ok(matches) => matches,
            Err(error) => {
                tracing::error!(%error, "a stored password hash cannot be checked");
                false
            }
        }
    }
}

/// Argon2id with the default parameters, into the turn's memory, as a PHC
/// string (what `PasswordHasher::hash_password` makes).
fn hash_with(
    turn: &mut Turn<'_>,
    password: &[u8],
    salt: &SaltString,
) -> password_hash::Result<String> {
    let params = Params::DEFAULT;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let memory = turn.memory(&params)?;
    let output = Output::init_with(output_len, |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut *memory)?)
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` gives `hash` with the hash's own algorithm,
/// version, parameters and salt, computed in the turn's memory (what
/// `PasswordVerifier::verify_password` does; the comparison takes the
/// same time whatever matches).
fn verify_with(
    turn: &mut Turn<'_>,
    password: &[u8],
    hash: &PasswordHash<'_>,
) -> password_hash::Result<bool> {
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(hash)?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let memory = turn.memory(&params)?;
    let output = Output::init_with(expected.len(), |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut *memory)?)
    })?;
    Ok(output == expected)
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
                    let _ = argon2_for_test();
                    peak.lock().0 -= 1;
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(peak.lock().1 <= 2);
    }

    /// Some real work while holding a turn.
    fn argon2_for_test() -> bool {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"work work", &salt).is_ok()
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_itself_still_check() {
        use argon2::password_hash::PasswordHasher as _;
        let passwords = Passwords::new(1);
        let salt = SaltString::generate(&mut OsRng);
        // Other parameters than ours, as an older or hand-made hash has.
        let params = Params::new(8 * 1024, 3, 1, None).unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let hash = other.hash_password(b"old one", &salt).unwrap().to_string();
        assert!(passwords.verify(&Secret::new("old one"), &hash));
        assert!(!passwords.verify(&Secret::new("old two"), &hash));
        // And ours verify with the crate's own verifier.
        use argon2::password_hash::PasswordVerifier as _;
        let ours = passwords.hash(&Secret::new("new one")).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"new one", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn each_place_keeps_its_memory_for_the_next_hash() {
        let passwords = Passwords::new(1);
        for _ in 0..3 {
            assert!(passwords.hash(&Secret::new("correct horse")).is_some());
        }
        let places = passwords.places.lock();
        assert_eq!(places.memories.len(), 1, "one place, one memory");
        assert_eq!(places.memories[0].len(), Params::DEFAULT_M_COST as usize);
    }
}

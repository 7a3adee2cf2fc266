//! Password hashing: Argon2id on a few threads of its own, never more
//! than that at once, so a burst of sign-ins or wrong passwords takes at
//! most that many cores from everyone else's chat. Parameters are argon2's
//! defaults (the OWASP recommendation): 19 MiB of memory, 2 passes, 1
//! lane. The connection that asked waits for the answer with the hub lock
//! released.
//!
//! The hashing threads run at the normal priority. A lower one (nice 10
//! or 19) halved the chat's p99 during a wrong-password flood, but let any
//! other busy process on the machine starve sign-ins for seconds to a
//! minute (docs/performance.md, "Chat latency during a password flood").
//!
//! Each hashing thread keeps its 19 MiB of Argon2 memory for the next
//! hash. Allocated per hash, it was not given back: glibc raises its mmap
//! threshold after the first large free, so every thread that hashed kept
//! 19 MiB in its own arena, and a client could grow the server by 19 MiB
//! per connection with one wrong password each.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use common::Secret;
use crossbeam_channel::{Receiver, Sender};

use crate::hub::{Done, Task};

/// Hashes and checks passwords on a bounded number of threads.
#[derive(Debug)]
pub(crate) struct Passwords {
    /// Work for the hashing threads; `None` if none could be started.
    jobs: Option<Sender<Job>>,
}

/// One piece of work, given the hashing thread's Argon2 memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A hashing thread's Argon2 memory, kept from hash to hash.
#[derive(Debug, Default)]
struct Memory(Vec<Block>);

impl Memory {
    /// Memory for `params`: this thread's own, grown to the default size
    /// once; a larger (stored, unusual) setting is refused.
    fn for_params(&mut self, params: &Params) -> Result<&mut [Block], argon2::Error> {
        let blocks = params.block_count();
        if blocks > KEPT_BLOCKS {
            return Err(argon2::Error::MemoryTooMuch);
        }
        if self.0.len() < blocks {
            self.0.resize(blocks, Block::new());
        }
        Ok(&mut self.0[..blocks])
    }
}

/// The most Argon2 memory a hashing thread keeps (and a stored hash may
/// ask for): four times the default, 76 MiB.
const KEPT_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

/// A hashing thread's stack: Argon2's memory is on the heap.
const STACK_BYTES: usize = 256 * 1024;

impl Passwords {
    /// `limit` (at least one) hashing threads.
    pub(crate) fn new(limit: usize) -> Passwords {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let started = (0..limit.max(1))
            .filter(|i| {
                let queue = queue.clone();
                let spawned = thread::Builder::new()
                    .name(format!("password-{i}"))
                    .stack_size(STACK_BYTES)
                    .spawn(move || serve(&queue));
                if let Err(error) = &spawned {
                    tracing::error!(%error, "cannot start a password-hashing thread");
                }
                spawned.is_ok()
            })
            .count();
        Passwords {
            jobs: (started > 0).then_some(jobs),
        }
    }

    /// Half the machine's cores, at least one: the rest keep chatting.
    pub(crate) fn for_this_machine() -> Passwords {
        let cores = thread::available_parallelism().map_or(1, usize::from);
        Passwords::new(cores / 2)
    }

    /// Runs `work` on a hashing thread and waits for its answer; `None` if
    /// no hashing thread could take it (none started, or the work panicked).
    fn on_hashing_thread<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> R + Send + 'static,
    ) -> Option<R> {
        let (answer_tx, answer_rx) = crossbeam_channel::bounded(1);
        let job: Job = Box::new(move |memory| {
            let _ = answer_tx.send(work(memory));
        });
        self.jobs.as_ref()?.send(job).ok()?;
        answer_rx.recv().ok()
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
    /// only if Argon2 refuses (it does not for our lengths) or no hashing
    /// thread runs.
    pub(crate) fn hash(&self, password: &Secret) -> Option<Arc<str>> {
        let password = password.clone();
        let hashed = self.on_hashing_thread(move |memory| {
            let salt = SaltString::generate(&mut OsRng);
            hash_with(memory, password.expose(), &salt)
        });
        match hashed {
            Some(Ok(hash)) => Some(Arc::from(hash)),
            Some(Err(error)) => {
                tracing::error!(%error, "cannot hash a password");
                None
            }
            None => {
                tracing::error!("no password-hashing thread answered");
                None
            }
        }
    }

    /// Whether `password` matches the PHC string `hash`. The hash's own
    /// parameters are used, so hashes made with other settings still work.
    pub(crate) fn verify(&self, password: &Secret, hash: &str) -> bool {
        if PasswordHash::new(hash).is_err() {
            tracing::error!("a stored password hash cannot be read; nobody can sign in to it");
            return false;
        }
        let password = password.clone();
        let hash = hash.to_owned();
        let checked = self.on_hashing_thread(move |memory| {
            let parsed = PasswordHash::new(&hash)?;
            verify_with(memory, password.expose(), &parsed)
        });
        match checked {
            Some(Ok(matches)) => matches,
            Some(Err(error)) => {
                tracing::error!(%error, "a stored password hash cannot be checked");
                false
            }
            None => {
                tracing::error!("no password-hashing thread answered");
                false
            }
        }
    }
}

/// A hashing thread: does the work it is given until the server drops
/// its [`Passwords`].
fn serve(queue: &Receiver<Job>) {
    let mut memory = Memory::default();
    for job in queue {
        // A panic drops the job's answer channel (its caller gets `None`)
        // and must not take the thread, or the memory it may have left
        // half-written, with it.
        if catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
            memory = Memory::default();
        }
    }
}

/// Argon2id with the default parameters, into the thread's memory, as a PHC
/// string (what `PasswordHasher::hash_password` makes).
fn hash_with(
    memory: &mut Memory,
    password: &[u8],
    salt: &SaltString,
) -> password_hash::Result<String> {
    let params = Params::DEFAULT;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let memory = memory.for_params(&params)?;
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
/// version, parameters and salt, computed in the thread's memory (what
/// `PasswordVerifier::verify_password` does; the comparison takes the
/// same time whatever matches).
fn verify_with(
    memory: &mut Memory,
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
    let memory = memory.for_params(&params)?;
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
        let counts = Arc::new(parking_lot::Mutex::new((0usize, 0usize)));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let passwords = Arc::clone(&passwords);
                let counts = Arc::clone(&counts);
                std::thread::spawn(move || {
                    passwords.on_hashing_thread(move |_| {
                        let mut now = counts.lock();
                        now.0 += 1;
                        now.1 = now.1.max(now.0);
                        drop(now);
                        let worked = argon2_for_test();
                        counts.lock().0 -= 1;
                        worked
                    })
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), Some(true));
        }
        let (running, peak) = *counts.lock();
        assert_eq!(running, 0);
        assert!((1..=2).contains(&peak), "{peak} ran at once");
    }

    /// Some real work on a hashing thread.
    fn argon2_for_test() -> bool {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"work work", &salt).is_ok()
    }

    #[test]
    fn a_panic_in_the_work_is_a_failed_check_and_the_thread_goes_on() {
        let passwords = Passwords::new(1);
        let answer: Option<()> = passwords.on_hashing_thread(|_| panic!("work that fails"));
        assert_eq!(answer, None);
        let hash = passwords.hash(&Secret::new("still here")).unwrap();
        assert!(passwords.verify(&Secret::new("still here"), &hash));
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
    fn a_hashing_thread_keeps_its_memory_for_the_next_hash() {
        let passwords = Passwords::new(1);
        let address =
            || passwords.on_hashing_thread(|memory| (memory.0.as_ptr() as usize, memory.0.len()));
        assert!(passwords.hash(&Secret::new("correct horse")).is_some());
        let first = address().unwrap();
        for _ in 0..3 {
            assert!(passwords.hash(&Secret::new("correct horse")).is_some());
        }
        assert_eq!(
            first.1,
            Params::DEFAULT_M_COST as usize,
            "one default-sized memory"
        );
        assert_eq!(address(), Some(first), "the same memory, not a new one");
    }
}

//! A bounded, memory-only pool of pre-generated RSA-3072 keys for server-side key generation.
//!
//! Why: an RSA-3072 key takes a prime search whose time varies a lot (tens to hundreds of
//! milliseconds, with a long tail), and that tail is what a holder waiting for a PKCS#12
//! sees. The pool moves the search off the request path: a request takes a ready key, and a
//! background thread at the lowest CPU priority (nice 19) makes new ones, so it only gets
//! the CPU the requests leave idle. EC keys take microseconds and are never pooled.
//!
//! Secrecy: keys live only in this process's memory as [`GeneratedKey`] (its PKCS#8 bytes
//! are zeroized when dropped, including the keys still pooled when the server stops); they
//! are never written anywhere and never logged. A key is removed from the pool when it is
//! taken, so no key is ever handed out twice.
//!
//! Lazy: the refill thread starts with the first RSA-3072 key taken, so a process that never
//! generates RSA keys (a CLI command, a test server issuing from CSRs) spends nothing on it.
//!
//! The AWS composition has no pool: a Lambda invocation's environment may be frozen or
//! dropped between requests, so nothing is generated "when idle"; each server-keygen
//! issuance generates its key inline (see `bench/run`'s keygen section for the figure).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{generate_key, GeneratedKey, KeyAlgorithm, PkiError};

/// Default number of RSA-3072 keys kept ready (`ORGCERT_KEY_POOL`).
pub const DEFAULT_KEY_POOL: usize = 4;

/// The pool; share it with `Arc`. Dropping the last handle stops the refill thread.
pub struct KeyPool {
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    /// nice 19 for the refill thread (off only in unit tests, whose bounded waits must not
    /// depend on how busy the machine running them is).
    low_priority: bool,
    state: Mutex<State>,
    /// Signalled when a key is taken (the refill thread wakes) and when one is added.
    changed: Condvar,
    stop: AtomicBool,
    generated: AtomicU64,
    taken: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: Vec<GeneratedKey>,
    started: bool,
}

/// Counters of a pool, for tests and benches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPoolStats {
    /// Keys ready now.
    pub ready: usize,
    /// Keys the refill thread has generated so far.
    pub generated: u64,
    /// Keys handed out so far.
    pub taken: u64,
}

impl KeyPool {
    /// A pool holding up to `capacity` RSA-3072 keys; 0 disables it (every key is
    /// generated on the request path).
    pub fn new(capacity: usize) -> Self {
        Self::with_priority(capacity, true)
    }

    fn with_priority(capacity: usize, low_priority: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                capacity,
                low_priority,
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
                stop: AtomicBool::new(false),
                generated: AtomicU64::new(0),
                taken: AtomicU64::new(0),
            }),
        }
    }

    /// The configured capacity.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// A key for `alg`: a pooled one when ready, else one generated now (on the caller's
    /// thread). Taking a key wakes the refill thread (started on first use).
    ///
    /// # Errors
    /// `Encoding` if the crypto library fails to generate a key (it should not).
    pub fn take(&self, alg: KeyAlgorithm) -> Result<GeneratedKey, PkiError> {
        if alg != KeyAlgorithm::Rsa3072 || self.shared.capacity == 0 {
            return generate_key(alg);
        }
        let pooled = {
            let mut state = self.shared.lock();
            if !state.started {
                state.started = true;
                self.start_refill();
            }
            state.keys.pop()
        };
        self.shared.changed.notify_all();
        match pooled {
            Some(key) => {
                self.shared.taken.fetch_add(1, Ordering::Relaxed);
                Ok(key)
            }
            None => generate_key(alg),
        }
    }

    /// Starts the refill thread now instead of at the first key taken (a server that
    /// expects RSA server-keygen traffic, or a bench that wants a full pool).
    pub fn warm(&self) {
        if self.shared.capacity == 0 {
            return;
        }
        let mut state = self.shared.lock();
        if !state.started {
            state.started = true;
            self.start_refill();
        }
    }

    /// Current counters.
    pub fn stats(&self) -> KeyPoolStats {
        KeyPoolStats {
            ready: self.shared.lock().keys.len(),
            generated: self.shared.generated.load(Ordering::Relaxed),
            taken: self.shared.taken.load(Ordering::Relaxed),
        }
    }

    /// Waits (on the pool's condition variable, at most `timeout`) until at least `ready`
    /// keys are pooled; returns whether they are.
    pub fn wait_ready(&self, ready: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.keys.len() < ready {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.shared.changed.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    fn start_refill(&self) {
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("orgcert-key-pool".into())
            .spawn(move || shared.refill());
        if let Err(e) = spawned {
            // Not fatal: every key is then generated on the request path.
            tracing::warn!(error = %e, "key pool: no refill thread");
        }
    }
}

impl Drop for KeyPool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Drop the pooled keys now (zeroized); the thread exits at its next check.
        self.shared.lock().keys.clear();
        self.shared.changed.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the Vec half-updated.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refill(&self) {
        if self.low_priority {
            lower_priority();
        }
        loop {
            {
                let mut state = self.lock();
                while state.keys.len() >= self.capacity && !self.stop.load(Ordering::Relaxed) {
                    state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            // Generated without the lock held: takers never wait for the prime search.
            match generate_key(KeyAlgorithm::Rsa3072) {
                Ok(key) => {
                    self.generated.fetch_add(1, Ordering::Relaxed);
                    let mut state = self.lock();
                    if state.keys.len() < self.capacity && !self.stop.load(Ordering::Relaxed) {
                        state.keys.push(key);
                    }
                    drop(state);
                    self.changed.notify_all();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "key pool: generation failed; refill stops");
                    return;
                }
            }
        }
    }
}

/// nice 19 for this thread only (Linux `setpriority(PRIO_PROCESS, tid)` acts on one
/// thread): the scheduler then gives it the CPU only when requests leave it idle.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        tracing::debug!(error = %e, "key pool: could not lower the refill thread's priority");
    }
}

#[cfg(test)]
impl KeyPool {
    /// A pool whose refill thread keeps normal priority (tests on a loaded machine).
    pub(crate) fn for_tests(capacity: usize) -> Self {
        Self::with_priority(capacity, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const WAIT: Duration = Duration::from_secs(120);

    #[test]
    fn size_zero_generates_on_the_caller_thread_and_starts_nothing() {
        let pool = KeyPool::for_tests(0);
        pool.warm();
        let key = pool.take(KeyAlgorithm::Rsa3072).unwrap();
        assert_eq!(key.public().algorithm(), KeyAlgorithm::Rsa3072);
        assert_eq!(
            pool.stats(),
            KeyPoolStats {
                ready: 0,
                generated: 0,
                taken: 0
            }
        );
        assert!(!pool.wait_ready(1, Duration::from_millis(1)));
    }

    #[test]
    fn ec_keys_are_never_pooled() {
        let pool = KeyPool::for_tests(2);
        let key = pool.take(KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!(key.public().algorithm(), KeyAlgorithm::EcdsaP256);
        assert_eq!(pool.stats().generated, 0);
        assert!(!pool.shared.lock().started, "no refill thread for EC keys");
    }

    #[test]
    fn the_pool_refills_and_never_hands_a_key_out_twice() {
        let pool = Arc::new(KeyPool::for_tests(3));
        pool.warm();
        assert!(pool.wait_ready(3, WAIT), "refilled to capacity");
        assert_eq!(pool.stats().ready, 3);
        // Bounded: the thread stops at capacity.
        assert_eq!(pool.stats().generated, 3);

        // Six takers in parallel: three get pooled keys, the rest generate their own;
        // every modulus differs.
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    let pool = Arc::clone(&pool);
                    s.spawn(move || {
                        pool.take(KeyAlgorithm::Rsa3072)
                            .unwrap()
                            .public()
                            .spki_der()
                            .to_vec()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 6);
        assert!(pool.stats().taken >= 3, "the three pooled keys were used");
        // Taking woke the refill thread: back to capacity.
        assert!(pool.wait_ready(3, WAIT), "refilled after taking");
        assert!(pool.stats().generated >= 6);
    }
}

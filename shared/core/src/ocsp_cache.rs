//! A process-local copy of the pre-signed OCSP records a store holds, so that a status
//! query is answered from memory instead of a database read (issue 15: OCSP at a few µs of
//! CPU per answer).
//!
//! Stores own one and keep it coherent with their own commits: every commit that may
//! change a certificate's OCSP record (its `PutOcsp`, or any write of the certificate,
//! the revocation included) invalidates that serial *after* the commit returned and
//! before the commit's caller is answered. A read that raced with such a commit cannot
//! put the older record back: inserts carry the invalidation epoch read before the
//! store was read, and one taken before an invalidation is refused. So, within one
//! process, the next query after a revocation returns sees the revoked record (DESIGN
//! §5a). Writes by other processes (the `orgcert job run` CLI, other Lambdas) are not
//! seen; the time-to-live bounds how long an entry can miss them, and callers still
//! check a record's thisUpdate/nextUpdate against their clock before serving it.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::ids::Serial;
use crate::model::OcspRecord;
use crate::ports::Write;

/// Entries kept at most by default: a pre-signed record is about 2 KiB (two responses
/// with the responder certificate), so this bounds the cache near 40 MiB.
pub const DEFAULT_MAX_ENTRIES: usize = 20_000;

/// The variable that sets the time-to-live in seconds (0 turns the cache off).
pub const TTL_VARIABLE: &str = "ORGCERT_OCSP_CACHE_SECONDS";
/// The longest time-to-live accepted: the `max-age` HTTP caches are allowed anyway.
pub const MAX_TTL: Duration = Duration::from_secs(60);

/// The time-to-live from [`TTL_VARIABLE`], `default` when unset.
///
/// # Errors
/// A message naming the variable for anything but whole seconds in 0..=60.
pub fn ttl_from_env(default: Duration) -> Result<Duration, String> {
    match std::env::var(TTL_VARIABLE) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
            Ok(n) if Duration::from_secs(n) <= MAX_TTL => Ok(Duration::from_secs(n)),
            _ => Err(format!(
                "{TTL_VARIABLE}: {v:?} is not a number of seconds in 0..=60"
            )),
        },
        _ => Ok(default),
    }
}

/// Pre-signed OCSP records by serial, with an invalidation epoch (see the module docs).
pub struct OcspCache {
    ttl: Duration,
    max_entries: usize,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    epoch: u64,
    map: HashMap<Serial, (Instant, OcspRecord)>,
}

impl std::fmt::Debug for OcspCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcspCache")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl OcspCache {
    /// A cache whose entries live at most `ttl` and that holds at most `max_entries`
    /// (either zero: disabled, every read goes to the store).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            inner: RwLock::default(),
        }
    }

    /// A cache that keeps nothing.
    pub fn disabled() -> Self {
        Self::new(Duration::ZERO, 0)
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0
    }

    /// The cached record of `serial`, if one younger than the time-to-live is held.
    pub fn get(&self, serial: &Serial) -> Option<OcspRecord> {
        if !self.enabled() {
            return None;
        }
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let (at, rec) = inner.map.get(serial)?;
        (at.elapsed() < self.ttl).then(|| rec.clone())
    }

    /// The invalidation epoch: read it *before* reading the store, and pass it to
    /// [`OcspCache::insert`].
    pub fn epoch(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .epoch
    }

    /// Keeps `rec`, read from the store after [`OcspCache::epoch`] returned `seen`,
    /// unless a commit invalidated anything since (then it may be older than the store).
    pub fn insert(&self, rec: &OcspRecord, seen: u64) {
        if !self.enabled() {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.epoch != seen {
            return;
        }
        if inner.map.len() >= self.max_entries && !inner.map.contains_key(&rec.serial) {
            // Bounded memory: drop the expired entries, else any one.
            let ttl = self.ttl;
            inner.map.retain(|_, (at, _)| at.elapsed() < ttl);
            if inner.map.len() >= self.max_entries {
                if let Some(k) = inner.map.keys().next().cloned() {
                    inner.map.remove(&k);
                }
            }
        }
        inner
            .map
            .insert(rec.serial.clone(), (Instant::now(), rec.clone()));
    }

    /// The certificates whose OCSP record `writes` may change.
    pub fn touched(writes: &[Write]) -> Vec<Serial> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::PutOcsp(rec) => Some(rec.serial.clone()),
                Write::PutCertificate { cert, .. } => Some(cert.serial.clone()),
                Write::DeleteCertificate { serial, .. } => Some(serial.clone()),
                _ => None,
            })
            .collect()
    }

    /// Forgets the records of `serials` (from [`OcspCache::touched`]); call it after the
    /// commit of their writes returned, whatever its outcome (a failed commit may still
    /// have applied, e.g. after a timeout).
    pub fn invalidate(&self, serials: &[Serial]) {
        if serials.is_empty() {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.epoch += 1;
        for s in serials {
            inner.map.remove(s);
        }
    }

    /// Invalidates the records `writes` touch when the returned guard is dropped: at the
    /// end of the commit, or when the commit's future is dropped mid-flight (a caller that
    /// went away), since the transaction may have applied all the same.
    pub fn invalidate_on_drop(&self, writes: &[Write]) -> InvalidateOnDrop<'_> {
        InvalidateOnDrop {
            cache: self,
            serials: Self::touched(writes),
        }
    }
}

/// See [`OcspCache::invalidate_on_drop`].
#[must_use = "the records are invalidated when this is dropped"]
pub struct InvalidateOnDrop<'a> {
    cache: &'a OcspCache,
    serials: Vec<Serial>,
}

impl Drop for InvalidateOnDrop<'_> {
    fn drop(&mut self) {
        self.cache.invalidate(&self.serials);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CertStatus;
    use time::macros::datetime;

    fn rec(serial: &str, status: CertStatus) -> OcspRecord {
        OcspRecord {
            serial: Serial::parse(serial).unwrap(),
            status,
            sha1: vec![1].into(),
            sha256: vec![2].into(),
            this_update: datetime!(2026-01-01 0:00 UTC),
            next_update: datetime!(2026-01-04 0:00 UTC),
        }
    }

    #[test]
    fn an_insert_read_before_an_invalidation_is_refused() {
        let cache = OcspCache::new(Duration::from_secs(60), 10);
        let good = rec("0a0b", CertStatus::Issued);
        let seen = cache.epoch();
        // A commit (the revocation) lands between the reader's store read and its insert.
        cache.invalidate(&OcspCache::touched(&[Write::PutOcsp(rec(
            "0a0b",
            CertStatus::Revoked,
        ))]));
        cache.insert(&good, seen);
        assert!(cache.get(&good.serial).is_none());
        // A read after the commit is kept.
        let revoked = rec("0a0b", CertStatus::Revoked);
        cache.insert(&revoked, cache.epoch());
        assert_eq!(cache.get(&good.serial).unwrap().status, CertStatus::Revoked);
    }

    #[test]
    fn a_commit_removes_the_entry_of_the_certificate_it_writes() {
        let cache = OcspCache::new(Duration::from_secs(60), 10);
        let good = rec("0a0c", CertStatus::Issued);
        cache.insert(&good, cache.epoch());
        assert!(cache.get(&good.serial).is_some());
        cache.invalidate(&OcspCache::touched(&[Write::DeleteSecret {
            hash: "x".into(),
        }]));
        assert!(
            cache.get(&good.serial).is_some(),
            "unrelated writes keep it"
        );
        cache.invalidate(&OcspCache::touched(&[Write::DeleteCertificate {
            serial: good.serial.clone(),
            expected: 1,
        }]));
        assert!(cache.get(&good.serial).is_none());
    }

    #[test]
    fn an_abandoned_commit_still_invalidates() {
        let cache = OcspCache::new(Duration::from_secs(60), 10);
        let good = rec("0a0e", CertStatus::Issued);
        cache.insert(&good, cache.epoch());
        let writes = [Write::PutOcsp(rec("0a0e", CertStatus::Revoked))];
        // A commit future that never completes (its caller went away) is dropped.
        let commit = async {
            let _invalidate = cache.invalidate_on_drop(&writes);
            std::future::pending::<()>().await;
        };
        drop(commit);
        assert!(
            cache.get(&good.serial).is_some(),
            "an unpolled future did nothing"
        );
        let mut commit = Box::pin(async {
            let _invalidate = cache.invalidate_on_drop(&writes);
            std::future::pending::<()>().await;
        });
        use std::future::Future as _;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(commit.as_mut().poll(&mut cx).is_pending());
        assert!(cache.get(&good.serial).is_some(), "still in flight");
        drop(commit);
        assert!(
            cache.get(&good.serial).is_none(),
            "dropped mid-flight: invalidated"
        );
    }

    #[test]
    fn disabled_and_full_caches_stay_bounded() {
        let off = OcspCache::disabled();
        let r = rec("0a0d", CertStatus::Issued);
        off.insert(&r, off.epoch());
        assert!(off.get(&r.serial).is_none());
        let small = OcspCache::new(Duration::from_secs(60), 2);
        for s in ["01", "02", "03", "04"] {
            small.insert(&rec(s, CertStatus::Issued), small.epoch());
        }
        assert_eq!(small.inner.read().unwrap().map.len(), 2);
        assert!(small.get(&Serial::parse("04").unwrap()).is_some());
    }
}

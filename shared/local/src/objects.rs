//! [`FsObjects`]: PKCS#12 files in the data directory behind HMAC-signed expiring links,
//! the embedded stand-in for a private S3 bucket with presigned GETs.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use crate::fsutil;
use orgcert_core::clock::{Clock, SystemClock};
use orgcert_core::error::{DomainError, Result};
use orgcert_core::ports::Objects;
use orgcert_core::secret::{ExposeSecret as _, SecretBox};

type HmacSha256 = Hmac<Sha256>;

/// Length of the link-signing key in `link.key`.
const KEY_LEN: usize = 32;
/// Longest accepted object key.
const MAX_KEY_LEN: usize = 512;

/// Why a download link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The key is not one [`FsObjects`] would store (traversal, odd characters).
    #[error("the object key is not valid")]
    BadKey,
    /// The signature does not match the key and expiry (tampered or foreign link).
    #[error("the link signature does not match")]
    BadSignature,
    /// The link was genuine but its time is up.
    #[error("the link has expired")]
    Expired,
    /// The link was genuine but the object is gone (deleted or cleaned up).
    #[error("the object does not exist")]
    NotFound,
    /// The file could not be read.
    #[error("object storage unavailable: {0}")]
    Unavailable(String),
}

/// Files under `<data dir>/objects/<key>`, served by `/_local/objects/<key>` links.
#[derive(Clone)]
pub struct FsObjects {
    root: PathBuf,
    public_url: String,
    /// The link-signing key: never printed, zeroized on drop.
    secret: Arc<SecretBox<[u8; KEY_LEN]>>,
    /// Stamps each written file (and its directory) as its modification time, so that
    /// purge compares times of one clock: the one whose `now` computes the cutoff.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for FsObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsObjects")
            .field("root", &self.root)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Keys are relative paths of segments made of `[A-Za-z0-9._-]`, each starting with a
/// letter or digit: no `..`, no absolute paths, no hidden or temporary files.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.split('/').all(|seg| {
            seg.len() <= 255
                && seg
                    .as_bytes()
                    .first()
                    .is_some_and(u8::is_ascii_alphanumeric)
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

fn bad_key(key: &str) -> DomainError {
    DomainError::Internal(format!("object key {key:?} is not allowed"))
}

fn unavailable(what: &str, e: io::Error) -> DomainError {
    DomainError::Unavailable(format!("{what}: {e}"))
}

/// Reads the link key, or creates it (0600) on first use. Concurrent first users
/// (server and CLI) agree on one key because creation never overwrites.
fn load_or_create_secret(path: &Path) -> Result<[u8; KEY_LEN]> {
    let read = |path: &Path| -> Result<[u8; KEY_LEN]> {
        let bytes = std::fs::read(path)
            .map_err(|e| unavailable(&format!("cannot read {}", path.display()), e))?;
        warn_if_shared(path);
        <[u8; KEY_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            DomainError::Internal(format!(
                "{} must hold exactly {KEY_LEN} bytes; delete it to make a new one (old links stop working)",
                path.display()
            ))
        })
    };
    if path.exists() {
        return read(path);
    }
    let mut key = [0u8; KEY_LEN];
    OsRng.fill_bytes(&mut key);
    match fsutil::write_new_atomic(path, &key) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(unavailable(&format!("cannot create {}", path.display()), e)),
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path) {
        if m.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "link key is readable by others; chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

impl FsObjects {
    /// Uses `<data_dir>/objects` and the link key `<data_dir>/link.key` (created on
    /// first use); links start with `public_url` (the local server's base URL).
    ///
    /// # Errors
    /// `Unavailable` when the directory or key cannot be created or read; `Internal`
    /// for a key file of the wrong size.
    pub fn new(data_dir: &Path, public_url: &str) -> Result<Self> {
        let root = data_dir.join("objects");
        fsutil::create_private_dir(&root)
            .map_err(|e| unavailable(&format!("cannot create {}", root.display()), e))?;
        let secret = load_or_create_secret(&data_dir.join("link.key"))?;
        Ok(Self {
            root,
            public_url: public_url.trim_end_matches('/').to_owned(),
            secret: Arc::new(SecretBox::new(Box::new(secret))),
            clock: Arc::new(SystemClock),
        })
    }

    /// Stamps written files with `clock`'s time instead of the wall clock's: give it the
    /// application's clock, whose `now` also computes the purge cutoff.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(bad_key(key));
        }
        Ok(self.root.join(key))
    }

    fn mac(&self, key: &str, expires: i64) -> HmacSha256 {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.secret.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Hex HMAC-SHA256 over `key + "\n" + expires`.
    fn signature(&self, key: &str, expires: i64) -> String {
        hex::encode(self.mac(key, expires).finalize().into_bytes())
    }

    /// Checks a link's parts and returns the object's bytes: the signature first (in
    /// constant time), then the expiry, then the file.
    ///
    /// # Errors
    /// `BadKey`, `BadSignature` (tampered key, expiry or signature), `Expired` once
    /// `now` reaches `expires`, `NotFound`, `Unavailable`.
    pub async fn verify(
        &self,
        key: &str,
        expires: i64,
        sig: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, LinkError> {
        if !valid_key(key) {
            return Err(LinkError::BadKey);
        }
        let sig = hex::decode(sig).map_err(|_| LinkError::BadSignature)?;
        self.mac(key, expires)
            .verify_slice(&sig)
            .map_err(|_| LinkError::BadSignature)?;
        if now.unix_timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        let path = self.root.join(key);
        tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| LinkError::Unavailable(e.to_string()))?
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => LinkError::NotFound,
                _ => LinkError::Unavailable(e.to_string()),
            })
    }

    /// Removes objects (and stale temporary files) last modified before `cutoff`;
    /// returns how many files were removed. For housekeeping, like an S3 lifecycle rule.
    /// An object's modification time is its write time on this store's clock
    /// ([`FsObjects::with_clock`]); a temporary file left by a crashed write keeps the
    /// file system's time.
    ///
    /// # Errors
    /// `Unavailable` when the directory cannot be read.
    pub async fn delete_older_than(&self, cutoff: OffsetDateTime) -> Result<usize> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || sweep(&root, cutoff))
            .await
            .map_err(|e| DomainError::Internal(format!("housekeeping task failed: {e}")))?
            .map_err(|e| unavailable("cannot clean up objects", e))
    }
}

fn sweep(dir: &Path, cutoff: OffsetDateTime) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            removed += sweep(&entry.path(), cutoff)?;
            // One directory per issuance attempt (`p12/{attempt}/`): drop it once empty
            // and untouched since the cutoff. A fresh one may be about to get its file
            // (ids are unique, so an old one never is); a non-empty one stays anyway.
            let idle = std::fs::metadata(entry.path())
                .and_then(|m| m.modified())
                .is_ok_and(|t| OffsetDateTime::from(t) < cutoff);
            if idle {
                let _ = std::fs::remove_dir(entry.path());
            }
        } else if meta.is_file() && OffsetDateTime::from(meta.modified()?) < cutoff {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[async_trait]
impl Objects for FsObjects {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<()> {
        // The content type is not kept: the local route serves by extension.
        let path = self.path_of(key)?;
        let what = format!("cannot store object {key}");
        let written = std::time::SystemTime::from(self.clock.now());
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                fsutil::create_private_dir(dir)?;
            }
            fsutil::write_atomic(&path, &bytes)?;
            // The write time on the injected clock (see `delete_older_than`); the
            // directory too, as purge drops an attempt's directory once it is idle.
            std::fs::File::options()
                .write(true)
                .open(&path)?
                .set_modified(written)?;
            if let Some(dir) = path.parent() {
                let _ = std::fs::File::open(dir).and_then(|d| d.set_modified(written));
            }
            Ok(())
        })
        .await
        .map_err(|e| DomainError::Internal(format!("object task failed: {e}")))?
        .map_err(|e| unavailable(&what, e))
    }

    async fn presign(&self, key: &str, ttl: Duration, now: OffsetDateTime) -> Result<String> {
        if !valid_key(key) {
            return Err(bad_key(key));
        }
        let expires = (now + ttl).unix_timestamp();
        // Valid keys contain only URL-safe characters, so no percent-encoding is needed.
        Ok(format!(
            "{}/_local/objects/{key}?expires={expires}&sig={}",
            self.public_url,
            self.signature(key, expires)
        ))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        let what = format!("cannot delete object {key}");
        tokio::task::spawn_blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        })
        .await
        .map_err(|e| DomainError::Internal(format!("object task failed: {e}")))?
        .map_err(|e| unavailable(&what, e))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(key)?;
        let what = format!("cannot read object {key}");
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            other => other.map(Some),
        })
        .await
        .map_err(|e| DomainError::Internal(format!("object task failed: {e}")))?
        .map_err(|e| unavailable(&what, e))
    }

    async fn purge(&self, prefix: &str, older_than: OffsetDateTime) -> Result<usize> {
        let dir = self.path_of(prefix.trim_end_matches('/'))?;
        tokio::task::spawn_blocking(move || match sweep(&dir, older_than) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            other => other,
        })
        .await
        .map_err(|e| DomainError::Internal(format!("housekeeping task failed: {e}")))?
        .map_err(|e| unavailable("cannot clean up objects", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);

    fn objects(dir: &Path) -> FsObjects {
        FsObjects::new(dir, "http://127.0.0.1:8080/").unwrap()
    }

    /// Splits a presigned URL into (key, expires, sig).
    fn parts(url: &str) -> (String, i64, String) {
        let rest = url
            .strip_prefix("http://127.0.0.1:8080/_local/objects/")
            .unwrap();
        let (key, query) = rest.split_once('?').unwrap();
        let mut expires = None;
        let mut sig = None;
        for kv in query.split('&') {
            match kv.split_once('=').unwrap() {
                ("expires", v) => expires = Some(v.parse().unwrap()),
                ("sig", v) => sig = Some(v.to_owned()),
                other => panic!("unexpected {other:?}"),
            }
        }
        (key.to_owned(), expires.unwrap(), sig.unwrap())
    }

    #[test]
    fn key_rules() {
        for (k, ok) in [
            ("p12/4a3f.p12", true),
            ("crl/full-1.crl", true),
            ("a", true),
            ("", false),
            ("/etc/passwd", false),
            ("../x", false),
            ("p12/../../x", false),
            ("p12/./x", false),
            ("p12//x", false),
            ("p12/", false),
            ("p12/.hidden", false),
            ("p12\\x", false),
            ("p12/x y", false),
            ("p12/x?y", false),
            ("p12/æ", false),
        ] {
            assert_eq!(valid_key(k), ok, "{k:?}");
        }
        assert!(!valid_key(&"a".repeat(600)));
    }

    #[tokio::test]
    async fn presign_then_verify_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let o = objects(dir.path());
        o.put(
            "p12/4a3f.p12",
            b"pkcs12 bytes".to_vec(),
            "application/x-pkcs12",
        )
        .await
        .unwrap();
        let url = o
            .presign("p12/4a3f.p12", Duration::minutes(10), NOW)
            .await
            .unwrap();
        let (key, expires, sig) = parts(&url);
        assert_eq!(key, "p12/4a3f.p12");
        assert_eq!(expires, (NOW + Duration::minutes(10)).unix_timestamp());
        assert_eq!(sig.len(), 64);
        let got = o
            .verify(&key, expires, &sig, NOW + Duration::minutes(9))
            .await
            .unwrap();
        assert_eq!(got, b"pkcs12 bytes");
    }

    #[tokio::test]
    async fn expired_and_tampered_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let o = objects(dir.path());
        o.put("p12/aa.p12", b"a".to_vec(), "application/x-pkcs12")
            .await
            .unwrap();
        o.put("p12/bb.p12", b"b".to_vec(), "application/x-pkcs12")
            .await
            .unwrap();
        let url = o
            .presign("p12/aa.p12", Duration::minutes(10), NOW)
            .await
            .unwrap();
        let (key, expires, sig) = parts(&url);

        // Expired: at and after the expiry instant.
        for later in [Duration::minutes(10), Duration::hours(1)] {
            assert_eq!(
                o.verify(&key, expires, &sig, NOW + later).await,
                Err(LinkError::Expired)
            );
        }
        // Tampered: another key, a later expiry, a flipped or garbage signature.
        assert_eq!(
            o.verify("p12/bb.p12", expires, &sig, NOW).await,
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            o.verify(&key, expires + 3600, &sig, NOW + Duration::minutes(30))
                .await,
            Err(LinkError::BadSignature)
        );
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            o.verify(&key, expires, &flipped, NOW).await,
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            o.verify(&key, expires, "zz", NOW).await,
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            o.verify(&key, expires, &sig[..32], NOW).await,
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            o.verify("../link.key", expires, &sig, NOW).await,
            Err(LinkError::BadKey)
        );
        // Another data directory has another key: its links do not verify here.
        let other = tempfile::tempdir().unwrap();
        let o2 = objects(other.path());
        assert_eq!(
            o2.verify(&key, expires, &sig, NOW).await,
            Err(LinkError::BadSignature)
        );
        // Genuine but deleted.
        o.delete(&key).await.unwrap();
        o.delete(&key).await.unwrap(); // missing is not an error
        assert_eq!(
            o.verify(&key, expires, &sig, NOW).await,
            Err(LinkError::NotFound)
        );
    }

    #[tokio::test]
    async fn key_persists_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let o = objects(dir.path());
        let url = o
            .presign("p12/cc.p12", Duration::minutes(5), NOW)
            .await
            .unwrap();
        o.put("p12/cc.p12", b"old".to_vec(), "x").await.unwrap();
        o.put("p12/cc.p12", b"new".to_vec(), "x").await.unwrap();
        // Reopening (a restart, or the CLI) reuses link.key: old links still verify.
        let again = objects(dir.path());
        let (key, expires, sig) = parts(&url);
        assert_eq!(
            again.verify(&key, expires, &sig, NOW).await.unwrap(),
            b"new"
        );
        assert_eq!(
            std::fs::read(dir.path().join("link.key")).unwrap().len(),
            32
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [
                dir.path().join("link.key"),
                dir.path().join("objects/p12/cc.p12"),
            ] {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", p.display());
            }
        }
        // No temporary files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("objects/p12"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["cc.p12"]);
    }

    #[tokio::test]
    async fn bad_keys_and_bad_key_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let o = objects(dir.path());
        for k in ["../x", "/abs", "a/../../b"] {
            assert!(matches!(
                o.put(k, vec![1], "x").await,
                Err(DomainError::Internal(_))
            ));
            assert!(o.presign(k, Duration::minutes(1), NOW).await.is_err());
            assert!(o.delete(k).await.is_err());
        }
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(bad.path().join("link.key"), b"short").unwrap();
        assert!(matches!(
            FsObjects::new(bad.path(), "http://x"),
            Err(DomainError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn housekeeping_removes_old_files_only() {
        let dir = tempfile::tempdir().unwrap();
        // A clock far from the wall clock: purge compares the times of this one clock.
        let now = time::macros::datetime!(2040-01-01 00:00 UTC);
        let clock = Arc::new(orgcert_core::clock::ManualClock::new(now));
        let o = objects(dir.path()).with_clock(clock);
        o.put("p12/dd.p12", vec![1], "x").await.unwrap();
        assert_eq!(
            o.delete_older_than(now - Duration::hours(1)).await.unwrap(),
            0
        );
        assert_eq!(
            o.delete_older_than(now + Duration::hours(1)).await.unwrap(),
            1
        );
        assert!(!dir.path().join("objects/p12/dd.p12").exists());
    }
}

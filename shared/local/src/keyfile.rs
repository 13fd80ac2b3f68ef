//! Key files of the data dir: written once, owner-only, read into the secret wrapper.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use orgcert_core::secret::{ExposeSecret as _, SecretString};
use orgcert_core::DomainError;

/// An I/O error as `Internal`, naming what was being done.
pub(crate) fn internal(what: &str) -> impl Fn(std::io::Error) -> DomainError + '_ {
    move |e| DomainError::Internal(format!("{what}: {e}"))
}

/// Reads a key file straight into the secret wrapper (zeroized on drop, never printed).
pub(crate) fn read_secret(path: &Path, what: &str) -> Result<SecretString, DomainError> {
    fs::read_to_string(path)
        .map(SecretString::from)
        .map_err(internal(what))
}

/// Writes a new key file readable by its owner only; an existing file is an error.
pub(crate) fn write_private(path: &Path, text: &SecretString) -> Result<(), DomainError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(internal("writing a key file"))?;
    f.write_all(text.expose_secret().as_bytes())
        .map_err(internal("writing a key file"))
}

//! The one-time-code key file: 32 random bytes in the data dir (0600), created at first
//! start like the CA key, so that stored code hashes are useless without it.

use std::io;
use std::path::Path;

use orgcert_core::error::{DomainError, Result};
use orgcert_core::secrets::CodeKey;

use crate::fsutil;

/// File name of the key in the data dir.
pub const CODE_KEY_FILE: &str = "code.key";

/// Reads `<data_dir>/code.key`, or creates it on first use. Concurrent first users
/// (server and CLI) agree on one key because creation never overwrites. Data dirs from
/// before this key get one at their next start; their older code hashes still verify.
///
/// # Errors
/// `Unavailable` when the file cannot be read or created; `Internal` when it does not
/// hold exactly 32 bytes.
pub fn load_or_create_code_key(data_dir: &Path) -> Result<CodeKey> {
    let path = data_dir.join(CODE_KEY_FILE);
    let read = |path: &Path| -> Result<CodeKey> {
        let bytes = std::fs::read(path).map_err(|e| {
            DomainError::Unavailable(format!("cannot read {}: {e}", path.display()))
        })?;
        CodeKey::from_slice(&bytes).ok_or_else(|| {
            DomainError::Internal(format!(
                "{} must hold exactly {} bytes; deleting it makes a new one (pending one-time codes stop working)",
                path.display(),
                CodeKey::LEN
            ))
        })
    };
    if path.exists() {
        return read(&path);
    }
    let key = CodeKey::random();
    match fsutil::write_new_atomic(&path, &key.to_bytes()) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(DomainError::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_code_key(dir.path()).unwrap();
        let b = load_or_create_code_key(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CODE_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(CODE_KEY_FILE), b"short").unwrap();
        assert!(matches!(
            load_or_create_code_key(dir.path()),
            Err(DomainError::Internal(_))
        ));
    }
}

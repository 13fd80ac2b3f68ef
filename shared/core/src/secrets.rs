//! Random values: serials, link tokens, one-time codes, references, PKCS#12 passwords.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

use crate::ids::Serial;
use crate::secret::SecretString;

/// Characters that cannot be confused with each other (no 0/O, 1/l/I).
const UNAMBIGUOUS: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// A fresh certificate serial: 16 octets from the OS CSPRNG with the top bits fixed to
/// `01`, so it is positive and always encodes to exactly 16 octets (126 random bits;
/// RFC 5280 §4.1.2.2 allows 20 octets, CA/Browser Forum BR §7.1 asks for 64 bits).
/// The one serial generator: PKI code (CA and test certificates) uses it too.
pub fn new_serial() -> Serial {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[0] = (b[0] & 0x3f) | 0x40;
    Serial::from_bytes(&b)
}

/// A URL-safe link token with 256 bits of entropy.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn pick(n: usize, alphabet: &[u8]) -> String {
    let mut rng = OsRng;
    (0..n)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A PKCS#12 password: 20 unambiguous characters, log2(55^20) ≈ 115 bits.
pub fn new_password() -> SecretString {
    pick(20, UNAMBIGUOUS).into()
}

/// A one-time code: 12 characters of 32, 60 bits, locked after 5 wrong tries.
pub fn new_one_time_code() -> SecretString {
    pick(12, b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ").into()
}

/// A reference number mailed to the contact (not secret; finds the code).
pub fn new_reference() -> String {
    pick(10, b"0123456789")
}

/// The stored form of a link token: SHA-256 hex. A token has 256 bits of entropy, so a
/// leaked hash cannot be searched offline and a key would add nothing; unkeyed, every
/// function that looks a link up can do so without the code key.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Prefix of keyed code hashes; older records hold bare SHA-256 hex.
const KEYED: &str = "hmac-sha256:";

/// The server key of one-time-code hashes. A code has only 60 bits, which a leaked bare
/// SHA-256 would let anyone search offline; HMAC-SHA256 under a key kept outside the
/// store (RFC 2104) makes the stored form useless without the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeKey([u8; 32]);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(<redacted>)")
    }
}

impl CodeKey {
    /// Length of a key in bytes.
    pub const LEN: usize = 32;

    /// A key from its bytes (key file, bucket object).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from a slice that must be exactly [`CodeKey::LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// A fresh random key.
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        OsRng.fill_bytes(&mut b);
        Self(b)
    }

    /// The key's bytes (to write it once, at creation).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    fn mac(&self, code: &str) -> Hmac<Sha256> {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(code.as_bytes());
        m
    }

    /// The stored form of a (normalised) one-time code.
    pub fn hash_code(&self, code: &str) -> String {
        format!(
            "{KEYED}{}",
            hex::encode(self.mac(code).finalize().into_bytes())
        )
    }

    /// Whether `code` matches a stored form, keyed or (older records) bare SHA-256.
    /// Keyed forms are compared in constant time.
    pub fn verify_code(&self, code: &str, stored: &str) -> bool {
        match stored.strip_prefix(KEYED) {
            Some(h) => match hex::decode(h) {
                Ok(tag) => self.mac(code).verify_slice(&tag).is_ok(),
                Err(_) => false,
            },
            // A guess cannot steer the digest it is compared with, so plain equality
            // leaks nothing useful here.
            None => hash_secret(code) == stored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_positive_16_octets() {
        for _ in 0..100 {
            let s = new_serial().to_bytes();
            assert_eq!(s.len(), 16);
            assert!(s[0] & 0x80 == 0 && s[0] != 0);
        }
    }

    #[test]
    fn secrets_differ_and_have_expected_shape() {
        use crate::secret::ExposeSecret as _;
        let a = new_password();
        let a = a.expose_secret();
        assert_eq!(a.len(), 20);
        assert_ne!(a, new_password().expose_secret());
        assert!(a.bytes().all(|b| UNAMBIGUOUS.contains(&b)));
        assert_eq!(new_token().len(), 43);
        assert_eq!(hash_secret("x").len(), 64);
        assert_ne!(hash_secret("x"), hash_secret("y"));
    }

    #[test]
    fn code_hashes_are_keyed_and_old_ones_still_verify() {
        let k = CodeKey::random();
        let h = k.hash_code("ABCDEFGH2345");
        assert!(h.starts_with("hmac-sha256:"));
        assert!(k.verify_code("ABCDEFGH2345", &h));
        assert!(!k.verify_code("ABCDEFGH2346", &h));
        assert!(!CodeKey::random().verify_code("ABCDEFGH2345", &h));
        assert_ne!(h, CodeKey::random().hash_code("ABCDEFGH2345"));
        // Records written before keyed hashes hold bare SHA-256 hex.
        let old = hash_secret("ABCDEFGH2345");
        assert!(k.verify_code("ABCDEFGH2345", &old));
        assert!(!k.verify_code("ABCDEFGH2346", &old));
        assert!(!k.verify_code("x", "hmac-sha256:zz"));
        assert_eq!(format!("{k:?}"), "CodeKey(<redacted>)");
    }
}

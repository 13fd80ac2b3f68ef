//! Random values: serials, link tokens, one-time codes, references, PKCS#12 passwords.

use base64::Engine;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

use crate::ids::Serial;
use crate::secret::SecretString;

/// Characters that cannot be confused with each other (no 0/O, 1/l/I).
const UNAMBIGUOUS: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// A positive serial with 127 bits of entropy (RFC 5280 §4.1.2.2: ≤ 20 octets, positive).
pub fn new_serial() -> Serial {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[0] &= 0x7f; // positive
    b[0] |= 0x40; // no leading zero octet, so the DER length is always 16
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

/// A one-time code: 12 characters, ≈ 69 bits, locked after 5 wrong tries.
pub fn new_one_time_code() -> SecretString {
    pick(12, b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ").into()
}

/// A reference number mailed to the contact (not secret; finds the code).
pub fn new_reference() -> String {
    pick(10, b"0123456789")
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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
}

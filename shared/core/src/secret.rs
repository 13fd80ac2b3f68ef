//! The one wrapper for values that must never be printed: PKCS#12 passwords, one-time
//! codes and private key material.
//!
//! It is `secrecy`'s `SecretBox`: `Debug` prints `[REDACTED]`, there is no `Display` and
//! no `Serialize`, the memory is zeroized on drop, and the value leaves only through an
//! explicit, greppable `expose_secret()` (the JSON answer that shows a password once, the
//! PKCS#12 builder, the key file writer).

pub use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::from("hunter2-password".to_owned());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(s.clone())).contains("hunter2"));
        let k = SecretSlice::from(b"PRIVATEKEYBYTES".to_vec());
        assert!(!format!("{k:?}").contains("80"));
        assert_eq!(s.expose_secret(), "hunter2-password");
        // A secret read from JSON stays a secret.
        let parsed: SecretString = serde_json::from_str("\"code-123\"").unwrap();
        assert!(!format!("{parsed:?}").contains("code-123"));
        assert_eq!(parsed.expose_secret(), "code-123");
    }
}

//! The ES256 key of the embedded default's bearer tokens (`jwt.key`) and its JWKS.

use std::path::Path;

use orgcert_core::secret::{ExposeSecret as _, SecretString};
use orgcert_core::DomainError;
use orgcert_http::auth::{mint_token, Claims, AUDIENCE, LOCAL_ISSUER};
use orgcert_pki::{CaSigner as _, KeyAlgorithm, KeyFileSigner};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::keyfile::{read_secret, write_private};

/// The ES256 key that signs local bearer tokens.
pub struct TokenKeys {
    pkcs8_pem: SecretString,
    public_pem: String,
    jwks: Value,
}

impl TokenKeys {
    /// A bearer token for a user of an organisation.
    ///
    /// # Errors
    /// `Internal` when signing fails.
    pub fn token(
        &self,
        org: &str,
        email: &str,
        name: &str,
        roles: &[&str],
        ttl: Duration,
    ) -> Result<String, DomainError> {
        self.token_issued_at(org, email, name, roles, ttl, OffsetDateTime::now_utc())
    }

    /// As [`TokenKeys::token`], logged in at `issued_at` (JWT `iat`; tests with a clock of
    /// their own).
    ///
    /// # Errors
    /// `Internal` when signing fails.
    pub fn token_issued_at(
        &self,
        org: &str,
        email: &str,
        name: &str,
        roles: &[&str],
        ttl: Duration,
        issued_at: OffsetDateTime,
    ) -> Result<String, DomainError> {
        let now = issued_at.unix_timestamp();
        mint_token(
            self.pkcs8_pem.expose_secret(),
            &Claims {
                sub: email.to_owned(),
                email: email.to_owned(),
                name: name.to_owned(),
                org: org.to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                iss: LOCAL_ISSUER.into(),
                aud: AUDIENCE.into(),
                iat: now,
                exp: now + ttl.whole_seconds(),
            },
        )
    }
    /// The JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The public key (PEM) that verifies these tokens (`serve --backend aws`).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// Loads the token key, creating it on first start.
///
/// # Errors
/// `Internal` when `jwt.key` cannot be read, parsed or written.
pub fn load_token_keys(data_dir: &Path) -> Result<TokenKeys, DomainError> {
    let path = data_dir.join("jwt.key");
    let signer = if path.exists() {
        KeyFileSigner::from_pkcs8_pem(read_secret(&path, "reading jwt.key")?.expose_secret())
    } else {
        let s = KeyFileSigner::generate(KeyAlgorithm::EcdsaP256)
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        write_private(&path, &s.to_pkcs8_pem())?;
        Ok(s)
    }
    .map_err(|e| DomainError::Internal(format!("jwt.key: {e}")))?;
    let spki = signer.public_key_spki_der();
    let public_pem = orgcert_pki::to_pem("PUBLIC KEY", &spki);
    // P-256 SPKI ends with the uncompressed point 04 || x || y (RFC 5480).
    let point = &spki[spki.len() - 65..];
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({ "keys": [{ "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "x": b64(&point[1..33]), "y": b64(&point[33..65]) }] });
    Ok(TokenKeys {
        pkcs8_pem: signer.to_pkcs8_pem(),
        public_pem,
        jwks,
    })
}

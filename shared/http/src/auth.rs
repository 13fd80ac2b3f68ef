//! Who is calling: bearer JWTs verified in-process (embedded default), or claims an
//! upstream authorizer already verified (API Gateway's JWT authorizer, in `orgcert-lambda`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use orgcert_core::auth::{Actor, Role};
use orgcert_core::ids::Cvr;
use orgcert_core::DomainError;
use serde::{Deserialize, Serialize};

/// Turns a request into an actor.
pub trait Authenticator: Send + Sync {
    /// The caller.
    ///
    /// # Errors
    /// `Unauthenticated` for missing, malformed, badly signed or expired credentials.
    fn authenticate(&self, parts: &Parts) -> Result<Actor, DomainError>;
}

/// The claims orgcert reads (API.md "Authentication").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject.
    pub sub: String,
    /// Email.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Organisation CVR.
    pub org: String,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expiry (unix seconds).
    pub exp: i64,
}

impl Claims {
    /// The actor these claims describe.
    ///
    /// # Errors
    /// `Unauthenticated` when `org` is not a valid CVR or `email` is empty.
    pub fn into_actor(self) -> Result<Actor, DomainError> {
        let org = Cvr::parse(&self.org).map_err(|m| {
            DomainError::Unauthenticated(format!("the token's org claim is invalid: {m}"))
        })?;
        if self.email.trim().is_empty() {
            return Err(DomainError::Unauthenticated(
                "the token has no email claim".into(),
            ));
        }
        Ok(Actor {
            subject: self.sub,
            email: self.email,
            name: self.name,
            org,
            roles: self.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            // 0: not known (the claim is required for our tokens; 0 grants nothing).
            authenticated_at: (self.iat > 0)
                .then(|| time::OffsetDateTime::from_unix_timestamp(self.iat).ok())
                .flatten(),
        })
    }
}

/// The issuer name of locally minted tokens.
pub const LOCAL_ISSUER: &str = "orgcert-local";
/// The audience of orgcert tokens.
pub const AUDIENCE: &str = "orgcert";

/// ES256 bearer tokens verified with a local public key.
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
    /// Tokens verified already, by SHA-256 of the token: a caller sends the same token
    /// with every request, and an ECDSA verification costs far more than the hash.
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

/// A token that passed verification: the actor its claims name, until its `exp`.
#[derive(Clone)]
struct Verified {
    actor: Actor,
    exp: i64,
}

/// Verified tokens kept at most; when full the cache starts over (each entry is small).
const VERIFIED_MAX: usize = 4096;

impl JwtAuthenticator {
    /// Verifier for tokens signed by the key whose SubjectPublicKeyInfo PEM is given.
    ///
    /// # Errors
    /// `Internal` for an unusable key.
    pub fn from_public_pem(pem: &str, issuer: &str, audience: &str) -> Result<Self, DomainError> {
        let key = DecodingKey::from_ec_pem(pem.as_bytes())
            .map_err(|e| DomainError::Internal(format!("JWT verification key: {e}")))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // A token is not valid before its `nbf` (RFC 7519 §4.1.5); jsonwebtoken checks it
        // only when asked.
        validation.validate_nbf = true;
        validation.leeway = 30;
        Ok(Self {
            key,
            validation,
            verified: Mutex::default(),
        })
    }
}

/// The bearer token of a request.
///
/// # Errors
/// `Unauthenticated` when absent or not a Bearer token.
pub fn bearer(parts: &Parts) -> Result<&str, DomainError> {
    let h = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            DomainError::Unauthenticated("missing Authorization: Bearer token".into())
        })?;
    let s = h
        .to_str()
        .map_err(|_| DomainError::Unauthenticated("malformed Authorization header".into()))?;
    match s.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(DomainError::Unauthenticated(
            "the Authorization header must be `Bearer <token>`".into(),
        )),
    }
}

impl JwtAuthenticator {
    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(&self, parts: &Parts) -> Result<Actor, DomainError> {
        use sha2::{Digest, Sha256};
        let token = bearer(parts)?;
        // The same bytes verified before give the same actor until the token's `exp` (no
        // leeway on this path: past `exp` the full check decides). Only tokens that passed
        // are kept, so a bad signature is checked (and refused) every time.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = unix_now();
        if let Some(v) = self.verified().get(&digest) {
            if now < v.exp {
                return Ok(v.actor.clone());
            }
        }
        let actor = self.verify(token)?;
        let mut cache = self.verified();
        if cache.len() >= VERIFIED_MAX {
            cache.retain(|_, v| now < v.exp);
            if cache.len() >= VERIFIED_MAX {
                cache.clear();
            }
        }
        cache.insert(digest, actor.clone());
        Ok(actor.actor)
    }
}

impl JwtAuthenticator {
    /// The full check: signature, issuer, audience, `exp` and `nbf` with 30 s leeway.
    fn verify(&self, token: &str) -> Result<Verified, DomainError> {
        let data = decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            DomainError::Unauthenticated(match e.kind() {
                K::ExpiredSignature => "the token has expired".into(),
                K::InvalidSignature => "the token's signature is invalid".into(),
                K::InvalidIssuer => "the token's issuer is not accepted".into(),
                K::InvalidAudience => "the token's audience is not accepted".into(),
                K::ImmatureSignature => "the token is not valid yet (nbf)".into(),
                K::InvalidAlgorithm => "the token's algorithm is not accepted (ES256)".into(),
                K::MissingRequiredClaim(c) => format!("the token has no {c} claim"),
                // Claims of the wrong shape: `org` missing, `roles` not an array of strings,
                // or `aud` an array (orgcert tokens name one audience: ours).
                K::Json(_) => "the token's claims are not in the expected form (sub, email, \
                               org, roles as an array of strings, aud as one string)"
                    .into(),
                other => format!("the token is invalid ({other:?})"),
            })
        })?;
        let exp = data.claims.exp;
        Ok(Verified {
            actor: data.claims.into_actor()?,
            exp,
        })
    }
}

/// Mints an ES256 token with the PKCS#8 PEM private key (local CLI and tests).
///
/// # Errors
/// `Internal` for an unusable key.
pub fn mint_token(pkcs8_pem: &str, claims: &Claims) -> Result<String, DomainError> {
    let key = EncodingKey::from_ec_pem(pkcs8_pem.as_bytes())
        .map_err(|e| DomainError::Internal(format!("JWT signing key: {e}")))?;
    encode(&Header::new(Algorithm::ES256), claims, &key)
        .map_err(|e| DomainError::Internal(format!("JWT signing: {e}")))
}

/// The client certificate of a mutual-TLS connection (DER), put into each request's
/// extensions by the TLS listener after rustls verified its chain to our CA. Only the
/// listener can set it: no header or body of the request reaches it.
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub std::sync::Arc<[u8]>);

impl ClientCertificate {
    /// The serial and SHA-256 fingerprint (lowercase hex) by which the store knows it.
    ///
    /// # Errors
    /// `Unauthenticated` when the DER does not parse (rustls parsed it already, so only a
    /// listener bug gets here).
    pub fn identify(&self) -> Result<(orgcert_core::ids::Serial, String), DomainError> {
        use sha2::{Digest, Sha256};
        let (_, cert) = x509_parser::parse_x509_certificate(&self.0).map_err(|_| {
            DomainError::Unauthenticated("the client certificate does not parse".into())
        })?;
        // RFC 5280 §4.1.2.2: positive INTEGER; a leading 0x00 only keeps it positive.
        let raw = cert.tbs_certificate.raw_serial();
        let raw = match raw {
            [0, rest @ ..] if !rest.is_empty() => rest,
            r => r,
        };
        Ok((
            orgcert_core::ids::Serial::from_bytes(raw),
            hex::encode(Sha256::digest(&self.0)),
        ))
    }
}

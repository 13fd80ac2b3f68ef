//! Per-client rate limiting of public, unauthenticated routes (governor's GCRA).

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use orgcert_core::DomainError;

/// A keyed limiter: one bucket per client address.
pub struct Limiter(DefaultKeyedRateLimiter<String>);

impl Limiter {
    /// `per_second` sustained, `burst` at once.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        let quota =
            Quota::per_second(NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN));
        Self(RateLimiter::keyed(quota))
    }

    /// Takes one request's worth for the caller.
    ///
    /// # Errors
    /// `Throttled` when the caller's bucket is empty.
    pub fn check(&self, parts: &Parts) -> Result<(), DomainError> {
        let key = client_key(parts);
        self.0.check_key(&key).map_err(|_| {
            DomainError::Throttled("too many directory requests; wait a moment".into())
        })
    }
}

/// The client: the first X-Forwarded-For hop (set by API Gateway / a proxy), else the peer.
fn client_key(parts: &Parts) -> String {
    if let Some(f) = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        if let Some(first) = f.split(',').next() {
            return first.trim().to_owned();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

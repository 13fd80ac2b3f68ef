//! Per-client rate limiting of public, unauthenticated routes (governor's GCRA).
//!
//! The client is the address the platform vouches for (API.md "Rate limits"): the TCP
//! peer of the local server, or the source IP API Gateway reports, which the Lambda
//! composition puts in the request as [`SourceIp`]. `X-Forwarded-For` is never read: any
//! client can set it, so keying on it gives every request a fresh bucket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use orgcert_core::DomainError;

/// The client address a trusted front (API Gateway) reported for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub IpAddr);

/// The address the limiter counts a request against: [`SourceIp`] when the platform set
/// it, else the TCP peer; `None` when neither is known.
pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<SourceIp>()
        .map(|s| s.0)
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .map(|ip| ip.to_canonical())
}

/// The bucket of an address: IPv4 as is, IPv6 by its /64 (one subscriber's LAN, RFC 6177),
/// so that one host cannot take a fresh bucket per address of its prefix. Requests whose
/// address is unknown share one bucket.
fn bucket_of(addr: Option<IpAddr>) -> IpAddr {
    match addr {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        Some(v4) => v4,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

type Keyed<C> =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;
type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Most client buckets kept at once (each is a few dozen bytes).
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// Every this many checks, buckets that are full again are dropped.
const PRUNE_EVERY: u64 = 1024;

/// A keyed limiter: one bucket per client address, with a bounded key set.
///
/// Buckets that have refilled are indistinguishable from new ones, so they are dropped
/// (governor's `retain_recent`) every [`PRUNE_EVERY`] checks and whenever the set is
/// full. If it is still full of active clients, newcomers share one overflow bucket:
/// memory stays bounded, and throttling still applies.
pub struct Limiter<C: Clock = DefaultClock> {
    keyed: Keyed<C>,
    overflow: Direct<C>,
    max_keys: usize,
    checks: AtomicU64,
    what: &'static str,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(nz(per_second)).allow_burst(nz(burst))
}

impl Limiter {
    /// `per_second` sustained, `burst` at once, per client; `what` names the limited
    /// requests in the 429 answer.
    pub fn per_second(what: &'static str, per_second: u32, burst: u32) -> Self {
        Self::with_clock(
            what,
            quota(per_second, burst),
            DEFAULT_MAX_KEYS,
            DefaultClock::default(),
        )
    }
}

impl<C: Clock + Clone> Limiter<C> {
    /// A limiter on a given clock (tests move a fake clock) with at most `max_keys` buckets.
    pub fn with_clock(what: &'static str, quota: Quota, max_keys: usize, clock: C) -> Self {
        Self {
            keyed: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            overflow: RateLimiter::direct_with_clock(quota, clock),
            max_keys: max_keys.max(1),
            checks: AtomicU64::new(0),
            what,
        }
    }

    /// Takes one request's worth for the caller.
    ///
    /// # Errors
    /// `Throttled` when the caller's bucket is empty.
    pub fn check(&self, parts: &Parts) -> Result<(), DomainError> {
        self.check_addr(client_addr(parts))
    }

    /// Takes one request's worth for an address (`None`: unknown, one shared bucket).
    ///
    /// # Errors
    /// `Throttled` when the address's bucket is empty.
    pub fn check_addr(&self, addr: Option<IpAddr>) -> Result<(), DomainError> {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        let full = self.keyed.len() >= self.max_keys;
        if n % PRUNE_EVERY == PRUNE_EVERY - 1 || (full && n.is_multiple_of(64)) {
            self.prune();
        }
        let allowed = if full && self.keyed.len() >= self.max_keys {
            self.overflow.check().is_ok()
        } else {
            self.keyed.check_key(&bucket_of(addr)).is_ok()
        };
        if allowed {
            Ok(())
        } else {
            Err(DomainError::Throttled(format!(
                "too many {} from your address; wait a moment and try again",
                self.what
            )))
        }
    }

    /// Drops the buckets that have refilled.
    pub fn prune(&self) {
        self.keyed.retain_recent();
        self.keyed.shrink_to_fit();
    }

    /// Number of client buckets held.
    pub fn len(&self) -> usize {
        self.keyed.len()
    }

    /// Whether no client bucket is held.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut b = Request::builder().uri("/public/certificates");
        if let Some(f) = forwarded {
            b = b.header("x-forwarded-for", f);
        }
        let (mut p, ()) = b.body(()).unwrap().into_parts();
        p.extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        p
    }

    fn limiter(max_keys: usize) -> (Limiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (
            Limiter::with_clock("lookups", quota(5, 3), max_keys, clock.clone()),
            clock,
        )
    }

    #[test]
    fn x_forwarded_for_does_not_make_a_new_client() {
        let (l, _) = limiter(100);
        for i in 0..3 {
            let p = parts("203.0.113.7:4000", Some(&format!("10.0.0.{i}")));
            assert!(l.check(&p).is_ok());
        }
        let p = parts("203.0.113.7:4001", Some("198.51.100.99"));
        assert!(matches!(l.check(&p), Err(DomainError::Throttled(_))));
        // Another peer has its own bucket.
        assert!(l.check(&parts("203.0.113.8:4000", None)).is_ok());
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn the_platforms_source_ip_wins_over_the_peer() {
        let (l, _) = limiter(100);
        let with_source = |ip: &str| {
            let mut p = parts("127.0.0.1:9000", None);
            p.extensions.insert(SourceIp(ip.parse().unwrap()));
            p
        };
        for _ in 0..3 {
            assert!(l.check(&with_source("192.0.2.1")).is_ok());
        }
        assert!(l.check(&with_source("192.0.2.1")).is_err());
        assert!(l.check(&with_source("192.0.2.2")).is_ok());
        assert_eq!(
            client_addr(&with_source("192.0.2.3")),
            Some("192.0.2.3".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_unknown_peers_share_a_bucket() {
        let (l, _) = limiter(100);
        for i in 1..=3 {
            assert!(l
                .check_addr(Some(format!("2001:db8:1:2::{i}").parse().unwrap()))
                .is_ok());
        }
        assert!(l
            .check_addr(Some("2001:db8:1:2:ffff::1".parse().unwrap()))
            .is_err());
        assert!(l
            .check_addr(Some("2001:db8:1:3::1".parse().unwrap()))
            .is_ok());
        for _ in 0..3 {
            assert!(l.check_addr(None).is_ok());
        }
        assert!(l.check_addr(None).is_err());
        // An IPv4-mapped IPv6 peer is the IPv4 client.
        let p = parts("[::ffff:192.0.2.9]:1", None);
        assert_eq!(client_addr(&p), Some("192.0.2.9".parse().unwrap()));
    }

    #[test]
    fn the_key_set_stays_bounded_and_is_pruned() {
        let (l, clock) = limiter(500);
        let mut refused = 0;
        for i in 0..20_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            if l.check_addr(Some(ip)).is_err() {
                refused += 1;
            }
            assert!(l.len() <= 500, "{} keys after {i} clients", l.len());
        }
        // Past the bound, newcomers share the overflow bucket: throttled, not remembered.
        assert!(refused > 0);
        // Once every bucket has refilled, pruning forgets them all.
        clock.advance(Duration::from_secs(2));
        l.prune();
        assert_eq!(l.len(), 0);
        // And a refilled set serves new clients from their own buckets again.
        assert!(l.check_addr(Some("192.0.2.77".parse().unwrap())).is_ok());
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn periodic_pruning_drops_idle_clients_without_filling_up() {
        let (l, clock) = limiter(100_000);
        for i in 0..3000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.check_addr(Some(ip)).is_ok());
            // Each client comes once, and a second later another one comes.
            clock.advance(Duration::from_millis(1000));
        }
        assert!(l.len() <= PRUNE_EVERY as usize, "{} keys held", l.len());
    }
}

//! Checking API tokens, for every server that takes them (the prediction server, the web
//! UI): a presented token is looked up by its SHA-256 digest ([`MetaStore::token_scopes_by_digest`]),
//! and what a [`TokenChecker`] keeps of it is that digest, never the string. Everything it
//! keeps is bounded:
//!
//! - tokens that resolved: their scopes for [`AuthLimits::valid_ttl`] (5 s by default), counted
//!   from the store lookup and never extended by use, so a revoked token stops working within
//!   that time; at most [`AuthLimits::valid_entries`] of them;
//! - digests that did not resolve: refused from memory for [`AuthLimits::invalid_ttl`]
//!   (a token is random and a revoked one stays revoked, so a refusal stays right); at most
//!   [`AuthLimits::invalid_entries`];
//! - failed authentications per client (an IPv4 address, an IPv6 /64): a token bucket of
//!   [`AuthLimits::failure_burst`] refilled at [`AuthLimits::failures_per_second`]. Every store
//!   lookup takes a token from the bucket first (given back when the token resolves), so
//!   neither a stream of random tokens nor many of them at once costs more than the bucket
//!   allows; an empty bucket is refused ([`TokenRejection::TooManyFailures`]) without hashing
//!   against the store. A token that resolved before (its entry kept, expired, until evicted)
//!   is looked up again without that budget, so a client's own token is never refused for
//!   another's failures. At most [`AuthLimits::clients`] buckets; beyond that, the clients
//!   without one share one.
//!
//! A full cache first drops what has expired, then the quarter that expires soonest: eviction
//! costs an amortized constant per insert, and evicting a valid token only costs a lookup.
//!
//! What a scope allows is [`scope_grants`]; how a refusal is answered (status codes, login
//! pages) is each server's own.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{MetaError, MetaStore, token_digest};

/// Longer bearer strings are refused without a lookup (ours are 67 characters).
const MAX_TOKEN_LEN: usize = 512;

/// Bounds and lifetimes of what authentication keeps in memory.
#[derive(Debug, Clone)]
pub struct AuthLimits {
    /// How long a token that resolved is trusted without asking the store: a revoked token
    /// stops working within this time.
    pub valid_ttl: Duration,
    pub valid_entries: usize,
    /// How long a digest the store did not know is refused from memory.
    pub invalid_ttl: Duration,
    pub invalid_entries: usize,
    /// Failed authentications (store lookups, really) a client may make at once...
    pub failure_burst: u32,
    /// ...and how many more per second after that.
    pub failures_per_second: f64,
    /// Clients with a bucket of their own.
    pub clients: usize,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            valid_ttl: Duration::from_secs(5),
            valid_entries: 1024,
            invalid_ttl: Duration::from_secs(60),
            invalid_entries: 4096,
            failure_burst: 20,
            failures_per_second: 2.0,
            clients: 4096,
        }
    }
}

/// The unit a failure budget belongs to: one IPv4 address, or one IPv6 /64 (a single host
/// usually holds a whole /64, so per-address buckets would be free to multiply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6Prefix(u64),
    /// In-process callers, and the clients past the bucket limit.
    Shared,
}

impl ClientKey {
    /// `addr`: the peer's address as the listener saw it; absent when a server is called
    /// in-process, and then every such request counts as one client.
    fn of(addr: Option<IpAddr>) -> ClientKey {
        match addr.map(|a| a.to_canonical()) {
            Some(IpAddr::V4(ip)) => ClientKey::V4(ip.to_bits()),
            Some(IpAddr::V6(ip)) => ClientKey::V6Prefix((ip.to_bits() >> 64) as u64),
            None => ClientKey::Shared,
        }
    }
}

/// A map whose entries expire and whose size is bounded.
struct TtlMap<K, V> {
    entries: HashMap<K, (Instant, V)>,
    capacity: usize,
}

impl<K: Eq + Hash + Copy, V> TtlMap<K, V> {
    fn new(capacity: usize) -> Self {
        TtlMap {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The live value of `key` (an expired one is dropped).
    fn get(&mut self, key: &K, now: Instant) -> Option<&V> {
        if matches!(self.entries.get(key), Some((expires, _)) if *expires <= now) {
            self.entries.remove(key);
            return None;
        }
        self.entries.get(key).map(|(_, v)| v)
    }

    /// The value of `key` and whether it is still live; an expired entry stays (until
    /// removed or evicted) so the caller knows the key was good once.
    fn peek(&self, key: &K, now: Instant) -> Option<(&V, bool)> {
        self.entries
            .get(key)
            .map(|(expires, v)| (v, *expires > now))
    }

    fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn insert(&mut self, key: K, value: V, expires: Instant, now: Instant) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (e, _)| *e > now);
            if self.entries.len() >= self.capacity {
                self.evict_soonest();
            }
        }
        self.entries.insert(key, (expires, value));
    }

    /// Drop the quarter of the entries that expire soonest (at least one).
    fn evict_soonest(&mut self) {
        let mut expiries: Vec<Instant> = self.entries.values().map(|(e, _)| *e).collect();
        let n = (expiries.len() / 4).max(1);
        let (_, cutoff, _) = expiries.select_nth_unstable(n - 1);
        let cutoff = *cutoff;
        let mut dropped = 0;
        // Ties at the cutoff could keep the map full; dropping them too is harmless.
        self.entries.retain(|_, (e, _)| {
            let keep = *e > cutoff;
            dropped += usize::from(!keep);
            keep
        });
        debug_assert!(dropped >= 1);
    }
}

/// Failure budgets per client (token buckets).
struct Buckets {
    buckets: HashMap<ClientKey, (f64, Instant)>,
    capacity: usize,
    burst: f64,
    rate: f64,
}

impl Buckets {
    fn level(&self, level: f64, at: Instant, now: Instant) -> f64 {
        (level + now.saturating_duration_since(at).as_secs_f64() * self.rate).min(self.burst)
    }

    /// Take one unit from `client`'s bucket, or say how long until one is there.
    fn take(&mut self, client: ClientKey, now: Instant) -> Result<(), Duration> {
        let client = if self.buckets.contains_key(&client) || self.make_room(now) {
            client
        } else {
            ClientKey::Shared
        };
        let burst = self.burst;
        let (level, at) = self.buckets.get(&client).copied().unwrap_or((burst, now));
        let level = self.level(level, at, now);
        if level >= 1.0 {
            self.buckets.insert(client, (level - 1.0, now));
            Ok(())
        } else {
            self.buckets.insert(client, (level, now));
            let wait = if self.rate > 0.0 {
                (1.0 - level) / self.rate
            } else {
                3600.0
            };
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }

    /// Give back a unit taken for a lookup whose token resolved.
    fn give_back(&mut self, client: ClientKey, now: Instant) {
        let burst = self.burst;
        for key in [client, ClientKey::Shared] {
            if let Some((level, at)) = self.buckets.get(&key).copied() {
                let level = (self.level(level, at, now) + 1.0).min(burst);
                self.buckets.insert(key, (level, now));
                return;
            }
        }
    }

    /// Whether a new client can have a bucket: full buckets carry nothing and go first.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.buckets.len() + 1 < self.capacity {
            return true;
        }
        let (burst, rate) = (self.burst, self.rate);
        self.buckets.retain(|k, (level, at)| {
            *k == ClientKey::Shared
                || (*level + now.saturating_duration_since(*at).as_secs_f64() * rate) < burst
        });
        self.buckets.len() + 1 < self.capacity
    }
}

struct Inner {
    valid: TtlMap<[u8; 32], Arc<[String]>>,
    invalid: TtlMap<[u8; 32], ()>,
    buckets: Buckets,
}

/// How full a checker's caches are (for `/metrics` and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthStats {
    pub valid_entries: usize,
    pub invalid_entries: usize,
    pub client_buckets: usize,
    /// Token lookups sent to the metadata store since the checker was made.
    pub store_lookups: u64,
    /// Checks refused for too many failures since the checker was made.
    pub rate_limited: u64,
}

/// Why a presented token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenRejection {
    /// No token, or one that is unknown, revoked or too long to be ours.
    #[error("missing or unknown API token")]
    Unknown,
    /// This client failed too often; refused before any lookup.
    #[error("too many failed authentications from this address; retry after {retry_after_secs} s")]
    TooManyFailures { retry_after_secs: u64 },
    /// The store could not be asked.
    #[error("the metadata store: {0}")]
    Store(#[source] MetaError),
}

/// The token of an `Authorization: Bearer <token>` header's value, when it is one.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether a token holding `scopes` may do what `scope` allows: `admin` allows everything.
pub fn scope_grants(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope || s == "admin")
}

/// Checks presented tokens against the store, with the bounded caches and per-client failure
/// budgets described above. One per server, shared by its requests.
pub struct TokenChecker {
    limits: AuthLimits,
    inner: Mutex<Inner>,
    store_lookups: AtomicU64,
    rate_limited: AtomicU64,
}

impl TokenChecker {
    pub fn new(limits: AuthLimits) -> TokenChecker {
        TokenChecker {
            inner: Mutex::new(Inner {
                valid: TtlMap::new(limits.valid_entries),
                invalid: TtlMap::new(limits.invalid_entries),
                buckets: Buckets {
                    buckets: HashMap::new(),
                    capacity: limits.clients.max(2),
                    burst: f64::from(limits.failure_burst.max(1)),
                    rate: limits.failures_per_second.max(0.0),
                },
            }),
            limits,
            store_lookups: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// The caches. Nothing here panics while holding them; were the lock poisoned all the
    /// same, they would still hold only what lookups answered, so they are used as they are.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stats(&self) -> AuthStats {
        let inner = self.lock();
        AuthStats {
            valid_entries: inner.valid.len(),
            invalid_entries: inner.invalid.len(),
            client_buckets: inner.buckets.buckets.len(),
            store_lookups: self.store_lookups.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }

    fn limited(&self, wait: Duration) -> TokenRejection {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        TokenRejection::TooManyFailures {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    /// The scopes of the token `token` (None: none was presented), from the cache or the
    /// store. `client` is the peer's address as the listener saw it; absent when a server is
    /// called in-process, and then every such request counts as one client.
    pub async fn check(
        &self,
        store: &MetaStore,
        token: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Arc<[String]>, TokenRejection> {
        let client = ClientKey::of(client);
        let token = match token {
            // Nothing to look up, so nothing to limit.
            None => return Err(TokenRejection::Unknown),
            Some(t) if t.len() > MAX_TOKEN_LEN => {
                let now = Instant::now();
                self.lock()
                    .buckets
                    .take(client, now)
                    .map_err(|wait| self.limited(wait))?;
                return Err(TokenRejection::Unknown);
            }
            Some(t) => t,
        };
        let digest = token_digest(token);
        let now = Instant::now();
        let was_valid = {
            let mut inner = self.lock();
            match inner.valid.peek(&digest, now) {
                Some((scopes, true)) => return Ok(scopes.clone()),
                // Resolved before: asked again (it may be revoked) without spending the
                // client's failure budget, so a busy client's own token is never refused.
                Some((_, false)) => true,
                None => {
                    inner
                        .buckets
                        .take(client, now)
                        .map_err(|wait| self.limited(wait))?;
                    if inner.invalid.get(&digest, now).is_some() {
                        return Err(TokenRejection::Unknown);
                    }
                    false
                }
            }
        };
        self.store_lookups.fetch_add(1, Ordering::Relaxed);
        let found = store.token_scopes_by_digest(&digest).await;
        let now = Instant::now();
        let mut inner = self.lock();
        match found {
            Err(e) => {
                if !was_valid {
                    inner.buckets.give_back(client, now);
                }
                Err(TokenRejection::Store(e))
            }
            Ok(Some(scopes)) => {
                if !was_valid {
                    inner.buckets.give_back(client, now);
                }
                let scopes: Arc<[String]> = scopes.into();
                inner
                    .valid
                    .insert(digest, scopes.clone(), now + self.limits.valid_ttl, now);
                Ok(scopes)
            }
            Ok(None) => {
                if was_valid {
                    // Revoked: from now on it is an unknown token like any other.
                    inner.valid.remove(&digest);
                    let _ = inner.buckets.take(client, now);
                }
                inner
                    .invalid
                    .insert(digest, (), now + self.limits.invalid_ttl, now);
                Err(TokenRejection::Unknown)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    #[test]
    fn ttl_map_stays_within_its_capacity_and_expires() {
        let t0 = Instant::now();
        let mut m: TtlMap<u32, u32> = TtlMap::new(8);
        for i in 0..1000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            m.insert(i, i, now + Duration::from_secs(10), now);
            assert!(m.len() <= 8, "{} entries after {i}", m.len());
        }
        // The newest survive eviction, the oldest do not.
        let now = t0 + Duration::from_millis(1000);
        assert_eq!(m.get(&999, now), Some(&999));
        assert_eq!(m.get(&0, now), None);
        assert_eq!(m.get(&999, now + Duration::from_secs(10)), None);
        assert_eq!(m.len(), m.entries.len());
    }

    #[test]
    fn buckets_refill_and_say_when() {
        let t0 = Instant::now();
        let mut b = Buckets {
            buckets: HashMap::new(),
            capacity: 4,
            burst: 3.0,
            rate: 2.0,
        };
        let c = ClientKey::V4(1);
        for _ in 0..3 {
            assert!(b.take(c, t0).is_ok());
        }
        let wait = b.take(c, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(b.take(c, t0 + Duration::from_millis(500)).is_ok());
        b.give_back(c, t0 + Duration::from_millis(500));
        assert!(b.take(c, t0 + Duration::from_millis(500)).is_ok());
        // Another client has a budget of its own.
        assert!(b.take(ClientKey::V4(2), t0).is_ok());
    }

    #[test]
    fn buckets_beyond_capacity_share_one() {
        let t0 = Instant::now();
        let mut b = Buckets {
            buckets: HashMap::new(),
            capacity: 4,
            burst: 1.0,
            rate: 0.0,
        };
        for ip in 0..100 {
            let _ = b.take(ClientKey::V4(ip), t0);
            assert!(b.buckets.len() <= 4);
        }
        // The late clients drained the shared bucket; the early ones kept their own.
        assert!(b.take(ClientKey::V4(500), t0).is_err());
        assert!(b.buckets.contains_key(&ClientKey::V4(0)));
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let a: SocketAddr = "[2001:db8::1]:5".parse().unwrap();
        let b: SocketAddr = "[2001:db8::ffff:2]:6".parse().unwrap();
        let c: SocketAddr = "[2001:db8:0:1::1]:6".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:1".parse().unwrap();
        let v4: SocketAddr = "10.0.0.1:2".parse().unwrap();
        let key = |a: SocketAddr| ClientKey::of(Some(a.ip()));
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(c));
        assert_eq!(key(mapped), key(v4));
        assert_eq!(ClientKey::of(None), ClientKey::Shared);
    }
}

//! Rate limits, with `governor`'s GCRA limiters: the requests of each API key, and the failed
//! authentications of each client address, which a guesser of keys makes many of.
//!
//! A key over its rate gets 429 with `Retry-After`; so does an address that failed to
//! authenticate too often, for every request with credentials until its budget refills,
//! without its credentials being looked up.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use icash_core::KeyId;

use crate::error::ApiError;

/// The most addresses or keys a limiter remembers before it forgets those whose budget is
/// full again.
const MAX_TRACKED: usize = 100_000;

/// The rate limits of the API; each `None` for no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per second each API key may make (a burst of as many is allowed).
    pub per_key_per_second: Option<NonZeroU32>,
    /// Failed authentications per minute each client address may make (as many in a burst)
    /// before its requests with credentials are refused until its budget refills.
    pub failures_per_minute: Option<NonZeroU32>,
}

/// The limiters of one API.
#[derive(Debug)]
pub(crate) struct Limiters {
    per_key: Option<DefaultKeyedRateLimiter<KeyId>>,
    failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// The addresses out of failure budget, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Limiters {
    /// The limiters of `limits`.
    pub(crate) fn new(limits: RateLimits) -> Limiters {
        Limiters {
            per_key: limits
                .per_key_per_second
                .map(|rate| RateLimiter::keyed(Quota::per_second(rate))),
            failures: limits
                .failures_per_minute
                .map(|rate| RateLimiter::keyed(Quota::per_minute(rate))),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses a request with credentials from `client` while the address is out of its
    /// failure budget.
    pub(crate) fn check_address(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(client) = client else {
            return Ok(());
        };
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked.get(&client) {
            Some(until) if *until > now => Err(ApiError::TooManyFailures(*until - now)),
            Some(_) => {
                blocked.remove(&client);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failed authentication from `client`; when it is one too many, the address is
    /// refused until its budget refills, this request included.
    pub(crate) fn failed(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let (Some(limiter), Some(client)) = (&self.failures, client) else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        let Err(not_until) = limiter.check_key(&client) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        if blocked.len() > MAX_TRACKED {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(client, Instant::now() + wait);
        Err(ApiError::TooManyFailures(wait))
    }

    /// Counts a request of `key` against its rate.
    pub(crate) fn request(&self, key: KeyId) -> Result<(), ApiError> {
        let Some(limiter) = &self.per_key else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        limiter.check_key(&key).map_err(|not_until| {
            ApiError::TooManyRequests(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }
}

/// The whole seconds a client waits, rounded up, at least one: what `Retry-After` says.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

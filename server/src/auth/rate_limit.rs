//! Per-account and per-address limits on sign-in and registration (GCRA, in memory,
//! per node). A refused attempt becomes a 429 with `Retry-After`.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::store::ids::UserId;

/// The keyed limiters of one app.
pub struct RateLimits {
    login_account: DefaultKeyedRateLimiter<String>,
    login_user: DefaultKeyedRateLimiter<UserId>,
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
    register_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

fn check<K: Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> AppResult<()> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        AppError::RateLimited(wait.as_secs() + 1)
    })
}

impl RateLimits {
    pub fn new(config: &Config) -> RateLimits {
        RateLimits {
            login_account: RateLimiter::keyed(Quota::per_minute(nz(
                config.login_attempts_per_account_per_minute
            ))),
            login_user: RateLimiter::keyed(Quota::per_minute(nz(
                config.login_attempts_per_account_per_minute
            ))),
            login_ip: RateLimiter::keyed(Quota::per_minute(nz(
                config.login_attempts_per_ip_per_minute
            ))),
            register_ip: RateLimiter::keyed(Quota::per_hour(nz(
                config.registrations_per_ip_per_hour
            ))),
        }
    }

    /// One sign-in attempt for `login` (as typed, normalised) from `ip`.
    pub fn login(&self, login: &str, ip: Option<IpAddr>) -> AppResult<()> {
        if let Some(ip) = ip {
            check(&self.login_ip, &ip)?;
        }
        check(&self.login_account, &login.trim().to_lowercase())
    }

    /// One password attempt against an existing account, however it was named (email
    /// or username) and from wherever: sign-in and password changes share this budget.
    pub fn password_attempt(&self, user: UserId, ip: Option<IpAddr>) -> AppResult<()> {
        if let Some(ip) = ip {
            check(&self.login_ip, &ip)?;
        }
        check(&self.login_user, &user)
    }

    /// One registration or setup attempt from `ip`.
    pub fn register(&self, ip: Option<IpAddr>) -> AppResult<()> {
        match ip {
            Some(ip) => check(&self.register_ip, &ip),
            None => Ok(()),
        }
    }

    /// Forget keys that are back to full capacity, so memory stays bounded.
    pub fn retain_recent(&self) {
        self.login_account.retain_recent();
        self.login_user.retain_recent();
        self.login_ip.retain_recent();
        self.register_ip.retain_recent();
    }
}

//! The failed-login limiter every protocol and the Passport nexus share. Failures are counted per
//! source address and per account; past a few free ones each further failure makes that address
//! (or account) wait, doubling up to a ceiling, before its next try is even checked. Guessing is
//! slowed to a try a minute or so, and nothing is locked for good. An account's own recent
//! addresses are spared its account-wide wait, so its owner still logs in while someone else
//! guesses at it.

use crate::AccountName;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How failures are answered.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures allowed before the waits begin.
    pub free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub first_wait: Duration,
    /// The longest wait.
    pub longest_wait: Duration,
    /// A record without a failure for this long is forgotten.
    pub forget_after: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 5,
            first_wait: Duration::from_secs(1),
            longest_wait: Duration::from_secs(60),
            forget_after: Duration::from_secs(3600),
        }
    }
}

/// Why a login is not checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until a try is checked again.
    pub retry_after: Duration,
}

/// Records kept at most per kind; past that the stalest are forgotten.
const MAX_RECORDS: usize = 100_000;
/// Addresses an account has logged in from lately, kept per account.
const KNOWN_ADDRESSES: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    wait_until: Instant,
}

#[derive(Default)]
struct State {
    addresses: HashMap<IpAddr, Record>,
    accounts: HashMap<AccountName, Record>,
    /// By a hash of the account's name, its recent addresses, newest first: kept inline, so a
    /// login allocates nothing here (a collision only spares an address a wait).
    known: HashMap<u64, [Option<IpAddr>; KNOWN_ADDRESSES]>,
    hasher: std::collections::hash_map::RandomState,
}

impl State {
    fn key(&self, account: &AccountName) -> u64 {
        self.hasher.hash_one(account)
    }

    fn is_known(&self, account: &AccountName, ip: IpAddr) -> bool {
        self.known.get(&self.key(account)).is_some_and(|known| known.contains(&Some(ip)))
    }
}

pub struct LoginThrottle {
    config: ThrottleConfig,
    state: Mutex<State>,
    /// Every failure since the start, for the operator.
    failures: std::sync::atomic::AtomicU64,
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        LoginThrottle { config, state: Mutex::default(), failures: Default::default() }
    }

    /// Failed logins since the server started.
    pub fn failures(&self) -> u64 {
        self.failures.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a login from `ip` for `account` (`None`: a name that cannot be an account) may be
    /// checked now.
    pub fn check(&self, ip: IpAddr, account: Option<&AccountName>) -> Result<(), Throttled> {
        let now = Instant::now();
        let state = self.state();
        let account_wait = account.filter(|a| !state.is_known(a, ip)).and_then(|a| state.accounts.get(a));
        let waits = [state.addresses.get(&ip), account_wait];
        let until = waits.into_iter().flatten().map(|r| r.wait_until).max();
        match until {
            Some(until) if until > now => Err(Throttled { retry_after: until - now }),
            _ => Ok(()),
        }
    }

    /// A wrong password (or an unknown account) from `ip`.
    pub fn failed(&self, ip: IpAddr, account: Option<&AccountName>) {
        self.failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Instant::now();
        let config = &self.config;
        let mut state = self.state();
        let account = account.filter(|a| !state.is_known(a, ip));
        let State { addresses, accounts, .. } = &mut *state;
        if let Some(wait) = record_failure(addresses, ip, now, config) {
            tracing::warn!(%ip, wait_secs = wait.as_secs_f32(), "failed logins from this address; its next is held back");
        }
        if let Some(account) = account {
            if let Some(wait) = record_failure(accounts, account.clone(), now, config) {
                tracing::warn!(%account, wait_secs = wait.as_secs_f32(), "failed logins to this account; its next from other addresses is held back");
            }
        }
    }

    /// The outcome of a password check that [`LoginThrottle::check`] let through.
    pub fn record(&self, ip: IpAddr, account: Option<&AccountName>, right: bool) {
        match (right, account) {
            (true, Some(account)) => self.succeeded(ip, account),
            _ => self.failed(ip, account),
        }
    }

    /// A right password from `ip`: its address is cleared, and known to the account.
    pub fn succeeded(&self, ip: IpAddr, account: &AccountName) {
        let mut state = self.state();
        if !state.addresses.is_empty() {
            state.addresses.remove(&ip);
        }
        let key = state.key(account);
        if state.known.len() >= MAX_RECORDS && !state.known.contains_key(&key) {
            state.known.clear();
        }
        let known = state.known.entry(key).or_default();
        if known[0] == Some(ip) {
            return;
        }
        // Newest first: the others move down, this address (wherever it was) leaves its place.
        let at = known.iter().position(|a| *a == Some(ip)).unwrap_or(KNOWN_ADDRESSES - 1);
        known[..=at].rotate_right(1);
        known[0] = Some(ip);
    }
}

/// Counts a failure; returns the wait it starts, if it starts one.
fn record_failure<K: std::hash::Hash + Eq>(
    records: &mut HashMap<K, Record>,
    key: K,
    now: Instant,
    config: &ThrottleConfig,
) -> Option<Duration> {
    if records.len() >= MAX_RECORDS {
        records.retain(|_, r| now.duration_since(r.last_failure) < config.forget_after);
        if records.len() >= MAX_RECORDS {
            records.clear();
        }
    }
    let record = records.entry(key).or_insert(Record { failures: 0, last_failure: now, wait_until: now });
    if now.duration_since(record.last_failure) >= config.forget_after {
        record.failures = 0;
    }
    record.failures += 1;
    record.last_failure = now;
    let beyond = record.failures.checked_sub(config.free_failures)?.checked_sub(1)?;
    let wait = config.first_wait.saturating_mul(1u32 << beyond.min(16)).min(config.longest_wait);
    record.wait_until = now + wait;
    Some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AccountName {
        AccountName::new(s).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn guesses_wait_longer_and_longer_while_the_owner_still_logs_in() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        let (owner, guesser, other): (IpAddr, IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let alice = name("alice");
        throttle.succeeded(owner, &alice);
        for _ in 0..5 {
            assert_eq!(throttle.check(guesser, Some(&alice)), Ok(()));
            throttle.failed(guesser, Some(&alice));
        }
        // The sixth failure starts the waits: 1 s, then 2 s, 4 s, … up to a minute.
        throttle.failed(guesser, Some(&alice));
        assert_eq!(throttle.check(guesser, Some(&alice)), Err(Throttled { retry_after: Duration::from_secs(1) }));
        for wait in [2, 4, 8, 16, 32, 60, 60] {
            throttle.failed(guesser, Some(&alice));
            assert_eq!(
                throttle.check(guesser, Some(&alice)),
                Err(Throttled { retry_after: Duration::from_secs(wait) })
            );
        }
        // The account is held back for other addresses, not for its owner's.
        assert!(throttle.check(other, Some(&alice)).is_err());
        assert_eq!(throttle.check(owner, Some(&alice)), Ok(()));
        // Nothing is locked for good: after the wait, a try is checked again.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(throttle.check(guesser, Some(&alice)), Ok(()));
        // A success clears its address.
        throttle.succeeded(guesser, &alice);
        assert_eq!(throttle.check(guesser, Some(&name("bob"))), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_forgotten_after_an_hour_without_one() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..6 {
            throttle.failed(ip, Some(&name("alice")));
        }
        tokio::time::advance(Duration::from_secs(3600)).await;
        throttle.failed(ip, Some(&name("alice")));
        assert_eq!(throttle.check(ip, Some(&name("alice"))), Ok(()), "a first failure again");
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_remembers_its_four_latest_addresses() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        let alice = name("alice");
        let ip = |last: u8| IpAddr::from([10, 0, 0, last]);
        for last in 1..=5 {
            throttle.succeeded(ip(last), &alice);
        }
        throttle.succeeded(ip(3), &alice);
        for _ in 0..7 {
            throttle.failed(ip(9), Some(&alice));
        }
        assert!(throttle.check(ip(1), Some(&alice)).is_err(), "the oldest is forgotten");
        for last in 2..=5 {
            assert_eq!(throttle.check(ip(last), Some(&alice)), Ok(()), "10.0.0.{last} is known");
        }
    }
}

//! Passport tickets: what a client gets from the nexus for its password and gives to the
//! notification server in `USR TWN S`. One use each, expiring, bounded in number.

use crate::handles::Domains;
use dashmap::DashMap;
use rand::distr::{Alphanumeric, SampleString};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use switchyard_core::{Account, AccountName, Core};

/// Tickets waiting to be used, across all accounts; a flood of logins beyond it is refused
/// until some are used or expire.
const MAX_OUTSTANDING: usize = 100_000;
/// Tickets waiting to be used for one account; a new one replaces the oldest, so one account
/// cannot fill the table (and its owner, who may have thrown some away, still logs in).
const MAX_PER_ACCOUNT: usize = 4;

/// Why the nexus refuses a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown handle or wrong password: `da-status=failed`.
    BadCredentials,
    /// Too many tickets outstanding, or the store failed.
    Unavailable,
}

pub struct Passport {
    tickets: DashMap<String, (AccountName, Instant)>,
    /// Each account's outstanding tickets, oldest first. Locked before `tickets` when both are.
    by_account: DashMap<AccountName, VecDeque<String>>,
    lifetime: Duration,
}

impl Passport {
    pub fn new(lifetime: Duration) -> Self {
        Passport { tickets: DashMap::new(), by_account: DashMap::new(), lifetime }
    }

    /// Checks a handle and password from `ip`; on success returns a new ticket (`t=…&p=…`).
    /// Tries the failed-login limiter holds back are refused unchecked.
    pub async fn sign_in(
        &self,
        core: &Core,
        domains: &Domains,
        ip: IpAddr,
        handle: &str,
        password: &str,
    ) -> Result<String, Refusal> {
        let name = domains.resolve(handle).ok();
        let throttle = core.login_throttle();
        if let Err(held) = throttle.check(ip, name.as_ref()) {
            tracing::info!(%ip, %handle, retry_after = ?held.retry_after, "Passport login held back after too many failures");
            return Err(Refusal::BadCredentials);
        }
        let checked = self.check_password(core, name.as_ref(), password).await;
        if !matches!(checked, Err(Refusal::Unavailable)) {
            throttle.record(ip, name.as_ref(), checked.is_ok());
        }
        let account = checked?;
        if self.tickets.len() >= MAX_OUTSTANDING {
            tracing::warn!("too many Passport tickets outstanding; login refused");
            return Err(Refusal::Unavailable);
        }
        let ticket = {
            let mut rng = rand::rng();
            format!("t={}&p={}", Alphanumeric.sample_string(&mut rng, 32), Alphanumeric.sample_string(&mut rng, 16))
        };
        let mut outstanding = self.by_account.entry(account.name.clone()).or_default();
        if outstanding.len() >= MAX_PER_ACCOUNT {
            if let Some(oldest) = outstanding.pop_front() {
                self.tickets.remove(&oldest);
            }
        }
        outstanding.push_back(ticket.clone());
        self.tickets.insert(ticket.clone(), (account.name, Instant::now() + self.lifetime));
        Ok(ticket)
    }

    async fn check_password(
        &self,
        core: &Core,
        name: Option<&AccountName>,
        password: &str,
    ) -> Result<Account, Refusal> {
        let name = name.ok_or(Refusal::BadCredentials)?;
        match core.store().account_with_secrets(name).await {
            Ok(Some((account, secrets))) if secrets.accepts_password(password) => Ok(account),
            Ok(_) => Err(Refusal::BadCredentials),
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                Err(Refusal::Unavailable)
            }
        }
    }

    /// Takes a ticket off the table; the account it was issued for, if it is still valid.
    pub fn redeem(&self, ticket: &str) -> Option<AccountName> {
        let (_, (name, expires)) = self.tickets.remove(ticket)?;
        self.by_account.remove_if_mut(&name, |_, outstanding| {
            outstanding.retain(|t| t != ticket);
            outstanding.is_empty()
        });
        (expires > Instant::now()).then_some(name)
    }

    pub fn sweep_expired(&self) {
        let now = Instant::now();
        self.tickets.retain(|_, (_, expires)| *expires > now);
        self.by_account.retain(|_, outstanding| {
            outstanding.retain(|t| self.tickets.contains_key(t));
            !outstanding.is_empty()
        });
    }
}

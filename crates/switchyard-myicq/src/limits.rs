//! Budgets for registrations, counted in hour-long windows: per source address, and for all
//! addresses together. (Failed logins are slowed by the core's limiter, shared by every
//! protocol.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(3600);
/// Addresses remembered at most; past that the oldest windows are forgotten first.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Budget {
    Registration,
    /// Every address's registrations, counted under [`EVERYONE`].
    AllRegistrations,
}

/// The address the budgets of all addresses together are kept under.
pub(crate) const EVERYONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

pub(crate) struct PerAddress {
    registrations: u32,
    all_registrations: u32,
    /// (address, budget) → (window start, count)
    used: Mutex<HashMap<(IpAddr, Budget), (Instant, u32)>>,
}

impl PerAddress {
    pub(crate) fn new(registrations: u32, all_registrations: u32) -> Self {
        PerAddress { registrations, all_registrations, used: Mutex::new(HashMap::new()) }
    }

    fn allowance(&self, budget: Budget) -> u32 {
        match budget {
            Budget::Registration => self.registrations,
            Budget::AllRegistrations => self.all_registrations,
        }
    }

    /// Whether `ip` has some of `budget` left at `now`.
    pub(crate) fn allows(&self, ip: IpAddr, budget: Budget, now: Instant) -> bool {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        match used.get(&(ip, budget)) {
            Some((start, count)) if now.duration_since(*start) < WINDOW => *count < self.allowance(budget),
            _ => self.allowance(budget) > 0,
        }
    }

    /// Uses one of `ip`'s `budget`.
    pub(crate) fn spend(&self, ip: IpAddr, budget: Budget, now: Instant) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.len() >= MAX_ADDRESSES {
            used.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if used.len() >= MAX_ADDRESSES {
                used.clear();
            }
        }
        let entry = used.entry((ip, budget)).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_per_address_and_per_hour() {
        let limits = PerAddress::new(2, 0);
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert!(limits.allows(a, Budget::Registration, t0));
        limits.spend(a, Budget::Registration, t0);
        limits.spend(a, Budget::Registration, t0);
        assert!(!limits.allows(a, Budget::Registration, t0 + Duration::from_secs(10)));
        assert!(limits.allows(b, Budget::Registration, t0), "another address");
        assert!(limits.allows(a, Budget::Registration, t0 + WINDOW), "a new hour");
        assert!(!limits.allows(b, Budget::AllRegistrations, t0), "a budget of none");
    }
}

//! Counts of datagrams dropped without an answer, by reason.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    pub too_short: AtomicU64,
    pub too_long: AtomicU64,
    pub bad_version: AtomicU64,
    /// Not whole blocks, or the check code failed: a wrong key or a forged packet.
    pub undecryptable: AtomicU64,
    /// The uin or session id did not match the sender's session.
    pub spoofed: AtomicU64,
    /// No session to take it: not logged in, or expired.
    pub no_session: AtomicU64,
    /// Too many sessions, or the session's inbox was full.
    pub overloaded: AtomicU64,
}

impl Stats {
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter, named.
    pub fn snapshot(&self) -> [(&'static str, u64); 7] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("too_short", get(&self.too_short)),
            ("too_long", get(&self.too_long)),
            ("bad_version", get(&self.bad_version)),
            ("undecryptable", get(&self.undecryptable)),
            ("spoofed", get(&self.spoofed)),
            ("no_session", get(&self.no_session)),
            ("overloaded", get(&self.overloaded)),
        ]
    }

    pub fn total(&self) -> u64 {
        self.snapshot().iter().map(|(_, n)| n).sum()
    }
}

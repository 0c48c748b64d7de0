//! MSN handles (`alice@hotmail.com`) and the accounts behind them.

use msnp::text::{Handle, HandleError};
use switchyard_core::{AccountName, AccountRef};

/// The configured MSN domains; the first is the one handles are shown with.
#[derive(Debug, Clone)]
pub struct Domains(Vec<String>);

/// Why a typed handle names no local account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// Not an e-mail style address at all.
    Malformed,
    MissingDomain,
    /// Well-formed, but not a name this server could have.
    Foreign,
}

impl Domains {
    /// `domains` must not be empty; names are compared case-insensitively.
    pub fn new(domains: Vec<String>) -> Self {
        assert!(!domains.is_empty(), "at least one MSN domain");
        Domains(domains.into_iter().map(|d| d.to_ascii_lowercase()).collect())
    }

    pub fn default_domain(&self) -> &str {
        &self.0[0]
    }

    pub(crate) fn handle_of(&self, name: &AccountName) -> String {
        format!("{}@{}", name, self.default_domain())
    }

    /// The account's nickname, or its handle when it has chosen none, as MSN did. Never empty:
    /// an empty name would vanish from the space-separated line.
    pub(crate) fn friendly_of(&self, account: &AccountRef) -> String {
        match &account.nickname {
            Some(nickname) if !nickname.is_empty() => nickname.clone(),
            _ => self.handle_of(&account.name),
        }
    }

    pub(crate) fn resolve(&self, text: &str) -> Result<AccountName, ResolveError> {
        let handle = Handle::parse(text).map_err(|e| match e {
            HandleError::Malformed => ResolveError::Malformed,
            HandleError::MissingDomain => ResolveError::MissingDomain,
        })?;
        if !self.0.contains(&handle.domain) {
            return Err(ResolveError::Foreign);
        }
        AccountName::new(&handle.local).map_err(|_| ResolveError::Foreign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_any_configured_domain() {
        let domains = Domains::new(vec!["hotmail.com".into(), "msn.com".into()]);
        assert_eq!(domains.resolve("Alice@MSN.com").unwrap().as_str(), "alice");
        assert_eq!(domains.resolve("alice@hotmail.com").unwrap().as_str(), "alice");
        assert_eq!(domains.resolve("alice@example.com"), Err(ResolveError::Foreign));
        assert_eq!(domains.resolve("al+ice@hotmail.com"), Err(ResolveError::Foreign));
        assert_eq!(domains.resolve("alice@"), Err(ResolveError::MissingDomain));
        assert_eq!(domains.resolve("alice"), Err(ResolveError::Malformed));
        assert_eq!(domains.handle_of(&AccountName::new("bob").unwrap()), "bob@hotmail.com");
    }
}

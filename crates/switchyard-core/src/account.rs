//! Accounts and their names.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login name: lowercase letters, digits, `.`, `_`, `-`, 1–64 characters. The same name is the
/// local part of the user's handle on every protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

impl TryFrom<String> for AccountName {
    type Error = InvalidAccountName;

    fn try_from(name: String) -> Result<Self, InvalidAccountName> {
        AccountName::new(&name)
    }
}

impl From<AccountName> for String {
    fn from(name: AccountName) -> String {
        name.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account names are 1-64 characters of lowercase letters, digits, '.', '_' and '-'")]
pub struct InvalidAccountName;

impl AccountName {
    pub const MAX_LEN: usize = 64;

    pub fn new(name: &str) -> Result<Self, InvalidAccountName> {
        let valid_byte = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b);
        if (1..=Self::MAX_LEN).contains(&name.len()) && name.bytes().all(valid_byte) {
            Ok(AccountName(name.to_owned()))
        } else {
            Err(InvalidAccountName)
        }
    }

    /// A name someone typed for an account, or why it cannot be one: the words the command
    /// line and the web site both answer with.
    pub fn typed(name: &str) -> Result<Self, String> {
        AccountName::new(name).map_err(|e| format!("invalid account name {name:?}: {e}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is digits only, as a MyICQ UIN is: such a name belongs to the account
    /// with that UIN (registrations over MyICQ are named so), and no other may take it.
    pub fn is_numeric(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: AccountName,
    /// Numeric identity on MyICQ; assigned from 10001 upwards.
    pub uin: u32,
    pub nickname: Option<String>,
}

impl Account {
    pub fn to_ref(&self) -> AccountRef {
        AccountRef { id: self.id, name: self.name.clone(), uin: self.uin, nickname: self.nickname.clone() }
    }

    /// The name shown for the account: its nickname, else its login name.
    pub fn display_name(&self) -> String {
        self.nickname.clone().unwrap_or_else(|| self.name.to_string())
    }
}

/// What a session needs to show another account: identity and chosen nickname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub id: AccountId,
    pub name: AccountName,
    pub uin: u32,
    pub nickname: Option<String>,
}

impl From<AccountRef> for Account {
    fn from(account: AccountRef) -> Account {
        Account { id: account.id, name: account.name, uin: account.uin, nickname: account.nickname }
    }
}

impl From<Account> for AccountRef {
    fn from(account: Account) -> AccountRef {
        AccountRef { id: account.id, name: account.name, uin: account.uin, nickname: account.nickname }
    }
}

/// Longest nickname an operator or a web form sets, in characters (clients set their own).
pub const MAX_NICKNAME: usize = 128;

/// Why `nickname` cannot be an account's nickname, if it cannot: the words the command line and
/// the web site both answer with.
pub fn nickname_refusal(nickname: &str) -> Option<&'static str> {
    if nickname.trim().is_empty() {
        Some("the nickname must not be blank")
    } else if nickname.chars().count() > MAX_NICKNAME {
        Some("the nickname must be at most 128 characters")
    } else if nickname.chars().any(char::is_control) {
        Some("the nickname must not contain control characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_name_rules() {
        for good in ["a", "alice", "bob.smith", "x_y-z9", &"a".repeat(64)] {
            assert!(AccountName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "Alice", "a b", "a@b", "ü", &"a".repeat(65)] {
            assert!(AccountName::new(bad).is_err(), "{bad}");
        }
    }
}

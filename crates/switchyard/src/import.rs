//! `switchyard user import`: accounts and contact lists from lines of text, into whatever store
//! is configured: moving users from another server, or setting up a load test (`yard-bench`).
//!
//! ```text
//! # comments and blank lines are skipped
//! user NAME PASSWORD [NICKNAME…]      the account, created or given this password
//! contact OWNER TARGET [SHOWN AS…]    OWNER has TARGET on their list, and TARGET lets OWNER
//!                                     see them (an authorization already granted)
//! ```
//!
//! Each `user` line is answered with the account's UIN and name, tab-separated, as `user list`
//! prints them. Importing the same lines twice changes nothing the second time.

use anyhow::{bail, Context as _};
use std::io::{BufRead, Write};
use switchyard_core::{Account, AccountName, RelationFlags, Store};

/// Reads `input` line by line into `store`, answering each `user` line on `out`. Stops at the
/// first line it cannot take, naming it; what came before stays imported.
pub async fn import(store: &dyn Store, input: impl BufRead, out: &mut impl Write) -> anyhow::Result<()> {
    for (index, line) in input.lines().enumerate() {
        let line = line.context("cannot read the input")?;
        import_line(store, &line, out).await.with_context(|| format!("line {}: {line}", index + 1))?;
    }
    Ok(())
}

async fn import_line(store: &dyn Store, line: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let mut words = line.split_whitespace();
    let rest =
        |words: std::str::SplitWhitespace<'_>| Some(words.collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty());
    match words.next() {
        None => Ok(()),
        Some(comment) if comment.starts_with('#') => Ok(()),
        Some("user") => {
            let (Some(name), Some(password)) = (words.next(), words.next()) else {
                bail!("expected: user NAME PASSWORD [NICKNAME]");
            };
            let account = user(store, name, password, rest(words).as_deref()).await?;
            writeln!(out, "{}\t{}", account.uin, account.name)?;
            Ok(())
        }
        Some("contact") => {
            let (Some(owner), Some(target)) = (words.next(), words.next()) else {
                bail!("expected: contact OWNER TARGET [SHOWN AS]");
            };
            contact(store, owner, target, rest(words).as_deref()).await
        }
        Some(other) => bail!("unknown kind of line {other:?} (user, contact)"),
    }
}

/// A `user` line: the account named `name`, created or given `password` (and `nickname`, when
/// one is given).
pub async fn user(store: &dyn Store, name: &str, password: &str, nickname: Option<&str>) -> anyhow::Result<Account> {
    let name = account_name(name)?;
    match store.account_by_name(&name).await? {
        Some(account) => {
            store.set_password(account.id, password).await?;
            if nickname.is_some() && nickname != account.nickname.as_deref() {
                store.set_nickname(account.id, nickname).await?;
            }
            Ok(account)
        }
        None => Ok(store.create_account(&name, password, nickname).await?),
    }
}

/// A `contact` line: `owner` has `target` on their list (shown as `shown_as`), and `target`
/// lets `owner` see them.
pub async fn contact(store: &dyn Store, owner: &str, target: &str, shown_as: Option<&str>) -> anyhow::Result<()> {
    let owner = existing(store, owner).await?;
    let target = existing(store, target).await?;
    anyhow::ensure!(owner.id != target.id, "an account cannot be its own contact");
    let listed = (store.relation_flags(owner.id, target.id).await? - RelationFlags::BLOCK)
        | RelationFlags::FORWARD
        | RelationFlags::ALLOW;
    store.set_relation(owner.id, target.id, listed, shown_as).await?;
    let allowing = (store.relation_flags(target.id, owner.id).await? - RelationFlags::BLOCK) | RelationFlags::ALLOW;
    store.set_relation(target.id, owner.id, allowing, None).await?;
    Ok(())
}

/// A login name as an operator typed it, or why it is none (the `user` commands share it).
pub fn account_name(name: &str) -> anyhow::Result<AccountName> {
    AccountName::typed(name).map_err(anyhow::Error::msg)
}

/// The account an operator named, or why there is none.
pub async fn existing(store: &dyn Store, name: &str) -> anyhow::Result<Account> {
    let name = account_name(name)?;
    store.account_by_name(&name).await?.with_context(|| format!("no account named {name}"))
}

#[cfg(test)]
mod tests {
    use super::import;
    use switchyard_core::memory::MemoryStore;
    use switchyard_core::{AccountName, RelationFlags, Store};

    async fn run(store: &MemoryStore, lines: &str) -> anyhow::Result<String> {
        let mut out = Vec::new();
        import(store, lines.as_bytes(), &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    async fn id(store: &MemoryStore, name: &str) -> switchyard_core::AccountId {
        store.account_by_name(&AccountName::new(name).unwrap()).await.unwrap().unwrap().id
    }

    const LINES: &str = "# two partners and a watcher\n\
                         user alice pw-a Alice A\n\
                         user bob pw-b\n\
                         \n\
                         user carol pw-c\n\
                         contact alice bob partner\n\
                         contact bob alice partner\n\
                         contact carol alice\n";

    #[tokio::test]
    async fn accounts_and_lists_are_imported_and_importing_again_changes_nothing() {
        let store = MemoryStore::new();
        let answer = run(&store, LINES).await.unwrap();
        assert_eq!(answer, "10001\talice\n10002\tbob\n10003\tcarol\n");
        let (alice, bob, carol) = (id(&store, "alice").await, id(&store, "bob").await, id(&store, "carol").await);
        let both = RelationFlags::FORWARD | RelationFlags::ALLOW;
        assert_eq!(store.relation_flags(alice, bob).await.unwrap(), both);
        assert_eq!(store.relation_flags(bob, alice).await.unwrap(), both);
        assert_eq!(store.relation_flags(carol, alice).await.unwrap(), both);
        assert_eq!(store.relation_flags(alice, carol).await.unwrap(), RelationFlags::ALLOW, "carol may see alice");
        let alices = store.relations(alice).await.unwrap();
        let bob_shown = alices.iter().find(|r| r.other.id == bob).map(|r| r.display_name.as_str());
        assert_eq!(bob_shown, Some("partner"));
        let secrets = store.secrets(alice).await.unwrap().unwrap();
        assert!(secrets.accepts_password("pw-a"));
        assert_eq!(store.account_by_id(alice).await.unwrap().unwrap().nickname.as_deref(), Some("Alice A"));

        let again = run(&store, &LINES.replace("pw-a", "new-a")).await.unwrap();
        assert_eq!(again, answer, "the same accounts");
        assert_eq!(store.accounts().await.unwrap().len(), 3);
        assert_eq!(store.relation_flags(alice, bob).await.unwrap(), both);
        assert_eq!(store.relation_flags(alice, carol).await.unwrap(), RelationFlags::ALLOW);
        assert!(store.secrets(alice).await.unwrap().unwrap().accepts_password("new-a"), "the password is the file's");
    }

    #[tokio::test]
    async fn a_bad_line_is_named_and_what_came_before_stays() {
        let store = MemoryStore::new();
        for (lines, said) in [
            ("user alice pw\ncontact alice nobody\n", "line 2: contact alice nobody"),
            ("user alice pw\nuser Bob pw\n", "line 2: user Bob pw"),
            ("user alice\n", "line 1: user alice"),
            ("frobnicate alice\n", "unknown kind of line"),
            ("user alice pw\ncontact alice alice\n", "its own contact"),
        ] {
            let error = format!("{:#}", run(&store, lines).await.unwrap_err());
            assert!(error.contains(said), "{lines:?}: {error}");
        }
        assert_eq!(store.accounts().await.unwrap().len(), 1, "alice, from the lines before the bad ones");
    }
}

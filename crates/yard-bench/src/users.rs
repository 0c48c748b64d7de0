//! The bench's users and the accounts behind them.

use crate::{Args, Scenario, Which};
use anyhow::Context as _;
use switchyard_core::{AccountName, RelationFlags, Store};
use switchyard_store_sqlite::SqliteStore;
use yard::Protocol;

/// One bench user: the protocol they log in with, and how each protocol names them (on one
/// Switchyard directory an MSN user writes to an MRIM user by their MSN handle).
#[derive(Clone)]
pub(crate) struct User {
    pub(crate) protocol: Protocol,
    msn: String,
    mrim: String,
    uin: u32,
}

impl User {
    fn new(args: &Args, index: usize, uin: u32) -> User {
        let protocol = match args.protocol {
            Which::Msn => Protocol::Msn,
            Which::Mrim => Protocol::Mrim,
            Which::Myicq => Protocol::MyIcq,
            Which::Mixed => [Protocol::Msn, Protocol::Mrim, Protocol::MyIcq][index % 3],
        };
        let name = format!("{}{index}", args.prefix);
        User { protocol, msn: format!("{name}@{}", args.msn_domain), mrim: format!("{name}@{}", args.mrim_domain), uin }
    }

    pub(crate) fn handle(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::Msn => self.msn.clone(),
            Protocol::Mrim => self.mrim.clone(),
            Protocol::MyIcq => self.uin.to_string(),
        }
    }
}

/// The bench's users: created in the server's database where missing, or, without
/// `--data-dir`, named by the options and assumed to exist.
pub(crate) async fn accounts(args: &Args) -> anyhow::Result<Vec<User>> {
    let Some(data_dir) = &args.data_dir else {
        anyhow::ensure!(
            !matches!(args.scenario, Scenario::Fanout { .. }),
            "fanout sets up its contact lists in the server's database: it needs --data-dir"
        );
        let first_uin = match (args.protocol, args.myicq_first_uin) {
            (Which::Msn | Which::Mrim, first) => first.unwrap_or(0),
            (_, Some(first)) => first,
            (_, None) => anyhow::bail!("MyICQ users without --data-dir need --myicq-first-uin"),
        };
        let uin = |i: usize| u32::try_from(i).ok().and_then(|i| first_uin.checked_add(i)).context("UIN out of range");
        return (0..args.users).map(|i| Ok(User::new(args, i, uin(i)?))).collect();
    };
    let path = data_dir.join("switchyard.db");
    let store = SqliteStore::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?;
    let mut users = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let name = AccountName::new(&format!("{}{i}", args.prefix)).context("bad --prefix")?;
        let account = match store.account_by_name(&name).await? {
            Some(account) => account,
            None => store.create_account(&name, &args.password, None).await?,
        };
        users.push(User::new(args, i, account.uin));
        // For `fanout`, everyone watches user 0 (and lets it see them).
        if matches!(args.scenario, Scenario::Fanout { .. }) && i > 0 {
            let star =
                store.account_by_name(&AccountName::new(&format!("{}0", args.prefix))?).await?.context("user 0")?;
            let both = RelationFlags::FORWARD | RelationFlags::ALLOW;
            store.set_relation(account.id, star.id, both, Some("star")).await?;
            store.set_relation(star.id, account.id, RelationFlags::ALLOW, None).await?;
        }
    }
    store.close().await;
    Ok(users)
}

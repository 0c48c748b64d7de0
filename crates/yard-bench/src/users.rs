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
        let protocol = match args.protocol() {
            Which::Msn => Protocol::Msn,
            Which::Mrim => Protocol::Mrim,
            Which::Myicq => Protocol::MyIcq,
            Which::Mixed => mixed_protocol(index),
        };
        let name = format!("{}{index}", args.prefix);
        User { protocol, msn: format!("{name}@{}", args.msn_domain), mrim: format!("{name}@{}", args.mrim_domain), uin }
    }

    /// How user `index` logs in: its own protocol's handle, at that protocol's server.
    pub(crate) fn account(&self, args: &Args) -> yard::Account {
        let server = match self.protocol {
            Protocol::Msn => args.msn.clone(),
            Protocol::Mrim => args.mrim.clone(),
            Protocol::MyIcq => args.myicq.clone(),
        };
        yard::Account {
            protocol: self.protocol,
            server,
            handle: self.handle(self.protocol),
            password: args.password.clone(),
        }
    }

    pub(crate) fn handle(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::Msn => self.msn.clone(),
            Protocol::Mrim => self.mrim.clone(),
            Protocol::MyIcq => self.uin.to_string(),
        }
    }
}

/// The protocol of user `index` when all three are mixed: pair k (users 2k → 2k+1) takes the
/// k-th of the nine routes in turn (MSN→MSN, MSN→MRIM, MSN→MyICQ, MRIM→MSN, …), so that every
/// route is loaded alike and each protocol has a third of the users.
pub(crate) fn mixed_protocol(index: usize) -> Protocol {
    const ALL: [Protocol; 3] = [Protocol::Msn, Protocol::Mrim, Protocol::MyIcq];
    let (pair, place) = (index / 2, index % 2);
    let route = pair % 9;
    if place == 0 {
        ALL[route / 3]
    } else {
        ALL[route % 3]
    }
}

/// The bench's users: created in the server's database where missing, or, without
/// `--data-dir`, named by the options and assumed to exist.
pub(crate) async fn accounts(args: &Args) -> anyhow::Result<Vec<User>> {
    let Some(data_dir) = &args.data_dir else {
        anyhow::ensure!(
            !args.scenario.needs_contact_lists(),
            "this scenario sets up contact lists in the server's database: it needs --data-dir"
        );
        let first_uin = match (args.protocol(), args.myicq_first_uin) {
            (Which::Msn | Which::Mrim, first) => first.unwrap_or(0),
            (_, Some(first)) => first,
            (_, None) => anyhow::bail!("MyICQ users without --data-dir need --myicq-first-uin"),
        };
        let uin = |i: usize| u32::try_from(i).ok().and_then(|i| first_uin.checked_add(i)).context("UIN out of range");
        return (0..args.users).map(|i| Ok(User::new(args, i, uin(i)?))).collect();
    };
    let path = data_dir.join(switchyard_store_sqlite::FILE_NAME);
    let store = SqliteStore::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?;
    let mut accounts = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let name = AccountName::new(&format!("{}{i}", args.prefix)).context("bad --prefix")?;
        accounts.push(match store.account_by_name(&name).await? {
            Some(account) => account,
            None => store.create_account(&name, &args.password, None).await?,
        });
    }
    let both = RelationFlags::FORWARD | RelationFlags::ALLOW;
    match args.scenario {
        // Everyone watches user 0 (and lets it see them).
        Scenario::Fanout { .. } => {
            if let Some((star, watchers)) = accounts.split_first() {
                for watcher in watchers {
                    store.set_relation(watcher.id, star.id, both, Some("star")).await?;
                    store.set_relation(star.id, watcher.id, RelationFlags::ALLOW, None).await?;
                }
            }
        }
        // Partners watch each other.
        Scenario::Mixed { .. } if args.scenario.needs_contact_lists() => {
            for pair in accounts.chunks_exact(2) {
                store.set_relation(pair[0].id, pair[1].id, both, Some("partner")).await?;
                store.set_relation(pair[1].id, pair[0].id, both, Some("partner")).await?;
            }
        }
        _ => {}
    }
    store.close().await;
    Ok(accounts.iter().enumerate().map(|(i, account)| User::new(args, i, account.uin)).collect())
}

/// The loopback address user `index` connects from: 127.0.0.1 … 127.0.0.N for `--sources N`
/// (one address gives only about 28,000 ports).
pub(crate) fn source_address(args: &Args, index: usize) -> std::net::IpAddr {
    [127, 0, 0, 1 + (index % usize::from(args.sources.max(1))) as u8].into()
}

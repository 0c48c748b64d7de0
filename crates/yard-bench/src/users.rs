//! The bench's users and the accounts behind them.

use crate::{Args, Scenario, Which};
use anyhow::Context as _;
use switchyard::import;
use yard::Protocol;

/// One bench user: the protocol they log in with, and how each protocol names them (on one
/// Switchyard directory an MSN user writes to an MRIM user by their MSN handle).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct User {
    index: usize,
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
        User {
            index,
            protocol,
            msn: format!("{name}@{}", args.msn_domain),
            mrim: format!("{name}@{}", args.mrim_domain),
            uin,
        }
    }

    /// How the user logs in: its own protocol's handle, at that protocol's server — of
    /// several (nodes of one network), the one its index picks in turn, so that partners
    /// (users 2k and 2k + 1) are on different nodes.
    pub(crate) fn account(&self, args: &Args) -> yard::Account {
        let servers = match self.protocol {
            Protocol::Msn => &args.msn,
            Protocol::Mrim => &args.mrim,
            Protocol::MyIcq => &args.myicq,
        };
        let servers: Vec<&str> = servers.split(',').map(str::trim).collect();
        let server = servers[self.index % servers.len()].to_owned();
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

/// The bench's users: created in a Switchyard server's store (the one its `--config` and
/// `--data-dir` name, whatever kind it is) as `switchyard user import` would, or, without either,
/// named by the options and assumed to exist.
pub(crate) async fn accounts(args: &Args) -> anyhow::Result<Vec<User>> {
    let Some(config) = server_config(args)? else {
        anyhow::ensure!(
            !args.scenario.needs_contact_lists(),
            "this scenario sets up contact lists in the server's store: it needs --data-dir or --config"
        );
        let first_uin = match (args.protocol(), args.myicq_first_uin) {
            (Which::Msn | Which::Mrim, first) => first.unwrap_or(0),
            (_, Some(first)) => first,
            (_, None) => anyhow::bail!("MyICQ users without --data-dir or --config need --myicq-first-uin"),
        };
        let uin = |i: usize| u32::try_from(i).ok().and_then(|i| first_uin.checked_add(i)).context("UIN out of range");
        return (0..args.users).map(|i| Ok(User::new(args, i, uin(i)?))).collect();
    };
    let store = switchyard::open_store(&config).await.context("cannot open the server's store")?;
    let created = create(&*store, args).await;
    store.close().await;
    let uins = created?;
    Ok(uins.into_iter().enumerate().map(|(i, uin)| User::new(args, i, uin)).collect())
}

/// The server's configuration as `switchyard` reads it, if the bench was given one (a store's
/// URL alone is one: the default configuration with that store).
fn server_config(args: &Args) -> anyhow::Result<Option<switchyard::Config>> {
    let mut config = match &args.config {
        Some(path) => switchyard::Config::from_file(path)?,
        None if args.data_dir.is_some() || args.store_url.is_some() => switchyard::Config::default(),
        None => return Ok(None),
    };
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &args.store_url {
        config.store.url = url.clone();
    }
    Ok(Some(config))
}

/// Creates the users and the scenario's contact lists; their UINs.
async fn create(store: &dyn switchyard_core::Store, args: &Args) -> anyhow::Result<Vec<u32>> {
    let name = |i: usize| format!("{}{i}", args.prefix);
    let mut uins = Vec::with_capacity(args.users);
    for i in 0..args.users {
        uins.push(import::user(store, &name(i), &args.password, None).await?.uin);
    }
    match args.scenario {
        // Everyone watches user 0 (and lets it see them).
        Scenario::Fanout { .. } => {
            for watcher in 1..args.users {
                import::contact(store, &name(watcher), &name(0), Some("star")).await?;
            }
        }
        // Partners watch each other.
        Scenario::Mixed { .. } if args.scenario.needs_contact_lists() => {
            for first in (0..args.users.saturating_sub(1)).step_by(2) {
                import::contact(store, &name(first), &name(first + 1), Some("partner")).await?;
                import::contact(store, &name(first + 1), &name(first), Some("partner")).await?;
            }
        }
        _ => {}
    }
    Ok(uins)
}

/// The loopback address user `index` connects from: 127.0.0.1 … 127.0.0.N for `--sources N`
/// (one address gives only about 28,000 ports).
pub(crate) fn source_address(args: &Args, index: usize) -> std::net::IpAddr {
    [127, 0, 0, 1 + (index % usize::from(args.sources.max(1))) as u8].into()
}

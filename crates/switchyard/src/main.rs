use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use std::io::BufRead;
use std::net::IpAddr;
use std::path::PathBuf;
use switchyard::import::{account_name, existing};
use switchyard::{open_sqlite, open_store, open_store_at, Config, RunningServer, StoreLocation};
use switchyard_core::{Date, Sex, Store};

/// One server for MSN Messenger, Mail.Ru Agent and MyICQ clients.
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "The log goes to standard error; SWITCHYARD_LOG sets what it shows, as a tracing filter \
                  (default `info`; e.g. `debug`, or `info,switchyard_msn=debug` for every MSN command line)."
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command shares: where the configuration and the data are.
#[derive(Args)]
struct CommonArgs {
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, global = true, env = "SWITCHYARD_CONFIG")]
    config: Option<PathBuf>,
    /// Directory holding the database, its certificates and its lock; `serve` creates it if
    /// missing [default: ./switchyard-data]
    #[arg(long, global = true, env = "SWITCHYARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where accounts, lists and queued messages are kept: sqlite://FILE (a relative FILE is in
    /// the data directory) or postgres://USER@HOST/DATABASE [default: sqlite://switchyard.db]
    #[arg(long = "store", global = true, env = "SWITCHYARD_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Start every listener.
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Copy the SQLite database into a new file, safely while the server runs (SQLite's online
    /// backup). To restore, stop the server and put the copy in place of the database
    /// (store.url; by default the data directory's switchyard.db). A PostgreSQL store is backed
    /// up with PostgreSQL's own tools (pg_dump).
    Backup {
        /// The new file; it must not exist.
        file: PathBuf,
    },
    /// Work on whole stores.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy every account, secret, list, group, profile, queued message and broadcast, with
    /// their ids (and so UINs), into an empty store, then check both hold as many of each. Stop
    /// the server first: what changes during the copy may be missed. The way from SQLite to
    /// PostgreSQL when a network outgrows one box (or back).
    Copy {
        /// The store to copy: sqlite://FILE or postgres://USER@HOST/DATABASE.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The store to fill; it must hold no accounts. An SQLite file is created if missing.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long, env = "SWITCHYARD_BIND")]
    bind: Option<IpAddr>,
    /// MSN notification and switchboard port; 0 picks a free one [default: 1863]
    #[arg(long, env = "SWITCHYARD_MSN_PORT")]
    msn_port: Option<u16>,
    /// Optional dispatch-only port that refers logins to the notification port.
    #[arg(long, env = "SWITCHYARD_MSN_DISPATCH_PORT")]
    msn_dispatch_port: Option<u16>,
    /// Mail.Ru Agent (MRIM) port; 0 picks a free one [default: 2041]
    #[arg(long, env = "SWITCHYARD_MRIM_PORT")]
    mrim_port: Option<u16>,
    /// MRIM redirector port (answers `ip:port` and closes) [default: 2042]
    #[arg(long, env = "SWITCHYARD_MRIM_REDIRECT_PORT")]
    mrim_redirect_port: Option<u16>,
    /// MyICQ UDP port; 0 picks a free one, `off` serves no MyICQ [default: 8000]
    #[arg(long, env = "SWITCHYARD_MYICQ_PORT", value_parser = parse_port)]
    myicq_port: Option<Port>,
    /// HTTP port of the Passport nexus; 0 picks a free one [default: 8080]
    #[arg(long, env = "SWITCHYARD_HTTP_PORT")]
    http_port: Option<u16>,
    /// HTTPS port of the Passport nexus; 0 picks a free one, `off` serves no HTTPS [default: 8443]
    #[arg(long, env = "SWITCHYARD_HTTPS_PORT", value_parser = parse_port)]
    https_port: Option<Port>,
    /// Open connections one source address may have, all TCP listeners together [default: 100]
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: Option<usize>,
    /// NATS of the network this node joins (`nats://HOST:PORT`); the store must be PostgreSQL
    #[arg(long, env = "SWITCHYARD_CLUSTER_NATS")]
    cluster_nats: Option<String>,
    /// This node's name in its network [default: node-<MSN listening address>]
    #[arg(long, env = "SWITCHYARD_NODE")]
    node: Option<String>,
}

/// A port to listen on, or none.
#[derive(Clone, Copy)]
enum Port {
    On(u16),
    Off,
}

fn parse_port(text: &str) -> Result<Port, String> {
    match text {
        "off" => Ok(Port::Off),
        number => number.parse().map(Port::On).map_err(|_| "a port number (0 picks a free one), or off".into()),
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. Its UIN (the MyICQ number) is given in order: 10001, 10002, …
    Add {
        /// The login name: 1–64 lowercase letters, digits, `.`, `_` and `-`, not digits only
        /// (those are UINs). The same name is the user's handle on every protocol:
        /// NAME@hotmail.com (MSN), NAME@mail.ru (MRIM), and the UIN for MyICQ.
        name: String,
        /// The password; without it, it is asked for twice (hidden) at a terminal, or read as a
        /// line from standard input.
        #[arg(long)]
        password: Option<String>,
        /// The name shown to others until the user sets one from a client.
        #[arg(long)]
        nickname: Option<String>,
        /// Create the database if the data directory has none (a first account before the
        /// first `serve`); without it a missing database is an error, as a mistyped
        /// --data-dir would otherwise start an empty one.
        #[arg(long)]
        create: bool,
    },
    /// List accounts: UIN, name and nickname, tab-separated.
    List,
    /// Change an account's password.
    Passwd {
        /// The account's login name.
        name: String,
        /// The new password; without it, it is asked for twice (hidden) at a terminal, or read
        /// as a line from standard input.
        #[arg(long)]
        password: Option<String>,
    },
    /// Delete an account with its contact relations and queued messages.
    Del {
        /// The account's login name.
        name: String,
    },
    /// Disable an account: it keeps its lists and messages, its sessions end at once, and it
    /// cannot log in until enabled again.
    Disable {
        /// The account's login name.
        name: String,
    },
    /// Let a disabled account log in again.
    Enable {
        /// The account's login name.
        name: String,
    },
    /// Show an account's profile, or change the fields given.
    Profile(ProfileArgs),
    /// Create accounts and contact lists from lines of text (a file, or standard input):
    /// `user NAME PASSWORD [NICKNAME]` creates the account or gives it this password;
    /// `contact OWNER TARGET [SHOWN AS]` puts TARGET on OWNER's list, with TARGET's
    /// authorization granted; `#` starts a comment. Each `user` line is answered with the
    /// account's UIN and name, tab-separated. Importing the same lines again changes nothing.
    Import {
        /// The file to read; standard input without it.
        file: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ProfileArgs {
    /// The account's login name.
    name: String,
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
    /// male, female or unknown
    #[arg(long, value_parser = parse_sex)]
    sex: Option<Sex>,
    /// YYYY-MM-DD, or an empty string to clear it
    #[arg(long)]
    birthday: Option<String>,
    /// The region code Mail.Ru Agent clients search by (MRIM_CS_WP_REQUEST_PARAM_CITY_ID: the
    /// ids of Mail.Ru's own region list, which the clients carry; 0 for none)
    #[arg(long)]
    city_id: Option<u32>,
    /// The country code of the same list (0 for none)
    #[arg(long)]
    country_id: Option<u32>,
    /// Free text: where the user lives, as shown in profiles
    #[arg(long)]
    location: Option<String>,
}

fn parse_sex(text: &str) -> Result<Sex, String> {
    match text {
        "male" => Ok(Sex::Male),
        "female" => Ok(Sex::Female),
        "unknown" => Ok(Sex::Unknown),
        _ => Err("male, female or unknown".into()),
    }
}

/// The error and its causes on one line, without a backtrace: words for an operator.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files and journals.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut config = match &cli.common.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(dir) = cli.common.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = cli.common.store_url {
        config.store.url = url;
    }
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(config, args).await,
            Command::User(command) => user(config, command).await,
            Command::Backup { file } => backup(config, &file).await,
            Command::Store(StoreCommand::Copy { from, to }) => copy_store(config, &from, &to).await,
        }
    })
}

async fn serve(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(port) = args.msn_port {
        config.msn.port = port;
    }
    if args.msn_dispatch_port.is_some() {
        config.msn.dispatch_port = args.msn_dispatch_port;
    }
    if let Some(port) = args.mrim_port {
        config.mrim.port = port;
    }
    if let Some(port) = args.mrim_redirect_port {
        config.mrim.redirect_port = port;
    }
    if let Some(port) = args.http_port {
        config.http.port = port;
    }
    match args.https_port {
        Some(Port::On(port)) => config.http.https_port = Some(port),
        Some(Port::Off) => config.http.https_port = None,
        None => {}
    }
    match args.myicq_port {
        Some(Port::On(port)) => (config.myicq.enabled, config.myicq.port) = (true, port),
        Some(Port::Off) => config.myicq.enabled = false,
        None => {}
    }
    if let Some(max) = args.max_connections_per_address {
        config.limits.max_connections_per_address = max;
    }
    if args.cluster_nats.is_some() {
        config.cluster.nats = args.cluster_nats;
    }
    if args.node.is_some() {
        config.cluster.node = args.node;
    }
    let server = RunningServer::start(&config).await?;
    for (role, addr) in &server.listeners {
        // One line per listener on standard output, for scripts and tests to read.
        println!("listening {role} {addr}");
    }
    tracing::info!(data_dir = %config.data_dir.display(), "switchyard started");
    shutdown_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

async fn backup(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let path = match config.store_location()? {
        StoreLocation::Sqlite(path) => path,
        StoreLocation::Postgres(_) => bail!("a PostgreSQL store is backed up with pg_dump, not by switchyard"),
    };
    if !path.exists() {
        bail!("there is no database in {}", database_dir(&path).display());
    }
    let store = open_sqlite(&config, &path).await?;
    let result = store.backup_to(file).await.with_context(|| format!("cannot back up into {}", file.display()));
    store.close().await;
    result?;
    println!("backed up to {}", file.display());
    Ok(())
}

async fn copy_store(config: Config, from: &str, to: &str) -> anyhow::Result<()> {
    let from = StoreLocation::parse(from, &config.data_dir)?;
    let to = StoreLocation::parse(to, &config.data_dir)?;
    anyhow::ensure!(from != to, "--from and --to name the same store");
    // Not while this data directory's server runs: what it writes meanwhile would be missed.
    let _lock = config.data_dir.exists().then(|| switchyard::DataDirLock::acquire(&config.data_dir)).transpose()?;
    if let StoreLocation::Sqlite(path) = &from {
        anyhow::ensure!(path.exists(), "there is no database at {}", path.display());
    }
    let source = open_store_at(&config, &from).await?;
    let target = open_store_at(&config, &to).await?;
    let copied = switchyard::copy_store(&*source, &*target).await;
    source.close().await;
    target.close().await;
    let counts = copied.with_context(|| format!("cannot copy {from} to {to}"))?;
    println!("copied {counts}");
    Ok(())
}

async fn user(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let create = matches!(command, UserCommand::Add { create: true, .. } | UserCommand::Import { .. });
    match config.store_location()? {
        StoreLocation::Sqlite(path) if !create && !path.exists() => bail!(
            "there is no database in {} (a mistyped --data-dir?); `user add --create` makes one, and so do \
             `user import` and `serve`",
            database_dir(&path).display()
        ),
        _ => {}
    }
    let store = open_store(&config).await?;
    let result = run_user_command(&*store, command, &config.data_dir).await;
    store.close().await;
    result
}

/// Ends the account's sessions on a server running on `data_dir`, and says what was `done`.
fn end_sessions_and_say(data_dir: &std::path::Path, account: &switchyard_core::Account, done: &str) {
    let name = &account.name;
    match switchyard::control::end_sessions(data_dir, account.id) {
        Ok(true) => println!("{done} {name} (its sessions on the running server ended)"),
        Ok(false) => println!("{done} {name}"),
        Err(e) => println!("{done} {name} (the running server could not be told: {e})"),
    }
}

async fn run_user_command(store: &dyn Store, command: UserCommand, data_dir: &std::path::Path) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, password, nickname, .. } => {
            let name = account_name(&name)?;
            if let Some(refusal) = nickname.as_deref().and_then(switchyard_core::account::nickname_refusal) {
                bail!(refusal);
            }
            let password = password_or_stdin(password)?;
            let account = store.create_account(&name, &password, nickname.as_deref()).await?;
            println!("created {} uin {}", account.name, account.uin);
        }
        UserCommand::Import { file } => {
            let mut out = std::io::stdout().lock();
            match file {
                Some(path) => {
                    let file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
                    switchyard::import::import(store, std::io::BufReader::new(file), &mut out).await?
                }
                None => switchyard::import::import(store, std::io::stdin().lock(), &mut out).await?,
            }
        }
        UserCommand::List => {
            for account in store.accounts().await? {
                println!("{}\t{}\t{}", account.uin, account.name, account.nickname.unwrap_or_default());
            }
        }
        UserCommand::Passwd { name, password } => {
            let account = existing(store, &name).await?;
            store.set_password(account.id, &password_or_stdin(password)?).await?;
            println!("password changed for {}", account.name);
        }
        UserCommand::Del { name } => {
            let account = existing(store, &name).await?;
            store.delete_account(account.id).await?;
            end_sessions_and_say(data_dir, &account, "deleted");
        }
        UserCommand::Disable { name } => {
            let account = existing(store, &name).await?;
            store.set_disabled(account.id, true).await?;
            end_sessions_and_say(data_dir, &account, "disabled");
        }
        UserCommand::Enable { name } => {
            let account = existing(store, &name).await?;
            store.set_disabled(account.id, false).await?;
            println!("enabled {}", account.name);
        }
        UserCommand::Profile(args) => {
            let account = existing(store, &args.name).await?;
            let mut profile = store.profile(account.id).await?;
            let before = profile.clone();
            if let Some(text) = args.first_name {
                profile.first_name = text;
            }
            if let Some(text) = args.last_name {
                profile.last_name = text;
            }
            if let Some(sex) = args.sex {
                profile.sex = sex;
            }
            if let Some(text) = args.birthday {
                profile.birthday = match text.as_str() {
                    "" => None,
                    date => Some(Date::parse(date).with_context(|| format!("not a date (YYYY-MM-DD): {date}"))?),
                };
            }
            if let Some(id) = args.city_id {
                profile.city_id = id;
            }
            if let Some(id) = args.country_id {
                profile.country_id = id;
            }
            if let Some(text) = args.location {
                profile.location = text;
            }
            if profile != before {
                store.set_profile(account.id, &profile).await?;
            }
            let birthday = profile.birthday.map(|d| d.to_string()).unwrap_or_default();
            println!(
                "{}\tfirst name: {}\tlast name: {}\tsex: {:?}\tbirthday: {birthday}\tcity: {}\tcountry: {}\tlocation: {}",
                account.name, profile.first_name, profile.last_name, profile.sex, profile.city_id, profile.country_id, profile.location
            );
        }
    }
    Ok(())
}

/// The directory an SQLite database is in (or would be).
fn database_dir(path: &std::path::Path) -> &std::path::Path {
    path.parent().unwrap_or(path)
}

/// The password given, else asked for twice without echo at a terminal, else a line of
/// standard input (for scripts).
fn password_or_stdin(password: Option<String>) -> anyhow::Result<String> {
    let password = match password {
        Some(p) => p,
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            let first = rpassword::prompt_password("password: ")?;
            if rpassword::prompt_password("password again: ")? != first {
                bail!("the two passwords differ");
            }
            first
        }
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.is_empty() {
        bail!("the password must not be empty");
    }
    Ok(password)
}

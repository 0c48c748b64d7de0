//! `yard`: a terminal client for MSN Messenger, Mail.Ru Agent and MyICQ.
//!
//! ```sh
//! yard --protocol mrim --handle bob@mail.ru --password hunter2 send alice@mail.ru "hello"
//! yard --protocol msn --handle alice@hotmail.com --password secret watch     # JSON lines
//! yard --protocol myicq --handle 10003 --password pw chat
//! ```

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use yard::{Account, Client, Options, Protocol};

mod chat;

/// A client for MSN Messenger, Mail.Ru Agent and MyICQ servers. The options may come before or
/// after the command (`yard chat --protocol msn …`).
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "YARD_LOG sets what is logged to standard error (default `warn`; `debug` shows the protocol's codes)."
)]
struct Args {
    /// msn, mrim or myicq.
    #[arg(long, env = "YARD_PROTOCOL", global = true)]
    protocol: Option<Protocol>,
    /// host:port [default: 127.0.0.1 and the protocol's port: 1863, 2041, 8000].
    #[arg(long, env = "YARD_SERVER", global = true)]
    server: Option<String>,
    /// Who to log in as: alice@hotmail.com, alice@mail.ru, or a UIN.
    #[arg(long, env = "YARD_HANDLE", global = true)]
    handle: Option<String>,
    #[arg(long, env = "YARD_PASSWORD", hide_env_values = true, global = true)]
    password: Option<String>,
    /// The server given is the MRIM redirector (port 2042).
    #[arg(long, global = true)]
    mrim_redirector: bool,
    /// The MSN dialect: 2 (MSN Messenger 1.0) to 7 log in with MD5, 8 to 12 through the
    /// Passport nexus.
    #[arg(long, default_value_t = 7, global = true, value_parser = clap::value_parser!(u8).range(2..=12))]
    msn_dialect: u8,
    /// The Passport nexus of MSNP8+ logins [default: http://SERVER-HOST:8080]
    #[arg(long, env = "YARD_NEXUS", global = true)]
    nexus: Option<String>,
    /// A PEM certificate to trust for an https:// nexus (a server's self-signed one is
    /// tls/https.crt in its data directory).
    #[arg(long, env = "YARD_NEXUS_CA", global = true)]
    nexus_ca: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Sends one message and exits: 0 when the server confirmed it, 1 when not.
    Send { to: String, text: Vec<String> },
    /// Prints presence changes and messages as JSON lines until the connection ends for good.
    Watch,
    /// Interactive chat: `handle: text` sends; /help lists the commands (contacts, status,
    /// add, remove, auth, typing, reconnect, quit).
    Chat,
}

/// The error and its causes on one line, without a backtrace: words for a person.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("yard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("YARD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let protocol = args.protocol.context("--protocol is needed: msn, mrim or myicq")?;
    let handle = args.handle.context("--handle is needed: who to log in as")?;
    let password = args.password.context("--password (or YARD_PASSWORD) is needed")?;
    let server = args.server.unwrap_or_else(|| {
        let port = match protocol {
            Protocol::Msn => 1863,
            Protocol::Mrim if args.mrim_redirector => 2042,
            Protocol::Mrim => 2041,
            Protocol::MyIcq => 8000,
        };
        format!("127.0.0.1:{port}")
    });
    let account = Account { protocol, server, handle, password };
    let reconnect = !matches!(args.command, Mode::Send { .. });
    let options = Options {
        msn_dialect: args.msn_dialect,
        nexus: args.nexus,
        nexus_ca: args.nexus_ca,
        mrim_redirector: args.mrim_redirector,
        reconnect,
        ..Options::default()
    };
    let client = Client::connect(account.clone(), options.clone()).await.context("cannot log in")?;
    match args.command {
        Mode::Send { to, text } => send(client, &to, &text.join(" ")).await,
        Mode::Watch => watch(client).await,
        Mode::Chat => chat::chat(client, account, options).await,
    }
}

async fn send(client: Client, to: &str, text: &str) -> anyhow::Result<()> {
    // A MyICQ server takes a message to a number nobody has and drops it: ask first.
    let sent = match client.check_user(to).await {
        Ok(()) => client.send_message(to, text).await,
        Err(e) => Err(e),
    };
    let _ = client.logout().await;
    sent.with_context(|| format!("message to {to} not delivered"))
}

async fn watch(mut client: Client) -> anyhow::Result<()> {
    while let Some(event) = client.next_event().await {
        println!("{}", serde_json::to_string(&event)?);
    }
    Ok(())
}

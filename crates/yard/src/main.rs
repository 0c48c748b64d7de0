//! `yard`: a terminal client for MSN Messenger, Mail.Ru Agent and MyICQ.
//!
//! ```sh
//! yard --protocol mrim --handle bob@mail.ru --password hunter2 send alice@mail.ru "hello"
//! yard --protocol msn --handle alice@hotmail.com --password secret watch     # JSON lines
//! yard --protocol myicq --handle 10003 --password pw chat
//! ```

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use tokio::io::{AsyncBufReadExt, BufReader};
use yard::{Account, Client, Event, Options, Protocol, Status};

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// msn, mrim or myicq.
    #[arg(long, env = "YARD_PROTOCOL")]
    protocol: Protocol,
    /// host:port [default: 127.0.0.1 and the protocol's port: 1863, 2041, 8000].
    #[arg(long, env = "YARD_SERVER")]
    server: Option<String>,
    /// Who to log in as: alice@hotmail.com, alice@mail.ru, or a UIN.
    #[arg(long, env = "YARD_HANDLE")]
    handle: String,
    #[arg(long, env = "YARD_PASSWORD", hide_env_values = true)]
    password: String,
    /// The server given is the MRIM redirector (port 2042).
    #[arg(long)]
    mrim_redirector: bool,
    /// The MSN dialect: 2 (MSN Messenger 1.0) to 7.
    #[arg(long, default_value_t = 7)]
    msn_dialect: u8,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Sends one message and exits: 0 when the server confirmed it, 1 when not.
    Send { to: String, text: Vec<String> },
    /// Prints presence changes and messages as JSON lines until the connection ends for good.
    Watch,
    /// Interactive chat: type `handle: text` to send, `/contacts`, `/status away`,
    /// `/add handle [name]`, `/remove handle`, `/auth handle`, `/typing handle`, `/quit`.
    Chat,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("YARD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let server = args.server.unwrap_or_else(|| {
        let port = match args.protocol {
            Protocol::Msn => 1863,
            Protocol::Mrim if args.mrim_redirector => 2042,
            Protocol::Mrim => 2041,
            Protocol::MyIcq => 8000,
        };
        format!("127.0.0.1:{port}")
    });
    let account = Account { protocol: args.protocol, server, handle: args.handle, password: args.password };
    let reconnect = !matches!(args.command, Mode::Send { .. });
    let options = Options {
        msn_dialect: args.msn_dialect,
        mrim_redirector: args.mrim_redirector,
        reconnect,
        ..Options::default()
    };
    let client = Client::connect(account, options).await.context("cannot log in")?;
    match args.command {
        Mode::Send { to, text } => send(client, &to, &text.join(" ")).await,
        Mode::Watch => watch(client).await,
        Mode::Chat => chat(client).await,
    }
}

async fn send(client: Client, to: &str, text: &str) -> anyhow::Result<()> {
    let sent = client.send_message(to, text).await;
    let _ = client.logout().await;
    sent.with_context(|| format!("message to {to} not delivered"))
}

async fn watch(mut client: Client) -> anyhow::Result<()> {
    while let Some(event) = client.next_event().await {
        println!("{}", serde_json::to_string(&event)?);
    }
    Ok(())
}

/// The contact list as `chat` shows it: handle → (name, status).
type Contacts = BTreeMap<String, (String, Status)>;

async fn chat(mut client: Client) -> anyhow::Result<()> {
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut contacts = Contacts::new();
    loop {
        tokio::select! {
            event = client.next_event() => match event {
                Some(event) => {
                    remember(&mut contacts, &event);
                    show(&event);
                }
                None => return Ok(()),
            },
            line = input.next_line() => {
                let Some(line) = line? else { break };
                if line.trim() == "/contacts" {
                    for (handle, (name, status)) in &contacts {
                        println!("  {handle:<32} {:<10} {name}", format!("{status:?}"));
                    }
                    continue;
                }
                match chat_command(&client, line.trim()).await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => println!("! {e}"),
                }
            }
        }
    }
    client.logout().await?;
    Ok(())
}

/// Runs one line typed in `chat`; true to quit.
async fn chat_command(client: &Client, line: &str) -> anyhow::Result<bool> {
    let mut words = line.split_whitespace();
    match words.next() {
        None => {}
        Some("/quit") => return Ok(true),
        Some("/status") => {
            let status: Status = words.next().unwrap_or("online").parse().map_err(anyhow::Error::msg)?;
            client.set_status(status).await?;
        }
        Some("/add") => {
            let handle = words.next().context("/add handle [name]")?;
            let name = words.collect::<Vec<_>>().join(" ");
            client.add_contact(handle, if name.is_empty() { handle } else { &name }).await?;
            println!("* added {handle}");
        }
        Some("/remove") => client.remove_contact(words.next().context("/remove handle")?).await?,
        Some("/auth") => client.authorize(words.next().context("/auth handle")?).await?,
        Some("/typing") => client.send_typing(words.next().context("/typing handle")?).await?,
        Some(_) => {
            let (to, text) = line.split_once(':').context("write `handle: text`, or /quit")?;
            client.send_message(to.trim(), text.trim()).await?;
        }
    }
    Ok(false)
}

fn remember(contacts: &mut Contacts, event: &Event) {
    match event {
        Event::Contact { handle, name } => {
            contacts.entry(handle.clone()).or_insert_with(|| (name.clone(), Status::Offline)).0 = name.clone();
        }
        Event::Presence { handle, status, name } => {
            let entry = contacts.entry(handle.clone()).or_insert_with(|| (name.clone(), *status));
            entry.1 = *status;
            if !name.is_empty() {
                entry.0 = name.clone();
            }
        }
        _ => {}
    }
}

fn show(event: &Event) {
    match event {
        Event::LoggedIn => println!("* logged in"),
        Event::Contact { handle, name } => println!("* contact {handle} ({name})"),
        Event::Presence { handle, status, .. } => println!("* {handle} is {status:?}"),
        Event::Message { from, text } => println!("{from}: {text}"),
        Event::Typing { from } => println!("* {from} is typing"),
        Event::AuthorizationRequest { from, text } => println!("* {from} asks to add you: {text} (/auth {from})"),
        Event::Authorized { by } => println!("* {by} authorized you"),
        Event::AddedBy { handle } => println!("* {handle} added you"),
        Event::Disconnected { reason } => println!("* disconnected: {reason:?}"),
        Event::Reconnecting { after_ms } => println!("* reconnecting in {after_ms} ms"),
    }
}

//! `yard chat`: an interactive chat in the terminal. Lines are edited with rustyline while
//! what arrives is printed above them; every line carries the time, your own messages are
//! marked as yours, and notices (presence, requests, the connection) are set apart from
//! messages. Without a terminal (a pipe) it reads plain lines and prints plain text.

use anyhow::Context as _;
use rustyline::error::ReadlineError;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use yard::{Account, Client, Disconnect, Event, Handle, Options, Status};

const HELP: &str = concat!(
    "  bob@hotmail.com: text     send text to bob@hotmail.com (any handle of your protocol)\n",
    "  /contacts                 your contact list with each one's status\n",
    "  /status [STATUS]          set your status: online, busy, away or invisible\n",
    "  /add HANDLE [NAME]        add a contact (NAME: how the list shows them)\n",
    "  /remove HANDLE            remove a contact\n",
    "  /auth HANDLE              let HANDLE add you and see your status\n",
    "  /typing HANDLE            tell HANDLE you are typing\n",
    "  /reconnect                log in again (after a login elsewhere ended this one)\n",
    "  /help                     this list\n",
    "  /quit                     log out and leave (Ctrl-D too)",
);

const STATUSES: &str = "online, busy, away, invisible";

/// Where lines go: above the line being edited at a terminal, else plainly to standard output.
#[derive(Clone)]
struct Screen {
    printer: Option<Arc<Mutex<Box<dyn rustyline::ExternalPrinter + Send>>>>,
    /// Whether the editor is reading a line (else the printer would not end the line).
    reading: Arc<std::sync::atomic::AtomicBool>,
    styled: bool,
}

/// What a line shows.
enum Kind {
    /// A message from someone.
    Incoming,
    /// A message of yours, delivered.
    Mine,
    /// Presence, requests, the connection.
    Notice,
    /// Something went wrong.
    Problem,
}

impl Screen {
    fn say(&self, kind: Kind, text: &str) {
        let time = clock();
        let line = match (self.styled, kind) {
            (false, Kind::Incoming) => format!("{time} {text}"),
            (false, Kind::Mine) => format!("{time} you → {text}"),
            (false, Kind::Notice) => format!("{time} · {text}"),
            (false, Kind::Problem) => format!("{time} ! {text}"),
            (true, Kind::Incoming) => format!("\x1b[2m{time}\x1b[0m {text}"),
            (true, Kind::Mine) => format!("\x1b[2m{time}\x1b[0m \x1b[1;32myou →\x1b[0m {text}"),
            (true, Kind::Notice) => format!("\x1b[2m{time} · {text}\x1b[0m"),
            (true, Kind::Problem) => format!("\x1b[2m{time}\x1b[0m \x1b[31m! {text}\x1b[0m"),
        };
        match &self.printer {
            Some(printer) if self.reading.load(std::sync::atomic::Ordering::Acquire) => {
                let mut printer = printer.lock().unwrap_or_else(|p| p.into_inner());
                if printer.print(line.clone()).is_err() {
                    println!("{line}");
                }
            }
            _ => println!("{line}"),
        }
    }
}

/// The local time of day, `HH:MM`.
fn clock() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let now = now as libc::time_t;
    // SAFETY: localtime_r writes only into the `tm` given; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let local = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if local {
        format!("{:02}:{:02}", tm.tm_hour, tm.tm_min)
    } else {
        let seconds = now % 86_400;
        format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
    }
}

/// Who the user is and how the connection stands: the prompt's status line.
struct Me {
    handle: String,
    protocol: yard::Protocol,
    status: Status,
    connection: &'static str,
}

impl Me {
    fn prompt(&self) -> String {
        let status = format!("{:?}", self.status).to_lowercase();
        format!("[{} · {} · {status} · {}] ", self.handle, self.protocol, self.connection)
    }
}

/// The contact list as `chat` shows it: handle → (name, status).
type Contacts = BTreeMap<String, (String, Status)>;

pub(crate) async fn chat(client: Client, account: Account, options: Options) -> anyhow::Result<()> {
    let me = Arc::new(Mutex::new(Me {
        handle: account.handle.clone(),
        protocol: account.protocol,
        status: options.initial_status,
        connection: "connected",
    }));
    let (lines, screen) = read_lines(me.clone())?;
    screen.say(Kind::Notice, &format!("logged in as {} — /help lists the commands", account.handle));
    let mut session = Session { client, screen, me, contacts: Contacts::new(), ended: false };
    session.run(lines, &account, &options).await;
    if !session.ended {
        session.client.logout().await?;
    }
    Ok(())
}

struct Session {
    client: Client,
    screen: Screen,
    me: Arc<Mutex<Me>>,
    contacts: Contacts,
    /// Ended for good (a login elsewhere): only /reconnect or /quit make sense.
    ended: bool,
}

impl Session {
    /// Until /quit or the end of input.
    async fn run(&mut self, mut lines: mpsc::Receiver<String>, account: &Account, options: &Options) {
        loop {
            tokio::select! {
                event = self.client.next_event(), if !self.ended => match event {
                    Some(event) => self.event(event),
                    None => {
                        self.ended = true;
                        self.set_connection("ended");
                    }
                },
                line = lines.recv() => {
                    let Some(line) = line else { break };
                    match line.trim() {
                        "/quit" => break,
                        "/reconnect" => self.reconnect(account, options).await,
                        _ if self.ended => self.screen.say(Kind::Problem, "this session has ended: /reconnect, or /quit"),
                        line => self.command(line).await,
                    }
                }
            }
        }
    }

    fn set_connection(&self, connection: &'static str) {
        self.me.lock().unwrap_or_else(|p| p.into_inner()).connection = connection;
    }

    async fn reconnect(&mut self, account: &Account, options: &Options) {
        match Client::connect(account.clone(), options.clone()).await {
            Ok(client) => {
                self.client = client;
                self.ended = false;
                self.set_connection("connected");
            }
            Err(e) => self.screen.say(Kind::Problem, &format!("cannot log in: {e}")),
        }
    }

    fn event(&mut self, event: Event) {
        let say = |kind, text: &str| self.screen.say(kind, text);
        match &event {
            Event::LoggedIn => {
                self.set_connection("connected");
                say(Kind::Notice, "logged in");
            }
            Event::Contact { .. } => {}
            Event::Presence { handle, status, .. } => {
                say(Kind::Notice, &format!("{handle} is {}", format!("{status:?}").to_lowercase()))
            }
            Event::Message { from, text } => say(Kind::Incoming, &format!("{from}: {text}")),
            Event::Typing { from } => say(Kind::Notice, &format!("{from} is typing")),
            Event::AuthorizationRequest { from, text } => {
                say(Kind::Notice, &format!("{from} asks to add you: {text} — /auth {from} to let them"))
            }
            Event::Authorized { by } => say(Kind::Notice, &format!("{by} let you add them")),
            Event::AddedBy { handle } => say(
                Kind::Notice,
                &format!("{handle} added you — /auth {handle} lets them see you, /add {handle} adds them back"),
            ),
            Event::Disconnected { reason: Disconnect::LoggedInElsewhere } => {
                self.ended = true;
                self.set_connection("logged in elsewhere");
                say(
                    Kind::Problem,
                    "you logged in elsewhere, which ended this session: /reconnect takes it back, /quit leaves",
                );
            }
            Event::Disconnected { reason } => {
                self.set_connection("disconnected");
                say(Kind::Problem, &format!("disconnected: {reason:?}"));
            }
            Event::Reconnecting { after_ms } => {
                self.set_connection("reconnecting");
                say(Kind::Notice, &format!("reconnecting in {:.1} s", *after_ms as f64 / 1000.0));
            }
        }
        remember(&mut self.contacts, &event);
    }

    /// One line typed: a command, or `handle: text`.
    async fn command(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let handle = self.client.handle();
        let result = match words.next() {
            None => Ok(()),
            Some("/help") => {
                self.screen.say(Kind::Notice, &format!("commands:\n{HELP}"));
                Ok(())
            }
            Some("/contacts") => {
                let list: Vec<String> = self
                    .contacts
                    .iter()
                    .map(|(h, (name, status))| format!("  {h:<32} {:<10} {name}", format!("{status:?}").to_lowercase()))
                    .collect();
                let list = if list.is_empty() { "  (none)".to_owned() } else { list.join("\n") };
                self.screen.say(Kind::Notice, &format!("contacts:\n{list}"));
                Ok(())
            }
            Some("/status") => self.status(&handle, words.next()).await,
            Some("/add") => match words.next() {
                Some(who) => {
                    let name = words.collect::<Vec<_>>().join(" ");
                    let added = handle.add_contact(who, if name.is_empty() { who } else { &name }).await;
                    added.map(|()| self.screen.say(Kind::Notice, &format!("added {who}"))).map_err(anyhow::Error::from)
                }
                None => Err(anyhow::anyhow!("/add HANDLE [NAME]")),
            },
            Some("/remove") => match words.next() {
                Some(who) => handle
                    .remove_contact(who)
                    .await
                    .map(|()| self.screen.say(Kind::Notice, &format!("removed {who}")))
                    .with_context(|| format!("{who} was not removed")),
                None => Err(anyhow::anyhow!("/remove HANDLE")),
            },
            Some("/auth") => match words.next() {
                Some(who) => handle
                    .authorize(who)
                    .await
                    .map(|()| self.screen.say(Kind::Notice, &format!("{who} may add you now")))
                    .map_err(anyhow::Error::from),
                None => Err(anyhow::anyhow!("/auth HANDLE")),
            },
            Some("/typing") => match words.next() {
                Some(who) => handle.send_typing(who).await.map_err(anyhow::Error::from),
                None => Err(anyhow::anyhow!("/typing HANDLE")),
            },
            Some(word) if word.starts_with('/') => Err(anyhow::anyhow!("no command {word}: /help lists them")),
            Some(_) => match line.split_once(':') {
                Some((to, text)) => {
                    self.send(handle, to.trim().to_owned(), text.trim().to_owned());
                    Ok(())
                }
                None => Err(anyhow::anyhow!("write `handle: text` to send, or /help")),
            },
        };
        if let Err(e) = result {
            self.screen.say(Kind::Problem, &format!("{e:#}"));
        }
    }

    async fn status(&mut self, handle: &Handle, wanted: Option<&str>) -> anyhow::Result<()> {
        let Some(wanted) = wanted else {
            anyhow::bail!("/status STATUS, where STATUS is one of: {STATUSES}");
        };
        let status: Status = match wanted.parse() {
            Ok(Status::Offline) | Err(_) => anyhow::bail!("{wanted:?} is no status; one of: {STATUSES}"),
            Ok(status) => status,
        };
        handle.set_status(status).await?;
        self.me.lock().unwrap_or_else(|p| p.into_inner()).status = status;
        self.screen.say(Kind::Notice, &format!("you are {}", wanted.to_lowercase()));
        Ok(())
    }

    /// Sends in the background: what arrives meanwhile is shown; the outcome follows.
    fn send(&self, handle: Handle, to: String, text: String) {
        let screen = self.screen.clone();
        tokio::spawn(async move {
            match handle.send_message(&to, &text).await {
                Ok(()) => screen.say(Kind::Mine, &format!("{to}: {text}")),
                Err(e) => screen.say(Kind::Problem, &format!("not delivered to {to} ({e}): {text}")),
            }
        });
    }
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

/// The lines typed, from a thread of their own: rustyline at a terminal (the prompt shows the
/// status line), plain lines otherwise. The channel closes at end of input (Ctrl-D).
fn read_lines(me: Arc<Mutex<Me>>) -> anyhow::Result<(mpsc::Receiver<String>, Screen)> {
    let (tx, rx) = mpsc::channel(16);
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !terminal {
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        return Ok((rx, Screen { printer: None, reading: Default::default(), styled: false }));
    }
    let mut editor = rustyline::DefaultEditor::new().context("cannot set up the terminal")?;
    let printer: Box<dyn rustyline::ExternalPrinter + Send> = Box::new(editor.create_external_printer()?);
    let reading = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let screen = Screen { printer: Some(Arc::new(Mutex::new(printer))), reading: reading.clone(), styled: true };
    std::thread::spawn(move || loop {
        let prompt = me.lock().unwrap_or_else(|p| p.into_inner()).prompt();
        reading.store(true, std::sync::atomic::Ordering::Release);
        let read = editor.readline(&prompt);
        reading.store(false, std::sync::atomic::Ordering::Release);
        match read {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => break,
        }
    });
    Ok((rx, screen))
}

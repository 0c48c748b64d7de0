//! The [`Client`] handle and the task behind it: run a connection, and when it drops, tell the
//! application and reconnect with backoff (not after "logged in elsewhere" or a logout).

use crate::{mrim, msn, myicq, Account, Command, Disconnect, Error, Event, Events, Options, Protocol, Reply, Status};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Events the application may leave unread before new ones are dropped.
const EVENT_QUEUE: usize = 4096;
const LONGEST_BACKOFF: Duration = Duration::from_secs(60);

/// A logged-in client of one protocol: its events, and (through `Deref`) its [`Handle`].
pub struct Client {
    handle: Handle,
    events: mpsc::Receiver<Event>,
}

/// What sends commands to a client; cloned freely, so several tasks can send while one reads
/// the events.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
    timeout: Duration,
}

impl std::ops::Deref for Client {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

/// One protocol's live connection, boxed: the three differ in size and a load generator holds
/// thousands.
enum Connection {
    Msn(Box<msn::Connection>),
    Mrim(Box<mrim::Connection>),
    MyIcq(Box<myicq::Connection>),
}

impl Connection {
    /// Connects and logs in; the first events (`LoggedIn`, the contact list) are emitted.
    async fn open(account: &Account, options: &Options, events: &Events) -> Result<Connection, Error> {
        Ok(match account.protocol {
            Protocol::Msn => Connection::Msn(Box::new(msn::Connection::open(account, options, events.clone()).await?)),
            Protocol::Mrim => {
                Connection::Mrim(Box::new(mrim::Connection::open(account, options, events.clone()).await?))
            }
            Protocol::MyIcq => {
                Connection::MyIcq(Box::new(myicq::Connection::open(account, options, events.clone()).await?))
            }
        })
    }

    /// Serves commands until the connection ends; returns why.
    async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Disconnect {
        match self {
            Connection::Msn(c) => c.run(commands).await,
            Connection::Mrim(c) => c.run(commands).await,
            Connection::MyIcq(c) => c.run(commands).await,
        }
    }
}

impl Client {
    /// Connects and logs in. A refused login or an unreachable server is an error here; after
    /// that, losses are reported as events and repaired in the background.
    pub async fn connect(account: Account, options: Options) -> Result<Client, Error> {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let events_tx = Events(events_tx);
        let connection = Connection::open(&account, &options, &events_tx).await?;
        let (commands, commands_rx) = mpsc::channel(64);
        let timeout = options.timeout;
        tokio::spawn(supervise(account, options, connection, commands_rx, events_tx));
        Ok(Client { handle: Handle { commands, timeout }, events })
    }

    /// A handle for sending commands from elsewhere.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The next event; `None` once the client has ended for good.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Logs out; the client ends.
    pub async fn logout(self) -> Result<(), Error> {
        self.handle.ask(Command::Logout).await
    }
}

impl Handle {
    async fn ask(&self, command: impl FnOnce(Reply) -> Command) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.map_err(|_| Error::NotConnected)?;
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::NotConnected),
            Err(_) => Err(Error::Timeout),
        }
    }

    pub async fn set_status(&self, status: Status) -> Result<(), Error> {
        self.ask(|reply| Command::SetStatus(status, reply)).await
    }

    /// Sends a message; `Ok` once the server confirmed it was delivered or stored.
    /// Fails with "no such user" when the server knows no `handle`. Only MyICQ needs asking (its
    /// server takes a message to an unknown number and drops it); elsewhere this is `Ok` and
    /// the message itself is refused.
    pub async fn check_user(&self, handle: &str) -> Result<(), Error> {
        self.ask(|reply| Command::CheckUser { handle: handle.to_owned(), reply }).await
    }

    pub async fn send_message(&self, to: &str, text: &str) -> Result<(), Error> {
        self.ask(|reply| Command::SendMessage { to: to.to_owned(), text: text.to_owned(), reply }).await
    }

    /// Tells `to` the user is typing (where both sides have typing notifications).
    pub async fn send_typing(&self, to: &str) -> Result<(), Error> {
        self.ask(|reply| Command::SendTyping { to: to.to_owned(), reply }).await
    }

    /// Puts someone on the contact list, asking for their authorization where the protocol does.
    pub async fn add_contact(&self, handle: &str, name: &str) -> Result<(), Error> {
        self.ask(|reply| Command::AddContact { handle: handle.to_owned(), name: name.to_owned(), reply }).await
    }

    /// Takes someone off the contact list.
    pub async fn remove_contact(&self, handle: &str) -> Result<(), Error> {
        self.ask(|reply| Command::RemoveContact { handle: handle.to_owned(), reply }).await
    }

    /// Lets someone who asked add the user and see their presence.
    pub async fn authorize(&self, handle: &str) -> Result<(), Error> {
        self.ask(|reply| Command::Authorize { handle: handle.to_owned(), reply }).await
    }
}

async fn supervise(
    account: Account,
    options: Options,
    mut connection: Connection,
    mut commands: mpsc::Receiver<Command>,
    events: Events,
) {
    loop {
        let reason = connection.run(&mut commands).await;
        let for_good = matches!(reason, Disconnect::LoggedInElsewhere | Disconnect::LoggedOut);
        events.emit(Event::Disconnected { reason });
        if for_good || !options.reconnect {
            break;
        }
        let mut backoff = options.first_backoff;
        connection = loop {
            events.emit(Event::Reconnecting { after_ms: backoff.as_millis() as u64 });
            if !refuse_commands_for(&mut commands, backoff).await {
                return;
            }
            match Connection::open(&account, &options, &events).await {
                Ok(connection) => break connection,
                Err(Error::LoginRefused(why)) => {
                    // The password changed or the account is gone: trying again will not help.
                    events.emit(Event::Disconnected { reason: Disconnect::Lost(format!("login refused: {why}")) });
                    return;
                }
                Err(e) => {
                    tracing::info!(error = %e, "reconnect failed");
                    backoff = (backoff * 2).min(LONGEST_BACKOFF);
                }
            }
        };
    }
    commands.close();
    while let Some(command) = commands.recv().await {
        command.fail(Error::NotConnected);
    }
}

/// Waits `wait`, answering commands with "not connected" meanwhile; false when the application
/// has dropped its client.
async fn refuse_commands_for(commands: &mut mpsc::Receiver<Command>, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return true,
            command = commands.recv() => match command {
                Some(Command::Logout(reply)) => {
                    let _ = reply.send(Ok(()));
                    return false;
                }
                Some(command) => command.fail(Error::NotConnected),
                None => return false,
            },
        }
    }
}

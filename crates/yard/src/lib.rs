//! `yard`: a client library for MSN Messenger (MSNP), Mail.Ru Agent (MRIM) and MyICQ, on the
//! same codec crates as the server.
//!
//! One [`Client`] type for all three: [`Client::connect`] logs in (following the MRIM
//! redirector or an MSN dispatch referral), then a background task keeps the connection alive
//! (the protocol's keepalive), notices when it drops, and reconnects with backoff, except after
//! "logged in elsewhere". Commands return once the server confirmed them; everything the
//! server tells arrives as an [`Event`]. Handles are written in each protocol's own syntax
//! (`bob@hotmail.com`, `bob@mail.ru`, `10002`).

mod mrim;
mod msn;
mod myicq;
mod supervisor;
mod tcp;

use std::fmt;
use std::time::Duration;
use switchyard_net::driver::End;
use switchyard_net::ReadError;
use tokio::sync::{mpsc, oneshot};

pub use supervisor::{Client, Handle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    Msn,
    Mrim,
    MyIcq,
}

impl std::str::FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "msn" | "msnp" => Ok(Protocol::Msn),
            "mrim" | "mra" | "mailru" => Ok(Protocol::Mrim),
            "myicq" | "icq" => Ok(Protocol::MyIcq),
            other => Err(format!("unknown protocol {other:?} (msn, mrim or myicq)")),
        }
    }
}

/// Where and as whom to log in.
#[derive(Debug, Clone)]
pub struct Account {
    pub protocol: Protocol,
    /// `host:port` of the server: MSN dispatch or notification, MRIM server (or its redirector,
    /// with [`Options::mrim_redirector`]), MyICQ UDP.
    pub server: String,
    pub handle: String,
    pub password: String,
}

/// How the client behaves; the defaults suit an interactive user.
#[derive(Debug, Clone)]
pub struct Options {
    /// The MSN dialect to speak: 2 (MSN Messenger 1.0) to 7 log in with MD5; 8 to 12 through
    /// the Passport nexus (`nexus`).
    pub msn_dialect: u8,
    /// The Passport nexus MSNP8+ logins get their ticket from; without it, Switchyard's on its
    /// default HTTP port on the notification server's host (`http://HOST:8080`).
    pub nexus: Option<String>,
    /// A PEM certificate to trust for an `https://` nexus (a server's self-signed one, kept in
    /// `tls/https.crt` of its data directory), besides the usual authorities.
    pub nexus_ca: Option<std::path::PathBuf>,
    /// The MRIM protocol minor version to announce (1.x).
    pub mrim_minor: u16,
    /// `server` is the MRIM redirector: ask it where to connect.
    pub mrim_redirector: bool,
    /// The status set right after login.
    pub initial_status: Status,
    /// Reconnect after a lost connection (never after "logged in elsewhere").
    pub reconnect: bool,
    /// The first wait before reconnecting; it doubles up to a minute.
    pub first_backoff: Duration,
    /// How long to wait for the server's answer to a command.
    pub timeout: Duration,
    /// The local address to connect from (a load generator spreads connections over several
    /// 127.0.0.x addresses: one gives only about 28,000 ports).
    pub local_address: Option<std::net::IpAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            msn_dialect: 7,
            nexus: None,
            nexus_ca: None,
            mrim_minor: 16,
            mrim_redirector: false,
            initial_status: Status::Online,
            reconnect: true,
            first_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(20),
            local_address: None,
        }
    }
}

/// A presence, as every protocol can show it (busy and away degrade where there is no such
/// state; invisible looks offline to others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Busy,
    Away,
    Invisible,
    Offline,
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "online" => Ok(Status::Online),
            "busy" => Ok(Status::Busy),
            "away" => Ok(Status::Away),
            "invisible" => Ok(Status::Invisible),
            "offline" => Ok(Status::Offline),
            other => Err(format!("unknown status {other:?}")),
        }
    }
}

/// What the server told the client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Logged in (again, after a reconnect).
    LoggedIn,
    /// An entry of the contact list as the server keeps it, after login.
    Contact {
        handle: String,
        name: String,
    },
    Presence {
        handle: String,
        status: Status,
        name: String,
    },
    Message {
        from: String,
        text: String,
    },
    Typing {
        from: String,
    },
    /// Someone asks to add the user (and see their presence).
    AuthorizationRequest {
        from: String,
        text: String,
    },
    /// Someone let the user add them.
    Authorized {
        by: String,
    },
    /// Someone put the user on their contact list.
    AddedBy {
        handle: String,
    },
    Disconnected {
        reason: Disconnect,
    },
    /// Reconnecting after this many milliseconds.
    Reconnecting {
        after_ms: u64,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "why", content = "detail", rename_all = "snake_case")]
pub enum Disconnect {
    /// Another login of the same account took over: no reconnect.
    LoggedInElsewhere,
    /// The user logged out.
    LoggedOut,
    /// The server is shutting down or closed the connection.
    ServerClosed,
    /// No answer to the keepalive, or a read or write failed.
    Lost(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("the server refused the login: {0}")]
    LoginRefused(String),
    #[error("not connected")]
    NotConnected,
    #[error("no answer from the server in time")]
    Timeout,
    #[error("{0} is not a handle of this protocol")]
    BadHandle(String),
    #[error("not delivered: {0}")]
    NotDelivered(String),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// What the application asks of a connection; each carries where to send the result.
#[derive(Debug)]
enum Command {
    SetStatus(Status, Reply),
    SendMessage {
        to: String,
        text: String,
        reply: Reply,
    },
    SendTyping {
        to: String,
        reply: Reply,
    },
    AddContact {
        handle: String,
        name: String,
        reply: Reply,
    },
    RemoveContact {
        handle: String,
        reply: Reply,
    },
    Authorize {
        handle: String,
        reply: Reply,
    },
    /// Fails when the server knows no such user (MyICQ, whose server takes messages to unknown
    /// numbers without a word; the other protocols' servers refuse those messages themselves).
    CheckUser {
        handle: String,
        reply: Reply,
    },
    Logout(Reply),
}

type Reply = oneshot::Sender<Result<(), Error>>;

impl Command {
    fn fail(self, error: Error) {
        let reply = match self {
            Command::SetStatus(_, reply)
            | Command::SendMessage { reply, .. }
            | Command::SendTyping { reply, .. }
            | Command::AddContact { reply, .. }
            | Command::RemoveContact { reply, .. }
            | Command::Authorize { reply, .. }
            | Command::CheckUser { reply, .. }
            | Command::Logout(reply) => reply,
        };
        let _ = reply.send(Err(error));
    }
}

/// A connection that ended before the server answered the login in this protocol, in words:
/// the usual cause is a port of another protocol (or of nothing).
/// Why reading from the server stopped, as the application is told.
fn lost<E: fmt::Display>(e: ReadError<E>) -> Disconnect {
    match e {
        ReadError::Closed => Disconnect::ServerClosed,
        ReadError::Io(e) => Disconnect::Lost(format!("read failed: {e}")),
        ReadError::Protocol(e) => Disconnect::Lost(format!("bad packet: {e}")),
    }
}

/// How a connection's driver ended: the connection's own reason, or how it was lost.
fn ended<Why, E: fmt::Display>(end: End<Why, E>) -> Result<Why, Disconnect> {
    match end {
        End::Session(why) => Ok(why),
        End::Shutdown => Err(Disconnect::LoggedOut),
        End::Read(e) => Err(lost(e)),
        End::Write(e) => Err(Disconnect::Lost(format!("write failed: {e}"))),
    }
}

/// How a connection ended, as the application is told.
fn disconnect_of<E: fmt::Display>(end: End<Disconnect, E>) -> Disconnect {
    ended(end).unwrap_or_else(|lost| lost)
}

fn unanswered(protocol: Protocol, reason: &Disconnect) -> Error {
    let ports = "by default MSN listens on 1863, MRIM on 2041, MyICQ on UDP 8000";
    let protocol = match protocol {
        Protocol::Msn => "MSN",
        Protocol::Mrim => "MRIM",
        Protocol::MyIcq => "MyICQ",
    };
    let what = match reason {
        Disconnect::ServerClosed => "the server closed the connection without answering".to_owned(),
        Disconnect::Lost(why) if why.starts_with("bad packet") => format!("the answer is not {protocol}"),
        Disconnect::Lost(why) => why.clone(),
        Disconnect::LoggedInElsewhere | Disconnect::LoggedOut => format!("{reason:?}"),
    };
    tracing::debug!(?reason, "no login answer");
    Error::Unreachable(format!("{what}: is this the server's {protocol} port? ({ports})"))
}

/// Where a connection's events go; a full or closed application queue never blocks the
/// protocol (events are dropped with a log line instead).
#[derive(Clone)]
struct Events(mpsc::Sender<Event>);

impl Events {
    fn emit(&self, event: Event) {
        match self.0.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("event dropped: the application is not reading events fast enough")
            }
            // The application stopped reading (it is logging out): nothing to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Msn => "msn",
            Protocol::Mrim => "mrim",
            Protocol::MyIcq => "myicq",
        })
    }
}

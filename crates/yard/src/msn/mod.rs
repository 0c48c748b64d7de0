//! MSN Messenger in any dialect from MSNP2 to MSNP12: login (`login`: `USR MD5`, or `USR TWN`
//! through the Passport nexus), `SYN`, `CHG`, presence, challenges, `PNG` keepalives, and one
//! switchboard per contact for messages (`switchboard`). Every line goes out as a typed
//! [`NsCommand`] or [`SbCommand`] and comes in as an [`OwnedReply`] of the dialect spoken.

mod login;
mod switchboard;

use crate::{Account, Command, Disconnect, Error, Event, Events, Options, Reply, Status};
use bytes::BytesMut;
use login::Login;
use msnp::command::ContactRef;
use msnp::{Dialect, Direction, Frame, FrameDecoder, Limits, List, MsnStatus, NsCommand, OwnedReply, ServerMessage};
use std::collections::HashMap;
use std::time::Duration;
use switchboard::{Start, Told};
use switchyard_net::driver::{self, Step};
use switchyard_net::Framed;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

/// How often the client pings, and how long it waits for `QNG` before calling the link dead.
const PING_EVERY: Duration = Duration::from_secs(45);
const QNG_WITHIN: Duration = Duration::from_secs(30);
/// Dispatch referrals followed before giving up.
const MAX_REFERRALS: usize = 3;

/// Which server a line comes from: the notification server speaks the dialect negotiated.
#[derive(Clone, Copy)]
enum Role {
    Notification(Dialect),
    Switchboard,
}

/// The server's frames, and the role of the server that sends them; a line that is not a
/// frame is skipped.
struct Codec {
    decoder: FrameDecoder,
    role: Role,
}

impl switchyard_net::Codec for Codec {
    type Frame = Frame;
    type Error = msnp::DecodeError;

    fn decode(&mut self, input: &mut BytesMut, _: &mut BytesMut) -> Result<Option<Frame>, msnp::DecodeError> {
        loop {
            match self.decoder.decode(input) {
                Err(e) if !e.is_fatal() => tracing::debug!(error = %e, "unparsable line skipped"),
                decoded => return decoded,
            }
        }
    }
}

/// A connection to a notification server or a switchboard.
type Line = Framed<Codec>;

async fn connect(address: &str, local: Option<std::net::IpAddr>, role: Role) -> Result<Line, Error> {
    let stream = crate::tcp::connect(address, local).await?;
    let decoder = FrameDecoder::new(Direction::ServerToClient, Limits::default());
    Ok(Framed::client(stream, Codec { decoder, role }))
}

/// Commands written on a [`Line`]: queued for the driver's next write, or (while logging in
/// and entering a switchboard) sent at once; and the replies read from it, in its role's shapes.
trait Lines {
    fn parse(&self, frame: &Frame) -> Result<OwnedReply, msnp::BadReply>;
    fn queue(&mut self, command: impl Into<Frame>);
    async fn send(&mut self, command: impl Into<Frame>) -> Result<(), Error>;
    /// The next reply before `deadline`; lines of no known shape are skipped.
    async fn expect(&mut self, deadline: Instant) -> Result<OwnedReply, Error>;
}

impl Lines for Line {
    fn parse(&self, frame: &Frame) -> Result<OwnedReply, msnp::BadReply> {
        match self.codec.role {
            Role::Notification(dialect) => OwnedReply::parse(frame, dialect),
            Role::Switchboard => OwnedReply::parse_switchboard(frame),
        }
    }

    fn queue(&mut self, command: impl Into<Frame>) {
        command.into().encode(&mut self.stream.output);
    }

    async fn send(&mut self, command: impl Into<Frame>) -> Result<(), Error> {
        self.queue(command);
        self.flush().await.map_err(|e| Error::Unreachable(format!("write failed: {e}")))
    }

    async fn expect(&mut self, deadline: Instant) -> Result<OwnedReply, Error> {
        loop {
            let frame = match self.read_until(deadline).await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(crate::unanswered(crate::Protocol::Msn, &crate::lost(e))),
                None => return Err(Error::Timeout),
            };
            match self.parse(&frame) {
                Ok(reply) => return Ok(reply),
                Err(e) => tracing::debug!(error = %e, "skipped"),
            }
        }
    }
}

fn to_msn(status: Status) -> MsnStatus {
    match status {
        Status::Online => MsnStatus::Online,
        Status::Busy => MsnStatus::Busy,
        Status::Away => MsnStatus::Away,
        Status::Invisible => MsnStatus::Hidden,
        Status::Offline => MsnStatus::Offline,
    }
}

fn from_msn(status: MsnStatus) -> Status {
    match status {
        MsnStatus::Online => Status::Online,
        MsnStatus::Busy | MsnStatus::OnThePhone => Status::Busy,
        MsnStatus::Away | MsnStatus::BeRightBack | MsnStatus::Idle | MsnStatus::Lunch => Status::Away,
        MsnStatus::Hidden => Status::Invisible,
        MsnStatus::Offline => Status::Offline,
    }
}

/// What a command to the notification server waits for.
enum Waiting {
    Reply(Reply),
    /// `OUT`: done once it is written and the connection closed.
    LoggingOut(Reply),
    /// An `XFR SB` for a switchboard with `to`, whose queued commands are in `commands`.
    Switchboard {
        to: String,
        commands: mpsc::Receiver<switchboard::Command>,
    },
}

pub(crate) struct Connection {
    ns: Line,
    state: Notification,
}

/// Everything of a notification connection but its line.
struct Notification {
    dialect: Dialect,
    me: String,
    trid: u32,
    events: Events,
    waiting: HashMap<u32, Waiting>,
    /// Contacts by handle, with their GUID from MSNP10 (which removes them by it).
    contacts: HashMap<String, Option<String>>,
    /// One switchboard per contact, by handle.
    switchboards: HashMap<String, mpsc::Sender<switchboard::Command>>,
    told: mpsc::Sender<Told>,
    told_rx: mpsc::Receiver<Told>,
    /// When the unanswered `PNG` went out.
    pinged: Option<Instant>,
    /// Where switchboard connections are made from.
    local: Option<std::net::IpAddr>,
}

/// A logged-in notification connection as the driver runs it.
struct Running<'a> {
    state: &'a mut Notification,
    commands: &'a mut mpsc::Receiver<Command>,
    ping: Interval,
}

/// What a notification connection waits on besides the server's lines.
enum Input {
    Command(Option<Command>),
    Switchboard(Told),
    Ping,
}

impl Connection {
    pub(crate) async fn open(account: &Account, options: &Options, events: Events) -> Result<Connection, Error> {
        let dialect = Dialect::parse(&format!("MSNP{}", options.msn_dialect))
            .ok_or_else(|| Error::Protocol(format!("there is no MSNP{} (MSNP2 to MSNP12)", options.msn_dialect)))?;
        let deadline = Instant::now() + options.timeout;
        let mut address = account.server.clone();
        for _ in 0..=MAX_REFERRALS {
            let mut ns = connect(&address, options.local_address, Role::Notification(dialect)).await?;
            match login::log_in(&mut ns, account, dialect, options, deadline).await? {
                Login::ReferredTo(next) => address = next,
                Login::Done => {
                    let (told, told_rx) = mpsc::channel(256);
                    let state = Notification {
                        dialect,
                        me: account.handle.to_ascii_lowercase(),
                        trid: 10,
                        events,
                        waiting: HashMap::new(),
                        contacts: HashMap::new(),
                        switchboards: HashMap::new(),
                        told,
                        told_rx,
                        pinged: None,
                        local: options.local_address,
                    };
                    let mut conn = Connection { ns, state };
                    conn.state.events.emit(Event::LoggedIn);
                    conn.synchronize(deadline).await?;
                    let trid = conn.state.next_trid();
                    conn.ns.send(conn.state.change_status(trid, options.initial_status)).await?;
                    return Ok(conn);
                }
            }
        }
        Err(Error::Protocol("too many dispatch referrals".into()))
    }

    /// `SYN 0`: the lists. Up to MSNP7 they end with the reverse list's last entry; from MSNP8
    /// the answer counts the contacts to come.
    async fn synchronize(&mut self, deadline: Instant) -> Result<(), Error> {
        let trid = self.state.next_trid();
        self.ns.send(NsCommand::Syn { trid, version: 0 }).await?;
        let mut contacts_to_come = None;
        loop {
            if contacts_to_come == Some(0) {
                return Ok(());
            }
            match self.ns.expect(deadline).await? {
                ServerMessage::SynCounts { trid: t, contacts, .. } if t == trid => contacts_to_come = Some(contacts),
                ServerMessage::Lst { trid: t, list, index, total, handle, friendly, .. } if t == trid => {
                    if list == List::Forward {
                        self.state.contact(handle, friendly, None);
                    }
                    if list == List::Reverse && index == total {
                        return Ok(());
                    }
                }
                ServerMessage::LstEmpty { trid: t, list: List::Reverse, .. } if t == trid => return Ok(()),
                ServerMessage::LstBitmask { handle, friendly, lists, .. } => {
                    if lists & List::Forward.bit() != 0 {
                        self.state.contact(handle, friendly, None);
                    }
                    contacts_to_come = contacts_to_come.map(|n: usize| n.saturating_sub(1));
                }
                ServerMessage::LstGuid { handle, friendly, guid, lists, .. } => {
                    if lists & List::Forward.bit() != 0 {
                        self.state.contact(handle, friendly, guid);
                    }
                    contacts_to_come = contacts_to_come.map(|n: usize| n.saturating_sub(1));
                }
                _ => {}
            }
        }
    }

    pub(crate) async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Disconnect {
        let ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        let mut running = Running { state: &mut self.state, commands, ping };
        let end = driver::drive(&mut self.ns, &mut running, std::future::pending()).await;
        self.ns.close().await;
        for (_, waiting) in self.state.waiting.drain() {
            match waiting {
                Waiting::Reply(reply) => drop(reply.send(Err(Error::NotConnected))),
                Waiting::LoggingOut(reply) => drop(reply.send(Ok(()))),
                Waiting::Switchboard { .. } => {}
            }
        }
        crate::disconnect_of(end)
    }
}

impl driver::Session<Line> for Running<'_> {
    type Input = Input;
    type Why = Disconnect;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            command = self.commands.recv() => Input::Command(command),
            Some(told) = self.state.told_rx.recv() => Input::Switchboard(told),
            _ = self.ping.tick() => Input::Ping,
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        let command = self.commands.try_recv().ok().map(|command| Input::Command(Some(command)));
        command.or_else(|| self.state.told_rx.try_recv().ok().map(Input::Switchboard))
    }

    async fn frame(&mut self, ns: &mut Line, frame: Frame) -> Step<Disconnect> {
        match ns.parse(&frame) {
            Ok(reply) => Step::from(self.state.reply(ns, frame.trid(), reply)),
            Err(e) => {
                tracing::debug!(error = %e, "ignored");
                Step::Continue
            }
        }
    }

    async fn input(&mut self, ns: &mut Line, input: Input) -> Step<Disconnect> {
        Step::from(match input {
            Input::Command(Some(command)) => self.state.command(ns, command),
            Input::Command(None) => Err(Disconnect::LoggedOut),
            Input::Switchboard(told) => {
                self.state.switchboard_told(told);
                Ok(())
            }
            Input::Ping => self.state.ping(ns),
        })
    }
}

impl Notification {
    fn next_trid(&mut self) -> u32 {
        self.trid = self.trid.wrapping_add(1);
        self.trid
    }

    fn contact(&mut self, handle: String, name: String, guid: Option<String>) {
        self.events.emit(Event::Contact { handle: handle.clone(), name });
        self.contacts.insert(handle.to_ascii_lowercase(), guid);
    }

    /// `CHG`, with the client's capabilities (none) from MSNP8.
    fn change_status(&self, trid: u32, status: Status) -> NsCommand {
        let capabilities = (self.dialect.number() >= 8).then_some(0);
        NsCommand::Chg { trid, status: to_msn(status), capabilities, object: None }
    }

    fn ping(&mut self, ns: &mut Line) -> Result<(), Disconnect> {
        if self.pinged.is_some_and(|at| at.elapsed() > QNG_WITHIN) {
            return Err(Disconnect::Lost("no answer to PNG".into()));
        }
        if self.pinged.is_none() {
            self.pinged = Some(Instant::now());
            ns.queue(NsCommand::Png);
        }
        Ok(())
    }

    fn answer(&mut self, trid: Option<u32>, result: Result<(), Error>) {
        match trid.and_then(|t| self.waiting.remove(&t)) {
            Some(Waiting::Reply(reply) | Waiting::LoggingOut(reply)) => {
                let _ = reply.send(result);
            }
            Some(Waiting::Switchboard { mut commands, .. }) => {
                let why = match result {
                    Err(e) => e,
                    Ok(()) => Error::Protocol("no switchboard referral".into()),
                };
                commands.close();
                while let Ok(command) = commands.try_recv() {
                    command.fail(why.clone());
                }
            }
            None => {}
        }
    }

    fn reply(&mut self, ns: &mut Line, trid: Option<u32>, reply: OwnedReply) -> Result<(), Disconnect> {
        let events = self.events.clone();
        match reply {
            ServerMessage::Iln { status, handle, friendly, .. }
            | ServerMessage::Nln { status, handle, friendly, .. } => {
                events.emit(Event::Presence { handle, status: from_msn(status), name: friendly })
            }
            ServerMessage::Fln { handle } => {
                events.emit(Event::Presence { handle, status: Status::Offline, name: String::new() })
            }
            ServerMessage::Add { trid: 0, list: List::Reverse, handle, .. }
            | ServerMessage::Adc { trid: 0, list: List::Reverse, handle: Some(handle), .. } => {
                events.emit(Event::AddedBy { handle })
            }
            ServerMessage::Adc { list: List::Forward, handle: Some(handle), guid, .. } => {
                self.contacts.insert(handle.to_ascii_lowercase(), guid);
                self.answer(trid, Ok(()));
            }
            ServerMessage::Rng { session, address, cookie, caller, .. } => {
                let (tx, rx) = mpsc::channel(64);
                self.switchboards.insert(caller.to_ascii_lowercase(), tx);
                let start = Start::Answer { cookie, session };
                self.open_switchboard(address, caller, start, rx);
            }
            ServerMessage::XfrSb { trid, address, cookie } => {
                if let Some(Waiting::Switchboard { to, commands }) = self.waiting.remove(&trid) {
                    self.open_switchboard(address, to, Start::Call { cookie }, commands);
                }
            }
            ServerMessage::Chl { challenge } => {
                let trid = self.next_trid();
                ns.queue(challenge_answer(self.dialect, trid, &challenge));
            }
            ServerMessage::Qng { .. } => self.pinged = None,
            ServerMessage::Out { reason } => {
                return Err(match reason.as_deref() {
                    Some("OTH") => Disconnect::LoggedInElsewhere,
                    _ => Disconnect::ServerClosed,
                })
            }
            error @ ServerMessage::Error { .. } => self.answer(trid, Err(Error::Refused(refusal(&error)))),
            _ => self.answer(trid, Ok(())),
        }
        Ok(())
    }

    fn open_switchboard(
        &self,
        address: String,
        with: String,
        start: Start,
        commands: mpsc::Receiver<switchboard::Command>,
    ) {
        let (local, me, told) = (self.local, self.me.clone(), self.told.clone());
        tokio::spawn(switchboard::run(address, local, me, with, start, commands, told));
    }

    fn command(&mut self, ns: &mut Line, command: Command) -> Result<(), Disconnect> {
        let trid = self.next_trid();
        let adc = self.dialect.has_adc();
        let (line, reply) = match command {
            Command::SetStatus(status, reply) => (self.change_status(trid, status), reply),
            Command::SendMessage { to, text, reply } => {
                self.via_switchboard(ns, to.to_ascii_lowercase(), switchboard::Command::Message { text, reply });
                return Ok(());
            }
            Command::SendTyping { to, reply } => {
                self.via_switchboard(ns, to.to_ascii_lowercase(), switchboard::Command::Typing { reply });
                return Ok(());
            }
            Command::AddContact { handle, name, reply } => {
                // Watching someone also lets them see the user, as MSN clients did.
                let allow = self.next_trid();
                ns.queue(allow_command(adc, allow, &handle));
                let add = if adc {
                    let contact = ContactRef::Handle(handle);
                    NsCommand::Adc { trid, list: List::Forward, contact, name: Some(name), group: None }
                } else {
                    NsCommand::Add { trid, list: List::Forward, handle, name, group: None }
                };
                (add, reply)
            }
            Command::RemoveContact { handle, reply } => {
                // From MSNP10 the forward list names its entries by GUID.
                let contact = match self.contacts.get(&handle.to_ascii_lowercase()) {
                    Some(Some(guid)) if adc => guid.clone(),
                    _ if adc => {
                        let _ = reply.send(Err(Error::Refused(format!("{handle} is not on the contact list"))));
                        return Ok(());
                    }
                    _ => handle,
                };
                (NsCommand::Rem { trid, list: List::Forward, contact, group: None }, reply)
            }
            Command::Authorize { handle, reply } => (allow_command(adc, trid, &handle), reply),
            // The server refuses a message to an unknown user itself.
            Command::CheckUser { reply, .. } => {
                let _ = reply.send(Ok(()));
                return Ok(());
            }
            Command::Logout(reply) => {
                // Answered once `OUT` is written, as the connection closes.
                ns.queue(NsCommand::Out);
                self.waiting.insert(trid, Waiting::LoggingOut(reply));
                return Err(Disconnect::LoggedOut);
            }
        };
        self.waiting.insert(trid, Waiting::Reply(reply));
        ns.queue(line);
        Ok(())
    }

    /// Hands a command to the switchboard with `to`, asking for one (`XFR SB`) if there is none.
    fn via_switchboard(&mut self, ns: &mut Line, to: String, command: switchboard::Command) {
        let command = match self.switchboards.get(&to) {
            Some(sb) => match sb.try_send(command) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(command)) => {
                    command.fail(Error::NotDelivered("switchboard busy".into()));
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(command)) => command,
            },
            None => command,
        };
        let (tx, rx) = mpsc::channel(64);
        let _ = tx.try_send(command);
        self.switchboards.insert(to.clone(), tx);
        let trid = self.next_trid();
        self.waiting.insert(trid, Waiting::Switchboard { to, commands: rx });
        ns.queue(NsCommand::XfrSb { trid });
    }

    fn switchboard_told(&mut self, told: Told) {
        match told {
            Told::Message { from, text } => self.events.emit(Event::Message { from, text }),
            Told::Typing { from } => self.events.emit(Event::Typing { from }),
            Told::Closed { with } => {
                if self.switchboards.get(&with).is_some_and(|sb| sb.is_closed()) {
                    self.switchboards.remove(&with);
                }
            }
        }
    }
}

/// Lets `handle` see the user: `ADD trid AL handle handle`, or `ADC trid AL N=handle` (MSNP10+).
fn allow_command(adc: bool, trid: u32, handle: &str) -> NsCommand {
    if adc {
        NsCommand::Adc {
            trid,
            list: List::Allow,
            contact: ContactRef::Handle(handle.to_owned()),
            name: None,
            group: None,
        }
    } else {
        NsCommand::Add { trid, list: List::Allow, handle: handle.to_owned(), name: handle.to_owned(), group: None }
    }
}

/// `QRY` with the answer of a product of the dialect's challenge scheme.
fn challenge_answer(dialect: Dialect, trid: u32, challenge: &str) -> NsCommand {
    use msnp::challenge::{md5_answer, msnp11_answer, Scheme, PRODUCTS};
    let scheme = dialect.challenge_scheme().unwrap_or(Scheme::Md5);
    let product = PRODUCTS.iter().find(|p| p.scheme == scheme).expect("every scheme has a product");
    let answer = match scheme {
        Scheme::Md5 => md5_answer(challenge, product.key),
        Scheme::Msnp11 => msnp11_answer(challenge, product.id, product.key),
    };
    NsCommand::Qry { trid, product: product.id.to_owned(), payload: answer.into_bytes().into() }
}

/// What the server refused with, as a sentence; the error's number goes to the debug log.
fn refusal(answer: &OwnedReply) -> String {
    tracing::debug!(?answer, "MSN refusal");
    match answer {
        ServerMessage::Error { code, .. } => msnp::error_code::describe(code.number()),
        other => format!("unexpected answer {other:?}"),
    }
}

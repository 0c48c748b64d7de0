//! MSN Messenger: `VER`/`USR MD5` login (following a dispatch server's `XFR NS`), `SYN`,
//! `CHG`, presence, challenges, `PNG` keepalives, and one switchboard per contact for
//! messages (opened with `XFR SB` + `CAL`, or answered after `RNG`).

use crate::{Account, Command, Disconnect, Error, Event, Events, Options, Reply, Status};
use bytes::BytesMut;
use md5::{Digest, Md5};
use msnp::message::{self, Body};
use msnp::{Direction, Frame, FrameDecoder, Limits};
use std::collections::HashMap;
use std::time::Duration;
use switchyard_net::driver::{self, Step};
use switchyard_net::Framed;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

/// How often the client pings, and how long it waits for `QNG` before calling the link dead.
const PING_EVERY: Duration = Duration::from_secs(45);
const QNG_WITHIN: Duration = Duration::from_secs(30);
/// A switchboard nobody has written in for this long is left.
const SWITCHBOARD_IDLE: Duration = Duration::from_secs(600);
/// Dispatch referrals followed before giving up.
const MAX_REFERRALS: usize = 3;
/// The product id and key MSN Messenger 3.6–6 answer challenges with (`protocols/msnp.md`).
const CHALLENGE_PRODUCT: &str = "msmsgs@msnmsgr.com";

/// The server's frames; a line that is not one is skipped.
struct Codec(FrameDecoder);

impl switchyard_net::Codec for Codec {
    type Frame = Frame;
    type Error = msnp::DecodeError;

    fn decode(&mut self, input: &mut BytesMut, _: &mut BytesMut) -> Result<Option<Frame>, msnp::DecodeError> {
        loop {
            match self.0.decode(input) {
                Err(e) if !e.is_fatal() => tracing::debug!(error = %e, "unparsable line skipped"),
                decoded => return decoded,
            }
        }
    }
}

/// A line-based connection: commands out, frames in.
type Line = Framed<Codec>;

async fn connect(address: &str, local: Option<std::net::IpAddr>) -> Result<Line, Error> {
    let stream = crate::tcp::connect(address, local).await?;
    Ok(Framed::client(stream, Codec(FrameDecoder::new(Direction::ServerToClient, Limits::default()))))
}

/// Commands written on a [`Line`]: queued for the driver's next write, or (while logging in
/// and entering a switchboard) sent at once.
trait Lines {
    fn queue_line(&mut self, line: &str);
    /// `head len\r\npayload`.
    fn queue_payload(&mut self, head: &str, payload: &[u8]);
    async fn line(&mut self, line: &str) -> Result<(), Error>;
    async fn expect(&mut self, deadline: Instant) -> Result<Frame, Error>;
}

impl Lines for Line {
    fn queue_line(&mut self, line: &str) {
        self.stream.output.extend_from_slice(line.as_bytes());
        self.stream.output.extend_from_slice(b"\r\n");
    }

    fn queue_payload(&mut self, head: &str, payload: &[u8]) {
        self.queue_line(&format!("{head} {}", payload.len()));
        self.stream.output.extend_from_slice(payload);
    }

    async fn line(&mut self, line: &str) -> Result<(), Error> {
        self.queue_line(line);
        self.flush().await.map_err(|e| Error::Unreachable(format!("write failed: {e}")))
    }

    async fn expect(&mut self, deadline: Instant) -> Result<Frame, Error> {
        match self.read_until(deadline).await {
            Some(Ok(frame)) => Ok(frame),
            Some(Err(e)) => Err(crate::unanswered(crate::Protocol::Msn, &crate::lost(e))),
            None => Err(Error::Timeout),
        }
    }
}

fn param(frame: &Frame, i: usize) -> &str {
    frame.params.get(i).map(String::as_str).unwrap_or("")
}

fn decode_name(encoded: &str) -> String {
    msnp::text::decode_friendly_name(encoded).unwrap_or_else(|_| encoded.to_owned())
}

fn to_msn(status: Status) -> &'static str {
    match status {
        Status::Online => "NLN",
        Status::Busy => "BSY",
        Status::Away => "AWY",
        Status::Invisible => "HDN",
        Status::Offline => "FLN",
    }
}

fn from_msn(code: &str) -> Status {
    match code {
        "NLN" => Status::Online,
        "BSY" | "PHN" => Status::Busy,
        "AWY" | "BRB" | "IDL" | "LUN" => Status::Away,
        "HDN" => Status::Invisible,
        _ => Status::Offline,
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
        commands: mpsc::Receiver<SbCommand>,
    },
}

pub(crate) struct Connection {
    ns: Line,
    state: Notification,
}

/// Everything of a notification connection but its line.
struct Notification {
    me: String,
    trid: u32,
    events: Events,
    waiting: HashMap<u32, Waiting>,
    /// One switchboard per contact, by handle.
    switchboards: HashMap<String, mpsc::Sender<SbCommand>>,
    sb_events: mpsc::Sender<SbEvent>,
    sb_events_rx: mpsc::Receiver<SbEvent>,
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

/// What a notification connection waits on besides the server's frames.
enum Input {
    Command(Option<Command>),
    Switchboard(SbEvent),
    Ping,
}

impl Connection {
    pub(crate) async fn open(account: &Account, options: &Options, events: Events) -> Result<Connection, Error> {
        let deadline = Instant::now() + options.timeout;
        let mut address = account.server.clone();
        for _ in 0..=MAX_REFERRALS {
            let mut ns = connect(&address, options.local_address).await?;
            match log_in(&mut ns, account, options.msn_dialect, deadline).await? {
                Login::ReferredTo(next) => address = next,
                Login::Done => {
                    let (sb_events, sb_events_rx) = mpsc::channel(256);
                    let state = Notification {
                        me: account.handle.to_ascii_lowercase(),
                        trid: 10,
                        events,
                        waiting: HashMap::new(),
                        switchboards: HashMap::new(),
                        sb_events,
                        sb_events_rx,
                        pinged: None,
                        local: options.local_address,
                    };
                    let mut conn = Connection { ns, state };
                    conn.state.events.emit(Event::LoggedIn);
                    conn.synchronize(deadline).await?;
                    let trid = conn.state.next_trid();
                    conn.ns.line(&format!("CHG {trid} {}", to_msn(options.initial_status))).await?;
                    return Ok(conn);
                }
            }
        }
        Err(Error::Protocol("too many dispatch referrals".into()))
    }

    /// `SYN 0`: the lists, up to the last entry of the reverse list; forward-list entries are
    /// the contacts.
    async fn synchronize(&mut self, deadline: Instant) -> Result<(), Error> {
        let trid = self.state.next_trid();
        self.ns.line(&format!("SYN {trid} 0")).await?;
        loop {
            let frame = self.ns.expect(deadline).await?;
            if frame.verb.as_str() != "LST" || frame.trid() != Some(trid) {
                continue;
            }
            // LST trid LIST ver index total [handle friendly [groups]]
            let (list, index, total) = (param(&frame, 1), param(&frame, 3), param(&frame, 4));
            if list == "FL" && frame.params.len() >= 7 {
                let name = decode_name(param(&frame, 6));
                self.state.events.emit(Event::Contact { handle: param(&frame, 5).to_owned(), name });
            }
            if list == "RL" && index == total {
                return Ok(());
            }
        }
    }

    pub(crate) async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Disconnect {
        let ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        let mut running = Running { state: &mut self.state, commands, ping };
        let end = driver::drive(&mut self.ns, &mut running, &crate::never_shut_down()).await;
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
            Some(event) = self.state.sb_events_rx.recv() => Input::Switchboard(event),
            _ = self.ping.tick() => Input::Ping,
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        let command = self.commands.try_recv().ok().map(|command| Input::Command(Some(command)));
        command.or_else(|| self.state.sb_events_rx.try_recv().ok().map(Input::Switchboard))
    }

    async fn frame(&mut self, ns: &mut Line, frame: Frame) -> Step<Disconnect> {
        to_step(self.state.frame(ns, frame))
    }

    async fn input(&mut self, ns: &mut Line, input: Input) -> Step<Disconnect> {
        to_step(match input {
            Input::Command(Some(command)) => self.state.command(ns, command),
            Input::Command(None) => Err(Disconnect::LoggedOut),
            Input::Switchboard(event) => {
                self.state.switchboard_event(event);
                Ok(())
            }
            Input::Ping => self.state.ping(ns),
        })
    }
}

fn to_step(result: Result<(), Disconnect>) -> Step<Disconnect> {
    match result {
        Ok(()) => Step::Continue,
        Err(reason) => Step::End(reason),
    }
}

impl Notification {
    fn next_trid(&mut self) -> u32 {
        self.trid = self.trid.wrapping_add(1);
        self.trid
    }

    fn ping(&mut self, ns: &mut Line) -> Result<(), Disconnect> {
        if self.pinged.is_some_and(|at| at.elapsed() > QNG_WITHIN) {
            return Err(Disconnect::Lost("no answer to PNG".into()));
        }
        if self.pinged.is_none() {
            self.pinged = Some(Instant::now());
            ns.queue_line("PNG");
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

    fn frame(&mut self, ns: &mut Line, frame: Frame) -> Result<(), Disconnect> {
        let events = self.events.clone();
        match frame.verb.as_str() {
            "ILN" => events.emit(Event::Presence {
                handle: param(&frame, 2).to_owned(),
                status: from_msn(param(&frame, 1)),
                name: decode_name(param(&frame, 3)),
            }),
            "NLN" => events.emit(Event::Presence {
                handle: param(&frame, 1).to_owned(),
                status: from_msn(param(&frame, 0)),
                name: decode_name(param(&frame, 2)),
            }),
            "FLN" => events.emit(Event::Presence {
                handle: param(&frame, 0).to_owned(),
                status: Status::Offline,
                name: String::new(),
            }),
            "ADD" if frame.trid() == Some(0) && param(&frame, 1) == "RL" => {
                events.emit(Event::AddedBy { handle: param(&frame, 3).to_owned() })
            }
            "RNG" => {
                // RNG session address CKI cookie caller friendly
                let caller = param(&frame, 4).to_owned();
                let (tx, rx) = mpsc::channel(64);
                self.switchboards.insert(caller.clone(), tx);
                let start = Start::Answer { cookie: param(&frame, 3).to_owned(), session: param(&frame, 0).to_owned() };
                let address = param(&frame, 1).to_owned();
                tokio::spawn(switchboard(
                    address,
                    self.local,
                    self.me.clone(),
                    caller,
                    start,
                    rx,
                    self.sb_events.clone(),
                ));
            }
            "XFR" if param(&frame, 1) == "SB" => {
                let Some(Waiting::Switchboard { to, commands }) = frame.trid().and_then(|t| self.waiting.remove(&t))
                else {
                    return Ok(());
                };
                let start = Start::Call { cookie: param(&frame, 4).to_owned() };
                let address = param(&frame, 2).to_owned();
                tokio::spawn(switchboard(
                    address,
                    self.local,
                    self.me.clone(),
                    to,
                    start,
                    commands,
                    self.sb_events.clone(),
                ));
            }
            "CHL" => {
                let answer = msnp::challenge::product_by_id(CHALLENGE_PRODUCT)
                    .map(|p| msnp::challenge::md5_answer(param(&frame, 1), p.key))
                    .unwrap_or_default();
                let trid = self.next_trid();
                ns.queue_payload(&format!("QRY {trid} {CHALLENGE_PRODUCT}"), answer.as_bytes());
            }
            "QNG" => self.pinged = None,
            "OUT" => {
                return Err(match param(&frame, 0) {
                    "OTH" => Disconnect::LoggedInElsewhere,
                    _ => Disconnect::ServerClosed,
                })
            }
            verb if verb.bytes().all(|b| b.is_ascii_digit()) => {
                tracing::debug!(code = verb, "MSN error");
                self.answer(frame.trid(), Err(Error::Refused(msn_refusal(verb))));
            }
            _ => self.answer(frame.trid(), Ok(())),
        }
        Ok(())
    }

    fn command(&mut self, ns: &mut Line, command: Command) -> Result<(), Disconnect> {
        let trid = self.next_trid();
        let (line, reply) = match command {
            Command::SetStatus(status, reply) => (format!("CHG {trid} {}", to_msn(status)), reply),
            Command::SendMessage { to, text, reply } => {
                self.via_switchboard(ns, to.to_ascii_lowercase(), SbCommand::Message { text, reply });
                return Ok(());
            }
            Command::SendTyping { to, reply } => {
                self.via_switchboard(ns, to.to_ascii_lowercase(), SbCommand::Typing { reply });
                return Ok(());
            }
            Command::AddContact { handle, name, reply } => {
                // Watching someone also lets them see the user, as MSN clients did.
                let allow = self.next_trid();
                ns.queue_line(&format!("ADD {allow} AL {handle} {handle}"));
                (format!("ADD {trid} FL {handle} {}", msnp::text::url_encode(&name)), reply)
            }
            Command::RemoveContact { handle, reply } => (format!("REM {trid} FL {handle}"), reply),
            Command::Authorize { handle, reply } => (format!("ADD {trid} AL {handle} {handle}"), reply),
            // The server refuses a message to an unknown user itself.
            Command::CheckUser { reply, .. } => {
                let _ = reply.send(Ok(()));
                return Ok(());
            }
            Command::Logout(reply) => {
                // Answered once `OUT` is written, as the connection closes.
                ns.queue_line("OUT");
                self.waiting.insert(trid, Waiting::LoggingOut(reply));
                return Err(Disconnect::LoggedOut);
            }
        };
        self.waiting.insert(trid, Waiting::Reply(reply));
        ns.queue_line(&line);
        Ok(())
    }

    /// Hands a command to the switchboard with `to`, asking for one (`XFR SB`) if there is none.
    fn via_switchboard(&mut self, ns: &mut Line, to: String, command: SbCommand) {
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
        ns.queue_line(&format!("XFR {trid} SB"));
    }

    fn switchboard_event(&mut self, event: SbEvent) {
        match event {
            SbEvent::Message { from, text } => self.events.emit(Event::Message { from, text }),
            SbEvent::Typing { from } => self.events.emit(Event::Typing { from }),
            SbEvent::Closed { with } => {
                if self.switchboards.get(&with).is_some_and(|sb| sb.is_closed()) {
                    self.switchboards.remove(&with);
                }
            }
        }
    }
}

enum Login {
    Done,
    ReferredTo(String),
}

/// `VER`, `USR MD5 I`, `USR MD5 S`: logged in, or referred to another server.
async fn log_in(ns: &mut Line, account: &Account, dialect: u8, deadline: Instant) -> Result<Login, Error> {
    let wanted = format!("MSNP{dialect}");
    ns.line(&format!("VER 1 {wanted} CVR0")).await?;
    let ver = ns.expect(deadline).await?;
    if ver.verb.as_str() != "VER" || param(&ver, 1) != wanted {
        return Err(Error::Protocol(format!("the server does not speak {wanted}: {ver:?}")));
    }
    ns.line(&format!("USR 2 MD5 I {}", account.handle)).await?;
    let challenge = ns.expect(deadline).await?;
    match (challenge.verb.as_str(), param(&challenge, 1)) {
        ("XFR", "NS") => return Ok(Login::ReferredTo(param(&challenge, 2).to_owned())),
        ("USR", "MD5") => {}
        _ => return Err(Error::LoginRefused(login_refusal(&challenge))),
    }
    let salt = param(&challenge, 3);
    let response: String = Md5::new()
        .chain_update(salt)
        .chain_update(&account.password)
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ns.line(&format!("USR 3 MD5 S {response}")).await?;
    let ok = ns.expect(deadline).await?;
    match (ok.verb.as_str(), param(&ok, 1)) {
        ("USR", "OK") => Ok(Login::Done),
        _ => Err(Error::LoginRefused(login_refusal(&ok))),
    }
}

/// A switchboard's state while it relays, as the driver runs it.
struct Relay<'a> {
    me: &'a str,
    commands: &'a mut mpsc::Receiver<SbCommand>,
    events: &'a mpsc::Sender<SbEvent>,
    /// Messages waiting for their `ACK`, by trid.
    acks: HashMap<u32, Reply>,
    /// Typing notifications queued, answered once written.
    typed: Vec<Reply>,
    trid: u32,
    present: usize,
}

/// How a switchboard ends itself.
enum Left {
    /// The last other participant left.
    Alone,
    /// The commands ended, or the room fell idle: `OUT` is on its way.
    Done,
}

impl driver::Session<Line> for Relay<'_> {
    /// A command; `None` when the commands ended or the room fell idle.
    type Input = Option<SbCommand>;
    type Why = Left;

    async fn next_input(&mut self) -> Option<SbCommand> {
        tokio::select! {
            command = self.commands.recv() => command,
            _ = tokio::time::sleep(SWITCHBOARD_IDLE) => None,
        }
    }

    fn ready_input(&mut self) -> Option<Option<SbCommand>> {
        self.commands.try_recv().ok().map(Some)
    }

    async fn frame(&mut self, _: &mut Line, frame: Frame) -> Step<Left> {
        match frame.verb.as_str() {
            "MSG" => {
                let from = param(&frame, 0).to_owned();
                let event = match frame.payload.as_deref().and_then(message::parse) {
                    Some(Body::Text { text, .. }) => SbEvent::Message { from, text },
                    Some(Body::Typing { .. }) => SbEvent::Typing { from },
                    None => return Step::Continue,
                };
                let _ = self.events.send(event).await;
            }
            "ACK" | "NAK" => {
                if let Some(reply) = frame.trid().and_then(|t| self.acks.remove(&t)) {
                    let result =
                        if frame.verb.as_str() == "ACK" { Ok(()) } else { Err(Error::NotDelivered("NAK".into())) };
                    let _ = reply.send(result);
                }
            }
            "JOI" => self.present += 1,
            "BYE" => {
                self.present = self.present.saturating_sub(1);
                if self.present == 0 {
                    return Step::End(Left::Alone);
                }
            }
            _ => {}
        }
        Step::Continue
    }

    async fn input(&mut self, sb: &mut Line, command: Option<SbCommand>) -> Step<Left> {
        match command {
            Some(SbCommand::Message { text, reply }) => {
                self.trid += 1;
                self.acks.insert(self.trid, reply);
                sb.queue_payload(&format!("MSG {} A", self.trid), message::text(&text, None).as_bytes());
            }
            Some(SbCommand::Typing { reply }) => {
                self.trid += 1;
                sb.queue_payload(&format!("MSG {} U", self.trid), message::typing(self.me).as_bytes());
                self.typed.push(reply);
            }
            None => {
                sb.queue_line("OUT");
                return Step::End(Left::Done);
            }
        }
        Step::Continue
    }

    async fn flushed(&mut self, sent: usize) {
        for reply in self.typed.drain(..) {
            let _ = reply.send(if sent == usize::MAX { Ok(()) } else { Err(Error::NotConnected) });
        }
    }
}

/// What a switchboard connection is asked to do.
#[derive(Debug)]
enum SbCommand {
    Message { text: String, reply: Reply },
    Typing { reply: Reply },
}

impl SbCommand {
    fn fail(self, error: Error) {
        let (SbCommand::Message { reply, .. } | SbCommand::Typing { reply }) = self;
        let _ = reply.send(Err(error));
    }
}

enum SbEvent {
    Message { from: String, text: String },
    Typing { from: String },
    Closed { with: String },
}

enum Start {
    /// Create a room with the `XFR SB` cookie and `CAL` the contact.
    Call { cookie: String },
    /// Join the room of a `RNG`.
    Answer { cookie: String, session: String },
}

/// One switchboard with `with`: joins (or creates and calls), then relays messages both ways
/// until the other side leaves or it falls idle.
async fn switchboard(
    address: String,
    local: Option<std::net::IpAddr>,
    me: String,
    with: String,
    start: Start,
    mut commands: mpsc::Receiver<SbCommand>,
    events: mpsc::Sender<SbEvent>,
) {
    let result = match connect(&address, local).await {
        Ok(mut sb) => {
            let result = match enter(&mut sb, &me, &with, start).await {
                Ok(()) => relay(&mut sb, &me, &mut commands, &events).await,
                Err(e) => Err(e),
            };
            sb.close().await;
            result
        }
        Err(e) => Err(e),
    };
    commands.close();
    let why = result.err().unwrap_or_else(|| Error::NotDelivered(format!("{with} left the conversation")));
    while let Ok(command) = commands.try_recv() {
        command.fail(why.clone());
    }
    let _ = events.send(SbEvent::Closed { with }).await;
}

async fn enter(sb: &mut Line, me: &str, with: &str, start: Start) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    match start {
        Start::Call { cookie } => {
            sb.line(&format!("USR 1 {me} {cookie}")).await?;
            expect_verb(sb, "USR", deadline).await?;
            sb.line(&format!("CAL 2 {with}")).await?;
            expect_verb(sb, "CAL", deadline).await?;
            loop {
                let frame = sb.expect(deadline).await?;
                if frame.verb.as_str() == "JOI" && param(&frame, 0).eq_ignore_ascii_case(with) {
                    return Ok(());
                }
            }
        }
        Start::Answer { cookie, session } => {
            sb.line(&format!("ANS 1 {me} {cookie} {session}")).await?;
            expect_verb(sb, "ANS", deadline).await
        }
    }
}

/// Waits for `verb` (skipping `IRO` and the like); a numeric error is a refusal.
async fn expect_verb(sb: &mut Line, verb: &str, deadline: Instant) -> Result<(), Error> {
    loop {
        let frame = sb.expect(deadline).await?;
        let got = frame.verb.as_str();
        if got == verb {
            return Ok(());
        }
        if got.bytes().all(|b| b.is_ascii_digit()) {
            tracing::debug!(code = got, "MSN error");
            return Err(Error::NotDelivered(msn_refusal(got)));
        }
    }
}

/// Relays messages both ways until the other side leaves or the room falls idle.
async fn relay(
    sb: &mut Line,
    me: &str,
    commands: &mut mpsc::Receiver<SbCommand>,
    events: &mpsc::Sender<SbEvent>,
) -> Result<(), Error> {
    let mut room = Relay { me, commands, events, acks: HashMap::new(), typed: Vec::new(), trid: 10, present: 1 };
    let end = driver::drive(sb, &mut room, &crate::never_shut_down()).await;
    for (_, reply) in room.acks {
        let _ = reply.send(Err(Error::NotDelivered("the switchboard closed".into())));
    }
    crate::ended(end).map(drop).map_err(|lost| Error::NotDelivered(format!("{lost:?}")))
}

/// An MSN error number as a sentence; the number goes to the debug log.
fn msn_refusal(code: &str) -> String {
    code.parse().map_or_else(|_| format!("refused with error {code}"), msnp::error_code::describe)
}

/// What a refused login answered, as a sentence.
fn login_refusal(answer: &msnp::Frame) -> String {
    tracing::debug!(answer = ?answer, "MSN login refused");
    let verb = answer.verb.as_str();
    if verb.bytes().all(|b| b.is_ascii_digit()) {
        msn_refusal(verb)
    } else {
        format!("unexpected answer {verb}")
    }
}

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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

const WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// How often the client pings, and how long it waits for `QNG` before calling the link dead.
const PING_EVERY: Duration = Duration::from_secs(45);
const QNG_WITHIN: Duration = Duration::from_secs(30);
/// A switchboard nobody has written in for this long is left.
const SWITCHBOARD_IDLE: Duration = Duration::from_secs(600);
/// Dispatch referrals followed before giving up.
const MAX_REFERRALS: usize = 3;
/// The product id and key MSN Messenger 3.6–6 answer challenges with (`protocols/msnp.md`).
const CHALLENGE_PRODUCT: &str = "msmsgs@msnmsgr.com";

/// A line-based connection: commands out, frames in.
struct Line {
    stream: TcpStream,
    decoder: FrameDecoder,
    input: BytesMut,
    /// Bytes queued for the next flush.
    output: BytesMut,
}

impl Line {
    async fn connect(address: &str, local: Option<std::net::IpAddr>) -> Result<Line, Error> {
        let stream = crate::tcp::connect(address, local).await?;
        let decoder = FrameDecoder::new(Direction::ServerToClient, Limits::default());
        Ok(Line { stream, decoder, input: BytesMut::with_capacity(4096), output: BytesMut::new() })
    }

    /// Writes what is queued.
    async fn flush(&mut self) -> Result<(), Disconnect> {
        let result = match tokio::time::timeout(WRITE_DEADLINE, self.stream.write_all(&self.output)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Disconnect::Lost(format!("write failed: {e}"))),
            Err(_) => Err(Disconnect::Lost("the server stopped reading".into())),
        };
        self.output.clear();
        result
    }

    async fn line(&mut self, line: &str) -> Result<(), Disconnect> {
        self.queue_line(line);
        self.flush().await
    }

    fn queue_line(&mut self, line: &str) {
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    /// `head len\r\npayload`.
    async fn payload(&mut self, head: &str, payload: &[u8]) -> Result<(), Disconnect> {
        self.queue_payload(head, payload);
        self.flush().await
    }

    fn queue_payload(&mut self, head: &str, payload: &[u8]) {
        self.queue_line(&format!("{head} {}", payload.len()));
        self.output.extend_from_slice(payload);
    }

    /// A frame whose bytes have all been read already, if there is one; unparsable lines are
    /// skipped.
    fn buffered(&mut self) -> Option<Result<Frame, Disconnect>> {
        loop {
            match self.decoder.decode(&mut self.input) {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) => return None,
                Err(e) if e.is_fatal() => return Some(Err(Disconnect::Lost(format!("framing: {e}")))),
                Err(e) => tracing::debug!(error = %e, "unparsable line skipped"),
            }
        }
    }

    /// The next frame; unparsable lines are skipped. Cancellation-safe.
    async fn read(&mut self) -> Result<Frame, Disconnect> {
        loop {
            if let Some(frame) = self.buffered() {
                return frame;
            }
            match self.stream.read_buf(&mut self.input).await {
                Ok(0) => return Err(Disconnect::ServerClosed),
                Ok(_) => {}
                Err(e) => return Err(Disconnect::Lost(format!("read failed: {e}"))),
            }
        }
    }

    async fn expect(&mut self, deadline: Instant) -> Result<Frame, Error> {
        match tokio::time::timeout_at(deadline, self.read()).await {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(reason)) => Err(crate::unanswered(crate::Protocol::Msn, &reason)),
            Err(_) => Err(Error::Timeout),
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
    /// An `XFR SB` for a switchboard with `to`, whose queued commands are in `commands`.
    Switchboard {
        to: String,
        commands: mpsc::Receiver<SbCommand>,
    },
}

pub(crate) struct Connection {
    ns: Line,
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

enum Input {
    Frame(Result<Frame, Disconnect>),
    Command(Option<Command>),
    Switchboard(SbEvent),
    Ping,
}

impl Connection {
    pub(crate) async fn open(account: &Account, options: &Options, events: Events) -> Result<Connection, Error> {
        let deadline = Instant::now() + options.timeout;
        let mut address = account.server.clone();
        for _ in 0..=MAX_REFERRALS {
            let mut ns = Line::connect(&address, options.local_address).await?;
            match log_in(&mut ns, account, options.msn_dialect, deadline).await? {
                Login::ReferredTo(next) => address = next,
                Login::Done => {
                    let (sb_events, sb_events_rx) = mpsc::channel(256);
                    let mut conn = Connection {
                        ns,
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
                    conn.events.emit(Event::LoggedIn);
                    conn.synchronize(deadline).await?;
                    let trid = conn.next_trid();
                    conn.ns.line(&format!("CHG {trid} {}", to_msn(options.initial_status))).await.map_err(lost)?;
                    return Ok(conn);
                }
            }
        }
        Err(Error::Protocol("too many dispatch referrals".into()))
    }

    fn next_trid(&mut self) -> u32 {
        self.trid = self.trid.wrapping_add(1);
        self.trid
    }

    /// `SYN 0`: the lists, up to the last entry of the reverse list; forward-list entries are
    /// the contacts.
    async fn synchronize(&mut self, deadline: Instant) -> Result<(), Error> {
        let trid = self.next_trid();
        self.ns.line(&format!("SYN {trid} 0")).await.map_err(lost)?;
        loop {
            let frame = self.ns.expect(deadline).await?;
            if frame.verb.as_str() != "LST" || frame.trid() != Some(trid) {
                continue;
            }
            // LST trid LIST ver index total [handle friendly [groups]]
            let (list, index, total) = (param(&frame, 1), param(&frame, 3), param(&frame, 4));
            if list == "FL" && frame.params.len() >= 7 {
                let name = decode_name(param(&frame, 6));
                self.events.emit(Event::Contact { handle: param(&frame, 5).to_owned(), name });
            }
            if list == "RL" && index == total {
                return Ok(());
            }
        }
    }

    pub(crate) async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Disconnect {
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            let input = tokio::select! {
                frame = self.ns.read() => Input::Frame(frame),
                command = commands.recv() => Input::Command(command),
                Some(event) = self.sb_events_rx.recv() => Input::Switchboard(event),
                _ = ping.tick() => Input::Ping,
            };
            let step = match input {
                Input::Frame(Ok(frame)) => self.frame(frame).await,
                Input::Frame(Err(reason)) => Err(reason),
                Input::Command(Some(command)) => self.command(command).await,
                Input::Command(None) => Err(Disconnect::LoggedOut),
                Input::Switchboard(event) => {
                    self.switchboard_event(event);
                    Ok(())
                }
                Input::Ping => self.ping().await,
            };
            if let Err(reason) = step {
                for (_, waiting) in self.waiting.drain() {
                    if let Waiting::Reply(reply) = waiting {
                        let _ = reply.send(Err(Error::NotConnected));
                    }
                }
                return reason;
            }
        }
    }

    async fn ping(&mut self) -> Result<(), Disconnect> {
        if self.pinged.is_some_and(|at| at.elapsed() > QNG_WITHIN) {
            return Err(Disconnect::Lost("no answer to PNG".into()));
        }
        if self.pinged.is_none() {
            self.pinged = Some(Instant::now());
            self.ns.line("PNG").await?;
        }
        Ok(())
    }

    fn answer(&mut self, trid: Option<u32>, result: Result<(), Error>) {
        match trid.and_then(|t| self.waiting.remove(&t)) {
            Some(Waiting::Reply(reply)) => {
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

    async fn frame(&mut self, frame: Frame) -> Result<(), Disconnect> {
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
                self.ns.payload(&format!("QRY {trid} {CHALLENGE_PRODUCT}"), answer.as_bytes()).await?;
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

    async fn command(&mut self, command: Command) -> Result<(), Disconnect> {
        let trid = self.next_trid();
        let (line, reply) = match command {
            Command::SetStatus(status, reply) => (format!("CHG {trid} {}", to_msn(status)), reply),
            Command::SendMessage { to, text, reply } => {
                return self.via_switchboard(to.to_ascii_lowercase(), SbCommand::Message { text, reply }).await
            }
            Command::SendTyping { to, reply } => {
                return self.via_switchboard(to.to_ascii_lowercase(), SbCommand::Typing { reply }).await
            }
            Command::AddContact { handle, name, reply } => {
                // Watching someone also lets them see the user, as MSN clients did.
                let allow = self.next_trid();
                self.ns.line(&format!("ADD {allow} AL {handle} {handle}")).await?;
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
                let _ = self.ns.line("OUT").await;
                let _ = reply.send(Ok(()));
                return Err(Disconnect::LoggedOut);
            }
        };
        self.waiting.insert(trid, Waiting::Reply(reply));
        self.ns.line(&line).await
    }

    /// Hands a command to the switchboard with `to`, asking for one (`XFR SB`) if there is none.
    async fn via_switchboard(&mut self, to: String, command: SbCommand) -> Result<(), Disconnect> {
        let command = match self.switchboards.get(&to) {
            Some(sb) => match sb.try_send(command) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Full(command)) => {
                    command.fail(Error::NotDelivered("switchboard busy".into()));
                    return Ok(());
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
        self.ns.line(&format!("XFR {trid} SB")).await
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

fn lost(reason: Disconnect) -> Error {
    Error::Unreachable(format!("{reason:?}"))
}

enum Login {
    Done,
    ReferredTo(String),
}

/// `VER`, `USR MD5 I`, `USR MD5 S`: logged in, or referred to another server.
async fn log_in(ns: &mut Line, account: &Account, dialect: u8, deadline: Instant) -> Result<Login, Error> {
    let wanted = format!("MSNP{dialect}");
    ns.line(&format!("VER 1 {wanted} CVR0")).await.map_err(lost)?;
    let ver = ns.expect(deadline).await?;
    if ver.verb.as_str() != "VER" || param(&ver, 1) != wanted {
        return Err(Error::Protocol(format!("the server does not speak {wanted}: {ver:?}")));
    }
    ns.line(&format!("USR 2 MD5 I {}", account.handle)).await.map_err(lost)?;
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
    ns.line(&format!("USR 3 MD5 S {response}")).await.map_err(lost)?;
    let ok = ns.expect(deadline).await?;
    match (ok.verb.as_str(), param(&ok, 1)) {
        ("USR", "OK") => Ok(Login::Done),
        _ => Err(Error::LoginRefused(login_refusal(&ok))),
    }
}

enum SbInput {
    Frame(Result<Frame, Disconnect>),
    /// `None`: the commands ended, or the room fell idle.
    Command(Option<SbCommand>),
}

/// A switchboard's state while it relays.
struct Relay {
    /// Messages waiting for their `ACK`, by trid.
    acks: HashMap<u32, Reply>,
    /// Typing notifications queued, answered once written.
    typed: Vec<Reply>,
    trid: u32,
    present: usize,
}

impl Relay {
    /// Handles one input; false once the room is left.
    async fn handle(
        &mut self,
        sb: &mut Line,
        me: &str,
        input: SbInput,
        events: &mpsc::Sender<SbEvent>,
    ) -> Result<bool, Error> {
        match input {
            SbInput::Frame(Ok(frame)) => match frame.verb.as_str() {
                "MSG" => {
                    let from = param(&frame, 0).to_owned();
                    let event = match frame.payload.as_deref().and_then(message::parse) {
                        Some(Body::Text { text, .. }) => SbEvent::Message { from, text },
                        Some(Body::Typing { .. }) => SbEvent::Typing { from },
                        None => return Ok(true),
                    };
                    let _ = events.send(event).await;
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
                    return Ok(self.present > 0);
                }
                _ => {}
            },
            SbInput::Frame(Err(reason)) => return Err(Error::NotDelivered(format!("{reason:?}"))),
            SbInput::Command(Some(SbCommand::Message { text, reply })) => {
                self.trid += 1;
                self.acks.insert(self.trid, reply);
                sb.queue_payload(&format!("MSG {} A", self.trid), message::text(&text, None).as_bytes());
            }
            SbInput::Command(Some(SbCommand::Typing { reply })) => {
                self.trid += 1;
                sb.queue_payload(&format!("MSG {} U", self.trid), message::typing(me).as_bytes());
                self.typed.push(reply);
            }
            SbInput::Command(None) => {
                sb.queue_line("OUT");
                return Ok(false);
            }
        }
        Ok(true)
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
    let result = match Line::connect(&address, local).await {
        Ok(mut sb) => match enter(&mut sb, &me, &with, start).await {
            Ok(()) => relay(&mut sb, &me, &mut commands, &events).await,
            Err(e) => Err(e),
        },
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
            sb.line(&format!("USR 1 {me} {cookie}")).await.map_err(lost)?;
            expect_verb(sb, "USR", deadline).await?;
            sb.line(&format!("CAL 2 {with}")).await.map_err(lost)?;
            expect_verb(sb, "CAL", deadline).await?;
            loop {
                let frame = sb.expect(deadline).await?;
                if frame.verb.as_str() == "JOI" && param(&frame, 0).eq_ignore_ascii_case(with) {
                    return Ok(());
                }
            }
        }
        Start::Answer { cookie, session } => {
            sb.line(&format!("ANS 1 {me} {cookie} {session}")).await.map_err(lost)?;
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

async fn relay(
    sb: &mut Line,
    me: &str,
    commands: &mut mpsc::Receiver<SbCommand>,
    events: &mpsc::Sender<SbEvent>,
) -> Result<(), Error> {
    let mut room = Relay { acks: HashMap::new(), typed: Vec::new(), trid: 10, present: 1 };
    let mut open = true;
    while open {
        let mut next = Some(tokio::select! {
            frame = sb.read() => SbInput::Frame(frame),
            command = commands.recv() => SbInput::Command(command),
            _ = tokio::time::sleep(SWITCHBOARD_IDLE) => SbInput::Command(None),
        });
        // What else is ready is handled before the write, so one write carries it all.
        for handled in 1..=crate::READY_BATCH {
            let Some(input) = next.take() else { break };
            open = room.handle(sb, me, input, events).await?;
            // Fetched only to be handled: what is taken here must not be dropped.
            if !open || handled == crate::READY_BATCH {
                break;
            }
            next =
                sb.buffered().map(SbInput::Frame).or_else(|| commands.try_recv().ok().map(Some).map(SbInput::Command));
        }
        sb.flush().await.map_err(lost)?;
        for reply in room.typed.drain(..) {
            let _ = reply.send(Ok(()));
        }
    }
    let acks = room.acks;
    for (_, reply) in acks {
        let _ = reply.send(Err(Error::NotDelivered("the switchboard closed".into())));
    }
    Ok(())
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

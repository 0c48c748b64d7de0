//! Mail.Ru Agent: the redirector, `HELLO`, `LOGIN2`, pings at the server's period, messages
//! with `MESSAGE_STATUS`, offline messages deleted once read, contacts and authorization.

use crate::{Account, Command, Disconnect, Error, Event, Events, Options, Reply, Status};
use bytes::BytesMut;
use mrim::client::{AddContact, Login, Message, ModifyContact, Password, StatusInfo};
use mrim::codes::{contact_flag, contact_oper, logout, message_flag, message_status, status};
use mrim::server::ServerPacket;
use mrim::{ClientPacket, Dialect, PacketDecoder};
use std::collections::HashMap;
use std::time::Duration;
use switchyard_net::driver::{self, Step};
use switchyard_net::Framed;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

/// The server's packets, decoded in the dialect this client announced.
struct Codec {
    decoder: PacketDecoder,
    dialect: Dialect,
}

impl switchyard_net::Codec for Codec {
    type Frame = (u32, ServerPacket);
    type Error = mrim::DecodeError;

    fn decode(&mut self, input: &mut BytesMut, _: &mut BytesMut) -> Result<Option<Self::Frame>, Self::Error> {
        let packet = self.decoder.decode(input)?;
        Ok(packet.map(|packet| (packet.header.seq, ServerPacket::decode(&packet, self.dialect))))
    }
}

type Link = Framed<Codec>;

/// What a `MESSAGE_STATUS` or `ADD_CONTACT_ACK` answers.
struct Pending {
    reply: Reply,
    since: Instant,
}

pub(crate) struct Connection {
    link: Link,
    state: State,
}

/// Everything of a connection but its link.
struct State {
    /// The commands answered once their packets are written.
    written: Vec<Reply>,
    seq: u32,
    ping_period: Duration,
    pending: HashMap<u32, Pending>,
    events: Events,
    timeout: Duration,
}

/// A logged-in connection as the driver runs it.
struct Running<'a> {
    state: &'a mut State,
    commands: &'a mut mpsc::Receiver<Command>,
    ping: Interval,
}

/// What a connection waits on besides the server's packets.
enum Input {
    Ping,
    Command(Option<Command>),
}

fn to_mrim(s: Status) -> u32 {
    match s {
        Status::Online => status::ONLINE,
        Status::Busy | Status::Away => status::AWAY,
        Status::Invisible => status::ONLINE | status::FLAG_INVISIBLE,
        Status::Offline => status::OFFLINE,
    }
}

fn from_mrim(value: u32) -> Status {
    if value & status::FLAG_INVISIBLE != 0 {
        return Status::Invisible;
    }
    match value {
        status::OFFLINE => Status::Offline,
        status::AWAY => Status::Away,
        _ => Status::Online,
    }
}

fn unreachable(e: impl std::fmt::Display) -> Error {
    Error::Unreachable(e.to_string())
}

impl Connection {
    pub(crate) async fn open(account: &Account, options: &Options, events: Events) -> Result<Connection, Error> {
        let address = if options.mrim_redirector { redirect(&account.server).await? } else { account.server.clone() };
        let stream = crate::tcp::connect(&address, options.local_address).await?;
        let dialect = Dialect { major: 1, minor: options.mrim_minor };
        let mut conn = Connection {
            link: Framed::client(stream, Codec { decoder: PacketDecoder::default(), dialect }),
            state: State {
                written: Vec::new(),
                seq: 0,
                ping_period: Duration::from_secs(30),
                pending: HashMap::new(),
                events,
                timeout: options.timeout,
            },
        };
        conn.send(&ClientPacket::Hello).await?;
        let deadline = Instant::now() + options.timeout;
        // Nothing at all in answer to HELLO: most likely the port of another protocol.
        let silent = |e| match e {
            Error::Timeout => crate::unanswered(crate::Protocol::Mrim, &Disconnect::Lost("no answer in time".into())),
            other => other,
        };
        match conn.expect(deadline).await.map_err(silent)? {
            ServerPacket::HelloAck { ping_period, .. } => {
                conn.state.ping_period = Duration::from_secs(ping_period.max(1).into())
            }
            other => return Err(Error::Protocol(format!("expected HELLO_ACK, got {other:?}"))),
        }
        let login = Login {
            login: account.handle.clone(),
            password: Password::Plain(account.password.clone()),
            status: StatusInfo { status: to_mrim(options.initial_status), ..StatusInfo::default() },
            user_agent: "yard".into(),
            language: "en".into(),
        };
        conn.send(&ClientPacket::Login(login)).await?;
        loop {
            match conn.expect(deadline).await? {
                ServerPacket::LoginAck => break,
                ServerPacket::LoginRej { reason } => return Err(Error::LoginRefused(reason)),
                other => tracing::debug!(?other, "before LOGIN_ACK"),
            }
        }
        conn.state.events.emit(Event::LoggedIn);
        Ok(conn)
    }

    /// Sends a packet at once (while logging in).
    async fn send(&mut self, packet: &ClientPacket) -> Result<(), Error> {
        self.state.queue(&mut self.link, packet);
        self.link.flush().await.map_err(unreachable)
    }

    async fn expect(&mut self, deadline: Instant) -> Result<ServerPacket, Error> {
        match self.link.read_until(deadline).await {
            Some(Ok((_, packet))) => Ok(packet),
            Some(Err(e)) => Err(crate::unanswered(crate::Protocol::Mrim, &crate::lost(e))),
            None => Err(Error::Timeout),
        }
    }

    pub(crate) async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Disconnect {
        let period = self.state.ping_period;
        let ping = tokio::time::interval_at(Instant::now() + period, period);
        let mut running = Running { state: &mut self.state, commands, ping };
        let end = driver::drive(&mut self.link, &mut running, std::future::pending()).await;
        for (_, pending) in self.state.pending.drain() {
            let _ = pending.reply.send(Err(Error::NotConnected));
        }
        self.link.close().await;
        crate::disconnect_of(end)
    }
}

impl driver::Session<Link> for Running<'_> {
    type Input = Input;
    type Why = Disconnect;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            _ = self.ping.tick() => Input::Ping,
            command = self.commands.recv() => Input::Command(command),
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        self.commands.try_recv().ok().map(|command| Input::Command(Some(command)))
    }

    async fn frame(&mut self, link: &mut Link, (seq, packet): (u32, ServerPacket)) -> Step<Disconnect> {
        match self.state.packet(link, seq, packet) {
            Some(reason) => Step::End(reason),
            None => Step::Continue,
        }
    }

    async fn input(&mut self, link: &mut Link, input: Input) -> Step<Disconnect> {
        match input {
            Input::Ping => {
                self.state.forget_unanswered();
                self.state.queue(link, &ClientPacket::Ping);
                Step::Continue
            }
            Input::Command(Some(command)) => self.state.command(link, command).await,
            Input::Command(None) => Step::End(Disconnect::LoggedOut),
        }
    }

    /// The commands that waited for their packets to be written are answered.
    async fn flushed(&mut self, sent: usize) {
        for reply in self.state.written.drain(..) {
            let _ = reply.send(if sent == usize::MAX { Ok(()) } else { Err(Error::NotConnected) });
        }
    }
}

impl State {
    /// Queues a packet for the next flush; returns its sequence number.
    fn queue(&mut self, link: &mut Link, packet: &ClientPacket) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        packet.encode(link.codec.dialect, self.seq, &mut link.stream.output);
        self.seq
    }

    /// Commands the server never answered fail (the application's wait has timed out anyway).
    fn forget_unanswered(&mut self) {
        let timeout = self.timeout;
        self.pending.retain(|_, p| p.since.elapsed() < timeout);
    }

    async fn command(&mut self, link: &mut Link, command: Command) -> Step<Disconnect> {
        let (packet, reply, answered_later) = match command {
            Command::SetStatus(s, reply) => {
                (ClientPacket::ChangeStatus(StatusInfo { status: to_mrim(s), ..StatusInfo::default() }), reply, false)
            }
            Command::SendMessage { to, text, reply } => (message(link, to, text, 0), reply, true),
            Command::SendTyping { to, reply } => {
                (message(link, to, " ".into(), message_flag::NOTIFY | message_flag::NORECV), reply, true)
            }
            Command::AddContact { handle, name, reply } => {
                // As Mail.Ru Agent does: the request to authorize is a message of its own.
                let ask = message(link, handle.clone(), "Please authorize me".into(), message_flag::AUTHORIZE);
                self.queue(link, &ask);
                let add = AddContact {
                    flags: 0,
                    group_id: 0,
                    email: handle,
                    name,
                    phones: String::new(),
                    auth_text: bytes::Bytes::new(),
                };
                (ClientPacket::AddContact(add), reply, true)
            }
            Command::RemoveContact { handle, reply } => {
                // The server finds the contact by address; the id is not needed.
                let remove = ModifyContact {
                    id: 0,
                    flags: contact_flag::REMOVED,
                    group_id: 0,
                    contact: handle,
                    name: String::new(),
                    phones: String::new(),
                };
                (ClientPacket::ModifyContact(remove), reply, true)
            }
            Command::Authorize { handle, reply } => (ClientPacket::Authorize { user: handle }, reply, false),
            // The server refuses a message to an unknown user itself.
            Command::CheckUser { reply, .. } => {
                let _ = reply.send(Ok(()));
                return Step::Continue;
            }
            Command::Logout(reply) => {
                let _ = link.flush().await;
                let _ = reply.send(Ok(()));
                return Step::End(Disconnect::LoggedOut);
            }
        };
        let seq = self.queue(link, &packet);
        if answered_later {
            self.pending.insert(seq, Pending { reply, since: Instant::now() });
        } else {
            self.written.push(reply);
        }
        Step::Continue
    }

    fn answer(&mut self, seq: u32, result: Result<(), Error>) {
        if let Some(pending) = self.pending.remove(&seq) {
            let _ = pending.reply.send(result);
        }
    }

    fn packet(&mut self, link: &mut Link, seq: u32, packet: ServerPacket) -> Option<Disconnect> {
        let events = self.events.clone();
        match packet {
            ServerPacket::MessageAck(ack) => {
                let from = ack.from.clone();
                let event = if ack.flags & message_flag::NOTIFY != 0 {
                    Event::Typing { from }
                } else if ack.flags & message_flag::AUTHORIZE != 0 {
                    Event::AuthorizationRequest { from, text: ack.text }
                } else {
                    Event::Message { from, text: ack.text }
                };
                events.emit(event);
                if ack.flags & message_flag::NORECV == 0 {
                    self.queue(link, &ClientPacket::MessageRecv { from: ack.from, msg_id: ack.msg_id });
                }
            }
            ServerPacket::MessageStatus { status } => {
                let result = if status == message_status::DELIVERED {
                    Ok(())
                } else {
                    tracing::debug!(status = format_args!("{status:#x}"), "MESSAGE_STATUS");
                    Err(Error::NotDelivered(message_status::describe(status)))
                };
                self.answer(seq, result);
            }
            ServerPacket::AddContactAck { status, .. } | ServerPacket::ModifyContactAck { status } => {
                let result = if status == contact_oper::SUCCESS {
                    Ok(())
                } else {
                    Err(Error::Refused(format!("contact operation status {status}")))
                };
                self.answer(seq, result);
            }
            ServerPacket::UserStatus { status, email, .. } => {
                events.emit(Event::Presence { handle: email, status: from_mrim(status.status), name: String::new() })
            }
            ServerPacket::ContactList2(list) => {
                for contact in list.contacts.into_iter().filter(|c| c.flags & contact_flag::REMOVED == 0) {
                    let status = from_mrim(contact.status.status);
                    events.emit(Event::Contact { handle: contact.email.clone(), name: contact.nickname.clone() });
                    if status != Status::Offline {
                        events.emit(Event::Presence { handle: contact.email, status, name: contact.nickname });
                    }
                }
            }
            ServerPacket::OfflineMessageAck { uidl, message } => {
                match mrim::offline::parse(&message) {
                    Some(offline) => events.emit(Event::Message { from: offline.from, text: offline.text }),
                    None => tracing::warn!("unreadable offline message; deleted"),
                }
                self.queue(link, &ClientPacket::DeleteOfflineMessage { uidl });
            }
            ServerPacket::AuthorizeAck { user } => events.emit(Event::Authorized { by: user }),
            ServerPacket::ConnectionParams { ping_period } => {
                self.ping_period = Duration::from_secs(ping_period.max(1).into())
            }
            ServerPacket::Logout { reason } if reason & logout::NO_RELOGIN != 0 => {
                return Some(Disconnect::LoggedInElsewhere)
            }
            ServerPacket::Logout { .. } => return Some(Disconnect::ServerClosed),
            other => tracing::debug!(?other, "ignored"),
        }
        None
    }
}

fn message(link: &Link, to: String, text: String, flags: u32) -> ClientPacket {
    let encoding = if link.codec.dialect.unicode_text() { message_flag::UNICODE } else { message_flag::CP1251 };
    ClientPacket::Message(Message { flags: flags | encoding, to: vec![to], text, rtf: Default::default() })
}

/// Asks the redirector where the server is: it answers `ip:port` and closes.
async fn redirect(redirector: &str) -> Result<String, Error> {
    let stream = TcpStream::connect(redirector).await.map_err(unreachable)?;
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    let read = reader.read_line(&mut line);
    tokio::time::timeout(Duration::from_secs(10), read).await.map_err(|_| Error::Timeout)?.map_err(unreachable)?;
    let address = line.trim();
    if address.is_empty() {
        return Err(Error::Protocol("the redirector said nothing".into()));
    }
    Ok(address.to_owned())
}

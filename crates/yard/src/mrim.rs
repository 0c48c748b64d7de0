//! Mail.Ru Agent: the redirector, `HELLO`, `LOGIN2`, pings at the server's period, messages
//! with `MESSAGE_STATUS`, offline messages deleted once read, contacts and authorization.

use crate::{Account, Command, Disconnect, Error, Event, Events, Options, Reply, Status, READY_BATCH};
use bytes::BytesMut;
use mrim::client::{AddContact, Login, Message, ModifyContact, Password, StatusInfo};
use mrim::codes::{contact_flag, contact_oper, logout, message_flag, message_status, status};
use mrim::server::ServerPacket;
use mrim::{ClientPacket, Dialect, Packet, PacketDecoder};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

const WRITE_DEADLINE: Duration = Duration::from_secs(30);

enum Input {
    Ping,
    Read(Result<(u32, ServerPacket), Disconnect>),
    Command(Option<Command>),
}

/// What a `MESSAGE_STATUS` or `ADD_CONTACT_ACK` answers.
struct Pending {
    reply: Reply,
    since: Instant,
}

pub(crate) struct Connection {
    stream: TcpStream,
    decoder: PacketDecoder,
    input: BytesMut,
    /// Packets queued for the next flush, and the commands answered once they are written.
    output: BytesMut,
    written: Vec<Reply>,
    dialect: Dialect,
    seq: u32,
    ping_period: Duration,
    pending: HashMap<u32, Pending>,
    events: Events,
    timeout: Duration,
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
            stream,
            decoder: PacketDecoder::default(),
            input: BytesMut::with_capacity(4096),
            output: BytesMut::new(),
            written: Vec::new(),
            dialect,
            seq: 0,
            ping_period: Duration::from_secs(30),
            pending: HashMap::new(),
            events,
            timeout: options.timeout,
        };
        conn.send(&ClientPacket::Hello).await.map_err(|e| unreachable(format!("{e:?}")))?;
        let deadline = Instant::now() + options.timeout;
        // Nothing at all in answer to HELLO: most likely the port of another protocol.
        let silent = |e| match e {
            Error::Timeout => crate::unanswered(crate::Protocol::Mrim, &Disconnect::Lost("no answer in time".into())),
            other => other,
        };
        match conn.expect(deadline).await.map_err(silent)? {
            ServerPacket::HelloAck { ping_period, .. } => {
                conn.ping_period = Duration::from_secs(ping_period.max(1).into())
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
        conn.send(&ClientPacket::Login(login)).await.map_err(|e| unreachable(format!("{e:?}")))?;
        loop {
            match conn.expect(deadline).await? {
                ServerPacket::LoginAck => break,
                ServerPacket::LoginRej { reason } => return Err(Error::LoginRefused(reason)),
                other => tracing::debug!(?other, "before LOGIN_ACK"),
            }
        }
        conn.events.emit(Event::LoggedIn);
        Ok(conn)
    }

    async fn send(&mut self, packet: &ClientPacket) -> Result<u32, Disconnect> {
        let seq = self.queue(packet);
        self.flush().await.map(|()| seq)
    }

    /// Queues a packet for the next flush; returns its sequence number.
    fn queue(&mut self, packet: &ClientPacket) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        packet.encode(self.dialect, self.seq, &mut self.output);
        self.seq
    }

    /// Writes what is queued, then answers the commands that waited for it.
    async fn flush(&mut self) -> Result<(), Disconnect> {
        let result = match tokio::time::timeout(WRITE_DEADLINE, self.stream.write_all(&self.output)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Disconnect::Lost(format!("write failed: {e}"))),
            Err(_) => Err(Disconnect::Lost("the server stopped reading".into())),
        };
        self.output.clear();
        for reply in self.written.drain(..) {
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(|_| Error::NotConnected));
        }
        result
    }

    /// A packet whose bytes have all been read already, if there is one.
    fn buffered(&mut self) -> Option<Result<(u32, ServerPacket), Disconnect>> {
        match self.decoder.decode(&mut self.input) {
            Ok(Some(packet)) => Some(Ok(decode(&packet, self.dialect))),
            Ok(None) => None,
            Err(e) => Some(Err(Disconnect::Lost(format!("bad packet: {e}")))),
        }
    }

    /// The next packet. Cancellation-safe: bytes read stay buffered.
    async fn read(&mut self) -> Result<(u32, ServerPacket), Disconnect> {
        loop {
            if let Some(packet) = self.buffered() {
                return packet;
            }
            match self.stream.read_buf(&mut self.input).await {
                Ok(0) => return Err(Disconnect::ServerClosed),
                Ok(_) => {}
                Err(e) => return Err(Disconnect::Lost(format!("read failed: {e}"))),
            }
        }
    }

    async fn expect(&mut self, deadline: Instant) -> Result<ServerPacket, Error> {
        match tokio::time::timeout_at(deadline, self.read()).await {
            Ok(Ok((_, packet))) => Ok(packet),
            Ok(Err(reason)) => Err(crate::unanswered(crate::Protocol::Mrim, &reason)),
            Err(_) => Err(Error::Timeout),
        }
    }

    pub(crate) async fn run(&mut self, commands: &mut tokio::sync::mpsc::Receiver<Command>) -> Disconnect {
        let mut ping = tokio::time::interval_at(Instant::now() + self.ping_period, self.ping_period);
        loop {
            let input = tokio::select! {
                _ = ping.tick() => Input::Ping,
                read = self.read() => Input::Read(read),
                command = commands.recv() => Input::Command(command),
            };
            // What else is ready is handled before the write, so one write carries it all.
            let mut next = Some(input);
            let mut step = None;
            for handled in 1..=READY_BATCH {
                let Some(input) = next.take() else { break };
                step = match input {
                    Input::Ping => {
                        self.forget_unanswered();
                        self.queue(&ClientPacket::Ping);
                        None
                    }
                    Input::Read(Ok((seq, packet))) => self.packet(seq, packet),
                    Input::Read(Err(reason)) => Some(reason),
                    Input::Command(Some(command)) => self.command(command).await,
                    Input::Command(None) => Some(Disconnect::LoggedOut),
                };
                // Fetched only to be handled: what is taken here must not be dropped.
                if step.is_some() || handled == READY_BATCH {
                    break;
                }
                next =
                    self.buffered().map(Input::Read).or_else(|| commands.try_recv().ok().map(Some).map(Input::Command));
            }
            if let Err(reason) = self.flush().await {
                step.get_or_insert(reason);
            }
            if let Some(reason) = step {
                for (_, pending) in self.pending.drain() {
                    let _ = pending.reply.send(Err(Error::NotConnected));
                }
                return reason;
            }
        }
    }

    /// Commands the server never answered fail (the application's wait has timed out anyway).
    fn forget_unanswered(&mut self) {
        let timeout = self.timeout;
        self.pending.retain(|_, p| p.since.elapsed() < timeout);
    }

    async fn command(&mut self, command: Command) -> Option<Disconnect> {
        let (packet, reply, answered_later) = match command {
            Command::SetStatus(s, reply) => {
                (ClientPacket::ChangeStatus(StatusInfo { status: to_mrim(s), ..StatusInfo::default() }), reply, false)
            }
            Command::SendMessage { to, text, reply } => (self.message(to, text, 0), reply, true),
            Command::SendTyping { to, reply } => {
                (self.message(to, " ".into(), message_flag::NOTIFY | message_flag::NORECV), reply, true)
            }
            Command::AddContact { handle, name, reply } => {
                // As Mail.Ru Agent does: the request to authorize is a message of its own.
                let ask = self.message(handle.clone(), "Please authorize me".into(), message_flag::AUTHORIZE);
                self.queue(&ask);
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
                return None;
            }
            Command::Logout(reply) => {
                let _ = self.flush().await;
                let _ = reply.send(Ok(()));
                let _ = self.stream.shutdown().await;
                return Some(Disconnect::LoggedOut);
            }
        };
        let seq = self.queue(&packet);
        if answered_later {
            self.pending.insert(seq, Pending { reply, since: Instant::now() });
        } else {
            self.written.push(reply);
        }
        None
    }

    fn message(&self, to: String, text: String, flags: u32) -> ClientPacket {
        let encoding = if self.dialect.unicode_text() { message_flag::UNICODE } else { message_flag::CP1251 };
        ClientPacket::Message(Message { flags: flags | encoding, to: vec![to], text, rtf: Default::default() })
    }

    fn answer(&mut self, seq: u32, result: Result<(), Error>) {
        if let Some(pending) = self.pending.remove(&seq) {
            let _ = pending.reply.send(result);
        }
    }

    fn packet(&mut self, seq: u32, packet: ServerPacket) -> Option<Disconnect> {
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
                    self.queue(&ClientPacket::MessageRecv { from: ack.from, msg_id: ack.msg_id });
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
                self.queue(&ClientPacket::DeleteOfflineMessage { uidl });
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

fn decode(packet: &Packet, dialect: Dialect) -> (u32, ServerPacket) {
    (packet.header.seq, ServerPacket::decode(packet, dialect))
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

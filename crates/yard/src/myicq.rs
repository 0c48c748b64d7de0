//! MyICQ over UDP: login with the password as the DES key, every request resent until the
//! server acknowledges it (10 s apart, three times, then the link counts as lost), every
//! reliable packet from the server acknowledged and de-duplicated, keepalives each minute.

use crate::{Account, Command, Disconnect, Error, Event, Events, Options, Reply, Status};
use myicq::client::{Login, Request, SearchCustom};
use myicq::codes::{add_friend, cmd, msg, status};
use myicq::datagram::client_datagram;
use myicq::msgtext::{AuthRequest, TextMessage};
use myicq::server::{LoginReply, OnlineContact, ServerPacket};
use myicq::{BodyCipher, ClientHeader, ServerHeader, HEADER_LEN};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_net::driver::{self, Step};
use switchyard_net::ReadError;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

const RESEND_AFTER: Duration = Duration::from_secs(10);
const TRANSMISSIONS: u8 = 3;
const KEEPALIVE_EVERY: Duration = Duration::from_secs(60);
/// Server sequence numbers remembered to drop resent duplicates.
const SEEN: usize = 64;

/// What the answer to a request settles.
enum Then {
    Nothing,
    Reply(Reply),
    /// A search by UIN: a result if the user exists, a bare ACK if not.
    Found(Reply),
    /// `ADD_FRIEND`: the reply says whether authorization must be asked for.
    AddFriend {
        uin: u32,
        reason: String,
        reply: Reply,
    },
}

struct Sent {
    datagram: Vec<u8>,
    transmissions: u8,
    due: Instant,
    then: Then,
}

pub(crate) struct Connection {
    socket: Arc<UdpSocket>,
    server: SocketAddr,
    uin: u32,
    sid: u32,
    seq: u16,
    cipher: BodyCipher,
    events: Events,
    sent: HashMap<u16, Sent>,
    seen: VecDeque<u16>,
}

fn to_myicq(s: Status) -> u32 {
    match s {
        Status::Online => status::ONLINE,
        Status::Busy | Status::Away => status::AWAY,
        Status::Invisible => status::INVISIBLE,
        Status::Offline => status::OFFLINE,
    }
}

fn from_myicq(value: u32) -> Status {
    match value {
        status::ONLINE => Status::Online,
        status::AWAY => Status::Away,
        status::INVISIBLE => Status::Invisible,
        _ => Status::Offline,
    }
}

fn uin_of(handle: &str) -> Result<u32, Error> {
    handle.trim().parse().map_err(|_| Error::BadHandle(handle.to_owned()))
}

/// The server's datagrams (those from elsewhere are dropped), as the driver reads them.
struct Datagrams {
    socket: Arc<UdpSocket>,
    server: SocketAddr,
    buf: Vec<u8>,
}

impl driver::Link for Datagrams {
    type Frame = Vec<u8>;
    type Bad = std::convert::Infallible;

    fn buffered(&mut self) -> Option<Result<Vec<u8>, ReadError<Self::Bad>>> {
        loop {
            match self.socket.try_recv_from(&mut self.buf) {
                Ok((len, from)) if from == self.server => return Some(Ok(self.buf[..len].to_vec())),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) => return Some(Err(ReadError::Io(e))),
            }
        }
    }

    async fn read(&mut self) -> Result<Vec<u8>, ReadError<Self::Bad>> {
        loop {
            match self.socket.recv_from(&mut self.buf).await {
                Ok((len, from)) if from == self.server => return Ok(self.buf[..len].to_vec()),
                Ok(_) => continue,
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    fn has_room_for_more(&self) -> bool {
        true
    }

    /// Every request is sent as it is made (and resent until acknowledged).
    async fn flush_unless<F: Future<Output = ()> + Send>(&mut self, _: impl FnOnce() -> F + Send) -> io::Result<()> {
        Ok(())
    }

    fn sent_of_lost_output(&self) -> usize {
        0
    }
}

/// A logged-in connection as the driver runs it.
struct Running<'a> {
    conn: &'a mut Connection,
    commands: &'a mut mpsc::Receiver<Command>,
    keepalive: Interval,
    resend: Interval,
}

/// What a connection waits on besides the server's datagrams.
enum Input {
    Command(Option<Command>),
    Resend,
    KeepAlive,
}

impl driver::Session<Datagrams> for Running<'_> {
    type Input = Input;
    type Why = Disconnect;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            command = self.commands.recv() => Input::Command(command),
            _ = self.resend.tick() => Input::Resend,
            _ = self.keepalive.tick() => Input::KeepAlive,
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        self.commands.try_recv().ok().map(|command| Input::Command(Some(command)))
    }

    async fn frame(&mut self, _: &mut Datagrams, datagram: Vec<u8>) -> Step<Disconnect> {
        let result = match self.conn.accept(&datagram).await {
            Ok(Some((header, packet))) => self.conn.packet(header, packet).await,
            Ok(None) => Ok(()),
            Err(reason) => Err(reason),
        };
        Step::from(result)
    }

    async fn input(&mut self, _: &mut Datagrams, input: Input) -> Step<Disconnect> {
        Step::from(match input {
            Input::Command(Some(command)) => self.conn.command(command).await,
            Input::Command(None) => Err(Disconnect::LoggedOut),
            Input::Resend => self.conn.resend().await,
            Input::KeepAlive => {
                self.conn.request(&Request::KeepAlive { random: rand::random() }, Then::Nothing).await.map(|_| ())
            }
        })
    }
}

impl Connection {
    pub(crate) async fn open(account: &Account, options: &Options, events: Events) -> Result<Connection, Error> {
        let server: SocketAddr = tokio::net::lookup_host(&account.server)
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| Error::Unreachable(format!("{} has no address", account.server)))?;
        let any: std::net::IpAddr =
            if server.is_ipv4() { [0, 0, 0, 0].into() } else { std::net::Ipv6Addr::UNSPECIFIED.into() };
        let bind = SocketAddr::new(options.local_address.unwrap_or(any), 0);
        let socket = UdpSocket::bind(bind).await.map_err(|e| Error::Unreachable(e.to_string()))?;
        let uin = uin_of(&account.handle)?;
        let mut conn = Connection {
            socket: Arc::new(socket),
            server,
            uin,
            sid: rand::random_range(1..0x7fff_ffff),
            seq: rand::random_range(0..0x3fff),
            cipher: BodyCipher::new(account.password.as_bytes()),
            events,
            sent: HashMap::new(),
            seen: VecDeque::new(),
        };
        let login = Request::Login(Login {
            password: account.password.as_bytes().to_vec(),
            status: to_myicq(options.initial_status),
            tcp_version: 1,
            real_ip: 0,
            msg_port: 0,
        });
        let seq = conn.request(&login, Then::Nothing).await.map_err(|e| Error::Unreachable(format!("{e:?}")))?;
        let deadline = Instant::now() + options.timeout;
        loop {
            let (header, packet) = conn.receive(deadline).await?;
            match packet {
                ServerPacket::Login(LoginReply::Success { .. }) if header.ackseq == seq => break,
                ServerPacket::Login(LoginReply::Refused(code)) if header.ackseq == seq => {
                    tracing::debug!(code, "MyICQ login refused");
                    return Err(Error::LoginRefused(myicq::codes::login::describe(code)));
                }
                _ => {}
            }
        }
        conn.sent.remove(&seq);
        conn.events.emit(Event::LoggedIn);
        conn.request(&Request::GetContactList, Then::Nothing)
            .await
            .map_err(|e| Error::Unreachable(format!("{e:?}")))?;
        Ok(conn)
    }

    /// Sends a request and keeps it for resending until it is acknowledged.
    async fn request(&mut self, request: &Request, then: Then) -> Result<u16, Disconnect> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let header = ClientHeader { ver: 1, uin: self.uin, sid: self.sid, cmd: request.cmd(), seq: self.seq, cc: 0 };
        let datagram = client_datagram(header, &request.encode(), &self.cipher, rand::random_range(0..usize::MAX));
        self.transmit(&datagram).await?;
        self.sent.insert(self.seq, Sent { datagram, transmissions: 1, due: Instant::now() + RESEND_AFTER, then });
        Ok(self.seq)
    }

    async fn transmit(&self, datagram: &[u8]) -> Result<(), Disconnect> {
        self.socket
            .send_to(datagram, self.server)
            .await
            .map(|_| ())
            .map_err(|e| Disconnect::Lost(format!("send failed: {e}")))
    }

    async fn acknowledge(&self, seq: u16) -> Result<(), Disconnect> {
        let header = ClientHeader { ver: 1, uin: self.uin, sid: self.sid, cmd: cmd::ACK, seq, cc: 0 };
        let mut datagram = Vec::new();
        header.encode(&mut datagram);
        self.transmit(&datagram).await
    }

    /// The next packet from the server (pure ACKs settle requests and are not returned).
    async fn receive(&mut self, deadline: Instant) -> Result<(ServerHeader, ServerPacket), Error> {
        let mut buf = vec![0u8; 2048];
        loop {
            let received = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await;
            let len = match received {
                Ok(Ok((len, from))) if from == self.server => len,
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Err(Error::Unreachable(e.to_string())),
                Err(_) => return Err(Error::Timeout),
            };
            if let Some(parsed) = self.accept(&buf[..len]).await.map_err(|e| Error::Unreachable(format!("{e:?}")))? {
                return Ok(parsed);
            }
        }
    }

    /// Checks, acknowledges and de-duplicates a datagram; `None` for pure ACKs, duplicates and
    /// datagrams of other sessions.
    async fn accept(&mut self, bytes: &[u8]) -> Result<Option<(ServerHeader, ServerPacket)>, Disconnect> {
        let Some(header) = ServerHeader::parse(bytes) else { return Ok(None) };
        if header.sid != self.sid {
            return Ok(None);
        }
        if header.seq == 0 {
            // A pure ACK settles a request that has no reply of its own.
            if let Some(sent) = self.sent.remove(&header.ackseq) {
                match sent.then {
                    Then::Reply(reply) => {
                        let _ = reply.send(Ok(()));
                    }
                    Then::Found(reply) => {
                        let _ = reply.send(Err(Error::NotDelivered("no such user".into())));
                    }
                    Then::Nothing | Then::AddFriend { .. } => {}
                }
            }
            return Ok(None);
        }
        if header.cmd != cmd::KEEPALIVE {
            self.acknowledge(header.seq).await?;
            if self.seen.contains(&header.seq) {
                return Ok(None);
            }
            if self.seen.len() == SEEN {
                self.seen.pop_front();
            }
            self.seen.push_back(header.seq);
        }
        Ok(Some((header, ServerPacket::parse(header.cmd, bytes.get(HEADER_LEN..).unwrap_or_default()))))
    }

    pub(crate) async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Disconnect {
        let keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE_EVERY, KEEPALIVE_EVERY);
        let resend = tokio::time::interval(Duration::from_secs(1));
        let mut datagrams = Datagrams { socket: self.socket.clone(), server: self.server, buf: vec![0; 2048] };
        let mut running = Running { conn: self, commands, keepalive, resend };
        let end = driver::drive(&mut datagrams, &mut running, std::future::pending()).await;
        for (_, sent) in self.sent.drain() {
            if let Then::Reply(reply) | Then::AddFriend { reply, .. } = sent.then {
                let _ = reply.send(Err(Error::NotConnected));
            }
        }
        crate::disconnect_of(end)
    }

    async fn resend(&mut self) -> Result<(), Disconnect> {
        let now = Instant::now();
        let due: Vec<u16> = self.sent.iter().filter(|(_, s)| s.due <= now).map(|(seq, _)| *seq).collect();
        for seq in due {
            let Some(sent) = self.sent.get_mut(&seq) else { continue };
            if sent.transmissions >= TRANSMISSIONS {
                return Err(Disconnect::Lost("the server stopped answering".into()));
            }
            sent.transmissions += 1;
            sent.due = now + RESEND_AFTER;
            let datagram = sent.datagram.clone();
            self.transmit(&datagram).await?;
        }
        Ok(())
    }

    async fn command(&mut self, command: Command) -> Result<(), Disconnect> {
        let (request, then) = match command {
            Command::SetStatus(s, reply) => (Request::ChangeStatus { status: to_myicq(s) }, Then::Reply(reply)),
            Command::SendMessage { to, text, reply } => match uin_of(&to) {
                Ok(to) => {
                    let text = TextMessage { text, font: None }.compose();
                    (Request::SendMessage { kind: msg::TEXT, to, text }, Then::Reply(reply))
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            },
            Command::CheckUser { handle, reply } => match uin_of(&handle) {
                Ok(uin) => (Request::SearchCustom(SearchCustom::Uin(uin)), Then::Found(reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            },
            // MyICQ has no typing notifications.
            Command::SendTyping { reply, .. } => {
                let _ = reply.send(Ok(()));
                return Ok(());
            }
            Command::AddContact { handle, name, reply } => match uin_of(&handle) {
                Ok(uin) => (Request::AddFriend { uin }, Then::AddFriend { uin, reason: name, reply }),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            },
            Command::RemoveContact { handle, reply } => match uin_of(&handle) {
                Ok(uin) => (Request::DelFriend { uin }, Then::Reply(reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            },
            Command::Authorize { handle, reply } => match uin_of(&handle) {
                Ok(to) => (Request::SendMessage { kind: msg::AUTH_ACCEPTED, to, text: Vec::new() }, Then::Reply(reply)),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
            },
            Command::Logout(reply) => {
                // LOGOUT is not acknowledged: sent once, and the session ends.
                let _ = self.request(&Request::Logout, Then::Nothing).await;
                let _ = reply.send(Ok(()));
                return Err(Disconnect::LoggedOut);
            }
        };
        self.request(&request, then).await.map(|_| ())
    }

    fn presence(&self, contact: &OnlineContact) {
        self.events.emit(Event::Presence {
            handle: contact.uin.to_string(),
            status: from_myicq(contact.status),
            name: String::new(),
        });
    }

    async fn packet(&mut self, header: ServerHeader, packet: ServerPacket) -> Result<(), Disconnect> {
        // A reply settles the request it acknowledges.
        let settled = if header.ackseq != 0 { self.sent.remove(&header.ackseq) } else { None };
        if let Some(sent) = settled {
            match (sent.then, &packet) {
                (Then::Reply(reply), _) => {
                    let _ = reply.send(Ok(()));
                }
                (Then::Found(reply), ServerPacket::Search(found)) if !found.is_empty() => {
                    let _ = reply.send(Ok(()));
                }
                (Then::Found(reply), _) => {
                    let _ = reply.send(Err(Error::NotDelivered("no such user".into())));
                }
                (Then::AddFriend { uin, reason, reply }, ServerPacket::AddFriend { result, .. }) => match *result {
                    add_friend::ACCEPTED => {
                        let _ = reply.send(Ok(()));
                    }
                    add_friend::AUTH_REQUIRED => {
                        let text = AuthRequest { face: 0, nick: String::new(), reason }.compose();
                        self.request(
                            &Request::SendMessage { kind: msg::AUTH_REQUEST, to: uin, text },
                            Then::Reply(reply),
                        )
                        .await?;
                    }
                    _ => {
                        let _ = reply.send(Err(Error::Refused("the user does not take contacts".into())));
                    }
                },
                (Then::AddFriend { reply, .. }, _) => {
                    let _ = reply.send(Ok(()));
                }
                (Then::Nothing, _) => {}
            }
        }
        let events = self.events.clone();
        match packet {
            ServerPacket::ContactList { uins } => {
                for uin in uins {
                    events.emit(Event::Contact { handle: uin.to_string(), name: String::new() });
                }
            }
            ServerPacket::UserOnline(contact) => self.presence(&contact),
            ServerPacket::MultiOnline(contacts) => contacts.iter().for_each(|c| self.presence(c)),
            // The server's way of saying another login of this UIN replaced this one.
            ServerPacket::UserOffline { uin } if uin == self.uin => return Err(Disconnect::LoggedInElsewhere),
            ServerPacket::UserOffline { uin } => {
                events.emit(Event::Presence { handle: uin.to_string(), status: Status::Offline, name: String::new() })
            }
            ServerPacket::StatusChanged { uin, status } => events.emit(Event::Presence {
                handle: uin.to_string(),
                status: from_myicq(status),
                name: String::new(),
            }),
            ServerPacket::Message { kind, from, text, .. } => {
                let from = from.to_string();
                match kind {
                    msg::TEXT | msg::AUTO_REPLY => {
                        events.emit(Event::Message { from, text: TextMessage::parse(&text).text })
                    }
                    msg::AUTH_REQUEST => {
                        events.emit(Event::AuthorizationRequest { from, text: AuthRequest::parse(&text).reason })
                    }
                    msg::AUTH_ACCEPTED => events.emit(Event::Authorized { by: from }),
                    msg::ADDED => events.emit(Event::AddedBy { handle: from }),
                    _ => tracing::debug!(kind, "message kind ignored"),
                }
            }
            other => tracing::debug!(?other, "ignored"),
        }
        Ok(())
    }
}

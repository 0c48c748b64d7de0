//! A MyICQ client for tests, built on the codec: it encrypts what it sends as the original
//! clients did and, like them, acknowledges every reliable packet except the keepalive reply.

#![allow(dead_code)]

use myicq::client::{Login, Request};
use myicq::codes::{cmd, status};
use myicq::datagram::client_datagram;
use myicq::server::{LoginReply, ServerPacket};
use myicq::{BodyCipher, ClientHeader, ServerHeader, HEADER_LEN};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// How long a test waits for a datagram that should come (virtual time when paused).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Client {
    pub socket: UdpSocket,
    pub server: SocketAddr,
    pub uin: u32,
    pub sid: u32,
    pub seq: u16,
    cipher: BodyCipher,
    /// Whether received reliable packets are acknowledged (off to test resends).
    pub acks: bool,
}

/// One datagram from the server.
#[derive(Debug, Clone)]
pub struct Received {
    pub header: ServerHeader,
    pub packet: ServerPacket,
    pub bytes: Vec<u8>,
}

impl Client {
    pub async fn new(server: SocketAddr) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sid = (rand_u32() & 0x7fff_ffff) + 1;
        let seq = (rand_u32() & 0x3fff) as u16;
        Client { socket, server, uin: 0, sid, seq, cipher: BodyCipher::new(b""), acks: true }
    }

    pub fn set_password(&mut self, password: &str) {
        self.cipher = BodyCipher::new(password.as_bytes());
    }

    /// The datagram for `request` with the next sequence number (or, for an ACK, `ack_of`).
    pub fn datagram(&mut self, request: &Request) -> (u16, Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        let header = ClientHeader { ver: 1, uin: self.uin, sid: self.sid, cmd: request.cmd(), seq: self.seq, cc: 0 };
        let index = rand_u32() as usize;
        (self.seq, client_datagram(header, &request.encode(), &self.cipher, index))
    }

    pub async fn send(&mut self, request: &Request) -> u16 {
        let (seq, datagram) = self.datagram(request);
        self.send_raw(&datagram).await;
        seq
    }

    pub async fn send_raw(&self, datagram: &[u8]) {
        self.socket.send_to(datagram, self.server).await.unwrap();
    }

    pub async fn ack(&self, seq: u16) {
        let header = ClientHeader { ver: 1, uin: self.uin, sid: self.sid, cmd: cmd::ACK, seq, cc: 0 };
        let mut datagram = Vec::new();
        header.encode(&mut datagram);
        self.send_raw(&datagram).await;
    }

    /// The next datagram, pure ACKs included, within `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Received> {
        let mut buf = vec![0u8; 4096];
        let (len, _) = tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await.ok()?.unwrap();
        let bytes = buf[..len].to_vec();
        let header = ServerHeader::parse(&bytes).expect("a whole header");
        assert_eq!((header.ver, header.sid), (1, self.sid), "the server echoes version and session id");
        let packet = ServerPacket::parse(header.cmd, &bytes[HEADER_LEN..]);
        if self.acks && header.seq != 0 && header.cmd != cmd::KEEPALIVE {
            self.ack(header.seq).await;
        }
        Some(Received { header, packet, bytes })
    }

    pub async fn recv_any(&mut self) -> Received {
        self.recv_within(PATIENCE).await.expect("a datagram from the server")
    }

    /// The next packet that is not a pure ACK.
    pub async fn recv(&mut self) -> Received {
        loop {
            let received = self.recv_any().await;
            if received.header.seq != 0 || received.header.cmd != cmd::ACK {
                return received;
            }
        }
    }

    pub async fn packet(&mut self) -> ServerPacket {
        self.recv().await.packet
    }

    /// Skips packets until one matches.
    pub async fn until(&mut self, wanted: impl Fn(&ServerPacket) -> bool) -> ServerPacket {
        loop {
            let packet = self.packet().await;
            if wanted(&packet) {
                return packet;
            }
        }
    }

    /// Asserts nothing but pure ACKs arrives within `wait`.
    pub async fn quiet_for(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
            match self.recv_within(left).await {
                None => return,
                Some(r) if r.header.seq == 0 && r.header.cmd == cmd::ACK => continue,
                Some(r) => panic!("unexpected {:?}", r.packet),
            }
        }
    }

    /// Sends a request and waits for its pure ACK.
    pub async fn acked(&mut self, request: &Request) {
        let seq = self.send(request).await;
        loop {
            let r = self.recv_any().await;
            if r.header.cmd == cmd::ACK && r.header.seq == 0 && r.header.ackseq == seq {
                return;
            }
        }
    }

    /// Sends a request and waits for the reply that acknowledges it.
    pub async fn request(&mut self, request: &Request) -> ServerPacket {
        let seq = self.send(request).await;
        loop {
            let r = self.recv().await;
            if r.header.ackseq == seq {
                return r.packet;
            }
        }
    }

    /// Logs in with a fresh session; returns the reply.
    pub async fn login(&mut self, uin: u32, password: &str, status: u32) -> LoginReply {
        self.uin = uin;
        self.set_password(password);
        let login = Request::Login(Login {
            password: password.as_bytes().to_vec(),
            status,
            tcp_version: 1,
            real_ip: u32::from(std::net::Ipv4Addr::new(192, 168, 1, 5)),
            msg_port: 32765,
        });
        match self.request(&login).await {
            ServerPacket::Login(reply) => reply,
            other => panic!("expected the LOGIN reply, got {other:?}"),
        }
    }

    pub async fn login_online(&mut self, uin: u32, password: &str) {
        let reply = self.login(uin, password, status::ONLINE).await;
        assert!(matches!(reply, LoginReply::Success { .. }), "{reply:?}");
    }

    /// Registers an account; returns its UIN (0 when refused).
    pub async fn register(&mut self, password: &str) -> u32 {
        match self.request(&Request::NewUin { password: password.as_bytes().to_vec() }).await {
            ServerPacket::NewUin { uin, .. } => uin,
            other => panic!("expected the NEW_UIN reply, got {other:?}"),
        }
    }
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    hasher.finish() as u32
}

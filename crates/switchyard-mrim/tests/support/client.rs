//! An MRIM test client: builds client packets field by field and reads the server's.
#![allow(dead_code)]

use bytes::BytesMut;
use mrim::codes::msg;
use mrim::header::Header;
use mrim::wire::Reader;
use mrim::{Packet, PacketDecoder};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A byte stream: plain TCP, or TLS over it after STARTTLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

const PATIENCE: Duration = Duration::from_secs(10);

/// A packet body, field by field.
#[derive(Default)]
pub struct Body(pub Vec<u8>);

impl Body {
    pub fn u32(mut self, value: u32) -> Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn lps(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// A text field as the given version writes it: CP1251 before 1.16, UTF-16LE from 1.16.
    pub fn text(self, text: &str, minor: u16) -> Self {
        if minor >= 16 {
            self.lps(&mrim::text::to_utf16le(text))
        } else {
            self.lps(&mrim::text::to_cp1251(text))
        }
    }
}

pub struct MrimClient {
    stream: Box<dyn Io>,
    decoder: PacketDecoder,
    input: BytesMut,
    pub minor: u16,
    seq: u32,
    /// The ping period HELLO_ACK must announce.
    pub expected_ping: u32,
}

impl MrimClient {
    pub async fn connect(addr: SocketAddr, minor: u16) -> MrimClient {
        let stream: Box<dyn Io> = Box::new(TcpStream::connect(addr).await.unwrap());
        MrimClient {
            stream,
            decoder: PacketDecoder::default(),
            input: BytesMut::new(),
            minor,
            seq: 0,
            expected_ping: 30,
        }
    }

    pub fn proto(&self) -> u32 {
        0x0001_0000 | u32::from(self.minor)
    }

    /// Sends a packet; returns its seq.
    pub async fn send(&mut self, code: u32, body: Body) -> u32 {
        self.seq += 1;
        let mut bytes = Vec::new();
        Header { proto: self.proto(), seq: self.seq, msg: code, dlen: body.0.len() as u32 }.encode(&mut bytes);
        bytes.extend_from_slice(&body.0);
        self.stream.write_all(&bytes).await.unwrap();
        self.stream.flush().await.unwrap();
        self.seq
    }

    /// Runs a TLS handshake on the connection, trusting only `certificate`.
    pub async fn upgrade_tls(&mut self, certificate: rustls::pki_types::CertificateDer<'static>) {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certificate).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let plain = std::mem::replace(&mut self.stream, Box::new(tokio::io::duplex(1).0));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, plain).await.expect("TLS handshake");
        self.stream = Box::new(tls);
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    pub async fn next(&mut self) -> Packet {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).unwrap() {
                return packet;
            }
            let n = tokio::time::timeout(PATIENCE, self.stream.read_buf(&mut self.input))
                .await
                .expect("timed out waiting for a packet")
                .unwrap();
            assert!(n > 0, "connection closed while a packet was expected");
        }
    }

    /// The next packet, which must have code `code`; returns its seq and a reader on its body.
    pub async fn expect(&mut self, code: u32) -> (u32, Reader) {
        let packet = self.next().await;
        assert_eq!(packet.header.msg, code, "expected {code:#x}, got {:#x}", packet.header.msg);
        assert_eq!(packet.header.proto, self.proto(), "replies are in the client's version");
        (packet.header.seq, Reader::new(packet.body))
    }

    /// Everything the server sent until it closed the connection: the whole packets, and how
    /// many bytes of a last one were cut off.
    pub async fn packets_until_closed(&mut self) -> (Vec<Packet>, usize) {
        loop {
            let n = tokio::time::timeout(PATIENCE, self.stream.read_buf(&mut self.input))
                .await
                .expect("the server did not close the connection");
            match n {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut packets = Vec::new();
        while let Some(packet) = self.decoder.decode(&mut self.input).expect("well-formed packets only") {
            packets.push(packet);
        }
        (packets, self.input.len())
    }

    pub async fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut rest)).await.expect("still open");
        if read.is_ok() {
            assert!(rest.is_empty(), "unexpected bytes before close: {rest:02x?}");
        }
    }

    /// Proves nothing else is queued: `GET_MPOP_SESSION` must be answered by the very next packet.
    pub async fn expect_nothing_pending(&mut self) {
        let seq = self.send(msg::GET_MPOP_SESSION, Body::default()).await;
        let (reply_seq, _) = self.expect(msg::MPOP_SESSION).await;
        assert_eq!(reply_seq, seq);
    }

    /// A text field of a server packet in this client's version.
    pub fn text(&self, r: &mut Reader) -> String {
        let bytes = r.lps();
        if self.minor >= 16 {
            mrim::text::from_utf16le(&bytes)
        } else {
            mrim::text::from_cp1251(&bytes)
        }
    }

    /// HELLO and LOGIN2 in this version's layout; returns the login's seq.
    /// Reads a MESSAGE_ACK: (flags, from, text).
    pub async fn receive_message(&mut self) -> (u32, String, String) {
        let (_, mut r) = self.expect(msg::MESSAGE_ACK).await;
        let _msg_id = r.u32();
        let flags = r.u32();
        let from = String::from_utf8(r.lps().to_vec()).unwrap();
        let text = self.text(&mut r);
        (flags, from, text)
    }

    pub async fn hello_and_login(&mut self, email: &str, password: &str, status: u32) -> u32 {
        self.send(msg::HELLO, Body::default()).await;
        let (_, mut hello_ack) = self.expect(msg::HELLO_ACK).await;
        assert_eq!(hello_ack.u32(), self.expected_ping, "ping period");
        let mut body = Body::default().lps(email.as_bytes()).lps(password.as_bytes()).u32(status);
        if self.minor >= 14 {
            body = body.lps(b"").text("", self.minor).text("", self.minor).u32(0x3ff);
        }
        body = body.lps(b"client=\"switchyard-test\"");
        if self.minor >= 16 {
            body = body.lps(b"ru");
        }
        self.send(msg::LOGIN2, body).await
    }

    /// Logs in and reads LOGIN_ACK, USER_INFO and CONTACT_LIST2; returns the list's contacts.
    pub async fn login(addr: SocketAddr, minor: u16, email: &str, password: &str) -> (MrimClient, Vec<ListedContact>) {
        let mut c = MrimClient::connect(addr, minor).await;
        let seq = c.hello_and_login(email, password, mrim::codes::status::ONLINE).await;
        let (ack_seq, _) = c.expect(msg::LOGIN_ACK).await;
        assert_eq!(ack_seq, seq);
        let (_, mut info) = c.expect(msg::USER_INFO).await;
        assert_eq!(info.lps(), &b"MRIM.NICKNAME"[..]);
        c.text(&mut info);
        let (_, contacts) = c.contact_list().await;
        assert_eq!(c.expect(msg::MAILBOX_STATUS).await.1.u32(), 0);
        (c, contacts)
    }

    /// Reads a CONTACT_LIST2 in this client's mask: the group names (checking each group's
    /// flags carry GROUP and its index) and the contacts.
    pub async fn contact_list(&mut self) -> (Vec<String>, Vec<ListedContact>) {
        let (_, mut r) = self.expect(msg::CONTACT_LIST2).await;
        assert_eq!(r.u32(), 0, "GET_CONTACTS_OK");
        let group_count = r.u32();
        assert_eq!(r.lps(), &b"us"[..]);
        let mask = String::from_utf8(r.lps().to_vec()).unwrap();
        assert_eq!(mask, mrim::Dialect { major: 1, minor: self.minor }.contact_mask());
        let mut groups = Vec::new();
        for index in 0..group_count {
            let flags = r.u32();
            assert_eq!(flags & mrim::codes::contact_flag::GROUP, mrim::codes::contact_flag::GROUP);
            assert_eq!(flags >> 24, index, "the group index is in the upper byte");
            groups.push(self.text(&mut r));
        }
        let mut contacts = Vec::new();
        while !r.is_empty() {
            let mut fields = Vec::new();
            for letter in mask.bytes() {
                fields.push(if letter == b'u' { Field::U(r.u32()) } else { Field::S(r.lps().to_vec()) });
            }
            let (
                Field::U(flags),
                Field::U(group),
                Field::S(email),
                Field::S(nick),
                Field::U(server_flags),
                Field::U(status),
            ) = (&fields[0], &fields[1], &fields[2], &fields[3], &fields[4], &fields[5])
            else {
                panic!("bad contact fields {fields:?}")
            };
            let nick = if self.minor >= 16 { mrim::text::from_utf16le(nick) } else { mrim::text::from_cp1251(nick) };
            contacts.push(ListedContact {
                flags: *flags,
                group: *group,
                email: String::from_utf8(email.clone()).unwrap(),
                nickname: nick,
                server_flags: *server_flags,
                status: *status,
            });
        }
        (groups, contacts)
    }
}

#[derive(Debug)]
enum Field {
    U(u32),
    S(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedContact {
    pub flags: u32,
    pub group: u32,
    pub email: String,
    pub nickname: String,
    pub server_flags: u32,
    pub status: u32,
}

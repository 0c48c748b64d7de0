//! A line-exact MSN test client over loopback: what a test sends, and every line it expects.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// How long a test waits for a line it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (read, writer) = TcpStream::connect(addr).await.unwrap().into_split();
        Client { reader: BufReader::new(read), writer }
    }

    /// Connects, negotiates MSNP2 and logs in with MD5, checking every line.
    pub async fn login(addr: SocketAddr, handle: &str, password: &str, friendly: &str) -> Client {
        let mut c = Client::connect(addr).await;
        c.send("VER 1 MSNP2 CVR0").await;
        c.expect("VER 1 MSNP2").await;
        c.send("INF 2").await;
        c.expect("INF 2 MD5").await;
        c.authenticate(3, handle, password).await;
        c.expect(&format!("USR 4 OK {handle} {friendly}")).await;
        c
    }

    /// `USR MD5 I` then `USR MD5 S` with the right response for the challenge received.
    pub async fn authenticate(&mut self, trid: u32, handle: &str, password: &str) {
        self.send(&format!("USR {trid} MD5 I {handle}")).await;
        let challenge = self.challenge(trid).await;
        let response = msnp::auth::md5_response(&challenge, password);
        self.send(&format!("USR {} MD5 S {response}", trid + 1)).await;
    }

    pub async fn challenge(&mut self, trid: u32) -> String {
        let line = self.line().await;
        let prefix = format!("USR {trid} MD5 S ");
        let challenge = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("expected a challenge, got {line:?}"));
        assert!(!challenge.is_empty() && !challenge.contains(' '), "challenge {challenge:?}");
        challenge.to_owned()
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// `MSG trid mode len` followed by the payload.
    pub async fn send_msg(&mut self, trid: u32, mode: &str, body: &str) {
        self.send_raw(format!("MSG {trid} {mode} {}\r\n{body}", body.len()).as_bytes()).await;
    }

    /// The next line, without its CRLF (which must be there).
    pub async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
            .await
            .expect("timed out waiting for a line")
            .unwrap();
        assert!(n > 0, "connection closed while a line was expected");
        line.strip_suffix("\r\n").unwrap_or_else(|| panic!("line without CRLF: {line:?}")).to_owned()
    }

    /// Sends each line and expects its reply before sending the next.
    pub async fn exchange(&mut self, steps: &[(&str, &str)]) {
        for (line, reply) in steps {
            self.send(line).await;
            self.expect(reply).await;
        }
    }

    /// A line if one arrives within `wait`; for checking that something does not happen.
    pub async fn line_within(&mut self, wait: Duration) -> Option<String> {
        let mut line = String::new();
        match tokio::time::timeout(wait, self.reader.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => Some(line),
            _ => None,
        }
    }

    pub async fn expect(&mut self, expected: &str) {
        assert_eq!(self.line().await, expected);
    }

    /// Expects `MSG handle friendly len` and its payload.
    pub async fn expect_msg(&mut self, handle: &str, friendly: &str, body: &str) {
        self.expect(&format!("MSG {handle} {friendly} {}", body.len())).await;
        let mut payload = vec![0; body.len()];
        tokio::time::timeout(PATIENCE, self.reader.read_exact(&mut payload)).await.unwrap().unwrap();
        assert_eq!(String::from_utf8(payload).unwrap(), body);
    }

    /// Expects a payload command whose line starts with `head` and ends with the payload's
    /// length; returns the payload.
    pub async fn expect_payload(&mut self, head: &str) -> String {
        let line = self.line().await;
        assert!(line.starts_with(head), "{line:?} does not start with {head:?}");
        let len: usize = line.rsplit(' ').next().unwrap().parse().expect("a payload length");
        let mut payload = vec![0; len];
        tokio::time::timeout(PATIENCE, self.reader.read_exact(&mut payload)).await.unwrap().unwrap();
        String::from_utf8(payload).unwrap()
    }

    /// Logs in with MD5 in `dialect` (MSNP2–7), expecting `ok` and, from MSNP5, the profile.
    pub async fn login_md5(addr: SocketAddr, dialect: u8, handle: &str, password: &str, ok: &str) -> Client {
        let mut c = Client::connect(addr).await;
        c.exchange(&[(&format!("VER 1 MSNP{dialect} CVR0"), &format!("VER 1 MSNP{dialect}"))]).await;
        c.authenticate(2, handle, password).await;
        c.expect(ok).await;
        if dialect >= 5 {
            c.expect_payload("MSG Hotmail Hotmail ").await;
        }
        c
    }

    /// Proves nothing else is queued for this client: the server answers commands and pushes
    /// events in order, so an unknown command's `200` must be the very next line.
    pub async fn expect_nothing_pending(&mut self, trid: u32) {
        self.send(&format!("ZZZ {trid}")).await;
        self.expect(&format!("200 {trid}")).await;
    }

    pub async fn expect_closed(&mut self) {
        self.expect_closed_within(PATIENCE).await;
    }

    pub async fn expect_closed_within(&mut self, wait: Duration) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(wait, self.reader.read_to_end(&mut rest)).await;
        let read = read.expect("connection still open");
        // A reset is as closed as a FIN.
        if read.is_ok() {
            assert!(rest.is_empty(), "unexpected bytes before close: {:?}", String::from_utf8_lossy(&rest));
        }
    }
}

/// Logs `handle` in and sets it online (`CHG NLN`), expecting no contacts online yet.
pub async fn online(addr: SocketAddr, handle: &str, password: &str, friendly: &str) -> Client {
    let mut c = Client::login(addr, handle, password, friendly).await;
    c.send("CHG 5 NLN").await;
    c.expect("CHG 5 NLN").await;
    c
}

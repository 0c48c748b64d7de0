//! A server on loopback with its own data directory, and a line-exact MSN test client.
#![allow(dead_code)]

pub mod mrim;

use std::net::SocketAddr;
use std::time::Duration;
use switchyard::{Config, RunningServer};
use switchyard_core::AccountName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// How long a test waits for a line it expects before failing.
const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub config: Config,
    server: Option<RunningServer>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        config.msn.port = 0;
        config.mrim.port = 0;
        config.mrim.redirect_port = 0;
        config.myicq.port = 0;
        config.http.port = 0;
        config.http.https_port = Some(0);
        adjust(&mut config);
        let server = RunningServer::start(&config).await.unwrap();
        TestServer { dir, config, server: Some(server) }
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server is running")
    }

    pub fn msn(&self) -> SocketAddr {
        self.running().address("msn").unwrap()
    }

    pub async fn add_user(&self, name: &str, password: &str, nickname: Option<&str>) -> switchyard_core::Account {
        let name = AccountName::new(name).unwrap();
        self.running().store().create_account(&name, password, nickname).await.unwrap()
    }

    /// Signs in at the nexus (`pprdr.asp`, then Passport1.4 at the `DALogin` it names) and
    /// returns the ticket, or the HTTP status of the refusal.
    pub async fn passport_ticket(&self, handle: &str, password: &str) -> Result<String, u16> {
        let http = self.running().address("http").unwrap();
        let client = reqwest::Client::new();
        let urls = client.get(format!("http://{http}/rdr/pprdr.asp")).send().await.unwrap();
        let urls = urls.headers()["PassportURLs"].to_str().unwrap().to_owned();
        // Clients cut the login URL at the next comma.
        let da_login = urls.split("DALogin=").nth(1).and_then(|rest| rest.split(',').next()).expect("DALogin");
        assert_eq!(da_login, format!("{http}/login2.srf"), "no scheme: clients add https://");
        let authorization = format!(
            "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in={},pwd={},lc=1033,id=507",
            handle.replace('@', "%40"),
            password.replace(' ', "%20")
        );
        let login =
            client.get(format!("http://{da_login}")).header("Authorization", authorization).send().await.unwrap();
        if login.status() != 200 {
            assert!(login.headers()["WWW-Authenticate"].to_str().unwrap().contains("da-status=failed"));
            return Err(login.status().as_u16());
        }
        let info = login.headers()["Authentication-Info"].to_str().unwrap();
        assert!(info.starts_with("Passport1.4 da-status=success,"), "{info}");
        let ticket = info.split("from-PP='").nth(1).unwrap().trim_end_matches('\'');
        Ok(ticket.to_owned())
    }

    pub async fn stop(&mut self) {
        self.server.take().expect("server is running").shutdown().await;
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.server = Some(RunningServer::start(&self.config).await.unwrap());
    }
}

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

    /// Logs in with TWN in `dialect` (MSNP8+), fetching the ticket from the nexus over HTTP.
    pub async fn login_twn(server: &TestServer, dialect: u8, handle: &str, password: &str, ok: &str) -> Client {
        let mut c = Client::connect(server.msn()).await;
        c.exchange(&[(&format!("VER 1 MSNP{dialect} CVR0"), &format!("VER 1 MSNP{dialect}"))]).await;
        c.send(&format!("USR 2 TWN I {handle}")).await;
        let policy = c.line().await;
        assert!(policy.starts_with("USR 2 TWN S lc=1033,id=507,"), "{policy}");
        let ticket = server.passport_ticket(handle, password).await.expect("the nexus gives a ticket");
        c.send(&format!("USR 3 TWN S {ticket}")).await;
        c.expect(ok).await;
        let profile = c.expect_payload("MSG Hotmail Hotmail ").await;
        assert!(profile.contains("Content-Type: text/x-msmsgsprofile"), "{profile}");
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

/// A server with alice ("Alice", password `secret`), bob (no nickname) and carol ("Carol").
pub async fn three_users() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    server.add_user("carol", "pw", Some("Carol")).await;
    server
}

/// Logs `handle` in and sets it online (`CHG NLN`), expecting no contacts online yet.
pub async fn online(addr: SocketAddr, handle: &str, password: &str, friendly: &str) -> Client {
    let mut c = Client::login(addr, handle, password, friendly).await;
    c.send("CHG 5 NLN").await;
    c.expect("CHG 5 NLN").await;
    c
}

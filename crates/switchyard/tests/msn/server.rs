//! What only the whole server shows: lists kept across a restart on its database, and the
//! Passport nexus over real HTTP and HTTPS (the MSN front's own behaviour is tested in
//! `crates/switchyard-msn/tests/front`).

use crate::common::{Client, TestServer};

#[tokio::test]
async fn lists_and_serial_numbers_survive_a_restart() {
    let mut server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", Some("Bob")).await;
    server.add_user("carol", "pw", Some("Carol")).await;
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice
        .exchange(&[
            ("ADD 5 FL bob@hotmail.com Bobby", "ADD 5 FL 2 bob@hotmail.com Bobby"),
            ("ADD 6 AL bob@hotmail.com Bobby", "ADD 6 AL 3 bob@hotmail.com Bobby"),
            ("ADD 7 BL carol@hotmail.com Carol", "ADD 7 BL 4 carol@hotmail.com Carol"),
            ("BLP 8 BL", "BLP 8 5 BL"),
            ("GTC 9 N", "GTC 9 6 N"),
        ])
        .await;
    server.restart().await;
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice.send("SYN 5 4").await;
    for line in [
        "SYN 5 6",
        "GTC 5 6 N",
        "BLP 5 6 BL",
        "LST 5 FL 6 1 1 bob@hotmail.com Bobby",
        "LST 5 AL 6 1 1 bob@hotmail.com Bobby",
        "LST 5 BL 6 1 1 carol@hotmail.com Carol",
        "LST 5 RL 6 0 0",
    ] {
        alice.expect(line).await;
    }
    let mut bob = Client::login(server.msn(), "bob@hotmail.com", "pw", "Bob").await;
    bob.send("SYN 5 0").await;
    for line in ["SYN 5 2", "GTC 5 2 A", "BLP 5 2 AL", "LST 5 FL 2 0 0", "LST 5 AL 2 0 0", "LST 5 BL 2 0 0"] {
        bob.expect(line).await;
    }
    bob.expect("LST 5 RL 2 1 1 alice@hotmail.com Alice").await;
}

#[tokio::test]
async fn the_soap_login_of_msn_7_5_works_over_https() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let https = server.running().address("https").unwrap();
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let request = |password: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2003/06/secext\"><Header><wsse:Security><wsse:UsernameToken Id=\"user\">\
             <wsse:Username>alice@hotmail.com</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken>\
             </wsse:Security></Header><Body><ps:RequestMultipleSecurityTokens xmlns:ps=\"http://schemas.microsoft.com/Passport/SoapServices/PPCRL\">\
             <wst:RequestSecurityToken Id=\"RST0\"><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>http://Passport.NET/tb</wsa:Address>\
             </wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken><wst:RequestSecurityToken Id=\"RST1\"><wsp:AppliesTo>\
             <wsa:EndpointReference><wsa:Address>messenger.msn.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
             </wst:RequestSecurityToken></ps:RequestMultipleSecurityTokens></Body></Envelope>"
        )
    };
    let post = |body: String| client.post(format!("https://{https}/RST.srf")).body(body).send();
    let refused = post(request("wrong")).await.unwrap().text().await.unwrap();
    assert!(refused.contains("<faultcode>wsse:FailedAuthentication</faultcode>"), "{refused}");
    let granted = post(request("secret")).await.unwrap().text().await.unwrap();
    let token = granted
        .split("<wsa:Address>messenger.msn.com</wsa:Address>")
        .nth(1)
        .and_then(|rest| rest.split("<wsse:BinarySecurityToken Id=\"PPToken1\">").nth(1))
        .and_then(|rest| rest.split("</wsse:BinarySecurityToken>").next())
        .unwrap_or_else(|| panic!("no messenger token in {granted}"))
        .replace("&amp;", "&");

    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[("VER 1 MSNP12 MSNP11 CVR0", "VER 1 MSNP12")]).await;
    c.send("USR 2 TWN I alice@hotmail.com").await;
    c.line().await;
    c.exchange(&[(&format!("USR 3 TWN S {token}"), "USR 3 OK alice@hotmail.com 1 0")]).await;
}

/// The nexus holds at most `http.max_connections` connections and closes those that stay idle:
/// a flood of silent connections cannot take the file descriptors the messaging ports need.
#[tokio::test]
async fn the_nexus_keeps_few_connections_and_closes_idle_ones() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let server = TestServer::start_with(|c| {
        c.http.max_connections = 2;
        c.http.idle_timeout_secs = 1;
    })
    .await;
    let http = server.running().address("http").unwrap();
    let mut silent = [TcpStream::connect(http).await.unwrap(), TcpStream::connect(http).await.unwrap()];
    // Both places are taken before the third connection asks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut asking = TcpStream::connect(http).await.unwrap();
    asking.write_all(b"GET /rdr/pprdr.asp HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(300), asking.read_to_end(&mut answer)).await;
    assert!(early.is_err() && answer.is_empty(), "answered beyond the limit: {answer:?}");

    for idle in &mut silent {
        let closed = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut [0u8; 64])).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "an idle connection was kept: {closed:?}");
    }
    tokio::time::timeout(Duration::from_secs(10), asking.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("passporturls: dalogin="), "{answer}");
}

/// Headers trickled a byte at a time never keep a connection: the first request's head, and on
/// a kept-alive connection every later one's, must be whole within the request deadline
/// however many bytes move meanwhile.
#[tokio::test]
async fn request_heads_trickled_byte_by_byte_are_cut_off_at_the_deadline() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    let server = TestServer::start_with(|c| {
        c.http.request_deadline_secs = 1;
        c.http.idle_timeout_secs = 30;
    })
    .await;
    let http = server.running().address("http").unwrap();
    // Is the connection closed before the whole (endless) head is sent, at about the deadline?
    async fn trickle_until_closed(stream: &mut TcpStream, head: &[u8]) -> Duration {
        let started = Instant::now();
        for byte in head.iter().cycle() {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            let mut answer = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut answer)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => panic!("an answer to a head that never ended"),
                Err(_) => {}
            }
            assert!(started.elapsed() < Duration::from_secs(8), "still open after 8 s");
        }
        started.elapsed()
    }
    let mut first = TcpStream::connect(http).await.unwrap();
    let elapsed = trickle_until_closed(&mut first, b"GET /x HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert!(elapsed >= Duration::from_millis(900), "closed before the deadline: {elapsed:?}");

    // A kept-alive connection handed to the web service: one whole request, then a trickle.
    let mut kept = TcpStream::connect(http).await.unwrap();
    kept.write_all(b"GET /nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), kept.read(&mut answer)).await.unwrap().unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 404"), "{}", String::from_utf8_lossy(&answer[..n]));
    let elapsed = trickle_until_closed(&mut kept, b"GET /y HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert!(elapsed >= Duration::from_millis(900), "closed before the deadline: {elapsed:?}");
}

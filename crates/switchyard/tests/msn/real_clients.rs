//! What two strict real clients sent and expected, line for line: msn-pecan (MSNP12) and
//! Pidgin 2.2.2's MSN plugin (MSNP9), as they logged it against this server
//! (`shared/testdata/real-clients/`). The client lines below are theirs; each answer is what the
//! client parses, byte for byte.

use crate::common::{Client, TestServer};
use std::net::SocketAddr;
use switchyard_core::RelationFlags;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one HTTP request as raw bytes and reads the whole answer (the nexus closes after it).
async fn http_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8(answer).unwrap()
}

/// The head's lines, the `Date` value blanked out, and the body.
fn head_and_body(answer: &str) -> (Vec<String>, String) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole head");
    let lines = head
        .split("\r\n")
        .map(|line| if line.starts_with("Date: ") { "Date: *".to_owned() } else { line.to_owned() })
        .collect();
    (lines, body.to_owned())
}

/// Alice (Alice), Bob, and Dave (Dave), who has Alice on his forward list.
async fn server() -> TestServer {
    let server = TestServer::start_with(|config| config.msn.challenges = false).await;
    let alice = server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", Some("Bob")).await;
    let dave = server.add_user("dave", "pw", Some("Dave")).await;
    let store = server.running().store();
    store.set_relation(dave.id, alice.id, RelationFlags::FORWARD, Some("Alice")).await.unwrap();
    server
}

const PECAN_CVR: &str = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS alice@hotmail.com";

/// `USR TWN S` names every field the service did, `ct` (the challenge time) included.
fn assert_policy(line: &str, trid: u32) {
    let prefix = format!("USR {trid} TWN S lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=");
    let rest = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line}"));
    let (ct, rest) = rest.split_once(',').unwrap();
    assert!(ct.len() >= 10 && ct.bytes().all(|b| b.is_ascii_digit()), "{line}");
    assert_eq!(rest, "kpp=1,kv=5,ver=2.1.0173.1,tpf=43f8a4c8ed940c04e3740be46c4d1619");
}

/// msn-pecan's `RequestMultipleSecurityTokens`, as it writes it (password in place).
fn pecan_rst_request(password: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:wsse=\"http://schemas.xmlsoap.org/ws/2003/06/secext\" xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" \
         xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2002/12/policy\" xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\" \
         xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/03/addressing\" xmlns:wssc=\"http://schemas.xmlsoap.org/ws/2004/04/sc\" \
         xmlns:wst=\"http://schemas.xmlsoap.org/ws/2004/04/trust\"><Header><ps:AuthInfo xmlns:ps=\"http://schemas.microsoft.com/Passport/SoapServices/PPCRL\" Id=\"PPAuthInfo\">\
         <ps:HostingApp>{{7108E71A-9926-4FCB-BCC9-9A9D3F32E423}}</ps:HostingApp><ps:BinaryVersion>4</ps:BinaryVersion><ps:UIVersion>1</ps:UIVersion>\
         <ps:Cookies></ps:Cookies><ps:RequestParams>AQAAAAIAAABsYwQAAAAxMDMz</ps:RequestParams></ps:AuthInfo><wsse:Security><wsse:UsernameToken Id=\"user\">\
         <wsse:Username>alice@hotmail.com</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></Header>\
         <Body><ps:RequestMultipleSecurityTokens xmlns:ps=\"http://schemas.microsoft.com/Passport/SoapServices/PPCRL\" Id=\"RSTS\">\
         <wst:RequestSecurityToken Id=\"RST0\"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType>\
         <wsp:AppliesTo><wsa:EndpointReference><wsa:Address>http://Passport.NET/tb</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken>\
         <wst:RequestSecurityToken Id=\"RST1\"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType>\
         <wsp:AppliesTo><wsa:EndpointReference><wsa:Address>messenger.msn.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
         <wsse:PolicyReference URI=\"?id=507\"></wsse:PolicyReference></wst:RequestSecurityToken>\
         <wst:RequestSecurityToken Id=\"RST2\"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType>\
         <wsp:AppliesTo><wsa:EndpointReference><wsa:Address>messengersecure.live.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
         <wsse:PolicyReference URI=\"MBI_SSL\"></wsse:PolicyReference></wst:RequestSecurityToken></ps:RequestMultipleSecurityTokens></Body></Envelope>"
    );
    format!(
        "POST /RST.srf HTTP/1.1\r\nAccept: */*\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\
         User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\nHost: login.live.com\r\nConnection: Keep-Alive\r\n\
         Cache-Control: no-cache\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The ticket as msn-pecan reads it: the header's `Content-Length: ` gives the body, whose
/// `PPToken1` is split at `&amp;`.
fn pecan_ticket(answer: &str) -> String {
    let (head, body) = head_and_body(answer);
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    let length: usize = head.iter().find_map(|l| l.strip_prefix("Content-Length: ")).unwrap().parse().unwrap();
    assert_eq!(length, body.len());
    let token = body.split("<wsse:BinarySecurityToken Id=\"PPToken1\">").nth(1).expect("PPToken1");
    let token = &token[..token.find('<').unwrap()];
    let (t, p) = token.split_once("&amp;").unwrap();
    format!("t={}&p={}", &t[2..], &p[2..])
}

#[tokio::test]
async fn msn_pecan_logs_in_and_manages_its_lists() {
    let server = server().await;
    let nexus = server.running().address("http").unwrap();
    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[("VER 1 MSNP12", "VER 1 MSNP12")]).await;
    c.send(PECAN_CVR).await;
    c.line().await;
    c.send("USR 3 TWN I alice@hotmail.com").await;
    assert_policy(&c.line().await, 3);

    let refused = http_exchange(nexus, &pecan_rst_request("wrong")).await;
    assert!(refused.contains("<faultcode>wsse:FailedAuthentication</faultcode>"), "{refused}");
    let ticket = pecan_ticket(&http_exchange(nexus, &pecan_rst_request("secret")).await);
    c.send(&format!("USR 4 TWN S {ticket}")).await;
    c.expect("USR 4 OK alice@hotmail.com 1 0").await;
    c.expect_payload("MSG Hotmail Hotmail ").await;
    c.send("SYN 5 0 0").await;
    for line in ["SYN 5 2 2 1 0", "GTC A", "BLP AL", "PRP MFN Alice", "LST N=dave@hotmail.com F=Dave 24 1"] {
        c.expect(line).await;
    }
    // Right after SYN msn-pecan sets the mode it was given; an error there is fatal to it.
    c.exchange(&[("CHG 6 NLN 1342472228", "CHG 6 NLN 1342472228"), ("BLP 8 AL", "BLP 8 AL"), ("GTC 9 A", "GTC 9 A")])
        .await;

    // It reads `ADG trid name guid`, and files the contact under that GUID.
    c.send("ADG 10 Buddies 0").await;
    let line = c.line().await;
    let group = line.strip_prefix("ADG 10 Buddies ").unwrap_or_else(|| panic!("{line}")).to_owned();
    assert_eq!(group.len(), 36, "{line}");
    c.send("ADC 11 FL N=bob@hotmail.com F=bob%40hotmail.com").await;
    let line = c.line().await;
    let bob = line.strip_prefix("ADC 11 FL N=bob@hotmail.com F=bob@hotmail.com C=").unwrap_or_else(|| panic!("{line}"));
    let bob = bob.to_owned();
    c.exchange(&[(&format!("ADC 12 FL C={bob} {group}"), &format!("ADC 12 FL C={bob} {group}"))]).await;
    c.exchange(&[
        (&format!("REG 13 {group} Friends"), &format!("REG 13 {group} Friends")),
        (&format!("REM 14 FL {bob} {group}"), &format!("REM 14 FL {bob} {group}")),
        (&format!("RMG 15 {group}"), &format!("RMG 15 {group}")),
    ])
    .await;

    // Accepting Dave, who added Alice: ADC RL, REM PL, ADC AL, as the service took them.
    c.exchange(&[
        ("ADC 16 RL N=dave@hotmail.com", "ADC 16 RL N=dave@hotmail.com"),
        ("REM 17 PL dave@hotmail.com", "REM 17 PL dave@hotmail.com"),
        ("ADC 18 AL N=dave@hotmail.com", "ADC 18 AL N=dave@hotmail.com"),
        // Bob has not added Alice: he is on no reverse list of hers.
        ("ADC 19 RL N=bob@hotmail.com", "216 19"),
    ])
    .await;

    // msn-pecan reads a reason from every OUT: the service closed without one.
    c.send("OUT").await;
    c.expect_closed().await;
}

#[tokio::test]
async fn pidgin_2_2_finds_the_nexus_without_an_http_version_or_host() {
    let server = TestServer::start_with(|config| {
        config.http.public_host = Some("nexus.example.net".into());
        config.msn.challenges = false;
    })
    .await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let nexus = server.running().address("http").unwrap();

    let (head, body) = head_and_body(&http_exchange(nexus, b"GET /rdr/pprdr.asp\r\n\r\n").await);
    assert_eq!(
        head,
        [
            "HTTP/1.1 200 OK",
            "Server: Microsoft-IIS/6.0",
            "Date: *",
            "PassportURLs: DALogin=nexus.example.net/login2.srf,DARealm=Passport.Net,\
             DAReg=http://register.passport.net/uixpwiz.srf,Properties=https://register.passport.net/editprof.srf,\
             Privacy=http://www.passport.com/consumer/privacypolicy.asp,GeneralRedir=http://nexusrdr.passport.com/redir.asp,\
             Help=http://memberservices.passport.net/memberservice.srf,ConfigVersion=11",
            "Cache-control: private",
            "Connection: close",
            "Content-Type: text/html",
            "Content-Length: 0",
        ]
    );
    assert_eq!(body, "");

    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[("VER 1 MSNP9 MSNP8 CVR0", "VER 1 MSNP9")]).await;
    c.send(PECAN_CVR).await;
    c.line().await;
    c.send("USR 3 TWN I alice@hotmail.com").await;
    let policy = c.line().await;
    assert_policy(&policy, 3);
    let policy = policy.strip_prefix("USR 3 TWN S ").unwrap();
    // Pidgin's request, header for header.
    let login = |password: &str| {
        format!(
            "GET /login2.srf HTTP/1.1\r\nAuthorization: Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,\
             sign-in=alice%40hotmail.com,pwd={password},{policy}\r\nUser-Agent: MSMSGS\r\nHost: login.passport.com\r\n\
             Connection: Keep-Alive\r\nCache-Control: no-cache\r\n\r\n"
        )
    };
    let (head, _) = head_and_body(&http_exchange(nexus, login("wrong").as_bytes()).await);
    assert_eq!(head[0], "HTTP/1.1 401 Unauthorized");
    assert!(head.iter().any(|l| l.starts_with("WWW-Authenticate: Passport1.4 da-status=failed,")), "{head:?}");
    let (head, _) = head_and_body(&http_exchange(nexus, login("secret").as_bytes()).await);
    assert_eq!(head[0], "HTTP/1.1 200 OK");
    let info = head.iter().find_map(|l| l.strip_prefix("Authentication-Info: ")).expect("Authentication-Info");
    assert!(info.starts_with("Passport1.4 da-status=success,tname=MSPAuth,"), "{info}");
    let ticket = info.split("from-PP='").nth(1).unwrap().trim_end_matches('\'');

    c.send(&format!("USR 4 TWN S {ticket}")).await;
    c.expect("USR 4 OK alice@hotmail.com Alice 1 0").await;
    c.expect_payload("MSG Hotmail Hotmail ").await;
    c.send("SYN 5 0").await;
    for line in ["SYN 5 1 0 1", "GTC A", "BLP AL", "LSG 0 Other%20Contacts 0"] {
        c.expect(line).await;
    }
    c.exchange(&[("CHG 6 NLN 1073741856", "CHG 6 NLN 1073741856"), ("BLP 7 AL", "BLP 7 1 AL")]).await;
}

#[tokio::test]
async fn nexus_requests_name_the_host_asked_for_and_anything_else_is_refused_or_passed_on() {
    let server = TestServer::start().await;
    let nexus = server.running().address("http").unwrap();
    // Without a configured public host, a request without Host names the address it reached.
    let answer = http_exchange(nexus, b"GET /rdr/pprdr.asp\r\n").await;
    assert!(answer.contains(&format!("\r\nPassportURLs: DALogin={nexus}/login2.srf,DARealm=")), "{answer}");
    let answer = http_exchange(nexus, b"GET /rdr/pprdr.asp HTTP/1.0\r\nHost: nexus.passport.com\r\n\r\n").await;
    assert!(answer.contains("\r\nPassportURLs: DALogin=nexus.passport.com/login2.srf,DARealm="), "{answer}");
    // A client that strips "DALogin=" from the whole field asks for the login path with the
    // rest of the field (msnp11-sdk does): it is the login path still.
    let answer = http_exchange(nexus, b"GET /login2.srf,DARealm=Passport.Net,DAReg=http://x/y HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{answer}");

    assert!(http_exchange(nexus, b"\x16\x03\x01garbage\r\n\r\n").await.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(http_exchange(nexus, b"GET /nothing\r\n\r\n").await.starts_with("HTTP/1.1 404 Not Found\r\n"));
    let oversized = format!("POST /RST.srf HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 1 << 20);
    assert!(http_exchange(nexus, oversized.as_bytes()).await.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    // Paths that are not the nexus's go to the web service, which has no page there yet.
    let answer = http_exchange(nexus, b"GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
}

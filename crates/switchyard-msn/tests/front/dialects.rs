//! Transcripts of the later dialects: login per dialect (MD5 up to MSNP7, TWN through the nexus
//! from MSNP8), the three `SYN` formats, groups, GUIDs, names, challenges, personal messages.

use crate::support::{login_twn, Client, TestServer};
use switchyard_core::{AccountId, GroupId, RelationFlags};

fn contact_guid(id: AccountId) -> String {
    format!("00000000-0000-0000-0001-{:012x}", id.0)
}

fn group_guid(id: GroupId) -> String {
    format!("00000000-0000-0000-0002-{:012x}", id.0)
}

/// Alice (with Bob on her forward and allow lists, in group "Friends") and Carol, who has
/// Alice on her forward list; returns the ids and Alice's list version.
struct Fixture {
    server: TestServer,
    bob: AccountId,
    carol: AccountId,
    friends: GroupId,
    version: u32,
}

async fn fixture(challenges: bool) -> Fixture {
    let server = TestServer::start_with(|config| config.msn.challenges = challenges).await;
    let alice = server.add_user("alice", "secret", Some("Alice")).await;
    let bob = server.add_user("bob", "pw", None).await;
    let carol = server.add_user("carol", "pw", Some("Carol")).await;
    let store = server.store();
    store.set_relation(alice.id, bob.id, RelationFlags::FORWARD | RelationFlags::ALLOW, Some("Bob")).await.unwrap();
    store.set_relation(carol.id, alice.id, RelationFlags::FORWARD, Some("Alice")).await.unwrap();
    let (friends, _) = store.create_group(alice.id, "Friends").await.unwrap();
    store.set_contact_groups(alice.id, bob.id, &[friends.id]).await.unwrap();
    let version = store.list_settings(alice.id).await.unwrap().version;
    Fixture { server, bob: bob.id, carol: carol.id, friends: friends.id, version }
}

#[tokio::test]
async fn md5_dialects_shape_usr_ok_and_send_the_profile_from_msnp5() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice A")).await;
    let msn = server.msn();
    let handle = "alice@hotmail.com";
    Client::login_md5(msn, 3, handle, "secret", "USR 3 OK alice@hotmail.com Alice%20A").await;
    Client::login_md5(msn, 5, handle, "secret", "USR 3 OK alice@hotmail.com Alice%20A").await;
    let mut c = Client::login_md5(msn, 7, handle, "secret", "USR 3 OK alice@hotmail.com Alice%20A 1").await;
    c.exchange(&[("INF 4", "INF 4 MD5"), ("PNG", "QNG"), ("GCF 5 Shields.xml", "502 5")]).await;

    let mut c = Client::connect(msn).await;
    c.exchange(&[("VER 1 MSNP7", "VER 1 MSNP7"), ("USR 2 TWN I alice@hotmail.com", "911 2")]).await;
    let mut c = Client::connect(msn).await;
    c.exchange(&[("VER 1 MSNP8", "VER 1 MSNP8"), ("INF 2", "502 2"), ("USR 3 MD5 I alice@hotmail.com", "911 3")]).await;
}

#[tokio::test]
async fn msnp7_groups_lists_and_renames() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    let mut c =
        Client::login_md5(server.msn(), 7, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com Alice 1").await;
    let too_long = "x".repeat(62);
    c.exchange(&[
        ("ADG 4 Friends 0", "ADG 4 2 Friends 1 0"),
        ("ADD 5 FL bob@hotmail.com Bob 1", "ADD 5 FL 4 bob@hotmail.com Bob 1"),
        ("ADG 6 Friends 0", "228 6"),
        ("ADG 7 Other%20Contacts 0", "228 7"),
        (&format!("ADG 8 {too_long} 0"), "229 8"),
        ("RMG 9 0", "230 9"),
        ("RMG 10 99", "224 10"),
        ("ADD 11 FL bob@hotmail.com Bob 1", "215 11"),
        ("ADD 12 FL bob@hotmail.com Bob 0", "215 12"),
        ("REG 13 1 Pals 0", "REG 13 5 1 Pals 0"),
    ])
    .await;
    c.send("SYN 14 0").await;
    for line in [
        "SYN 14 5",
        "GTC 14 5 A",
        "BLP 14 5 AL",
        "LSG 14 5 1 2 0 Other%20Contacts 0",
        "LSG 14 5 2 2 1 Pals 0",
        "LST 14 FL 5 1 1 bob@hotmail.com Bob 1",
        "LST 14 AL 5 0 0",
        "LST 14 BL 5 0 0",
        "LST 14 RL 5 0 0",
    ] {
        c.expect(line).await;
    }
    c.send("LSG 15").await;
    c.expect("LSG 15 5 1 2 0 Other%20Contacts 0").await;
    c.expect("LSG 15 5 2 2 1 Pals 0").await;
    c.exchange(&[
        ("REM 16 FL bob@hotmail.com 1", "REM 16 FL 6 bob@hotmail.com 1"),
        ("REM 17 FL bob@hotmail.com 1", "225 17"),
        ("RMG 18 1", "RMG 18 7 1"),
        ("REA 19 alice@hotmail.com Ally", "REA 19 7 alice@hotmail.com Ally"),
        ("REA 20 bob@hotmail.com Robert", "REA 20 8 bob@hotmail.com Robert"),
    ])
    .await;
    // Thirty groups at most.
    for n in 1..=30 {
        c.send(&format!("ADG {} g{n} 0", 20 + n)).await;
        assert!(c.line().await.starts_with(&format!("ADG {} ", 20 + n)));
    }
    c.exchange(&[("ADG 51 g31 0", "223 51")]).await;
}

#[tokio::test]
async fn msnp8_logs_in_through_the_nexus_and_synchronizes_bitmask_lists() {
    let f = fixture(false).await;
    let server = &f.server;
    assert_eq!(server.passport_ticket("alice@hotmail.com", "wrong").await, Err(401));
    assert_eq!(server.passport_ticket("nobody@hotmail.com", "secret").await, Err(401));

    let mut c = login_twn(server, 8, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com Alice 1 0").await;
    c.exchange(&[
        (
            "CVR 4 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS alice@hotmail.com",
            "CVR 4 6.0.0602 6.0.0602 1.0.0000 http://localhost/download http://localhost/",
        ),
        ("INF 5", "502 5"),
        // The interval comes with MSNP9.
        ("PNG", "QNG"),
    ])
    .await;
    c.send("SYN 6 0").await;
    let v = f.version;
    let gid = f.friends.0;
    for line in [
        format!("SYN 6 {v} 2 2"),
        "GTC A".into(),
        "BLP AL".into(),
        "LSG 0 Other%20Contacts 0".into(),
        format!("LSG {gid} Friends 0"),
        format!("LST bob@hotmail.com Bob 3 {gid}"),
        "LST carol@hotmail.com Carol 8".into(),
    ] {
        c.expect(&line).await;
    }
    c.expect_nothing_pending(7).await;
}

#[tokio::test]
async fn one_account_holds_only_its_four_newest_tickets() {
    let f = fixture(false).await;
    let server = &f.server;
    let mut tickets = Vec::new();
    for _ in 0..6 {
        tickets.push(server.passport_ticket("alice@hotmail.com", "secret").await.unwrap());
    }
    let redeem = |ticket: String| async move {
        let mut c = Client::connect(server.msn()).await;
        c.exchange(&[("VER 1 MSNP9", "VER 1 MSNP9")]).await;
        c.send("USR 2 TWN I alice@hotmail.com").await;
        c.line().await;
        c.send(&format!("USR 3 TWN S {ticket}")).await;
        c.line().await
    };
    // The two oldest were replaced by newer ones; another account is not affected.
    assert_eq!(redeem(tickets[0].clone()).await, "911 3");
    assert_eq!(redeem(tickets[1].clone()).await, "911 3");
    assert!(redeem(tickets[2].clone()).await.starts_with("USR 3 OK alice@hotmail.com"));
    assert!(redeem(tickets[5].clone()).await.starts_with("USR 3 OK alice@hotmail.com"));
    assert!(server.passport_ticket("bob@hotmail.com", "pw").await.is_ok());
}

#[tokio::test]
async fn tickets_are_good_for_one_login_of_their_own_account() {
    let f = fixture(false).await;
    let server = &f.server;
    let ticket = server.passport_ticket("alice@hotmail.com", "secret").await.unwrap();
    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[("VER 1 MSNP9", "VER 1 MSNP9")]).await;
    c.send("USR 2 TWN I bob@hotmail.com").await;
    c.line().await;
    c.exchange(&[(&format!("USR 3 TWN S {ticket}"), "911 3")]).await;
    // The ticket was spent on the wrong account: it does not work for Alice either.
    c.send("USR 4 TWN I alice@hotmail.com").await;
    c.line().await;
    c.exchange(&[(&format!("USR 5 TWN S {ticket}"), "911 5")]).await;
    c.send("USR 6 TWN I alice@hotmail.com").await;
    c.line().await;
    c.send("USR 7 TWN S t=made-up&p=x").await;
    c.expect("911 7").await;
    c.expect_closed().await;
}

#[tokio::test]
async fn msnp10_names_contacts_and_groups_by_guid() {
    let f = fixture(false).await;
    let mut c = login_twn(&f.server, 10, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com 1 0").await;
    let (v, bob, carol, friends) = (f.version, contact_guid(f.bob), contact_guid(f.carol), group_guid(f.friends));
    c.send("SYN 4 0 0").await;
    for line in [
        format!("SYN 4 {v} {v} 2 1"),
        "GTC A".into(),
        "BLP AL".into(),
        "PRP MFN Alice".into(),
        format!("LSG Friends {friends}"),
        format!("LST N=bob@hotmail.com F=Bob C={bob} 3 {friends}"),
        // Carol added Alice, who has not answered: reverse and pending.
        "LST N=carol@hotmail.com F=Carol 24".into(),
    ] {
        c.expect(&line).await;
    }
    c.exchange(&[
        ("ADC 5 FL N=carol@hotmail.com F=Caz", &format!("ADC 5 FL N=carol@hotmail.com F=Caz C={carol}")),
        (&format!("ADC 6 FL C={carol} {friends}"), &format!("ADC 6 FL C={carol} {friends}")),
        (&format!("ADC 7 FL C={carol} {friends}"), "215 7"),
        (&format!("REM 8 FL {carol} {friends}"), &format!("REM 8 FL {carol} {friends}")),
        ("REM 9 PL carol@hotmail.com", "REM 9 PL carol@hotmail.com"),
        ("ADC 10 AL N=carol@hotmail.com", "ADC 10 AL N=carol@hotmail.com"),
        ("REM 11 PL carol@hotmail.com", "216 11"),
        (&format!("REM 12 FL {carol}"), &format!("REM 12 FL {carol}")),
        (&format!("REM 13 FL {carol}"), "216 13"),
        (&format!("SBP 14 {bob} MFN Bobby"), &format!("SBP 14 {bob} MFN Bobby")),
        ("PRP 15 MFN Ally", "PRP 15 MFN Ally"),
        ("GTC 16 N", "GTC 16 N"),
        ("BLP 17 BL", "BLP 17 BL"),
        ("REA 18 alice@hotmail.com Al", "502 18"),
        ("ADD 19 FL carol@hotmail.com Carol", "502 19"),
        ("LST 20 FL", "502 20"),
        ("RMG 21 0", "224 21"),
    ])
    .await;
    c.send("ADG 22 Work").await;
    let line = c.line().await;
    let work = line.rsplit(' ').next().unwrap().to_owned();
    assert!(line.starts_with("ADG 22 ") && line.ends_with(&format!(" Work {work}")) && work.len() == 36, "{line}");
    c.send(&format!("REG 23 {work} Jobs")).await;
    let line = c.line().await;
    assert!(line.starts_with("REG 23 ") && line.ends_with(&format!(" Jobs {work}")), "{line}");
    c.send(&format!("RMG 24 {work}")).await;
    let line = c.line().await;
    assert!(line.starts_with("RMG 24 ") && line.ends_with(&format!(" {work}")), "{line}");

    // What changed is what the next login sees; MSNP12 adds the network id.
    let mut c = login_twn(&f.server, 12, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com 1 0").await;
    c.send("SYN 4 0 0").await;
    let head = c.line().await;
    assert!(head.starts_with("SYN 4 ") && head.ends_with(" 2 1"), "{head}");
    for line in [
        "GTC N".into(),
        "BLP BL".into(),
        "PRP MFN Ally".into(),
        format!("LSG Friends {friends}"),
        format!("LST N=bob@hotmail.com F=Bobby C={bob} 3 1 {friends}"),
        // Off the forward list but on the allow list, Carol keeps the name Alice gave her.
        "LST N=carol@hotmail.com F=Caz 10 1".into(),
    ] {
        c.expect(&line).await;
    }
}

#[tokio::test]
async fn challenges_follow_the_first_chg_and_a_wrong_answer_disconnects() {
    let f = fixture(true).await;
    let server = &f.server;
    let chg_then_challenge = |mut c: Client, chg: &'static str| async move {
        c.exchange(&[(chg, chg)]).await;
        let line = c.line().await;
        let challenge = line.strip_prefix("CHL 0 ").expect("a challenge").to_owned();
        assert!(challenge.len() == 20 && challenge.bytes().all(|b| b.is_ascii_digit()), "{challenge}");
        (c, challenge)
    };
    let login = |dialect| login_twn(server, dialect, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com 1 0");

    let (mut c, challenge) = chg_then_challenge(login(11).await, "CHG 4 NLN 0").await;
    let answer = msnp::challenge::msnp11_answer(&challenge, "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL");
    c.send_raw(format!("QRY 5 PROD0090YUAUV{{2B 32\r\n{answer}").as_bytes()).await;
    c.expect("QRY 5").await;
    c.expect_nothing_pending(6).await;

    // The MSNP6-10 answer is not good enough for MSNP11.
    let (mut c, challenge) = chg_then_challenge(login(11).await, "CHG 4 NLN 0").await;
    let answer = msnp::challenge::md5_answer(&challenge, "Q1P7W2E4J9R8U3S5");
    c.send_raw(format!("QRY 5 msmsgs@msnmsgr.com 32\r\n{answer}").as_bytes()).await;
    c.expect("540 5").await;
    c.expect_closed().await;

    let (mut c, challenge) = chg_then_challenge(
        Client::login_md5(server.msn(), 6, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com Alice 1").await,
        "CHG 4 NLN",
    )
    .await;
    let answer = msnp::challenge::md5_answer(&challenge, "Q1P7W2E4J9R8U3S5");
    c.send_raw(format!("QRY 5 msmsgs@msnmsgr.com 32\r\n{answer}").as_bytes()).await;
    c.expect("QRY 5").await;

    // Unanswered, the challenge closes the connection after a minute.
    let (mut c, _) = chg_then_challenge(login(10).await, "CHG 4 NLN 0").await;
    tokio::time::pause();
    c.expect_closed_within(std::time::Duration::from_secs(120)).await;
}

#[tokio::test]
async fn personal_messages_configuration_and_urls_in_msnp11() {
    let f = fixture(false).await;
    let store = f.server.store();
    let alice = store.account_by_name(&switchyard_core::AccountName::new("alice").unwrap()).await.unwrap().unwrap();
    store.set_relation(f.bob, alice.id, RelationFlags::FORWARD | RelationFlags::ALLOW, Some("Alice")).await.unwrap();
    let ok = |handle: &str| format!("USR 3 OK {handle} 1 0");
    let mut bob = login_twn(&f.server, 11, "bob@hotmail.com", "pw", &ok("bob@hotmail.com")).await;
    bob.exchange(&[("CHG 4 NLN 0", "CHG 4 NLN 0")]).await;
    let mut alice = login_twn(&f.server, 11, "alice@hotmail.com", "secret", &ok("alice@hotmail.com")).await;
    alice.exchange(&[("CHG 4 AWY 268435492", "CHG 4 AWY 268435492")]).await;
    alice.expect("ILN 4 NLN bob@hotmail.com bob@hotmail.com 0").await;
    bob.expect("NLN AWY alice@hotmail.com Alice 268435492").await;
    assert_eq!(
        bob.expect_payload("UBX alice@hotmail.com ").await,
        "<Data><PSM></PSM><CurrentMedia></CurrentMedia></Data>"
    );

    let psm = "<Data><PSM>back &amp; forth</PSM><CurrentMedia></CurrentMedia></Data>";
    alice.send_raw(format!("UUX 5 {}\r\n{psm}", psm.len()).as_bytes()).await;
    alice.expect("UUX 5 0").await;
    bob.expect("NLN AWY alice@hotmail.com Alice 268435492").await;
    assert_eq!(bob.expect_payload("UBX alice@hotmail.com ").await, psm);

    alice.send("GCF 6 Shields.xml").await;
    assert!(alice.expect_payload("GCF 6 Shields.xml ").await.contains("<shield>"));
    alice.exchange(&[("URL 7 INBOX", "URL 7 /inbox http://localhost/inbox 2")]).await;
}

#[tokio::test]
async fn cvr_answers_with_the_configured_versions_and_pages() {
    let server = TestServer::start_with(|config| {
        config.msn.client_versions = switchyard_msn::ClientVersions {
            recommended: Some("7.5.0324".into()),
            minimum: "5.0.0540".into(),
            download_url: "http://example.invalid/get".into(),
            info_url: "http://example.invalid/about".into(),
        };
    })
    .await;
    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[
        ("CVR 1 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS", "715 1"),
        ("VER 2 MSNP9 CVR0", "VER 2 MSNP9"),
        (
            "CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS alice@hotmail.com",
            "CVR 3 7.5.0324 7.5.0324 5.0.0540 http://example.invalid/get http://example.invalid/about",
        ),
        ("CVR 4 0x0409 winnt", "200 4"),
    ])
    .await;
}

#[tokio::test]
async fn malformed_later_commands_get_errors_and_oversized_payloads_close() {
    let f = fixture(false).await;
    let mut c = login_twn(&f.server, 11, "alice@hotmail.com", "secret", "USR 3 OK alice@hotmail.com 1 0").await;
    c.exchange(&[
        ("ADC 4 FL X=alice", "201 4"),
        ("ADC 5 FL N=nobody@hotmail.com F=Nobody", "205 5"),
        ("ADC 6 XL N=bob@hotmail.com", "201 6"),
        ("REM 7 FL not-a-guid", "216 7"),
        ("ADG 8", "200 8"),
        ("RMG 9 00000000-0000-0000-0002-00000000ffff", "224 9"),
        ("SBP 10 00000000-0000-0000-0001-000000000001", "200 10"),
        ("PRP 11 XYZ value", "201 11"),
        ("CHG 12 NLN notanumber", "201 12"),
        ("URL 13", "200 13"),
    ])
    .await;
    c.send_raw(b"UUX 14 7\r\n<Dat").await;
    c.send_raw(b"a/>").await;
    c.expect("UUX 14 0").await;
    // A payload length over the limit is a framing error: the connection is closed.
    c.send_raw(b"UUX 15 999999\r\n").await;
    c.expect_closed().await;
}

//! Command bodies both ways: the worked examples byte for byte, round trips of every type, and
//! whole datagrams through assembly and splitting.

use myicq::client::{Login, ModifyUser, Request, SearchCustom};
use myicq::codes::{cmd, login, msg};
use myicq::datagram::{client_datagram, split_client, DatagramError, MAX_DATAGRAM};
use myicq::info::UserInfo;
use myicq::server::{LoginReply, OnlineContact, SearchResult, ServerPacket};
use myicq::{BodyCipher, ClientHeader};
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn the_worked_login_and_its_reply() {
    let body = hex("0008 616c696365707700 00000000 0001 c0a80105 7ffd");
    let login = Request::Login(Login {
        password: b"alicepw".to_vec(),
        status: 0,
        tcp_version: 1,
        real_ip: 0xc0a8_0105,
        msg_port: 0x7ffd,
    });
    assert_eq!(Request::parse(cmd::LOGIN, &body), login);
    assert_eq!(login.encode(), body);
    let reply = ServerPacket::Login(LoginReply::Success { ip: 0xcb00_7107, online: 2 });
    assert_eq!(reply.encode(), hex("00 cb007107 00000002"));
}

#[test]
fn the_worked_send_msg_datagram() {
    let header = ClientHeader { ver: 1, uin: 10002, sid: 0x47f3_a5a1, cmd: cmd::SEND_MSG, seq: 0x33b4, cc: 0 };
    let text = hex("6869ffcbcecce5ff39ff30ff30");
    let request = Request::SendMessage { kind: msg::TEXT, to: 10001, text };
    let datagram = client_datagram(header, &request.encode(), &BodyCipher::new(b"alicepw"), 8);
    let expected = hex("0001 00000000 00002712 47f3a5a1 000b 33b4 0869
         3d0d2b9a2f116def fcd5860645b3780c cb1ea5c45ec43df9");
    assert_eq!(datagram, expected);
    let (parsed, sealed) = split_client(&datagram).unwrap();
    let plain = BodyCipher::new(b"alicepw").open(sealed, parsed.cc).unwrap();
    assert_eq!(Request::parse(parsed.cmd, &plain), request, "the zero padding reads as nothing");
}

#[test]
fn datagram_limits() {
    assert_eq!(split_client(&[0; 19]), Err(DatagramError::TooShort));
    assert_eq!(split_client(&vec![0; MAX_DATAGRAM + 1]), Err(DatagramError::TooLong));
    let mut wrong_version = vec![0; 20];
    wrong_version[1] = 2;
    assert_eq!(split_client(&wrong_version), Err(DatagramError::BadVersion(2)));
}

#[test]
fn short_bodies_read_as_zeros_and_empty_strings() {
    assert_eq!(Request::parse(cmd::SEND_MSG, &[3]), Request::SendMessage { kind: 3, to: 0, text: vec![] });
    assert_eq!(
        Request::parse(cmd::SEARCH_CUSTOM, &[]),
        Request::SearchCustom(SearchCustom::Fields { nick: String::new(), email: String::new(), start_uin: 0 })
    );
    assert_eq!(ServerPacket::parse(cmd::LOGIN, &[login::WRONG_PASSWD]), ServerPacket::Login(LoginReply::Refused(2)));
    // A count larger than what follows stops where the body ends.
    assert_eq!(
        ServerPacket::parse(cmd::GET_CONTACTLIST, &hex("00ff 00002711")),
        ServerPacket::ContactList { uins: vec![10001] }
    );
}

#[test]
fn long_profiles_still_fit_a_datagram() {
    let long = "长".repeat(500);
    let info = UserInfo { nick: long.clone(), intro: long.clone(), email: long.clone(), ..all_fields(long) };
    let body = ServerPacket::UpdateUser { info, auth: 1 }.encode();
    assert!(20 + body.len() <= MAX_DATAGRAM, "{} bytes", body.len());
}

fn all_fields(text: String) -> UserInfo {
    UserInfo {
        country: text.clone(),
        province: text.clone(),
        city: text.clone(),
        address: text.clone(),
        zipcode: text.clone(),
        tel: text.clone(),
        name: text.clone(),
        college: text.clone(),
        occupation: text.clone(),
        homepage: text,
        ..UserInfo::default()
    }
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .@你好世界宋体]{0,12}"
}

fn raw() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40)
}

fn info() -> impl Strategy<Value = UserInfo> {
    (any::<[u8; 4]>(), proptest::collection::vec(text(), 13)).prop_map(|([face, age, gender, blood], t)| UserInfo {
        face,
        nick: t[0].clone(),
        age,
        gender,
        country: t[1].clone(),
        province: t[2].clone(),
        city: t[3].clone(),
        email: t[4].clone(),
        address: t[5].clone(),
        zipcode: t[6].clone(),
        tel: t[7].clone(),
        name: t[8].clone(),
        blood,
        college: t[9].clone(),
        occupation: t[10].clone(),
        homepage: t[11].clone(),
        intro: t[12].clone(),
    })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        raw().prop_map(|password| Request::NewUin { password }),
        (raw(), any::<u32>(), any::<u16>(), any::<u32>(), any::<u16>()).prop_map(|(password, status, v, ip, port)| {
            Request::Login(Login { password, status, tcp_version: v, real_ip: ip, msg_port: port })
        }),
        any::<u32>().prop_map(|random| Request::KeepAlive { random }),
        any::<u32>().prop_map(|status| Request::ChangeStatus { status }),
        any::<u32>().prop_map(|uin| Request::UpdateContact { uin }),
        (info(), any::<u8>(), proptest::option::of(raw())).prop_map(|(info, auth, new_password)| {
            Request::ModifyUser(Box::new(ModifyUser { info, auth, new_password }))
        }),
        (any::<u8>(), any::<u32>(), raw()).prop_map(|(kind, to, text)| Request::SendMessage { kind, to, text }),
        (1..=u32::MAX).prop_map(|uin| Request::SearchCustom(SearchCustom::Uin(uin))),
        (text(), text(), any::<u32>()).prop_map(|(nick, email, start_uin)| Request::SearchCustom(
            SearchCustom::Fields { nick, email, start_uin }
        )),
        any::<u32>().prop_map(|uin| Request::AddFriend { uin }),
        any::<u32>().prop_map(|uin| Request::DelFriend { uin }),
        (any::<u8>(), raw()).prop_map(|(kind, text)| Request::Broadcast { kind, text }),
        Just(Request::GetContactList),
        Just(Request::UpdateUser),
        Just(Request::SearchRandom),
        Just(Request::Logout),
    ]
}

fn contact() -> impl Strategy<Value = OnlineContact> {
    (any::<u32>(), any::<u32>(), any::<u32>(), any::<u16>(), any::<u32>())
        .prop_map(|(uin, status, ip, port, real_ip)| OnlineContact { uin, status, ip, port, real_ip })
}

fn server_packet() -> impl Strategy<Value = ServerPacket> {
    prop_oneof![
        (any::<u32>(), text()).prop_map(|(uin, domain)| ServerPacket::NewUin { uin, domain }),
        (any::<u32>(), any::<u32>()).prop_map(|(ip, online)| ServerPacket::Login(LoginReply::Success { ip, online })),
        (1..=u8::MAX).prop_map(|code| ServerPacket::Login(LoginReply::Refused(code))),
        proptest::collection::vec(any::<u32>(), 0..50).prop_map(|uins| ServerPacket::ContactList { uins }),
        any::<u32>().prop_map(|online| ServerPacket::KeepAlive { online }),
        (any::<u32>(), info()).prop_map(|(uin, info)| ServerPacket::UpdateContact { uin, info }),
        (info(), any::<u8>()).prop_map(|(info, auth)| ServerPacket::UpdateUser { info, auth }),
        (any::<u32>(), any::<u8>()).prop_map(|(uin, result)| ServerPacket::AddFriend { uin, result }),
        contact().prop_map(ServerPacket::UserOnline),
        any::<u32>().prop_map(|uin| ServerPacket::UserOffline { uin }),
        proptest::collection::vec(contact(), 0..48).prop_map(ServerPacket::MultiOnline),
        (any::<u32>(), any::<u32>()).prop_map(|(uin, status)| ServerPacket::StatusChanged { uin, status }),
        (any::<u8>(), any::<u32>(), any::<u32>(), raw()).prop_map(|(kind, from, time, text)| ServerPacket::Message {
            kind,
            from,
            time,
            text
        }),
        proptest::collection::vec(
            (any::<u32>(), any::<bool>(), any::<u8>(), text(), text())
                .prop_map(|(uin, online, face, nick, province)| SearchResult { uin, online, face, nick, province }),
            0..25
        )
        .prop_map(ServerPacket::Search),
        text().prop_map(|domain| ServerPacket::RemoteContactList { domain }),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in request()) {
        prop_assert_eq!(Request::parse(request.cmd(), &request.encode()), request);
    }

    #[test]
    fn requests_survive_encryption(request in request(), password in raw(), index in any::<usize>()) {
        let header = ClientHeader { ver: 1, uin: 10001, sid: 1, cmd: request.cmd(), seq: 1, cc: 0 };
        let cipher = BodyCipher::new(&password);
        let datagram = client_datagram(header, &request.encode(), &cipher, index);
        let (parsed, body) = split_client(&datagram).unwrap();
        let plain = if cmd::is_plain(parsed.cmd) { body.to_vec() } else { cipher.open(body, parsed.cc).unwrap() };
        prop_assert_eq!(Request::parse(parsed.cmd, &plain), request);
    }

    #[test]
    fn server_packets_round_trip(packet in server_packet()) {
        prop_assert_eq!(ServerPacket::parse(packet.cmd(), &packet.encode()), packet);
    }

    #[test]
    fn any_body_parses_without_panic(command in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Request::parse(command, &body);
        let _ = ServerPacket::parse(command, &body);
    }
}

//! Byte-exact vectors from the project's MRIM notes (`shared/protocols/mrim.md`) and the
//! captured pidgin-mra session, which the crate carries in `tests/data/`.

use bytes::{Bytes, BytesMut};
use mrim::client::{Login, Password, StatusInfo};
use mrim::codes::{message_flag, msg};
use mrim::server::{Contact, ContactList, Group};
use mrim::{ClientPacket, Dialect, Packet, PacketDecoder, ServerPacket};

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
}

/// A header as the document writes it: magic, proto, seq, msg, dlen, then 24 zero bytes.
fn header(proto: u32, seq: u32, code: u32, dlen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0xDEAD_BEEF, proto, seq, code, dlen] {
        out.extend_from_slice(&u32::to_le_bytes(word));
    }
    out.extend_from_slice(&[0; 24]);
    out
}

fn lps(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

fn decode_one(bytes: &[u8]) -> Packet {
    let mut buf = BytesMut::from(bytes);
    let packet = PacketDecoder::default().decode(&mut buf).unwrap().expect("a whole packet");
    assert!(buf.is_empty());
    packet
}

const V1_7: Dialect = Dialect::V1_7;
const V1_8: Dialect = Dialect { major: 1, minor: 8 };

#[test]
fn hello_and_hello_ack() {
    let hello = decode_one(&hex(
        "efbeadde 07000100 01000000 01100000 00000000 00000000 00000000 00000000000000000000000000000000",
    ));
    assert_eq!((hello.header.seq, hello.header.msg), (1, msg::HELLO));
    assert_eq!(ClientPacket::decode(&hello, V1_7), ClientPacket::Hello);
    let ack = ServerPacket::HelloAck { ping_period: 30, server_time: 0 };
    let mut expected = header(0x0001_0007, 0, msg::HELLO_ACK, 4);
    expected.extend_from_slice(&hex("1e000000"));
    assert_eq!(ack.to_vec(V1_7, 0), expected);

    let v1_21 = Dialect { major: 1, minor: 21 };
    let ack = ServerPacket::HelloAck { ping_period: 30, server_time: 0x6000_0000 }.to_vec(v1_21, 0);
    let mut expected = header(0x0001_0015, 0, msg::HELLO_ACK, 12);
    expected.extend_from_slice(&hex("1e000000 00000060 00000000"));
    assert_eq!(ack, expected);
}

#[test]
fn login2_1_7_and_its_answers() {
    let mut bytes = header(0x0001_0007, 2, msg::LOGIN2, 0x3c);
    bytes.extend(lps(b"alice@mail.ru"));
    bytes.extend(lps(b"secret1"));
    bytes.extend(hex("01000000"));
    bytes.extend(lps(b"MRIM research client 0.1"));
    let login = ClientPacket::decode(&decode_one(&bytes), V1_7);
    assert_eq!(
        login,
        ClientPacket::Login(Login {
            login: "alice@mail.ru".into(),
            password: Password::Plain("secret1".into()),
            status: StatusInfo { status: 1, ..StatusInfo::default() },
            user_agent: "MRIM research client 0.1".into(),
            language: String::new(),
        })
    );
    assert_eq!(ServerPacket::LoginAck.to_vec(V1_7, 2), header(0x0001_0007, 2, msg::LOGIN_ACK, 0));
    let mut rej = header(0x0001_0007, 2, msg::LOGIN_REJ, 0x11);
    rej.extend(lps(b"Invalid login"));
    assert_eq!(ServerPacket::LoginRej { reason: "Invalid login".into() }.to_vec(V1_7, 2), rej);
}

#[test]
fn contact_list_user_status_and_logout_1_7() {
    let list = ServerPacket::ContactList2(ContactList {
        status: 0,
        groups: vec![Group { flags: 0, name: "General".into() }],
        contacts: vec![Contact { email: "bob@mail.ru".into(), nickname: "Bob".into(), ..Contact::default() }],
    });
    let mut expected = header(0x0001_0007, 5, msg::CONTACT_LIST2, 0x4d);
    expected.extend(hex("00000000 01000000"));
    expected.extend(lps(b"us"));
    expected.extend(lps(b"uussuu"));
    expected.extend(hex("02000000"));
    expected.truncate(expected.len() - 4);
    expected.extend(hex("00000000"));
    expected.extend(lps(b"General"));
    expected.extend(hex("00000000 00000000"));
    expected.extend(lps(b"bob@mail.ru"));
    expected.extend(lps(b"Bob"));
    expected.extend(hex("00000000 00000000"));
    assert_eq!(list.to_vec(V1_7, 5), expected);

    let status = ServerPacket::UserStatus {
        status: StatusInfo { status: 1, ..StatusInfo::default() },
        email: "bob@mail.ru".into(),
        user_agent: String::new(),
    };
    let mut expected = header(0x0001_0007, 0, msg::USER_STATUS, 0x13);
    expected.extend(hex("01000000"));
    expected.extend(lps(b"bob@mail.ru"));
    assert_eq!(status.to_vec(V1_7, 0), expected);

    let mut expected = header(0x0001_0007, 0, msg::LOGOUT, 4);
    expected.extend(hex("10000000"));
    assert_eq!(ServerPacket::Logout { reason: 0x10 }.to_vec(V1_7, 0), expected);
}

#[test]
fn message_in_cp1251_and_its_status() {
    let text = "Привет, Bob! hello from alice";
    let cp1251 = mrim::text::to_cp1251(text);
    assert_eq!(cp1251.len(), 0x1d);
    let mut bytes = header(0x0001_0007, 3, msg::MESSAGE, 0x38);
    bytes.extend(hex("00000000"));
    bytes.extend(lps(b"bob@mail.ru"));
    bytes.extend(lps(&cp1251));
    bytes.extend(hex("00000000"));
    let ClientPacket::Message(message) = ClientPacket::decode(&decode_one(&bytes), V1_7) else { panic!() };
    assert_eq!((message.flags, message.to, message.text), (0, vec!["bob@mail.ru".to_owned()], text.to_owned()));

    let mut expected = header(0x0001_0007, 3, msg::MESSAGE_STATUS, 4);
    expected.extend(hex("00000000"));
    assert_eq!(ServerPacket::MessageStatus { status: 0 }.to_vec(V1_7, 3), expected);
}

#[test]
fn delete_offline_message_carries_the_uidl() {
    let mut bytes = header(0x0001_0007, 9, msg::DELETE_OFFLINE_MESSAGE, 8);
    bytes.extend(hex("0500000000000000"));
    assert_eq!(
        ClientPacket::decode(&decode_one(&bytes), V1_7),
        ClientPacket::DeleteOfflineMessage { uidl: [5, 0, 0, 0, 0, 0, 0, 0] }
    );
}

#[test]
fn unicode_dialects_use_utf16_and_flag_it() {
    let v1_16 = Dialect { major: 1, minor: 16 };
    let ack = ServerPacket::MessageAck(mrim::server::MessageAck {
        msg_id: 7,
        flags: message_flag::NORECV,
        from: "bob@mail.ru".into(),
        text: "Привет".into(),
        rtf: Vec::new(),
    });
    let bytes = ack.to_vec(v1_16, 1);
    let packet = decode_one(&bytes);
    let mut body = mrim::wire::Reader::new(packet.body);
    assert_eq!(body.u32(), 7);
    assert_eq!(body.u32(), message_flag::NORECV | message_flag::UNICODE);
    assert_eq!(body.lps(), Bytes::from_static(b"bob@mail.ru"));
    assert_eq!(mrim::text::from_utf16le(&body.lps()), "Привет");
    // The same packet for 1.7 is CP1251 without an encoding flag.
    let packet = decode_one(&ack.to_vec(V1_7, 1));
    let mut body = mrim::wire::Reader::new(packet.body);
    body.u32();
    assert_eq!(body.u32(), message_flag::NORECV);
}

/// The real client's packets, with uninitialised memory in the header's unused fields.
#[test]
fn the_captured_pidgin_mra_session() {
    let log =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mrim-pidgin-mra-session.hexlog"))
            .expect("the capture the crate carries");
    let (mut client, mut server) = (Vec::new(), Vec::new());
    for line in log.lines() {
        let bytes = hex(line.split_whitespace().last().unwrap());
        if line.starts_with("pidgin-mra >>") {
            client.push(decode_one(&bytes));
        } else {
            server.push(bytes);
        }
    }
    let decoded: Vec<ClientPacket> = client.iter().map(|p| ClientPacket::decode(p, V1_8)).collect();
    assert_eq!(decoded[0], ClientPacket::Hello);
    let ClientPacket::Login(login) = &decoded[1] else { panic!("{:?}", decoded[1]) };
    assert_eq!((login.login.as_str(), &login.password), ("alice@mail.ru", &Password::Plain("secret1".into())));
    assert_eq!((login.status.status, login.user_agent.as_str()), (1, "pidgin-mra 0.1.4"));
    let ClientPacket::MessageRecv { from, .. } = &decoded[2] else { panic!("{:?}", decoded[2]) };
    assert_eq!(from, "bob@mail.ru");
    let ClientPacket::Message(message) = &decoded[3] else { panic!("{:?}", decoded[3]) };
    assert_eq!(message.to, vec!["bob@mail.ru".to_owned()]);
    assert_eq!(message.text, "hello bob, from pidgin-mra via bitlbee");
    assert_eq!(client[3].header.seq, 3);

    // What we send for the same steps matches what that client accepted, byte for byte.
    assert_eq!(ServerPacket::HelloAck { ping_period: 30, server_time: 0 }.to_vec(V1_8, 0), server[0]);
    assert_eq!(ServerPacket::LoginAck.to_vec(V1_8, 1), server[1]);
    // The server that client was captured against marks groups with CONTACT_FLAG_GROUP.
    let contacts = ContactList {
        status: 0,
        groups: vec![Group { flags: mrim::codes::contact_flag::GROUP, name: "General".into() }],
        contacts: vec![
            Contact {
                email: "bob@mail.ru".into(),
                nickname: "Bob".into(),
                status: StatusInfo { status: 1, ..StatusInfo::default() },
                ..Contact::default()
            },
            Contact { email: "synzr@mail.ru".into(), nickname: "Synzr".into(), ..Contact::default() },
        ],
    };
    assert_eq!(ServerPacket::ContactList2(contacts).to_vec(V1_8, 1), server[3]);
    assert_eq!(ServerPacket::MessageStatus { status: 0 }.to_vec(V1_8, 3), server[4]);
}

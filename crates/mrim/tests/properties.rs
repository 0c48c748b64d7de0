use bytes::BytesMut;
use mrim::header::{Header, HEADER_LEN};
use mrim::{ClientPacket, DecodeError, Dialect, Packet, PacketDecoder, ServerPacket};
use proptest::prelude::*;

fn packet() -> impl Strategy<Value = (Header, Vec<u8>)> {
    (any::<u32>(), any::<u32>(), 0x1000u32..0x1100, prop::collection::vec(any::<u8>(), 0..400))
        .prop_map(|(proto, seq, msg, body)| (Header { proto, seq, msg, dlen: body.len() as u32 }, body))
}

fn encode(packets: &[(Header, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (header, body) in packets {
        header.encode(&mut out);
        out.extend_from_slice(body);
    }
    out
}

fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<(Header, Vec<u8>)> {
    let decoder = PacketDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(Packet { header, body }) = decoder.decode(&mut buf).unwrap() {
            out.push((header, body.to_vec()));
        }
    }
    assert!(buf.is_empty());
    out
}

proptest! {
    #[test]
    fn packets_split_at_every_byte_boundary_decode_the_same(packets in prop::collection::vec(packet(), 1..4)) {
        let bytes = encode(&packets);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            prop_assert_eq!(&decode_chunks([a, b]), &packets);
        }
    }

    #[test]
    fn coalesced_packets_in_random_chunks(packets in prop::collection::vec(packet(), 1..10), size in 1usize..100) {
        let bytes = encode(&packets);
        prop_assert_eq!(decode_chunks(bytes.chunks(size)), packets);
    }

    #[test]
    fn any_body_of_any_packet_decodes_without_panic(
        msg in 0x1000u32..0x1100, minor in 0u16..30, body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let header = Header { proto: 0x0001_0000 | u32::from(minor), seq: 1, msg, dlen: body.len() as u32 };
        let packet = Packet { header, body: body.into() };
        let _ = ClientPacket::decode(&packet, Dialect::from_proto(header.proto));
    }

    #[test]
    fn unicode_text_round_trips(text in "\\PC{0,80}") {
        prop_assert_eq!(mrim::text::from_utf16le(&mrim::text::to_utf16le(&text)), text);
    }

    #[test]
    fn cp1251_round_trips_its_repertoire(text in "[a-zA-Z0-9 А-Яа-яЁё.,!?-]{0,80}") {
        prop_assert_eq!(mrim::text::from_cp1251(&mrim::text::to_cp1251(&text)), text);
    }
}

#[test]
fn bad_magic_and_oversized_bodies_are_fatal() {
    let decoder = PacketDecoder::new(1000);
    let mut garbage = BytesMut::from(&b"GET / HTTP/1.0\r\n"[..]);
    assert_eq!(decoder.decode(&mut garbage), Err(DecodeError::BadMagic));
    let mut big = Vec::new();
    Header { proto: 0x10007, seq: 1, msg: 0x1008, dlen: 1001 }.encode(&mut big);
    assert_eq!(decoder.decode(&mut BytesMut::from(&big[..])), Err(DecodeError::TooLarge(1001)));
    // A partial header waits for more, once its first bytes look right.
    let mut partial = BytesMut::from(&big[..HEADER_LEN - 1]);
    assert_eq!(decoder.decode(&mut partial), Ok(None));
}

/// Versions whose layouts carry every field both directions know (1.16+: UTF-16LE, extended
/// status, the full contact mask from 1.20).
fn modern() -> impl Strategy<Value = Dialect> {
    prop_oneof![Just(16u16), Just(20), Just(22)].prop_map(|minor| Dialect { major: 1, minor })
}

fn address() -> impl Strategy<Value = String> {
    "[a-z0-9._-]{1,12}@(mail|bk|inbox)\\.ru"
}

fn status_info() -> impl Strategy<Value = mrim::client::StatusInfo> {
    (any::<u32>(), "[a-z]{0,8}", "\\PC{0,20}", "\\PC{0,20}", any::<u32>()).prop_map(
        |(status, uri, title, description, features)| mrim::client::StatusInfo {
            status,
            uri,
            title,
            description,
            features,
        },
    )
}

fn client_packet() -> impl Strategy<Value = ClientPacket> {
    use mrim::client::{AddContact, Login, Message, Password};
    prop_oneof![
        Just(ClientPacket::Hello),
        Just(ClientPacket::Ping),
        (address(), "[ -~]{1,16}", status_info(), "[ -~]{0,20}", "[a-z]{2}").prop_map(
            |(login, password, status, user_agent, language)| {
                ClientPacket::Login(Login { login, password: Password::Plain(password), status, user_agent, language })
            }
        ),
        (any::<u32>(), address(), "\\PC{1,60}").prop_map(|(flags, to, text)| {
            let flags = (flags & !(mrim::codes::message_flag::MULTICAST | mrim::codes::message_flag::CP1251))
                | mrim::codes::message_flag::UNICODE;
            ClientPacket::Message(Message { flags, to: vec![to], text, rtf: Default::default() })
        }),
        (address(), any::<u32>()).prop_map(|(from, msg_id)| ClientPacket::MessageRecv { from, msg_id }),
        (any::<u32>(), 0u32..20, address(), "\\PC{0,20}").prop_map(|(flags, group_id, email, name)| {
            ClientPacket::AddContact(AddContact {
                flags,
                group_id,
                email,
                name,
                phones: String::new(),
                auth_text: Default::default(),
            })
        }),
        address().prop_map(|user| ClientPacket::Authorize { user }),
        status_info().prop_map(ClientPacket::ChangeStatus),
        any::<[u8; 8]>().prop_map(|uidl| ClientPacket::DeleteOfflineMessage { uidl }),
    ]
}

fn server_packet() -> impl Strategy<Value = ServerPacket> {
    use mrim::server::{Contact, ContactList, Group, MessageAck};
    let contact = (any::<u32>(), 0u32..20, address(), "\\PC{0,20}", any::<u32>(), status_info(), "[ -~]{0,16}")
        .prop_map(|(flags, group, email, nickname, server_flags, status, user_agent)| Contact {
            flags,
            group,
            email,
            nickname,
            server_flags,
            status,
            phones: String::new(),
            user_agent,
        });
    let group = (any::<u32>(), "\\PC{0,20}").prop_map(|(flags, name)| Group { flags, name });
    prop_oneof![
        Just(ServerPacket::LoginAck),
        "[ -~]{0,30}".prop_map(|reason| ServerPacket::LoginRej { reason }),
        (any::<u32>(), any::<u32>(), address(), "\\PC{0,60}").prop_map(|(msg_id, flags, from, text)| {
            let flags = flags & !(mrim::codes::message_flag::UNICODE | mrim::codes::message_flag::CP1251);
            ServerPacket::MessageAck(MessageAck { msg_id, flags, from, text, rtf: vec![] })
        }),
        any::<u32>().prop_map(|status| ServerPacket::MessageStatus { status }),
        (status_info(), address(), "[ -~]{0,20}").prop_map(|(status, email, user_agent)| ServerPacket::UserStatus {
            status,
            email,
            user_agent
        }),
        any::<u32>().prop_map(|reason| ServerPacket::Logout { reason }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(status, contact_id)| ServerPacket::AddContactAck { status, contact_id }),
        (any::<[u8; 8]>(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(uidl, message)| ServerPacket::OfflineMessageAck { uidl, message }),
        address().prop_map(|user| ServerPacket::AuthorizeAck { user }),
        (any::<u32>(), prop::collection::vec(group, 0..4), prop::collection::vec(contact, 0..4)).prop_map(
            |(status, groups, contacts)| ServerPacket::ContactList2(ContactList { status, groups, contacts })
        ),
        ("\\PC{0,20}", any::<u32>(), any::<u32>(), "[0-9.:]{0,21}").prop_map(|(nickname, total, unread, endpoint)| {
            ServerPacket::UserInfo { nickname, total, unread, endpoint }
        }),
    ]
}

fn one_packet(bytes: Vec<u8>) -> Packet {
    let decoded = decode_chunks([&bytes[..]]);
    assert_eq!(decoded.len(), 1);
    let (header, body) = decoded.into_iter().next().unwrap();
    Packet { header, body: body.into() }
}

proptest! {
    #[test]
    fn client_packets_round_trip(packet in client_packet(), dialect in modern(), seq in any::<u32>()) {
        let decoded = one_packet(packet.to_vec(dialect, seq));
        prop_assert_eq!(decoded.header.seq, seq);
        prop_assert_eq!(ClientPacket::decode(&decoded, dialect), packet);
    }

    #[test]
    fn server_packets_round_trip(packet in server_packet(), dialect in modern(), seq in any::<u32>()) {
        let decoded = one_packet(packet.to_vec(dialect, seq));
        let expected = match packet {
            // The encoder marks the text's encoding.
            ServerPacket::MessageAck(mut ack) => {
                ack.flags |= mrim::codes::message_flag::UNICODE;
                ServerPacket::MessageAck(ack)
            }
            other => other,
        };
        prop_assert_eq!(ServerPacket::decode(&decoded, dialect), expected);
    }

    #[test]
    fn any_server_body_decodes_without_panic(
        msg in 0x1000u32..0x1100, minor in 0u16..30, body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let header = Header { proto: 0x0001_0000 | u32::from(minor), seq: 1, msg, dlen: body.len() as u32 };
        let packet = Packet { header, body: body.into() };
        let _ = ServerPacket::decode(&packet, Dialect::from_proto(header.proto));
    }
}

//! Both directions round-trip: what a client encodes the server parses to the same command, and
//! what the server encodes in a dialect a client parses, in that dialect, to the same reply.

use bytes::{Bytes, BytesMut};
use msnp::command::{AckMode, AuthStage, ContactRef, PrivacyMode, PromptMode};
use msnp::{
    Dialect, Direction, ErrorCode, Frame, FrameDecoder, GroupRef, Limits, List, MsnStatus, NsCommand, OwnedReply,
    PresenceExtras, SbCommand, ServerMessage, UsrOkShape,
};
use proptest::prelude::*;
use proptest::strategy::Union;

fn trid() -> impl Strategy<Value = u32> {
    any::<u32>()
}

fn handle() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._-]{0,10}@[a-z]{1,8}\\.(com|net|ru)"
}

/// A friendly name: any printable text, spaces and non-ASCII included (it is URL-encoded).
fn friendly() -> impl Strategy<Value = String> {
    "\\PC{1,20}"
}

/// A word with no spaces that is not a number and carries no `N=`/`F=`/`C=` tag.
fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9.:/_-]{0,24}"
}

fn guid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

fn list() -> impl Strategy<Value = List> {
    proptest::sample::select(List::ALL.to_vec())
}

fn status() -> impl Strategy<Value = MsnStatus> {
    proptest::sample::select(vec![
        MsnStatus::Online,
        MsnStatus::Busy,
        MsnStatus::Idle,
        MsnStatus::BeRightBack,
        MsnStatus::Away,
        MsnStatus::OnThePhone,
        MsnStatus::Lunch,
        MsnStatus::Hidden,
        MsnStatus::Offline,
    ])
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..200).prop_map(Bytes::from)
}

fn prompt() -> impl Strategy<Value = PromptMode> {
    prop_oneof![Just(PromptMode::Ask), Just(PromptMode::AllowAutomatically)]
}

fn privacy() -> impl Strategy<Value = PrivacyMode> {
    prop_oneof![Just(PrivacyMode::AllowAll), Just(PrivacyMode::BlockAll)]
}

fn ns_command() -> impl Strategy<Value = NsCommand> {
    Union::new(vec![
        (trid(), prop::collection::vec("MSNP[0-9]{1,2}|CVR0", 1..5))
            .prop_map(|(trid, dialects)| NsCommand::Ver { trid, dialects })
            .boxed(),
        (trid(), prop::collection::vec(token(), 7..=8))
            .prop_map(|(trid, words)| NsCommand::Cvr { trid, client: words.join(" ") })
            .boxed(),
        trid().prop_map(|trid| NsCommand::Inf { trid }).boxed(),
        (trid(), "MD5|TWN|SSO", any::<bool>(), token())
            .prop_map(|(trid, package, initiate, value)| {
                let stage = if initiate { AuthStage::Initiate } else { AuthStage::Subsequent };
                NsCommand::Usr { trid, package, stage, value }
            })
            .boxed(),
        (trid(), any::<u32>()).prop_map(|(trid, version)| NsCommand::Syn { trid, version }).boxed(),
        (trid(), prompt()).prop_map(|(trid, mode)| NsCommand::Gtc { trid, mode }).boxed(),
        (trid(), privacy()).prop_map(|(trid, mode)| NsCommand::Blp { trid, mode }).boxed(),
        (trid(), list()).prop_map(|(trid, list)| NsCommand::Lst { trid, list }).boxed(),
        (trid(), list(), handle(), friendly(), proptest::option::of("[0-9]{1,3}"))
            .prop_map(|(trid, list, handle, name, group)| NsCommand::Add { trid, list, handle, name, group })
            .boxed(),
        (trid(), list(), handle(), proptest::option::of(friendly()))
            .prop_map(|(trid, list, handle, name)| NsCommand::Adc {
                trid,
                list,
                contact: ContactRef::Handle(handle),
                name,
                group: None,
            })
            .boxed(),
        (trid(), guid(), guid())
            .prop_map(|(trid, contact, group)| NsCommand::Adc {
                trid,
                list: List::Forward,
                contact: ContactRef::Guid(contact),
                name: None,
                group: Some(group),
            })
            .boxed(),
        (trid(), list(), handle(), proptest::option::of(guid()))
            .prop_map(|(trid, list, contact, group)| NsCommand::Rem { trid, list, contact, group })
            .boxed(),
        trid().prop_map(|trid| NsCommand::Lsg { trid }).boxed(),
        (trid(), friendly()).prop_map(|(trid, name)| NsCommand::Adg { trid, name }).boxed(),
        (trid(), guid()).prop_map(|(trid, group)| NsCommand::Rmg { trid, group }).boxed(),
        (trid(), guid(), friendly()).prop_map(|(trid, group, name)| NsCommand::Reg { trid, group, name }).boxed(),
        (trid(), handle(), friendly()).prop_map(|(trid, handle, name)| NsCommand::Rea { trid, handle, name }).boxed(),
        (trid(), "[A-Z]{3}", proptest::option::of(friendly()))
            .prop_map(|(trid, property, value)| NsCommand::Prp { trid, property, value })
            .boxed(),
        (trid(), guid(), "[A-Z]{3}", friendly())
            .prop_map(|(trid, contact, property, value)| NsCommand::Sbp { trid, contact, property, value })
            .boxed(),
        (trid(), status(), proptest::option::of((any::<u32>(), proptest::option::of(token()))))
            .prop_map(|(trid, status, extras)| {
                let (capabilities, object) = match extras {
                    Some((capabilities, object)) => (Some(capabilities), object),
                    None => (None, None),
                };
                NsCommand::Chg { trid, status, capabilities, object }
            })
            .boxed(),
        (trid(), payload()).prop_map(|(trid, payload)| NsCommand::Uux { trid, payload }).boxed(),
        (trid(), token(), payload())
            .prop_map(|(trid, product, payload)| NsCommand::Qry { trid, product, payload })
            .boxed(),
        (trid(), "[A-Z]{4,8}").prop_map(|(trid, service)| NsCommand::Url { trid, service }).boxed(),
        (trid(), token()).prop_map(|(trid, file)| NsCommand::Gcf { trid, file }).boxed(),
        Just(NsCommand::Png).boxed(),
        trid().prop_map(|trid| NsCommand::XfrSb { trid }).boxed(),
        Just(NsCommand::Out).boxed(),
    ])
}

fn sb_command() -> impl Strategy<Value = SbCommand> {
    let ack = prop_oneof![Just(AckMode::Unacknowledged), Just(AckMode::NegativeOnly), Just(AckMode::Acknowledged)];
    prop_oneof![
        (trid(), handle(), token()).prop_map(|(trid, handle, cookie)| SbCommand::Usr { trid, handle, cookie }),
        (trid(), handle(), token(), any::<u64>()).prop_map(|(trid, handle, cookie, session)| SbCommand::Ans {
            trid,
            handle,
            cookie,
            session
        }),
        (trid(), handle()).prop_map(|(trid, handle)| SbCommand::Cal { trid, handle }),
        (trid(), ack, payload()).prop_map(|(trid, ack, body)| SbCommand::Msg { trid, ack, body }),
        Just(SbCommand::Out),
    ]
}

/// Decodes exactly one frame from `bytes`.
fn one_frame(bytes: &[u8], direction: Direction) -> Frame {
    let mut decoder = FrameDecoder::new(direction, Limits::default());
    let mut buf = BytesMut::from(bytes);
    let frame = decoder.decode(&mut buf).expect("decodes").expect("a whole frame");
    assert!(buf.is_empty(), "bytes left over after {frame:?}");
    frame
}

fn dialect() -> impl Strategy<Value = Dialect> {
    (2u8..=12).prop_map(|n| Dialect::parse(&format!("MSNP{n}")).unwrap())
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(vec![
        ErrorCode::SyntaxError,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidUser,
        ErrorCode::AlreadyLoggedIn,
        ErrorCode::InvalidFriendlyName,
        ErrorCode::NotOnline,
        ErrorCode::AuthenticationFailed,
    ])
}

fn extras() -> impl Strategy<Value = PresenceExtras<String>> {
    proptest::option::of((any::<u32>(), proptest::option::of(token()))).prop_map(|extras| match extras {
        Some((capabilities, object)) => PresenceExtras { capabilities: Some(capabilities), object },
        None => PresenceExtras::default(),
    })
}

/// A group reference as `dialect` names groups.
fn group(dialect: Dialect) -> BoxedStrategy<GroupRef<String>> {
    if dialect.has_adc() {
        guid().prop_map(GroupRef::Guid).boxed()
    } else {
        any::<u64>().prop_map(GroupRef::Number).boxed()
    }
}

/// A version where `carries` says the dialect's reply has one.
fn version_if(carries: bool) -> BoxedStrategy<Option<u32>> {
    if carries {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

/// A notification server's reply, as `dialect` shapes it.
fn ns_reply(dialect: Dialect) -> impl Strategy<Value = OwnedReply> {
    let shape = dialect.usr_ok();
    let lst = match dialect.list_format() {
        msnp::dialect::ListFormat::PerList => prop_oneof![
            (
                trid(),
                list(),
                any::<u32>(),
                1usize..500,
                1usize..500,
                handle(),
                friendly(),
                proptest::option::of("[0-9,]{1,9}")
            )
                .prop_map(|(trid, list, version, index, total, handle, friendly, groups)| {
                    ServerMessage::Lst { trid, list, version, index, total, handle, friendly, groups }
                }),
            (trid(), list(), any::<u32>()).prop_map(|(trid, list, version)| ServerMessage::LstEmpty {
                trid,
                list,
                version
            }),
        ]
        .boxed(),
        msnp::dialect::ListFormat::Bitmask => (handle(), friendly(), any::<u8>(), proptest::option::of("[0-9,]{1,9}"))
            .prop_map(|(handle, friendly, lists, groups)| ServerMessage::LstBitmask { handle, friendly, lists, groups })
            .boxed(),
        msnp::dialect::ListFormat::Guids => {
            let network = if dialect.lst_has_network() { Just(Some(1u8)).boxed() } else { Just(None).boxed() };
            (handle(), friendly(), proptest::option::of(guid()), any::<u8>(), network, proptest::option::of(guid()))
                .prop_map(|(handle, friendly, guid, lists, network, groups)| ServerMessage::LstGuid {
                    handle,
                    friendly,
                    guid,
                    lists,
                    network,
                    groups,
                })
                .boxed()
        }
    };
    let versioned_group = dialect.group_replies_carry_version();
    let reg = (trid(), version_if(versioned_group), friendly(), group(dialect))
        .prop_map(|(trid, version, name, group)| ServerMessage::Reg { trid, version, name, group });
    Union::new(vec![
        (trid(), proptest::option::of("MSNP[0-9]{1,2}"))
            .prop_map(|(trid, dialect)| ServerMessage::Ver { trid, dialect })
            .boxed(),
        (trid(), token(), token(), token(), token())
            .prop_map(|(trid, recommended, minimum, download_url, info_url)| ServerMessage::Cvr {
                trid,
                recommended,
                minimum,
                download_url,
                info_url,
            })
            .boxed(),
        (trid(), "MD5|TWN").prop_map(|(trid, packages)| ServerMessage::Inf { trid, packages }).boxed(),
        (trid(), "MD5|TWN", token())
            .prop_map(|(trid, package, challenge)| ServerMessage::UsrChallenge { trid, package, challenge })
            .boxed(),
        (trid(), handle(), friendly())
            .prop_map(move |(trid, handle, friendly)| ServerMessage::UsrOk {
                trid,
                handle,
                friendly: if shape.friendly { friendly } else { String::new() },
                shape,
            })
            .boxed(),
        (trid(), token(), proptest::option::of(token()))
            .prop_map(|(trid, address, current)| ServerMessage::XfrNs { trid, address, current })
            .boxed(),
        (trid(), token(), token())
            .prop_map(|(trid, address, cookie)| ServerMessage::XfrSb { trid, address, cookie })
            .boxed(),
        (trid(), any::<u32>()).prop_map(|(trid, version)| ServerMessage::Syn { trid, version }).boxed(),
        (trid(), any::<u32>(), proptest::option::of(any::<u32>()), 0usize..1000, 0usize..100)
            .prop_map(|(trid, version, settings_version, contacts, groups)| ServerMessage::SynCounts {
                trid,
                version,
                settings_version,
                contacts,
                groups,
            })
            .boxed(),
        (proptest::option::of((trid(), proptest::option::of(any::<u32>()))), prompt(), any::<bool>())
            .prop_map(|(numbers, mode, gtc)| {
                let (trid, version) = numbers.map_or((None, None), |(t, v)| (Some(t), v));
                if gtc {
                    ServerMessage::Gtc { trid, version, mode }
                } else {
                    let mode = if mode == PromptMode::Ask { PrivacyMode::AllowAll } else { PrivacyMode::BlockAll };
                    ServerMessage::Blp { trid, version, mode }
                }
            })
            .boxed(),
        lst,
        (trid(), any::<u32>(), 1usize..50, 1usize..50, any::<u64>(), friendly())
            .prop_map(|(trid, version, index, total, id, name)| ServerMessage::LsgIndexed {
                trid,
                version,
                index,
                total,
                id,
                name,
            })
            .boxed(),
        (prop_oneof![any::<u64>().prop_map(GroupRef::Number), guid().prop_map(GroupRef::Guid)], friendly())
            .prop_map(|(group, name)| ServerMessage::Lsg { group, name })
            .boxed(),
        (trid(), version_if(versioned_group), friendly(), group(dialect))
            .prop_map(|(trid, version, name, group)| ServerMessage::Adg { trid, version, name, group })
            .boxed(),
        (trid(), version_if(versioned_group), group(dialect))
            .prop_map(|(trid, version, group)| ServerMessage::Rmg { trid, version, group })
            .boxed(),
        reg.boxed(),
        (trid(), list(), any::<u32>(), handle(), friendly(), proptest::option::of(any::<u64>()))
            .prop_map(|(trid, list, version, handle, friendly, group)| ServerMessage::Add {
                trid,
                list,
                version,
                handle,
                friendly,
                group,
            })
            .boxed(),
        (
            trid(),
            list(),
            proptest::option::of(handle()),
            proptest::option::of(friendly()),
            proptest::option::of(guid()),
            proptest::option::of(guid()),
        )
            .prop_map(|(trid, list, handle, friendly, guid, group)| ServerMessage::Adc {
                trid,
                list,
                handle,
                friendly,
                guid,
                group,
            })
            .boxed(),
        (trid(), list(), version_if(dialect.replies_carry_version()), handle(), proptest::option::of(guid()))
            .prop_map(|(trid, list, version, contact, group)| ServerMessage::Rem {
                trid,
                list,
                version,
                contact,
                group,
            })
            .boxed(),
        (trid(), any::<u32>(), handle(), friendly())
            .prop_map(|(trid, version, handle, friendly)| ServerMessage::Rea { trid, version, handle, friendly })
            .boxed(),
        (proptest::option::of((trid(), version_if(dialect.replies_carry_version()))), "[A-Z]{3}", "\\PC{0,20}")
            .prop_map(|(numbers, property, value)| {
                let (trid, version) = numbers.map_or((None, None), |(t, v)| (Some(t), v));
                ServerMessage::Prp { trid, version, property, value }
            })
            .boxed(),
        (trid(), guid(), "[A-Z]{3}", friendly())
            .prop_map(|(trid, guid, property, value)| ServerMessage::Sbp { trid, guid, property, value })
            .boxed(),
        (trid(), status(), extras())
            .prop_map(|(trid, status, extras)| ServerMessage::Chg { trid, status, extras })
            .boxed(),
        (trid(), status(), handle(), friendly(), extras())
            .prop_map(|(trid, status, handle, friendly, extras)| ServerMessage::Iln {
                trid,
                status,
                handle,
                friendly,
                extras,
            })
            .boxed(),
        (status(), handle(), friendly(), extras())
            .prop_map(|(status, handle, friendly, extras)| ServerMessage::Nln { status, handle, friendly, extras })
            .boxed(),
        handle().prop_map(|handle| ServerMessage::Fln { handle }).boxed(),
        (handle(), payload()).prop_map(|(handle, payload)| ServerMessage::Ubx { handle, payload }).boxed(),
        trid().prop_map(|trid| ServerMessage::Uux { trid }).boxed(),
        proptest::option::of(any::<u32>()).prop_map(|interval| ServerMessage::Qng { interval }).boxed(),
        "[0-9]{20}".prop_map(|challenge| ServerMessage::Chl { challenge }).boxed(),
        trid().prop_map(|trid| ServerMessage::Qry { trid }).boxed(),
        (trid(), token(), token(), any::<u32>())
            .prop_map(|(trid, rru, url, id)| ServerMessage::Url { trid, rru, url, id })
            .boxed(),
        (trid(), token(), payload())
            .prop_map(|(trid, file, payload)| ServerMessage::Gcf { trid, file, payload })
            .boxed(),
        (any::<u64>(), token(), token(), handle(), friendly())
            .prop_map(|(session, address, cookie, caller, friendly)| ServerMessage::Rng {
                session,
                address,
                cookie,
                caller,
                friendly,
            })
            .boxed(),
        common_reply().boxed(),
    ])
}

/// `OUT` and errors, which every role sends.
fn common_reply() -> impl Strategy<Value = OwnedReply> {
    prop_oneof![
        proptest::option::of("OTH|SSD").prop_map(|reason| ServerMessage::Out { reason }),
        (error_code(), proptest::option::of(trid())).prop_map(|(code, trid)| ServerMessage::Error { code, trid }),
    ]
}

fn sb_reply() -> impl Strategy<Value = OwnedReply> {
    let shape = UsrOkShape { friendly: true, verified: false, kids_flag: false };
    prop_oneof![
        (trid(), handle(), friendly()).prop_map(move |(trid, handle, friendly)| ServerMessage::UsrOk {
            trid,
            handle,
            friendly,
            shape
        }),
        (trid(), any::<u64>()).prop_map(|(trid, session)| ServerMessage::Cal { trid, session }),
        (trid(), 1usize..20, 1usize..20, handle(), friendly()).prop_map(|(trid, index, total, handle, friendly)| {
            ServerMessage::Iro { trid, index, total, handle, friendly }
        }),
        trid().prop_map(|trid| ServerMessage::AnsOk { trid }),
        (handle(), friendly()).prop_map(|(handle, friendly)| ServerMessage::Joi { handle, friendly }),
        handle().prop_map(|handle| ServerMessage::Bye { handle }),
        (handle(), friendly(), payload()).prop_map(|(handle, friendly, body)| ServerMessage::Msg {
            handle,
            friendly,
            body
        }),
        trid().prop_map(|trid| ServerMessage::Ack { trid }),
        trid().prop_map(|trid| ServerMessage::Nak { trid }),
        common_reply(),
    ]
}

fn encoded(reply: &OwnedReply) -> Vec<u8> {
    let mut out = BytesMut::new();
    reply.encode(&mut out);
    out.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn notification_commands_round_trip(command in ns_command()) {
        let mut out = BytesMut::new();
        command.encode(&mut out);
        let frame = one_frame(&out, Direction::ClientToServer);
        prop_assert_eq!(NsCommand::parse(&frame), Ok(command));
    }

    #[test]
    fn switchboard_commands_round_trip(command in sb_command()) {
        let mut out = BytesMut::new();
        command.encode(&mut out);
        let frame = one_frame(&out, Direction::ClientToServer);
        prop_assert_eq!(SbCommand::parse(&frame), Ok(command));
    }

    #[test]
    fn notification_replies_round_trip_in_their_dialect(
        (dialect, reply) in dialect().prop_flat_map(|d| (Just(d), ns_reply(d)))
    ) {
        let frame = one_frame(&encoded(&reply), Direction::ServerToClient);
        prop_assert_eq!(OwnedReply::parse(&frame, dialect), Ok(reply));
    }

    #[test]
    fn switchboard_replies_round_trip(reply in sb_reply()) {
        let frame = one_frame(&encoded(&reply), Direction::ServerToClient);
        prop_assert_eq!(OwnedReply::parse_switchboard(&frame), Ok(reply));
    }
}

/// The borrowed form the server writes and the owned form a client reads are one encoding.
#[test]
fn a_borrowed_reply_parses_to_its_owned_twin() {
    let dialect = Dialect::parse("MSNP12").unwrap();
    let reply = msnp::Reply::LstGuid {
        handle: "bob@hotmail.com",
        friendly: "Bob B",
        guid: Some("00000000-0000-0000-0000-000000000002"),
        lists: 11,
        network: Some(1),
        groups: None,
    };
    let mut out = BytesMut::new();
    reply.encode(&mut out);
    assert_eq!(&out[..], b"LST N=bob@hotmail.com F=Bob%20B C=00000000-0000-0000-0000-000000000002 11 1\r\n");
    let parsed = OwnedReply::parse(&one_frame(&out, Direction::ServerToClient), dialect).unwrap();
    let ServerMessage::LstGuid { friendly, lists, network, .. } = parsed else { panic!("{parsed:?}") };
    assert_eq!((friendly.as_str(), lists, network), ("Bob B", 11, Some(1)));
}

/// Any line with a server's verb and any parameters: a client's parse answers it or refuses
/// it, and never panics (a truncated, garbled or hostile server line).
fn any_server_frame() -> impl Strategy<Value = Frame> {
    let verbs = [
        "VER", "CVR", "INF", "USR", "XFR", "SYN", "GTC", "BLP", "LST", "LSG", "ADG", "RMG", "REG", "ADD", "ADC", "REM",
        "REA", "PRP", "SBP", "CHG", "ILN", "NLN", "FLN", "UBX", "UUX", "QNG", "CHL", "QRY", "URL", "GCF", "RNG", "OUT",
        "CAL", "IRO", "ANS", "JOI", "BYE", "MSG", "ACK", "NAK", "911", "999",
    ];
    let param = prop_oneof!["[0-9]{1,12}", "[A-Z]{1,3}", "[NFC]=[!-~]{0,12}", "[!-~]{1,16}", "%[0-9A-Fa-f]?"];
    (proptest::sample::select(verbs.to_vec()), prop::collection::vec(param, 0..9), proptest::option::of(payload()))
        .prop_map(|(verb, params, payload)| {
            let verb = msnp::Verb::new(verb.as_bytes().try_into().unwrap());
            match payload {
                Some(payload) => Frame::with_payload(verb, params, payload),
                None => Frame::new(verb, params),
            }
        })
}

proptest! {
    #[test]
    fn any_server_line_is_parsed_or_refused_without_a_panic(frame in any_server_frame(), dialect in dialect()) {
        let _ = OwnedReply::parse(&frame, dialect);
        let _ = OwnedReply::parse_switchboard(&frame);
    }
}

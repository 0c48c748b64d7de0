use bytes::{Bytes, BytesMut};
use msnp::frame::decode_all;
use msnp::text::decode_friendly_name;
use msnp::{Direction, Frame, FrameDecoder, Limits, Reply, Verb};
use proptest::prelude::*;

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        Just(Verb::new(b"USR")),
        Just(Verb::new(b"LST")),
        Just(Verb::new(b"CHG")),
        Just(Verb::new(b"MSG")),
        Just(Verb::new(b"QRY")),
        Just(Verb::new(b"911")),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    let param = "[!-~]{1,20}";
    (verb(), prop::collection::vec(param, 0..6), prop::collection::vec(any::<u8>(), 0..300)).prop_map(
        |(verb, params, payload)| {
            if matches!(verb.as_str(), "MSG" | "QRY") {
                Frame::with_payload(verb, params, Bytes::from(payload))
            } else {
                Frame::new(verb, params)
            }
        },
    )
}

fn encode_all(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for f in frames {
        f.encode(&mut out);
    }
    out.to_vec()
}

fn decoder() -> FrameDecoder {
    FrameDecoder::new(Direction::ClientToServer, Limits::default())
}

/// Feeds `chunks` one after the other, collecting every frame decoded.
fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Frame> {
    let mut decoder = decoder();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        frames.extend(decode_all(&mut decoder, &mut buf).expect("valid stream"));
    }
    assert!(buf.is_empty(), "bytes left over");
    frames
}

proptest! {
    #[test]
    fn frames_round_trip(frames in prop::collection::vec(frame(), 1..8)) {
        let bytes = encode_all(&frames);
        prop_assert_eq!(decode_chunks([bytes.as_slice()]), frames);
    }

    #[test]
    fn a_stream_split_at_every_byte_boundary_decodes_the_same(frames in prop::collection::vec(frame(), 1..4)) {
        let bytes = encode_all(&frames);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            prop_assert_eq!(&decode_chunks([a, b]), &frames);
        }
    }

    #[test]
    fn a_stream_fed_in_random_chunks_decodes_the_same(
        frames in prop::collection::vec(frame(), 1..8),
        sizes in prop::collection::vec(1usize..40, 1..100),
    ) {
        let bytes = encode_all(&frames);
        let mut chunks = Vec::new();
        let mut rest = bytes.as_slice();
        for size in sizes.iter().cycle() {
            if rest.is_empty() { break; }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        prop_assert_eq!(decode_chunks(chunks), frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_grow_past_the_limits(data in prop::collection::vec(any::<u8>(), 0..10_000)) {
        let limits = Limits::default();
        let mut decoder = FrameDecoder::new(Direction::ClientToServer, limits);
        let mut buf = BytesMut::from(&data[..]);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    prop_assert!(frame.params.len() <= limits.max_params);
                    prop_assert!(frame.payload.map_or(0, |p| p.len()) <= limits.max_payload);
                }
                Ok(None) => {
                    // Waiting for more: what is buffered must fit one line plus one payload.
                    prop_assert!(buf.len() <= limits.max_line + 2 + limits.max_payload);
                    break;
                }
                Err(e) if e.is_fatal() => break,
                Err(_) => {}
            }
        }
    }

    #[test]
    fn friendly_names_survive_the_wire(name in "\\PC{1,60}") {
        let reply = Reply::Nln { status: msnp::MsnStatus::Online, handle: "a@hotmail.com", friendly: &name, extras: Default::default() };
        let mut buf = BytesMut::from(&reply.to_vec()[..]);
        let mut decoder = FrameDecoder::new(Direction::ServerToClient, Limits::default());
        let frame = decoder.decode(&mut buf).unwrap().unwrap();
        prop_assert_eq!(frame.params.len(), 3);
        let decoded = decode_friendly_name(&frame.params[2]);
        if frame.params[2].len() <= msnp::text::MAX_ENCODED_FRIENDLY_NAME {
            prop_assert_eq!(decoded.unwrap(), name);
        } else {
            prop_assert_eq!(decoded, Err(msnp::text::NameError::TooLong));
        }
    }
}

#[test]
fn fatal_errors_for_overlong_lines_and_payloads() {
    let mut d = decoder();
    let mut long = BytesMut::from(&vec![b'A'; 5000][..]);
    assert!(d.decode(&mut long).unwrap_err().is_fatal());
    let mut d = decoder();
    let mut big = BytesMut::from(&b"MSG 1 A 9000\r\n"[..]);
    assert!(d.decode(&mut big).unwrap_err().is_fatal());
    let mut d = decoder();
    let mut bad = BytesMut::from(&b"MSG 1 A x\r\n"[..]);
    assert!(d.decode(&mut bad).unwrap_err().is_fatal());
}

#[test]
fn a_bad_line_is_skipped_and_decoding_goes_on() {
    let mut d = decoder();
    let mut buf = BytesMut::from(&b"\xff\xfe\r\nlowercase 1\r\nOUT\r\n"[..]);
    assert!(!d.decode(&mut buf).unwrap_err().is_fatal());
    assert!(!d.decode(&mut buf).unwrap_err().is_fatal());
    assert_eq!(d.decode(&mut buf).unwrap().unwrap().verb, Verb::new(b"OUT"));
}

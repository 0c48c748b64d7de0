use bytes::BytesMut;
use mrim::header::{Header, HEADER_LEN};
use mrim::{ClientPacket, DecodeError, Dialect, Packet, PacketDecoder};
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

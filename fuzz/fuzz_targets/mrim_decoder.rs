//! Arbitrary bytes through the MRIM packet decoder in chunks, and every packet through both
//! packet decoders (what the server reads, what clients read) for the version its header claims,
//! and its body through the offline message reader. Nothing may panic; buffering stays within
//! one header plus the body cap.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mrim::header::HEADER_LEN;
use mrim::{ClientPacket, Dialect, PacketDecoder, ServerPacket};

const MAX_BODY: u32 = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let decoder = PacketDecoder::new(MAX_BODY);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(packet)) => {
                    assert!(packet.body.len() <= MAX_BODY as usize);
                    let dialect = Dialect::from_proto(packet.header.proto);
                    let _ = ClientPacket::decode(&packet, dialect);
                    let _ = ServerPacket::decode(&packet, dialect);
                    let _ = mrim::offline::parse(&packet.body);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() < HEADER_LEN + MAX_BODY as usize + chunk);
    }
});

//! What the `mrim_decoder` fuzz target checks: arbitrary bytes through the packet decoder in
//! chunks, and every packet through both packet decoders (what the server reads, what clients
//! read) for the version its header claims, and its body through the offline message reader.
//! Nothing may panic; buffering stays within one header plus the body cap.

use crate::header::HEADER_LEN;
use crate::{ClientPacket, Dialect, PacketDecoder, ServerPacket};
use bytes::BytesMut;

const MAX_BODY: u32 = 64 * 1024;

/// The first byte sets the chunk size the rest arrives in.
pub fn check(data: &[u8]) {
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
                    let _ = crate::offline::parse(&packet.body);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() < HEADER_LEN + MAX_BODY as usize + chunk);
    }
}

/// The inputs fuzzing found worth keeping (`fuzz/regressions/mrim_decoder`: the corpus minimized
/// to what covers distinct code, up to 1 KiB each), replayed by every test run.
#[test]
fn kept_inputs_still_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/mrim_decoder");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        check(&std::fs::read(entry.unwrap().path()).unwrap());
        replayed += 1;
    }
    assert!(replayed > 0, "no kept inputs in {}", dir.display());
}

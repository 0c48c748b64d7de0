//! What the `msnp_decoder` fuzz target checks: arbitrary bytes through the frame decoder, in
//! chunks, in both directions, every frame through the typed command parsers and every payload
//! through the message body reader. Nothing may panic, and every limit must hold.

use crate::{Direction, FrameDecoder, Limits, NsCommand, SbCommand};
use bytes::BytesMut;

/// The first byte sets the chunk size the rest arrives in.
pub fn check(data: &[u8]) {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    for direction in [Direction::ClientToServer, Direction::ServerToClient] {
        let limits = Limits::default();
        let mut decoder = FrameDecoder::new(direction, limits);
        let mut buf = BytesMut::new();
        'feed: for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        assert!(frame.params.len() <= limits.max_params);
                        assert!(frame.payload.as_ref().map_or(0, |p| p.len()) <= limits.max_payload);
                        let _ = NsCommand::parse(&frame);
                        let _ = SbCommand::parse(&frame);
                        if let Some(payload) = &frame.payload {
                            let _ = crate::message::parse(payload);
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.is_fatal() => break 'feed,
                    Err(_) => {}
                }
            }
            assert!(buf.len() <= limits.max_line + 2 + limits.max_payload + chunk);
        }
    }
}

/// The inputs fuzzing found worth keeping (`fuzz/regressions/msnp_decoder`: the corpus minimized
/// to what covers distinct code, up to 1 KiB each), replayed by every test run.
#[test]
fn kept_inputs_still_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/msnp_decoder");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        check(&std::fs::read(entry.unwrap().path()).unwrap());
        replayed += 1;
    }
    assert!(replayed > 0, "no kept inputs in {}", dir.display());
}

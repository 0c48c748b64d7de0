//! Arbitrary bytes through the MSNP frame decoder, in chunks, in both directions, every frame
//! through the typed command parsers and every payload through the message body reader.
//! Nothing may panic, and every limit must hold.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use msnp::{Direction, FrameDecoder, Limits, NsCommand, SbCommand};

fuzz_target!(|data: &[u8]| {
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
                            let _ = msnp::message::parse(payload);
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
});

//! What the `myicq_datagram` fuzz target checks: arbitrary datagrams through what the server
//! does with one (the size checks, the header, the body decryptor and the command decoder) and
//! what a client does with one (the server header and packet decoder). Nothing may panic, and
//! a body that opens is its input's length, never more (no amplification).

use crate::client::Request;
use crate::codes::cmd;
use crate::datagram::split_client;
use crate::server::ServerPacket;
use crate::{BodyCipher, ServerHeader, HEADER_LEN};

pub fn check(datagram: &[u8]) {
    if let Some(header) = ServerHeader::parse(datagram) {
        let _ = ServerPacket::parse(header.cmd, datagram.get(HEADER_LEN..).unwrap_or_default());
    }
    let Ok((header, body)) = split_client(datagram) else { return };
    if cmd::is_plain(header.cmd) {
        let _ = Request::parse(header.cmd, body);
    } else if let Ok(plain) = BodyCipher::new(b"password").open(body, header.cc) {
        assert_eq!(plain.len(), body.len());
        let _ = Request::parse(header.cmd, &plain);
    }
}

/// The inputs fuzzing found worth keeping (`fuzz/regressions/myicq_datagram`: the corpus minimized
/// to what covers distinct code, up to 1 KiB each), replayed by every test run.
#[test]
fn kept_inputs_still_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/myicq_datagram");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        check(&std::fs::read(entry.unwrap().path()).unwrap());
        replayed += 1;
    }
    assert!(replayed > 0, "no kept inputs in {}", dir.display());
}

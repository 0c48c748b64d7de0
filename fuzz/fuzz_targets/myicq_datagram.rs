//! Arbitrary datagrams through what the server does with one (the size checks, the header, the
//! body decryptor and the command decoder) and what a client does with one (the server header
//! and packet decoder). Nothing may panic, and a body that opens is its input's length, never
//! more (no amplification).
#![no_main]

use libfuzzer_sys::fuzz_target;
use myicq::client::Request;
use myicq::codes::cmd;
use myicq::datagram::split_client;
use myicq::server::ServerPacket;
use myicq::{BodyCipher, ServerHeader, HEADER_LEN};

fuzz_target!(|datagram: &[u8]| {
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
});

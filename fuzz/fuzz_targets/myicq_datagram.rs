//! Arbitrary datagrams through what the server does with one: the size checks, the header, the
//! body decryptor and the command decoder. Nothing may panic, and a body that opens is its
//! input's length, never more (no amplification).
#![no_main]

use libfuzzer_sys::fuzz_target;
use myicq::client::Request;
use myicq::codes::cmd;
use myicq::datagram::split_client;
use myicq::BodyCipher;

fuzz_target!(|datagram: &[u8]| {
    let Ok((header, body)) = split_client(datagram) else { return };
    if cmd::is_plain(header.cmd) {
        let _ = Request::parse(header.cmd, body);
    } else if let Ok(plain) = BodyCipher::new(b"password").open(body, header.cc) {
        assert_eq!(plain.len(), body.len());
        let _ = Request::parse(header.cmd, &plain);
    }
});

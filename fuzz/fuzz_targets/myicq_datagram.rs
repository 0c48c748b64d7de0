//! Arbitrary datagrams through the MyICQ header parser and the body decryptor: nothing may
//! panic, and a body that opens is its input's length, never more (no amplification).
#![no_main]

use libfuzzer_sys::fuzz_target;
use myicq::{BodyCipher, ClientHeader, HEADER_LEN};

fuzz_target!(|datagram: &[u8]| {
    let Some(header) = ClientHeader::parse(datagram) else { return };
    let body = &datagram[HEADER_LEN..];
    if let Ok(plain) = BodyCipher::new(b"password").open(body, header.cc) {
        assert_eq!(plain.len(), body.len());
    }
});

//! The DES vectors produced by compiling MyICQ's original cipher, and the worked examples of
//! the project's MyICQ notes (`shared/protocols/myicq.md`). The crate carries them in
//! `tests/data/`, so a clone tests without anything beside it.

use myicq::{BodyCipher, ClientHeader, CryptoError, ServerHeader};
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn testdata(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `field=value` of a vector line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("no {name} in {line}")) + name.len() + 1;
    line[start..].split(' ').next().unwrap()
}

#[test]
fn every_vector_of_the_original_cipher() {
    let vectors = testdata("myicq-des-vectors.txt");
    let mut count = 0;
    for line in vectors.lines().filter(|l| l.starts_with("pw=")) {
        let key = hex(field(line, "key"));
        let plain: [u8; 8] = hex(field(line, "pt")).try_into().unwrap();
        let expected: [u8; 8] = hex(field(line, "ct")).try_into().unwrap();
        // The key column is the password's first 8 bytes, NUL-padded; keying with it is keying
        // with the password.
        let cipher = BodyCipher::new(&key);
        assert_eq!(cipher.encrypt_block(plain), expected, "{line}");
        assert_eq!(cipher.decrypt_block(expected), plain, "{line}");
        count += 1;
    }
    assert_eq!(count, 18);
    // Passwords longer than 8 bytes use their first 8; shorter ones are NUL-padded.
    let long = BodyCipher::new(b"longerpassword");
    assert_eq!(long.encrypt_block(hex("0000000000000000").try_into().unwrap()), hex("9f5a88c6ce06f2c1")[..]);
    let short = BodyCipher::new(b"a");
    assert_eq!(short.encrypt_block([0; 8]), hex("597f35bf95cf9d39")[..]);
}

/// The line of the worked examples that starts with `label:`.
fn example(examples: &str, label: &str) -> String {
    let line = examples.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label}"));
    line[label.len()..].trim().split(' ').next().unwrap().to_owned()
}

#[test]
fn the_worked_send_msg_datagram() {
    let examples = testdata("myicq-worked-examples.txt");
    let plain = hex(&example(&examples, "SEND_MSG plaintext body:"));
    let padded = hex(&example(&examples, "padded body:"));
    let datagram = hex(&example(&examples, "SEND_MSG datagram:"));
    let header = ClientHeader::parse(&datagram).unwrap();
    assert_eq!((header.ver, header.cmd, header.cc), (1, 0x000b, 0x0869));

    let cipher = BodyCipher::new(b"alicepw");
    assert_eq!(cipher.open(&datagram[20..], header.cc).unwrap(), padded);
    // Sealing the same body with the same check-code index gives the same bytes.
    let (cc, sealed) = cipher.seal(&plain, 8);
    assert_eq!(cc, 0x0869);
    let mut rebuilt = Vec::new();
    ClientHeader { cc, ..header }.encode(&mut rebuilt);
    rebuilt.extend_from_slice(&sealed);
    assert_eq!(rebuilt, datagram);

    // The wrong password fails the check code (here: byte 8 decrypts to something else).
    assert_eq!(BodyCipher::new(b"wrongpw").open(&datagram[20..], header.cc), Err(CryptoError::BadCheckCode));
    assert_eq!(cipher.open(&datagram[20..27], header.cc), Err(CryptoError::NotBlocks));
}

#[test]
fn the_worked_headers() {
    let examples = testdata("myicq-worked-examples.txt");
    let login = hex(&example(&examples, "LOGIN (plaintext, cc=0):"));
    let header = ClientHeader::parse(&login).unwrap();
    assert_eq!(
        (header.ver, header.uin, header.sid, header.cmd, header.seq, header.cc),
        (1, 10002, 0x47f3a5a1, 4, 0x33b3, 0)
    );
    let mut again = Vec::new();
    header.encode(&mut again);
    assert_eq!(again, login[..20]);

    let ack = hex(&example(&examples, "server pure ACK:"));
    let server = ServerHeader::parse(&ack).unwrap();
    assert_eq!((server.cmd, server.seq, server.ackseq), (1, 0, 0x33b4));
    let mut again = Vec::new();
    server.encode(&mut again);
    assert_eq!(again, ack);
    assert_eq!(ClientHeader::parse(&ack[..19]), None, "shorter than a header");
}

proptest! {
    #[test]
    fn seal_then_open_gives_the_body_back_padded(
        password in prop::collection::vec(any::<u8>(), 0..16),
        body in prop::collection::vec(any::<u8>(), 1..600),
        index in any::<usize>(),
    ) {
        let cipher = BodyCipher::new(&password);
        let (cc, sealed) = cipher.seal(&body, index);
        prop_assert_eq!(sealed.len() % 8, 0);
        prop_assert!(sealed.len() - body.len() < 8);
        let opened = cipher.open(&sealed, cc).unwrap();
        prop_assert_eq!(&opened[..body.len()], &body[..]);
        prop_assert!(opened[body.len()..].iter().all(|b| *b == 0));
    }

    #[test]
    fn any_bytes_open_without_panic(sealed in prop::collection::vec(any::<u8>(), 0..300), cc in any::<u16>()) {
        let _ = BodyCipher::new(b"pw").open(&sealed, cc);
    }
}

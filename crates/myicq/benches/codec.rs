//! MyICQ datagrams: sealing a message as a client does, and what the server does with one
//! (split, decrypt, parse); encoding the server's message packet.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use myicq::client::Request;
use myicq::codes::{cmd, msg};
use myicq::datagram::{client_datagram, split_client};
use myicq::msgtext::TextMessage;
use myicq::server::ServerPacket;
use myicq::{BodyCipher, ClientHeader};

fn datagrams(c: &mut Criterion) {
    let cipher = BodyCipher::new(b"password");
    let text = TextMessage { text: "你好, how are you today?".into(), font: None }.compose();
    let request = Request::SendMessage { kind: msg::TEXT, to: 10002, text: text.clone() };
    let header = ClientHeader { ver: 1, uin: 10001, sid: 77, cmd: cmd::SEND_MSG, seq: 9, cc: 0 };
    let datagram = client_datagram(header, &request.encode(), &cipher, 3);

    let mut group = c.benchmark_group("myicq");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal SEND_MSG (client)", |b| {
        b.iter(|| client_datagram(header, &request.encode(), &cipher, 3))
    });
    group.bench_function("open + parse SEND_MSG (server)", |b| {
        b.iter(|| {
            let (header, body) = split_client(&datagram).unwrap();
            let plain = cipher.open(body, header.cc).unwrap();
            assert!(matches!(Request::parse(header.cmd, &plain), Request::SendMessage { .. }));
        })
    });
    let packet = ServerPacket::Message { kind: msg::TEXT, from: 10001, time: 1_700_000_000, text };
    group.bench_function("encode SRV_MESSAGE", |b| b.iter(|| packet.encode()));
    group.finish();
}

criterion_group!(benches, datagrams);
criterion_main!(benches);

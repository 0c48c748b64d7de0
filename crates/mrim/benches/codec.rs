//! MRIM decoding and encoding: messages in (what the server reads), acks and statuses out.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mrim::client::{Message, StatusInfo};
use mrim::codes::message_flag;
use mrim::server::{MessageAck, ServerPacket};
use mrim::{ClientPacket, Dialect, PacketDecoder};

const V1_16: Dialect = Dialect { major: 1, minor: 16 };

fn decode(c: &mut Criterion) {
    let message = ClientPacket::Message(Message {
        flags: message_flag::UNICODE,
        to: vec!["bob@mail.ru".into()],
        text: "Привет! Как дела сегодня?".into(),
        rtf: Default::default(),
    });
    let bytes: Vec<u8> = (1..=1000).flat_map(|seq| message.to_vec(V1_16, seq)).collect();
    let mut group = c.benchmark_group("mrim decode");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("MESSAGE packets + ClientPacket", |b| {
        b.iter(|| {
            let decoder = PacketDecoder::default();
            let mut buf = BytesMut::from(&bytes[..]);
            let mut n = 0;
            while let Some(packet) = decoder.decode(&mut buf).unwrap() {
                n += usize::from(matches!(ClientPacket::decode(&packet, V1_16), ClientPacket::Message(_)));
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("mrim encode");
    group.throughput(Throughput::Elements(1));
    let mut out = BytesMut::with_capacity(1 << 20);
    let ack = ServerPacket::MessageAck(MessageAck {
        msg_id: 7,
        flags: 0,
        from: "alice@mail.ru".into(),
        text: "Привет! Как дела сегодня?".into(),
        rtf: Vec::new(),
    });
    group.bench_function("MESSAGE_ACK (UTF-16LE)", |b| {
        b.iter(|| {
            out.clear();
            ack.encode(V1_16, 1, &mut out);
        })
    });
    let status = ServerPacket::UserStatus {
        status: StatusInfo { status: 1, ..StatusInfo::default() },
        email: "alice@mail.ru".into(),
        user_agent: String::new(),
    };
    group.bench_function("USER_STATUS", |b| {
        b.iter(|| {
            out.clear();
            status.encode(V1_16, 1, &mut out);
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);

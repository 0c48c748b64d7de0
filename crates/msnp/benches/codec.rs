//! MSNP decoding and encoding: a switchboard's worth of `MSG`s in, presence and messages out.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use msnp::{Direction, FrameDecoder, Limits, MsnStatus, NsCommand, PresenceExtras, Reply, SbCommand};

fn stream(messages: usize) -> Vec<u8> {
    let body = msnp::message::text("Hello there, how are you doing today?", None);
    let mut out = Vec::new();
    for trid in 1..=messages {
        out.extend_from_slice(format!("MSG {trid} A {}\r\n{body}", body.len()).as_bytes());
    }
    out
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("msnp decode");
    let bytes = stream(1000);
    group.throughput(Throughput::Elements(1000));
    group.bench_function(BenchmarkId::new("MSG frames + SbCommand", 1000), |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new(Direction::ClientToServer, Limits::default());
            let mut buf = BytesMut::from(&bytes[..]);
            let mut n = 0;
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                n += usize::from(SbCommand::parse(&frame).is_ok());
            }
            assert_eq!(n, 1000);
        })
    });
    let lines: Vec<u8> =
        (1..=1000).flat_map(|t| format!("ADC {t} FL N=bob{t}@hotmail.com F=Bob%20{t}\r\n").into_bytes()).collect();
    group.bench_function(BenchmarkId::new("ADC lines + NsCommand", 1000), |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new(Direction::ClientToServer, Limits::default());
            let mut buf = BytesMut::from(&lines[..]);
            let mut n = 0;
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                n += usize::from(NsCommand::parse(&frame).is_ok());
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("msnp encode");
    group.throughput(Throughput::Elements(1));
    let body = msnp::message::text("Hello there, how are you doing today?", None);
    let mut out = BytesMut::with_capacity(1 << 20);
    group.bench_function("NLN with extras", |b| {
        b.iter(|| {
            out.clear();
            let extras = PresenceExtras { capabilities: Some(268_435_492), object: None };
            Reply::Nln { status: MsnStatus::Away, handle: "alice@hotmail.com", friendly: "Alice Ä", extras }
                .encode(&mut out);
        })
    });
    group.bench_function("MSG to a participant", |b| {
        b.iter(|| {
            out.clear();
            Reply::Msg { handle: "alice@hotmail.com", friendly: "Alice", body: body.as_bytes() }.encode(&mut out);
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);

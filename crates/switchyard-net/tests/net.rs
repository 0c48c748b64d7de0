use std::sync::Arc;
use std::time::Duration;
use switchyard_net::{BufferedStream, ConnectionBudget, Connections, ReadError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// A connected pair: (client side, server side).
async fn pair() -> (TcpStream, BufferedStream) {
    let listener = listener().await;
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, BufferedStream::new(server))
}

#[tokio::test]
async fn a_full_front_accepts_again_once_a_connection_ends() {
    let listener = listener().await;
    let address = listener.local_addr().unwrap();
    let connections = Connections::new(1, ConnectionBudget::new(100, 100));
    let shutdown = CancellationToken::new();
    let _first = TcpStream::connect(address).await.unwrap();
    let _second = TcpStream::connect(address).await.unwrap();

    let (_, _, slot) = connections.accept(&listener, &shutdown).await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(200), connections.accept(&listener, &shutdown)).await;
    assert!(waiting.is_err(), "a second connection was accepted while the only slot was taken");

    let (finish, finished) = tokio::sync::oneshot::channel::<()>();
    connections.spawn(slot, move || async move {
        let _ = finished.await;
    });
    let still_waiting =
        tokio::time::timeout(Duration::from_millis(200), connections.accept(&listener, &shutdown)).await;
    assert!(still_waiting.is_err(), "the slot was given back before its connection ended");

    finish.send(()).unwrap();
    let accepted = tokio::time::timeout(Duration::from_secs(10), connections.accept(&listener, &shutdown)).await;
    assert!(matches!(accepted, Ok(Some(_))), "the freed slot was not used");
}

#[tokio::test]
async fn accept_ends_at_shutdown_and_closed_waits_for_connections() {
    let listener = listener().await;
    let address = listener.local_addr().unwrap();
    let connections = Connections::new(4, ConnectionBudget::new(100, 100));
    let shutdown = CancellationToken::new();
    let _client = TcpStream::connect(address).await.unwrap();
    let (_, _, slot) = connections.accept(&listener, &shutdown).await.unwrap();
    let (finish, finished) = tokio::sync::oneshot::channel::<()>();
    connections.spawn(slot, move || async move {
        let _ = finished.await;
    });

    shutdown.cancel();
    assert!(connections.accept(&listener, &shutdown).await.is_none());
    let closed = connections.clone();
    let mut closing = tokio::spawn(async move { closed.closed().await });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut closing).await.is_err(),
        "closed() returned while a connection was still running"
    );
    finish.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), closing).await.unwrap().unwrap();
}

#[tokio::test]
async fn reads_append_and_end_with_closed() {
    let (mut client, mut server) = pair().await;
    client.write_all(b"hello").await.unwrap();
    while server.input.len() < 5 {
        server.read_more::<()>().await.unwrap();
    }
    assert_eq!(&server.input[..], b"hello");
    drop(client);
    assert!(matches!(server.read_more::<()>().await, Err(ReadError::Closed)));
}

#[tokio::test]
async fn flush_sends_everything_and_a_big_buffer_is_not_kept() {
    let (mut client, mut server) = pair().await;
    let big = vec![7u8; 1 << 20];
    server.output.extend_from_slice(&big);
    let reader = tokio::spawn(async move {
        let mut received = vec![0u8; 1 << 20];
        client.read_exact(&mut received).await.unwrap();
        received
    });
    server.flush().await.unwrap();
    assert!(server.output.is_empty());
    assert!(server.output.capacity() <= 4096, "an idle connection kept {} bytes", server.output.capacity());
    assert_eq!(reader.await.unwrap(), big);
}

#[tokio::test]
async fn starttls_refuses_bytes_sent_before_the_go_ahead() {
    // Plain-text bytes read before the handshake would be taken as if they came over TLS.
    let (mut client, mut server) = pair().await;
    client.write_all(b"injected").await.unwrap();
    server.read_more::<()>().await.unwrap();
    let config = rustls_config();
    let error = server.start_tls(config).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(!server.is_tls());
}

fn rustls_config() -> Arc<rustls::ServerConfig> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    Arc::new(config)
}

/// A busy connection reads in growing pieces (up to 16 KiB) and a quiet one gives the room
/// back: idle sessions stay small.
#[tokio::test]
async fn reads_grow_with_a_burst_and_shrink_when_quiet() {
    let (mut client, mut server) = pair().await;
    let burst = vec![b'x'; 256 * 1024];
    let writer = tokio::spawn(async move {
        client.write_all(&burst).await.unwrap();
        client
    });
    let (mut received, mut largest) = (0, 0);
    while received < 256 * 1024 {
        server.read_more::<std::convert::Infallible>().await.unwrap();
        largest = largest.max(server.input.len());
        received += server.input.len();
        server.input.clear();
    }
    assert!(largest > 8 * 1024, "a burst is read in large pieces (largest {largest})");
    assert!(largest <= 16 * 1024, "no read takes more than 16 KiB (largest {largest})");

    let mut client = writer.await.unwrap();
    for _ in 0..8 {
        client.write_all(b"PNG\r\n").await.unwrap();
        server.read_more::<std::convert::Infallible>().await.unwrap();
        server.input.clear();
    }
    assert!(server.input.capacity() <= 1024, "a quiet connection keeps {} bytes", server.input.capacity());
}

#[tokio::test(start_paused = true)]
async fn a_write_that_times_out_ends_the_connection_and_nothing_is_sent_twice() {
    let (mut client, mut server) = pair().await;
    // Numbered bytes: any repetition shows as a break in the sequence.
    let sent: Vec<u8> = (0..4u32 << 20).flat_map(|i| i.to_be_bytes()).take(16 << 20).collect();
    server.output.extend_from_slice(&sent);
    // The client reads nothing: the write stalls until its deadline.
    let error = server.flush().await.expect_err("a stalled write fails");
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert!(server.output.is_empty(), "what was not written is dropped, not kept to write again");
    server.output.extend_from_slice(b"more");
    assert!(server.flush().await.is_err(), "nothing is written after a failed write");
    server.close().await;

    let mut received = Vec::new();
    let _ = client.read_to_end(&mut received).await;
    assert!(received.len() < sent.len(), "the client did not read, so not everything went out");
    assert!(sent.starts_with(&received), "what arrived is a prefix of what was sent, no byte repeated");
}

#[tokio::test]
async fn listeners_share_one_budget_and_an_address_has_a_cap() {
    let shutdown = CancellationToken::new();
    // Two fronts of ten places each, but three places for the whole process.
    let budget = ConnectionBudget::new(3, 2);
    let (first, second) = (Connections::new(10, budget.clone()), Connections::new(10, budget));
    let (a, b) = (listener().await, listener().await);
    // 127.0.0.1 may have two: its third is closed at once, and 127.0.0.2 gets the last place.
    let _c1 = TcpStream::connect(a.local_addr().unwrap()).await.unwrap();
    let _c2 = TcpStream::connect(b.local_addr().unwrap()).await.unwrap();
    let (_, _, s1) = first.accept(&a, &shutdown).await.unwrap();
    let (_, _, s2) = second.accept(&b, &shutdown).await.unwrap();
    let mut third = TcpStream::connect(a.local_addr().unwrap()).await.unwrap();
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let _c4 = other.connect(a.local_addr().unwrap()).await.unwrap();
    let (_, peer, s3) = first.accept(&a, &shutdown).await.unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.2", "the capped address's connection was passed over");
    let mut byte = [0u8; 1];
    assert_eq!(third.read(&mut byte).await.unwrap_or(0), 0, "closed at once");
    // The process's three places are taken: the next connection waits, from any address.
    let _c5 = TcpStream::connect(b.local_addr().unwrap()).await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(200), second.accept(&b, &shutdown)).await;
    assert!(waiting.is_err(), "no place left in the shared budget");
    drop((s1, s2, s3));
    let (_, _, _slot) = tokio::time::timeout(Duration::from_secs(5), second.accept(&b, &shutdown))
        .await
        .expect("a place came free")
        .unwrap();
}

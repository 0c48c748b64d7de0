//! A session's end of the wire: addressing, sequence numbers, the duplicate window, decryption
//! and reliable sending with what each acknowledgement completes.

use crate::stats::Stats;
use crate::Context;
use myicq::codes::cmd;
use myicq::datagram::server_datagram;
use myicq::reliable::{QueueFull, ReceiveWindow, Received, SendQueue, SequenceCounter};
use myicq::server::ServerPacket;
use myicq::{BodyCipher, ClientHeader, ServerHeader, HEADER_LEN};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Reliable packets in flight at once; more wait their turn.
const WINDOW: usize = 32;
/// Reliable packets waiting in all. A client this far behind is not reading: it is logged out.
const QUEUE_LIMIT: usize = 2_048;

/// What the client's acknowledgement of a packet completes.
#[derive(Debug)]
pub(crate) enum Completes {
    /// An offline message, deleted once acknowledged.
    Offline(i64),
    /// A broadcast, marked seen once acknowledged.
    Broadcast(i64),
    /// A message delivered live: forgotten once acknowledged, queued for the next login if it
    /// never is (its hand-off does that when dropped).
    Live(switchyard_core::Handoff),
}

/// A datagram that passed the checks, decrypted.
pub(crate) struct Accepted {
    pub header: ClientHeader,
    pub body: Vec<u8>,
}

pub(crate) struct Link {
    pub context: Arc<Context>,
    pub peer: SocketAddr,
    pub ver: u16,
    pub uin: u32,
    sid: u32,
    seq: SequenceCounter,
    window: ReceiveWindow,
    outbox: SendQueue,
    completes: HashMap<u16, Completes>,
    /// Requests left unacknowledged because they could not be done (the store failed): when the
    /// client sends one again it is done again, not taken for a duplicate.
    retry: Vec<u16>,
    cipher: Option<BodyCipher>,
    pub now: Instant,
}

/// Requests waiting to be tried again at most; older ones are given up (and their resends
/// acknowledged as duplicates).
const RETRY_LIMIT: usize = 8;

impl Link {
    /// A link for a session whose first datagram has `first` as its header.
    pub(crate) fn new(context: Arc<Context>, first: ClientHeader, peer: SocketAddr, now: Instant) -> Link {
        Link {
            context,
            peer,
            ver: first.ver,
            uin: first.uin,
            sid: first.sid,
            // The server's numbers start from the client's, as myicqd's did.
            seq: SequenceCounter::new(first.seq),
            window: ReceiveWindow::new(first.seq),
            outbox: SendQueue::new(WINDOW, QUEUE_LIMIT),
            completes: HashMap::new(),
            retry: Vec::new(),
            cipher: None,
            now,
        }
    }

    /// From now on, bodies are decrypted with this password's key.
    pub(crate) fn set_key(&mut self, password: &[u8]) {
        self.cipher = Some(BodyCipher::new(password));
    }

    /// Decrypts and de-duplicates a datagram. A duplicate is acknowledged again, not returned;
    /// an ACK is returned as it is (its seq is the server's). From `elsewhere` than the
    /// session's address, only a datagram that decrypts counts: anyone can forge an empty body
    /// (an ACK, a LOGOUT) with a session's UIN and id.
    pub(crate) async fn accept(&mut self, datagram: &[u8], elsewhere: bool) -> Option<Accepted> {
        let header = ClientHeader::parse(datagram)?;
        let sealed = &datagram[HEADER_LEN..];
        let unproven = cmd::is_plain(header.cmd) || sealed.is_empty();
        if elsewhere && unproven {
            tracing::debug!(cmd = header.cmd, "unencrypted datagram from another address dropped");
            Stats::count(&self.context.stats.spoofed);
            return None;
        }
        let body = if unproven {
            sealed.to_vec()
        } else {
            let opened = self.cipher.as_ref().map(|cipher| cipher.open(sealed, header.cc));
            match opened {
                Some(Ok(body)) => body,
                Some(Err(e)) => {
                    tracing::debug!(cmd = header.cmd, error = %e, "undecryptable datagram dropped");
                    Stats::count(&self.context.stats.undecryptable);
                    return None;
                }
                None => {
                    tracing::debug!(cmd = header.cmd, "encrypted datagram before login dropped");
                    Stats::count(&self.context.stats.no_session);
                    return None;
                }
            }
        };
        if header.cmd != cmd::ACK && self.window.receive(header.seq) == Received::Duplicate {
            if let Some(at) = self.retry.iter().position(|seq| *seq == header.seq) {
                self.retry.remove(at);
            } else {
                self.pure_ack(header.seq).await;
                return None;
            }
        }
        Some(Accepted { header, body })
    }

    /// Leaves the client's `seq` unacknowledged: its resend is done again.
    pub(crate) fn retry_when_resent(&mut self, seq: u16) {
        if self.retry.len() == RETRY_LIMIT {
            self.retry.remove(0);
        }
        self.retry.push(seq);
    }

    fn header(&self, cmd: u16, seq: u16, ackseq: u16) -> ServerHeader {
        ServerHeader { ver: self.ver, uin: self.uin, sid: self.sid, cmd, seq, ackseq }
    }

    async fn transmit(&self, datagram: &[u8]) {
        if let Err(e) = self.context.socket.send_to(datagram, self.peer).await {
            tracing::debug!(error = %e, "send failed");
        }
    }

    /// Acknowledges the client's `seq` with a header-only packet.
    pub(crate) async fn pure_ack(&self, seq: u16) {
        self.transmit(&server_datagram(&self.header(cmd::ACK, 0, seq), &[])).await;
    }

    /// Sends a packet the client does not acknowledge (the keepalive reply): never resent.
    pub(crate) async fn send_once(&mut self, packet: &ServerPacket, ackseq: u16) {
        let seq = self.seq.advance();
        self.transmit(&server_datagram(&self.header(packet.cmd(), seq, ackseq), &packet.encode())).await;
    }

    /// Sends `packet` reliably: a reply to the client's `ackseq`, or 0 for a push. `completes`
    /// is done when the client acknowledges it.
    pub(crate) async fn send(
        &mut self,
        packet: &ServerPacket,
        ackseq: u16,
        completes: Option<Completes>,
    ) -> Result<(), QueueFull> {
        let seq = self.seq.advance();
        let datagram = server_datagram(&self.header(packet.cmd(), seq, ackseq), &packet.encode());
        self.outbox.push(seq, datagram)?;
        if let Some(completes) = completes {
            self.completes.insert(seq, completes);
        }
        self.flush().await;
        Ok(())
    }

    /// Sends what the window admits now; returns whether a packet was given up on (what it
    /// completed is dropped: a live message's hand-off puts it back in the durable queue).
    pub(crate) async fn flush(&mut self) -> bool {
        let due = self.outbox.due(self.now);
        for datagram in &due.transmit {
            self.transmit(datagram).await;
        }
        for seq in &due.given_up {
            self.completes.remove(seq);
        }
        !due.given_up.is_empty()
    }

    /// The client acknowledged our `seq`: what that completes, if anything.
    pub(crate) async fn acknowledged(&mut self, seq: u16) -> Option<Completes> {
        if !self.outbox.acknowledged(seq) {
            return None;
        }
        let completes = self.completes.remove(&seq);
        self.flush().await;
        completes
    }

    /// Whether nothing waits for an acknowledgement (so nothing can fall due).
    pub(crate) fn is_idle(&self) -> bool {
        self.outbox.is_empty()
    }

    /// Whether more may be queued without nearing the limit: while not, the session leaves the
    /// core's events waiting (their own bounded queue ends a session that stays behind).
    pub(crate) fn has_room(&self) -> bool {
        self.outbox.len() < QUEUE_LIMIT / 2
    }

    /// The client's IPv4 address as the server sees it, in network order (0 over IPv6).
    pub(crate) fn public_ip(&self) -> u32 {
        match self.peer.ip() {
            std::net::IpAddr::V4(v4) => u32::from(v4),
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(u32::from).unwrap_or(0),
        }
    }
}

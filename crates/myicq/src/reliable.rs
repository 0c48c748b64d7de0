//! Reliable delivery over UDP as MyICQ does it, as pure state: the caller passes the time in,
//! so every rule is tested without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Width of the duplicate-detection window (the server's 32-packet window).
pub const WINDOW: u16 = 32;
/// A reliable packet is resent after this long without an ACK (`SEND_TIMEOUT`).
pub const RESEND_AFTER: Duration = Duration::from_secs(10);
/// Resends before a packet is given up (`MAX_SEND_ATTEMPTS`): 3 transmissions in all.
pub const MAX_RESENDS: u8 = 2;
/// Silence after which a session has expired; only KEEPALIVE refreshes it.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether a received sequence number is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    New,
    /// Seen before: re-ACK it, do not process it again.
    Duplicate,
}

/// The 32-packet sliding window over the peer's sequence numbers. Unlike the original
/// server's, it survives the 16-bit wrap-around (serial-number arithmetic).
#[derive(Debug, Clone)]
pub struct ReceiveWindow {
    /// The lowest sequence number not received yet.
    base: u16,
    /// Bit `d` set: `base + d` was received (bit 0 is always clear).
    seen: u32,
}

impl ReceiveWindow {
    /// A window whose first expected packet is `first`.
    pub fn new(first: u16) -> Self {
        ReceiveWindow { base: first, seen: 0 }
    }

    pub fn receive(&mut self, seq: u16) -> Received {
        let d = seq.wrapping_sub(self.base);
        if d >= 0x8000 {
            return Received::Duplicate;
        }
        if d >= WINDOW {
            // Far ahead: whatever the window still missed is given up on.
            let shift = d - (WINDOW - 1);
            self.seen = self.seen.checked_shr(u32::from(shift)).unwrap_or(0);
            self.base = self.base.wrapping_add(shift);
        }
        let bit = 1u32 << seq.wrapping_sub(self.base);
        if self.seen & bit != 0 {
            return Received::Duplicate;
        }
        self.seen |= bit;
        while self.seen & 1 != 0 {
            self.seen >>= 1;
            self.base = self.base.wrapping_add(1);
        }
        Received::New
    }
}

/// Sequence numbers for one's own reliable packets. 0 is never used: it marks a pure ACK.
#[derive(Debug, Clone)]
pub struct SequenceCounter(u16);

impl SequenceCounter {
    /// Counting on from `start` (the server starts from the client's initial seq).
    pub fn new(start: u16) -> Self {
        SequenceCounter(start)
    }

    pub fn advance(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1);
        if self.0 == 0 {
            self.0 = 1;
        }
        self.0
    }
}

#[derive(Debug, Clone)]
struct Pending {
    seq: u16,
    datagram: Vec<u8>,
    resend_at: Instant,
    resends: u8,
}

/// What is due at a point in time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// Datagrams to send now: first transmissions the window admits, and resends as they were.
    pub transmit: Vec<Vec<u8>>,
    /// Sequence numbers given up on: the peer never answered them.
    pub given_up: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many unacknowledged packets")]
pub struct QueueFull;

/// Reliable packets not yet acknowledged: at most `window` of them in flight, the rest waiting
/// their turn, `limit` in all (a peer that far behind is not reading).
#[derive(Debug, Clone)]
pub struct SendQueue {
    in_flight: VecDeque<Pending>,
    waiting: VecDeque<(u16, Vec<u8>)>,
    window: usize,
    limit: usize,
}

impl SendQueue {
    pub fn new(window: usize, limit: usize) -> Self {
        SendQueue { in_flight: VecDeque::new(), waiting: VecDeque::new(), window: window.max(1), limit }
    }

    /// Queues a reliable datagram; [`SendQueue::due`] says when to transmit it.
    pub fn push(&mut self, seq: u16, datagram: Vec<u8>) -> Result<(), QueueFull> {
        if self.len() >= self.limit {
            return Err(QueueFull);
        }
        self.waiting.push_back((seq, datagram));
        Ok(())
    }

    /// The peer acknowledged `seq`; false if it was not in flight (a late or duplicate ACK).
    pub fn acknowledged(&mut self, seq: u16) -> bool {
        let before = self.in_flight.len();
        self.in_flight.retain(|p| p.seq != seq);
        self.in_flight.len() != before
    }

    /// Transmissions and give-ups due at `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        self.in_flight.retain_mut(|p| {
            if p.resend_at > now {
                return true;
            }
            if p.resends == MAX_RESENDS {
                due.given_up.push(p.seq);
                return false;
            }
            p.resends += 1;
            p.resend_at = now + RESEND_AFTER;
            due.transmit.push(p.datagram.clone());
            true
        });
        while self.in_flight.len() < self.window {
            let Some((seq, datagram)) = self.waiting.pop_front() else { break };
            due.transmit.push(datagram.clone());
            self.in_flight.push_back(Pending { seq, datagram, resend_at: now + RESEND_AFTER, resends: 0 });
        }
        due
    }

    /// When `due` next has something to do, if not at once.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.in_flight.iter().map(|p| p.resend_at).min()
    }

    pub fn len(&self) -> usize {
        self.in_flight.len() + self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A session's life: it ends `KEEPALIVE_TIMEOUT` after the last keepalive.
#[derive(Debug, Clone, Copy)]
pub struct Expiry {
    at: Instant,
}

impl Expiry {
    pub fn new(now: Instant) -> Self {
        Expiry { at: now + KEEPALIVE_TIMEOUT }
    }

    pub fn keepalive(&mut self, now: Instant) {
        self.at = now + KEEPALIVE_TIMEOUT;
    }

    pub fn expired(&self, now: Instant) -> bool {
        now >= self.at
    }

    pub fn at(&self) -> Instant {
        self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_duplicates_and_reordering() {
        let mut w = ReceiveWindow::new(100);
        assert_eq!(w.receive(100), Received::New);
        assert_eq!(w.receive(100), Received::Duplicate);
        assert_eq!(w.receive(102), Received::New, "a gap is fine");
        assert_eq!(w.receive(101), Received::New, "the late one arrives");
        assert_eq!(w.receive(102), Received::Duplicate);
        assert_eq!(w.receive(99), Received::Duplicate, "before the window");
        assert_eq!(w.receive(103), Received::New);
    }

    #[test]
    fn far_ahead_slides_and_wraps_around() {
        let mut w = ReceiveWindow::new(65_530);
        for seq in [65_530, 65_531, 65_535, 0, 1] {
            assert_eq!(w.receive(seq), Received::New, "{seq}");
        }
        assert_eq!(w.receive(0), Received::Duplicate);
        assert_eq!(w.receive(65_533), Received::New, "still inside the window across the wrap");
        assert_eq!(w.receive(200), Received::New, "far ahead slides the window");
        assert_eq!(w.receive(65_532), Received::Duplicate, "now behind it");
        assert_eq!(w.receive(200), Received::Duplicate);
        assert_eq!(w.receive(190), Received::New, "within 32 of the newest");
    }

    #[test]
    fn sequence_numbers_skip_zero() {
        let mut s = SequenceCounter::new(65_534);
        assert_eq!([s.advance(), s.advance(), s.advance()], [65_535, 1, 2]);
    }

    #[test]
    fn resent_at_ten_and_twenty_seconds_then_given_up() {
        let t0 = Instant::now();
        let mut q = SendQueue::new(4, 8);
        q.push(7, b"seven".to_vec()).unwrap();
        q.push(8, b"eight".to_vec()).unwrap();
        assert_eq!(q.due(t0).transmit, [b"seven".to_vec(), b"eight".to_vec()], "first transmissions");
        assert!(q.acknowledged(8));
        assert!(!q.acknowledged(8), "a second ACK finds nothing");
        assert_eq!(q.due(t0 + Duration::from_secs(9)), Due::default());
        assert_eq!(q.next_deadline(), Some(t0 + RESEND_AFTER));
        assert_eq!(q.due(t0 + RESEND_AFTER).transmit, [b"seven".to_vec()]);
        assert_eq!(q.due(t0 + RESEND_AFTER * 2).transmit, [b"seven".to_vec()]);
        let last = q.due(t0 + RESEND_AFTER * 3);
        assert_eq!((last.transmit.len(), last.given_up), (0, vec![7]));
        assert!(q.is_empty() && q.next_deadline().is_none());
    }

    #[test]
    fn the_window_meters_transmissions_and_the_queue_is_bounded() {
        let now = Instant::now();
        let mut q = SendQueue::new(2, 3);
        for seq in 1..=3 {
            q.push(seq, vec![seq as u8]).unwrap();
        }
        assert_eq!(q.push(4, vec![4]), Err(QueueFull));
        assert_eq!(q.due(now).transmit, [vec![1], vec![2]], "two in flight");
        assert_eq!(q.due(now).transmit, Vec::<Vec<u8>>::new());
        q.acknowledged(1);
        assert_eq!(q.due(now).transmit, [vec![3]], "an ACK lets the next one go");
        assert!(q.push(4, vec![4]).is_ok());
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn only_keepalives_extend_a_session() {
        let t0 = Instant::now();
        let mut e = Expiry::new(t0);
        assert!(!e.expired(t0 + Duration::from_secs(179)));
        assert!(e.expired(t0 + KEEPALIVE_TIMEOUT));
        e.keepalive(t0 + Duration::from_secs(100));
        assert!(!e.expired(t0 + Duration::from_secs(279)));
        assert!(e.expired(t0 + Duration::from_secs(280)));
    }
}

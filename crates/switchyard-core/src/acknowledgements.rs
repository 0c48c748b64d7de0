//! Acknowledging a client's messages in the order it sent them, each once it is safe, while its
//! session goes on with the client's next commands: a sender is never told "delivered" early,
//! and never waits for one message before the next is even read.

use crate::delivery::Accepted;
use crate::error::CoreError;
use crate::routing::Delivery;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Messages whose acknowledgement a session has not sent yet at most; past it, the session
/// reads no more from its client until some are settled.
const MOST_PENDING: usize = 256;

/// Turns of the runtime a session lets pass between its first settled reply and its answer
/// (see [`Acknowledgements::let_more_settle`]). Two measured best with `yard-bench --protocol
/// mrim pairs` (none, one and two side by side: BENCHMARKS.md, 2026-12-05).
const YIELDS_BEFORE_ANSWERING: usize = 2;

/// The replies a session owes its client, each waiting for the messages it acknowledges.
pub struct Acknowledgements<R> {
    pending: VecDeque<Pending<R>>,
}

struct Pending<R> {
    reply: R,
    /// Most messages have one recipient: theirs needs no list of its own.
    part: Option<Accepted>,
    more: Vec<Accepted>,
    outcome: Result<Delivery, CoreError>,
}

impl<R> Default for Acknowledgements<R> {
    fn default() -> Self {
        Acknowledgements { pending: VecDeque::new() }
    }
}

impl<R> Acknowledgements<R> {
    /// Whether the session may take another message from its client.
    pub fn has_room(&self) -> bool {
        self.pending.len() < MOST_PENDING
    }

    /// Owes `reply` once every part (one per recipient) is safe. Its outcome is the first
    /// refusal among them, else a delivery.
    pub fn push(&mut self, reply: R, parts: impl IntoIterator<Item = Accepted>) {
        let mut parts = parts.into_iter();
        let part = parts.next();
        let more = parts.collect();
        self.pending.push_back(Pending { reply, part, more, outcome: Ok(Delivery::Live) });
    }

    /// The next reply, in order, once it is settled; never, while nothing is owed.
    /// Cancellation-safe: what was settled stays settled.
    pub async fn next(&mut self) -> (R, Result<Delivery, CoreError>) {
        std::future::poll_fn(|cx| self.poll_head(cx)).await;
        self.ready().expect("a settled head stays settled")
    }

    /// For a session that got a settled reply from [`Acknowledgements::next`], before it
    /// takes the rest with [`Acknowledgements::ready`] and writes. Settlements come in bursts:
    /// one write to a recipient settles every message it carried, and the rest of the burst
    /// may be a task or two away. Letting the runtime go round first puts them in this write
    /// too: fewer, fuller writes, and on a quiet server a delay of microseconds.
    pub async fn let_more_settle(&self) {
        for _ in 0..YIELDS_BEFORE_ANSWERING {
            tokio::task::yield_now().await;
        }
    }

    /// The next reply if it is settled already.
    pub fn ready(&mut self) -> Option<(R, Result<Delivery, CoreError>)> {
        match self.poll_head(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(()) => {
                let settled = self.pending.pop_front().expect("the head exists");
                Some((settled.reply, settled.outcome))
            }
            Poll::Pending => None,
        }
    }

    /// Ready once the oldest reply owed is settled.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(head) = self.pending.front_mut() else { return Poll::Pending };
        loop {
            let part = match (&mut head.part, head.more.last_mut()) {
                (_, Some(last)) => last,
                (Some(first), None) => first,
                (None, None) => return Poll::Ready(()),
            };
            let outcome = std::task::ready!(Pin::new(part).poll(cx));
            if head.more.pop().is_none() {
                head.part = None;
            }
            if head.outcome.is_ok() {
                head.outcome = outcome;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Journal;
    use crate::memory::MemoryStore;
    use crate::store::{MessageKind, OfflineMessage};
    use crate::AccountId;
    use std::sync::Arc;

    fn refused() -> Accepted {
        Accepted::ready(Err(CoreError::NotAllowed))
    }

    #[tokio::test]
    async fn replies_come_in_order_each_once_all_its_parts_are_settled() {
        let journal = Journal::start(Arc::new(MemoryStore::new()), std::time::Duration::from_secs(60), |_| {});
        let message = OfflineMessage {
            sender: AccountId(1),
            recipient: AccountId(2),
            kind: MessageKind::Text,
            text: "hi".into(),
            sent_at: 0,
        };
        let (handoff, in_flight) = journal.hand_off(message, None);
        let mut acks = Acknowledgements::default();
        acks.push("first", vec![Accepted::ready(Ok(Delivery::Live)), in_flight]);
        acks.push("second", vec![Accepted::ready(Ok(Delivery::Queued(7)))]);
        acks.push("third", vec![refused(), Accepted::ready(Ok(Delivery::Live))]);
        assert!(acks.ready().is_none(), "the first waits for its second part, and the rest behind it");
        handoff.received();
        let (reply, outcome) = acks.next().await;
        assert_eq!(reply, "first");
        assert!(outcome.is_ok());
        assert_eq!(acks.ready().map(|(r, o)| (r, o.unwrap())), Some(("second", Delivery::Queued(7))));
        let (reply, outcome) = acks.ready().unwrap();
        assert_eq!(reply, "third");
        assert!(matches!(outcome, Err(CoreError::NotAllowed)), "a refusal wins over deliveries");
        assert!(acks.ready().is_none());
    }
}

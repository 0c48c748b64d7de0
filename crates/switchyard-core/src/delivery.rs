//! Messages in flight. From the moment a sender may hear that a message is delivered, the
//! message is written to the recipient's client or in the durable queue, whatever happens
//! meanwhile to sessions, tasks or the process.
//!
//! A message for a live session travels as a [`Handoff`] beside the event that carries it.
//! The journal, one task per server, stores every message its recipient's client does not have
//! within a short grace; messages that reach their client in time (nearly all of them) never
//! touch the disk. The sender's [`Accepted`] resolves at whichever comes first: the message
//! written to the client's connection, or stored. A session that ends, however it ends, drops
//! its hand-offs; each one not yet received is then stored (if the grace had not already done
//! so) and the recipient's current session, if any, told to read the queue.
//!
//! Stored messages are deleted when the client receives them, in the same batched transactions
//! that store new ones, so a busy server writes the disk once per batch, not per message.

use crate::account::AccountId;
use crate::error::CoreError;
use crate::routing::Delivery;
use crate::store::{OfflineMessage, Store, StoreError};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

/// What the sender of a message learns, once it is safe.
type Outcome = Result<Delivery, CoreError>;

/// The journal's handle: what the core and the hand-offs it makes talk to.
#[derive(Clone)]
pub(crate) struct Journal {
    jobs: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Messages to store once due unless their client has them by then, in the order they
    /// came, so each recipient's messages are stored in the order sent. A hand-off only
    /// pushes here (no task is woken per message); the writer sleeps until the first is due.
    due: Mutex<VecDeque<(Instant, Due)>>,
    /// What sessions ask of the writer besides storing.
    chores: Mutex<Chores>,
    /// Wakes the writer when `due` gets a first entry or `chores` one.
    arrived: Notify,
    /// Queue ids whose message a live hand-off still carries toward its client: reading the
    /// queue skips them, so they do not come twice.
    held: Mutex<HashSet<i64>>,
    /// Bytes of message text held in memory for recipients, over the whole server.
    bytes: AtomicUsize,
    /// When the memory limit was last reported (Unix seconds).
    memory_full_warned: AtomicI64,
    grace: Duration,
}

/// A message waiting in `due`.
enum Due {
    /// Held by its hand-off meanwhile: one whose client received it is gone by its time, its
    /// memory freed by the session that settled it, and the writer skips it.
    Grace(Weak<Flight>),
    /// Nothing else may hold it (given up, or for no session): kept here until stored.
    Now(Arc<Flight>),
}

/// What the core's handles ask of the writer; it ends once they are all gone.
enum Job {
    /// Store everything waiting, at once; answer when done (shutdown).
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
struct Chores {
    /// Recipients a session gave up a stored message for: they are to read the queue.
    announce: Vec<AccountId>,
    /// Stored messages their clients received: to delete.
    forget: Vec<(AccountId, i64)>,
}

/// One message on its way to one recipient.
struct Flight {
    message: OfflineMessage,
    bytes: usize,
    /// The recipient's session's count of bytes held, if it has a session.
    session_bytes: Option<Arc<AtomicUsize>>,
    /// The journal's, not a [`Journal`]: a hand-off does not keep the writer running.
    shared: Arc<Shared>,
    state: Mutex<FlightState>,
}

impl Flight {
    fn give_back_bytes(&self) {
        self.shared.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
        if let Some(counter) = &self.session_bytes {
            counter.fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct FlightState {
    /// Written to the client's connection: safe, and need not be stored while the session lasts.
    written: bool,
    /// The client has it: nothing is kept.
    received: bool,
    /// The session gave it up before the client received it.
    abandoned: bool,
    storing: bool,
    stored: Option<i64>,
    /// What the sender learns, until its [`Accepted`] takes it.
    outcome: Option<Outcome>,
    /// Whether the sender has been told (once is all).
    told: bool,
    /// Who waits to hear.
    sender: Option<Listener>,
}

/// Who waits to hear what became of a message.
enum Listener {
    /// The sender's task, polling its [`Accepted`].
    Task(Waker),
    /// A call made with the outcome ([`Accepted::then`]).
    Call(Settled),
}

type Settled = Box<dyn FnOnce(Outcome) + Send>;

/// What to do, outside the flight's lock, once a sender's outcome is settled.
enum Notice {
    Wake(Waker),
    Call(Settled, Outcome),
}

impl Notice {
    fn deliver(self) {
        match self {
            Notice::Wake(sender) => sender.wake(),
            Notice::Call(settled, outcome) => settled(outcome),
        }
    }
}

impl FlightState {
    /// Settles what the sender learns; returns how to tell it, if it waits.
    #[must_use = "the sender waits until it is told"]
    fn tell_sender(&mut self, outcome: Outcome) -> Option<Notice> {
        if self.told {
            return None;
        }
        self.told = true;
        match self.sender.take() {
            Some(Listener::Call(settled)) => Some(Notice::Call(settled, outcome)),
            Some(Listener::Task(sender)) => {
                self.outcome = Some(outcome);
                Some(Notice::Wake(sender))
            }
            None => {
                self.outcome = Some(outcome);
                None
            }
        }
    }
}

/// Senders to wake once a session has settled a batch of messages (those one write took to the
/// client): each sender's task then runs once and finds all of its messages settled, rather than
/// being woken, perhaps on the other thread, once per message and answering its client in pieces.
/// Senders that wait by a call ([`Accepted::then`]) are called then too.
#[derive(Default)]
pub struct Settlements {
    senders: Vec<Waker>,
    calls: Vec<(Settled, Outcome)>,
}

impl Settlements {
    /// As [`Handoff::written`], its sender told when this is dropped.
    pub fn written(&mut self, handoff: &Handoff) {
        self.tell_later(handoff.mark_written());
    }

    /// As [`Handoff::received`], its sender told when this is dropped.
    pub fn received(&mut self, handoff: Handoff) {
        self.tell_later(handoff.mark_received());
    }

    fn tell_later(&mut self, notice: Option<Notice>) {
        match notice {
            // A sender's messages usually come together: one wake each.
            Some(Notice::Wake(sender)) if !self.senders.last().is_some_and(|last| last.will_wake(&sender)) => {
                self.senders.push(sender);
            }
            Some(Notice::Wake(_)) => {}
            Some(Notice::Call(settled, outcome)) => self.calls.push((settled, outcome)),
            None => {}
        }
    }
}

impl Drop for Settlements {
    fn drop(&mut self) {
        for sender in self.senders.drain(..) {
            sender.wake();
        }
        for (settled, outcome) in self.calls.drain(..) {
            settled(outcome);
        }
    }
}

fn tell(notice: Option<Notice>) {
    if let Some(notice) = notice {
        notice.deliver();
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is a few field writes that cannot panic half-way.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Journal {
    /// Starts the journal's task on the current Tokio runtime. `notify_waiting` tells an
    /// account's session that the queue holds something for it.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        grace: Duration,
        notify_waiting: impl Fn(AccountId) + Send + Sync + 'static,
    ) -> Journal {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            due: Mutex::default(),
            chores: Mutex::default(),
            arrived: Notify::new(),
            held: Mutex::default(),
            bytes: AtomicUsize::new(0),
            memory_full_warned: AtomicI64::new(0),
            grace,
        });
        let writer = Writer { store, shared: shared.clone(), notify_waiting: Box::new(notify_waiting) };
        tokio::spawn(writer.run(receiver));
        Journal { jobs, shared }
    }

    /// Bytes of message text held in memory for recipients.
    pub(crate) fn bytes_in_memory(&self) -> usize {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// Says, at most once a minute, that messages go to the queue first for want of memory.
    pub(crate) fn warn_memory_full(&self) {
        let now = crate::unix_now();
        let last = self.shared.memory_full_warned.load(Ordering::Relaxed);
        if now - last >= 60
            && self.shared.memory_full_warned.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(
                bytes = self.bytes_in_memory(),
                "messages held in memory at their limit (limits.memory_bytes); new ones go to the durable queue first"
            );
        }
    }

    /// A message for a live session: the hand-off travels with it to the session, the
    /// acceptance to the sender. `session_bytes` counts what the session holds.
    pub(crate) fn hand_off(
        &self,
        message: OfflineMessage,
        session_bytes: Option<Arc<AtomicUsize>>,
    ) -> (Handoff, Accepted) {
        let bytes = message.text.len();
        self.shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(counter) = &session_bytes {
            counter.fetch_add(bytes, Ordering::Relaxed);
        }
        let flight = self.flight(message, bytes, session_bytes, FlightState::default());
        self.shared.store_when_due(Due::Grace(Arc::downgrade(&flight)), Instant::now() + self.shared.grace);
        (Handoff { flight: Some(flight.clone()) }, Accepted(AcceptedState::Waiting(flight)))
    }

    /// A message with no live session to take it: stored as soon as the journal gets to it.
    pub(crate) fn store(&self, message: OfflineMessage) -> Accepted {
        let flight = self.flight(message, 0, None, FlightState { abandoned: true, ..FlightState::default() });
        self.shared.store_when_due(Due::Now(flight.clone()), Instant::now());
        Accepted(AcceptedState::Waiting(flight))
    }

    fn flight(
        &self,
        message: OfflineMessage,
        bytes: usize,
        session_bytes: Option<Arc<AtomicUsize>>,
        state: FlightState,
    ) -> Arc<Flight> {
        Arc::new(Flight { message, bytes, session_bytes, shared: self.shared.clone(), state: Mutex::new(state) })
    }

    /// Deletes a stored message its client received.
    pub(crate) fn forget(&self, recipient: AccountId, id: i64) {
        self.shared.forget(recipient, id);
    }

    /// Whether a live hand-off carries the stored message `id` to its client.
    pub(crate) fn is_held(&self, id: i64) -> bool {
        locked(&self.shared.held).contains(&id)
    }

    /// Stores everything waiting for its grace, and returns once it is stored.
    pub(crate) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        self.submit(Job::Flush(done));
        let _ = flushed.await;
    }

    fn submit(&self, job: Job) {
        // The writer ends only when every handle is gone, this one included.
        let _ = self.jobs.send(job);
    }
}

impl Shared {
    fn store_when_due(&self, flight: Due, due: Instant) {
        let first = {
            let mut waiting = locked(&self.due);
            waiting.push_back((due, flight));
            waiting.len() == 1
        };
        if first {
            self.arrived.notify_one();
        }
    }

    fn forget(&self, recipient: AccountId, id: i64) {
        locked(&self.chores).forget.push((recipient, id));
        self.arrived.notify_one();
    }

    fn announce(&self, recipient: AccountId) {
        locked(&self.chores).announce.push(recipient);
        self.arrived.notify_one();
    }
}

/// The recipient's side of a message in flight, carried with it to the session's client.
/// Dropping it before [`Handoff::received`] gives the message back to the durable queue.
#[derive(Default)]
pub struct Handoff {
    flight: Option<Arc<Flight>>,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handoff").field("carries", &self.flight.is_some()).finish()
    }
}

/// Two hand-offs are equal when they carry the same message, or both carry none.
impl PartialEq for Handoff {
    fn eq(&self, other: &Handoff) -> bool {
        match (&self.flight, &other.flight) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

impl Eq for Handoff {}

impl Handoff {
    /// A hand-off with nothing behind it: for messages that are only ever shown live
    /// (typing notices) and for what the queue itself keeps (offline messages, broadcasts).
    pub fn none() -> Handoff {
        Handoff::default()
    }

    /// Whether the message needs [`Handoff::received`] to be forgotten.
    pub fn is_durable(&self) -> bool {
        self.flight.is_some()
    }

    /// The message was written to the client's connection: the sender may hear it is
    /// delivered. It is still kept, to be queued if the session ends before
    /// [`Handoff::received`] (protocols whose clients confirm receipt).
    pub fn written(&self) {
        tell(self.mark_written());
    }

    /// The client has the message (it was written, or the client confirmed it): forgotten.
    pub fn received(self) {
        tell(self.mark_received());
    }

    /// [`Handoff::written`], but the sender is returned to tell rather than told.
    fn mark_written(&self) -> Option<Notice> {
        let flight = self.flight.as_ref()?;
        let mut state = locked(&flight.state);
        state.written = true;
        state.tell_sender(Ok(Delivery::Live))
    }

    /// [`Handoff::received`], but the sender is returned to tell rather than told.
    fn mark_received(mut self) -> Option<Notice> {
        let flight = self.flight.take()?;
        let mut state = locked(&flight.state);
        state.written = true;
        state.received = true;
        let sender = state.tell_sender(Ok(Delivery::Live));
        if let Some(id) = state.stored {
            locked(&flight.shared.held).remove(&id);
            flight.shared.forget(flight.message.recipient, id);
        }
        drop(state);
        flight.give_back_bytes();
        sender
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        let Some(flight) = self.flight.take() else { return };
        let (stored, storing) = {
            let mut state = locked(&flight.state);
            state.abandoned = true;
            if let Some(id) = state.stored {
                locked(&flight.shared.held).remove(&id);
            }
            (state.stored.is_some(), state.storing)
        };
        flight.give_back_bytes();
        let shared = flight.shared.clone();
        if stored {
            // The journal tells the recipient: a drop may happen where the core's maps are locked.
            shared.announce(flight.message.recipient);
        } else if !storing {
            shared.store_when_due(Due::Now(flight), Instant::now());
        }
        // (One being stored is announced by the writer once it is.)
    }
}

/// The sender's side: resolves once the message is safe (written to its recipient's client,
/// or stored), or with the reason it is not.
#[must_use = "the message is not known to be safe until this resolves"]
pub struct Accepted(AcceptedState);

enum AcceptedState {
    Ready(Option<Outcome>),
    Waiting(Arc<Flight>),
    /// Settled by another task (the one asking another node).
    Later(oneshot::Receiver<Outcome>),
}

impl Accepted {
    /// Already settled.
    pub fn ready(outcome: Outcome) -> Accepted {
        Accepted(AcceptedState::Ready(Some(outcome)))
    }

    /// Settled by whoever holds the sender.
    pub(crate) fn later() -> (oneshot::Sender<Outcome>, Accepted) {
        let (tx, rx) = oneshot::channel();
        (tx, Accepted(AcceptedState::Later(rx)))
    }

    /// Calls `settled` with the outcome once there is one, from whichever task settles it,
    /// rather than keeping a task of its own waiting (one per message another node sent).
    pub(crate) fn then(self, settled: impl FnOnce(Outcome) + Send + 'static) {
        match self.0 {
            AcceptedState::Ready(outcome) => settled(outcome.unwrap_or_else(already_told)),
            AcceptedState::Later(rx) => {
                tokio::spawn(async move { settled(rx.await.unwrap_or_else(|_| settler_gone())) });
            }
            AcceptedState::Waiting(flight) => {
                let mut state = locked(&flight.state);
                let outcome = state.outcome.take();
                if outcome.is_none() && !state.told {
                    state.sender = Some(Listener::Call(Box::new(settled)));
                    return;
                }
                drop(state);
                settled(outcome.unwrap_or_else(already_told));
            }
        }
    }
}

impl Future for Accepted {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        match &mut self.0 {
            AcceptedState::Ready(outcome) => Poll::Ready(outcome.take().unwrap_or_else(already_told)),
            AcceptedState::Later(rx) => Pin::new(rx).poll(cx).map(|outcome| outcome.unwrap_or_else(|_| settler_gone())),
            AcceptedState::Waiting(flight) => {
                let mut state = locked(&flight.state);
                if let Some(outcome) = state.outcome.take() {
                    return Poll::Ready(outcome);
                }
                if state.told {
                    return Poll::Ready(already_told());
                }
                // A look without a waker (`Acknowledgements::ready`) leaves the waiting task be.
                if cx.waker().will_wake(Waker::noop()) {
                    return Poll::Pending;
                }
                if !matches!(&state.sender, Some(Listener::Task(waker)) if waker.will_wake(cx.waker())) {
                    state.sender = Some(Listener::Task(cx.waker().clone()));
                }
                Poll::Pending
            }
        }
    }
}

/// What a second look at a settled message finds: its outcome went to the first.
fn already_told() -> Outcome {
    Err(gone("polled after it resolved"))
}

/// What a message settled by another task finds when that task ended first.
fn settler_gone() -> Outcome {
    Err(gone("its task ended"))
}

fn gone(why: &str) -> CoreError {
    CoreError::Store(StoreError::Backend(why.into()))
}

/// The journal's task: the only writer of the durable queue's traffic.
struct Writer {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    notify_waiting: Box<dyn Fn(AccountId) + Send + Sync>,
}

/// How long the writer waits before trying again after the store failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

impl Writer {
    async fn run(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        let mut forget: Vec<(AccountId, i64)> = Vec::new();
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        // Every handle is gone (the core is): whatever waits is stored at once, then it ends.
        let mut closed = false;
        loop {
            let next_due = locked(&self.shared.due).front().map(|(due, _)| *due);
            let idle = forget.is_empty() && flushes.is_empty() && !closed;
            if idle && next_due.is_none_or(|due| due > Instant::now()) {
                tokio::select! {
                    job = jobs.recv() => match job {
                        Some(Job::Flush(done)) => flushes.push(done),
                        None => closed = true,
                    },
                    () = self.shared.arrived.notified() => {}
                    () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {}
                }
            }
            while let Ok(Job::Flush(done)) = jobs.try_recv() {
                flushes.push(done);
            }
            self.do_chores(&mut forget);
            let everything = !flushes.is_empty() || closed;
            let batch = self.due_now(everything);
            if closed && batch.is_empty() && forget.is_empty() {
                return;
            }
            if !batch.is_empty() || !forget.is_empty() {
                self.write(batch, &mut forget).await;
            }
            if everything && locked(&self.shared.due).is_empty() {
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
        }
    }

    fn do_chores(&self, forget: &mut Vec<(AccountId, i64)>) {
        let Chores { announce, forget: received } = std::mem::take(&mut *locked(&self.shared.chores));
        forget.extend(received);
        for recipient in announce {
            (self.notify_waiting)(recipient);
        }
    }

    /// The messages due to be stored now (all of them for a flush), in order.
    fn due_now(&self, everything: bool) -> Vec<Arc<Flight>> {
        let now = Instant::now();
        let mut waiting = locked(&self.shared.due);
        let mut batch = Vec::new();
        while let Some((due, _)) = waiting.front() {
            if !everything && *due > now {
                break;
            }
            let flight = match waiting.pop_front().expect("front exists").1 {
                Due::Now(flight) => flight,
                Due::Grace(flight) => match flight.upgrade() {
                    Some(flight) => flight,
                    None => continue,
                },
            };
            if begin_storing(&flight) {
                batch.push(flight);
            }
        }
        batch
    }

    /// One transaction: the batch stored, what was received deleted.
    async fn write(&self, batch: Vec<Arc<Flight>>, forget: &mut Vec<(AccountId, i64)>) {
        let new = batch.iter().map(|f| f.message.clone()).collect();
        let written = self.store.update_queue(new, std::mem::take(forget)).await;
        let mut told = Settlements::default();
        match &written {
            Ok(ids) => {
                for (flight, id) in batch.iter().zip(ids) {
                    match id {
                        Some(id) => self.stored(flight, *id, forget, &mut told),
                        None => failed(flight, CoreError::NoSuchAccount, &mut told),
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, messages = batch.len(), "could not store messages in flight");
                for flight in &batch {
                    failed(flight, CoreError::Store(StoreError::Backend(e.to_string())), &mut told);
                }
            }
        }
        drop(told);
        if written.is_err() {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }

    /// After the write: the sender hears it is safe, and the message is forgotten again if
    /// its client got it meanwhile, held if a session still carries it, or announced to the
    /// recipient if none does.
    fn stored(&self, flight: &Flight, id: i64, forget: &mut Vec<(AccountId, i64)>, told: &mut Settlements) {
        let mut state = locked(&flight.state);
        state.storing = false;
        state.stored = Some(id);
        told.tell_later(state.tell_sender(Ok(Delivery::Queued(id))));
        if state.received {
            forget.push((flight.message.recipient, id));
        } else if state.abandoned {
            drop(state);
            (self.notify_waiting)(flight.message.recipient);
        } else {
            locked(&self.shared.held).insert(id);
        }
    }
}

/// Not stored: a sender still waiting is not told it is delivered.
fn failed(flight: &Flight, error: CoreError, told: &mut Settlements) {
    let mut state = locked(&flight.state);
    state.storing = false;
    told.tell_later(state.tell_sender(Err(error)));
}

/// Whether the writer should store this flight now: not when its client has it or a session
/// carries it written, nor twice.
fn begin_storing(flight: &Flight) -> bool {
    let mut state = locked(&flight.state);
    let skip = state.received || state.storing || state.stored.is_some() || (state.written && !state.abandoned);
    if !skip {
        state.storing = true;
    }
    !skip
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::store::MessageKind;
    use std::sync::mpsc as std_mpsc;

    fn journal() -> Journal {
        Journal::start(Arc::new(MemoryStore::new()), Duration::from_secs(60), |_| {})
    }

    fn message() -> OfflineMessage {
        OfflineMessage {
            sender: AccountId(1),
            recipient: AccountId(2),
            kind: MessageKind::Text,
            text: "hi".into(),
            sent_at: 0,
        }
    }

    /// `then`'s calls, as they come.
    fn listen(accepted: Accepted) -> std_mpsc::Receiver<Outcome> {
        let (told, heard) = std_mpsc::channel();
        accepted.then(move |outcome| told.send(outcome).unwrap());
        heard
    }

    #[tokio::test]
    async fn a_call_waiting_on_a_message_is_made_once_when_it_is_written() {
        let (handoff, accepted) = journal().hand_off(message(), None);
        let heard = listen(accepted);
        assert!(heard.try_recv().is_err(), "nothing is settled before the client has it");
        let mut settlements = Settlements::default();
        settlements.written(&handoff);
        assert!(heard.try_recv().is_err(), "told when the batch's settlements are done");
        drop(settlements);
        assert!(matches!(heard.try_recv(), Ok(Ok(Delivery::Live))));
        handoff.received();
        assert!(heard.try_recv().is_err(), "told once");
    }

    #[tokio::test]
    async fn a_call_on_a_settled_message_is_made_at_once() {
        let (handoff, accepted) = journal().hand_off(message(), None);
        handoff.received();
        assert!(matches!(listen(accepted).try_recv(), Ok(Ok(Delivery::Live))));
        let refused = listen(Accepted::ready(Err(CoreError::NotAllowed)));
        assert!(matches!(refused.try_recv(), Ok(Err(CoreError::NotAllowed))));
    }

    #[tokio::test]
    async fn a_call_on_a_message_given_up_hears_it_stored() {
        let store = Arc::new(MemoryStore::new());
        let name = |n: &str| crate::AccountName::new(n).unwrap();
        let sender = store.create_account(&name("alice"), "pw", None).await.unwrap().id;
        let recipient = store.create_account(&name("bob"), "pw", None).await.unwrap().id;
        let journal = Journal::start(store, Duration::from_millis(10), |_| {});
        let (handoff, accepted) = journal.hand_off(OfflineMessage { sender, recipient, ..message() }, None);
        let heard = listen(accepted);
        drop(handoff);
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(outcome) = heard.try_recv() {
                    return outcome;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the journal stores it and tells");
        assert!(matches!(outcome, Ok(Delivery::Queued(_))), "{outcome:?}");
    }
}

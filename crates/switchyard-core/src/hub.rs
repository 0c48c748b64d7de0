//! Live sessions: one per account, each with a bounded event channel. Events go to exactly the
//! session that needs them; a session whose channel is full is closed rather than waited on.

use crate::account::{Account, AccountId, AccountName, AccountRef};
use crate::activity::{ClientInfo, Protocol};
use crate::bus::NodeName;
use crate::bus::{LoginStamp, RemoteEvent, SessionChange, SessionState};
use crate::error::CoreError;
use crate::lists::ContactList;
use crate::presence::{Presence, Status};
use crate::privacy::{allows, shown, Privacy, RelationFlags};
use crate::store::Relation;
use crate::Core;
use atomic_waker::AtomicWaker;
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Something a session must tell its client.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A contact's presence as this user may see it; `None` means offline (or hidden from them).
    Presence { contact: AccountRef, presence: Option<Presence> },
    /// `by` put this user on their forward list; `version` is this user's new list version.
    AddedBy { by: AccountRef, version: u32 },
    /// `by` took this user off their forward list.
    RemovedBy { by: AccountRef, version: u32 },
    /// Another user asks this one to join a conversation.
    Invitation(ConversationInvite),
    /// A message for this user, with what keeps it safe until the client has it: call
    /// [`crate::Handoff::received`] once it is written to the client (or, where the protocol
    /// has receipts, once the client confirms it). Dropped instead, the message goes back to
    /// the durable queue.
    Message(crate::Message, crate::Handoff),
    /// `by` now lets this user see them and reach them (MRIM `AUTHORIZE`). What this user now
    /// sees of them follows as an `Event::Presence` if they watch them.
    Authorized { by: AccountRef },
    /// A message to everyone, stored under `id`: mark it seen once the client has it.
    Broadcast { id: i64, message: crate::Message },
    /// A message went to this user's offline queue while this session existed (it logged in
    /// after the sender found no session, or a front gave back a message it could not hand
    /// over): read the queue again. [`crate::ShownQueue`] keeps what the session showed
    /// already from coming twice.
    OfflineWaiting,
}

/// An invitation to a conversation held by a front (an MSN switchboard session).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConversationInvite {
    pub from: AccountRef,
    /// The name the inviter shows.
    pub from_display_name: String,
    pub conversation: u64,
    /// Where the conversation is (`host:port` of the inviter's node): a session on another
    /// node is sent there.
    pub address: String,
    /// One-use secret the invitee presents to join.
    pub ticket: String,
}

/// Why the core ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    LoggedInElsewhere,
    /// Its event queue overflowed: the client does not read fast enough.
    TooSlow,
}

/// How the core ends a session. Waiting for an event checks `reason` (an atomic read) and
/// leaves its waker in `waiting`, so it takes no lock; `cancel` is for the rarer waits that
/// race a kick without the session (a stalled write, see [`Session::ended`]).
#[derive(Default)]
struct Control {
    cancel: CancellationToken,
    reason: OnceLock<KickReason>,
    waiting: AtomicWaker,
}

impl Control {
    fn kick(&self, reason: KickReason) {
        let _ = self.reason.set(reason);
        self.waiting.wake();
        self.cancel.cancel();
    }
}

/// Events travel boxed: tokio's channel allocates its first block of 32 slots when created, and
/// idle sessions, which are most of them, should not each hold 32 inline events.
type EventBox = Box<Event>;

pub(crate) struct Online {
    session_id: u64,
    /// When it started, to tell it from a session of the account on another node.
    pub(crate) login: LoginStamp,
    pub(crate) account: AccountRef,
    events: mpsc::Sender<EventBox>,
    control: Arc<Control>,
    presence: Presence,
    /// Known from the session's first read of its contact list, which comes before it shows
    /// any presence: until then messages to it check the store, as for an offline account.
    privacy: Option<Privacy>,
    /// Whether the session joins conversations it is invited to (MSN switchboards); others
    /// are reached with messages.
    takes_invitations: bool,
    /// This account's flags toward accounts that wrote to it lately: every message checks
    /// them, and only the core changes them (`Core::change_relation` forgets the entry).
    flags_toward: std::sync::Mutex<HashMap<AccountId, RelationFlags>>,
    /// Bytes of message text handed to this account's sessions and not yet received.
    pub(crate) held_bytes: Arc<AtomicUsize>,
    pub(crate) client: ClientInfo,
}

impl Online {
    /// The privacy mode for what the session shows: before it is known the session shows
    /// nothing, which the strictest mode keeps so.
    fn shown_privacy(&self) -> Privacy {
        self.privacy.unwrap_or(Privacy::BlockUnlisted)
    }

    /// What the other nodes know of it.
    fn state(&self) -> SessionState {
        SessionState {
            account: self.account.clone(),
            login: self.login.clone(),
            presence: self.presence.clone(),
            privacy: self.privacy,
            takes_invitations: self.takes_invitations,
            protocol: self.client.protocol,
        }
    }

    pub(crate) fn kick(&self, reason: KickReason) {
        self.control.kick(reason);
    }

    /// Queues an event for the session; a full queue ends it. Returns whether it was queued.
    pub(crate) fn push(&self, event: Event) -> bool {
        match self.events.try_send(Box::new(event)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(account = %self.account.name, "event queue full; closing the slow session");
                self.kick(KickReason::TooSlow);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// How long after its first status a session of a node among several looks again for its
/// contacts elsewhere: well past the time a change takes to cross the bus.
const LOOK_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// Entries of a session's flag cache before it starts over.
const FLAG_CACHE: usize = 256;

/// A session as the operator sees it.
#[derive(Debug, Clone)]
pub struct OnlineSession {
    pub account: AccountRef,
    pub protocol: Protocol,
    pub status: Status,
    /// When it logged in, in milliseconds since the Unix epoch.
    pub since_unix_ms: u64,
    /// What the client said it is and where it connects from, for a session of this node.
    pub client: Option<ClientInfo>,
    /// The node it is on, when not this one.
    pub node: Option<NodeName>,
}

/// How an invited account is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invitation {
    /// Its session got the invitation and may join the conversation.
    Sent,
    /// Its session does not join conversations (another protocol): the conversation reaches it
    /// through [`Core::deliver`].
    ByMessage,
}

#[derive(Default)]
pub(crate) struct Hub {
    pub(crate) online: DashMap<AccountId, Online>,
    /// Online accounts by name and by UIN, so messages to them need no store lookup.
    names: DashMap<AccountName, AccountId>,
    uins: DashMap<u32, AccountId>,
    next_session: AtomicU64,
}

impl Hub {
    pub(crate) fn len(&self) -> usize {
        self.online.len()
    }
}

/// A logged-in session, owned by the front's connection task.
pub struct Session {
    pub account: Account,
    pub id: u64,
    events: mpsc::Receiver<EventBox>,
    control: Arc<Control>,
}

impl Session {
    /// The next event, or the reason the session was ended. Cancellation-safe.
    pub async fn next_event(&mut self) -> Result<Event, KickReason> {
        let (control, events) = (&self.control, &mut self.events);
        std::future::poll_fn(|cx| {
            if let Some(reason) = control.reason.get() {
                return Poll::Ready(Err(*reason));
            }
            control.waiting.register(cx.waker());
            // A kick between the first look and the registration woke no one: look again.
            if let Some(reason) = control.reason.get() {
                return Poll::Ready(Err(*reason));
            }
            events.poll_recv(cx).map(|event| {
                event
                    .map(|boxed| *boxed)
                    .ok_or_else(|| control.reason.get().copied().unwrap_or(KickReason::LoggedInElsewhere))
            })
        })
        .await
    }

    /// An event that is already waiting, or the reason the session was ended; `None` when
    /// there is nothing yet. Lets a front handle what is ready before it writes.
    pub fn try_next_event(&mut self) -> Option<Result<Event, KickReason>> {
        if let Some(reason) = self.control.reason.get() {
            return Some(Err(*reason));
        }
        match self.events.try_recv() {
            Ok(boxed) => Some(Ok(*boxed)),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => Some(Err(self.kick_reason())),
        }
    }

    /// Cancelled once the core ended the session (a kick). Apart from the session, so that a
    /// write can race it while the session is in use.
    pub fn ended(&self) -> CancellationToken {
        self.control.cancel.clone()
    }

    fn kick_reason(&self) -> KickReason {
        self.control.reason.get().copied().unwrap_or(KickReason::LoggedInElsewhere)
    }
}

impl Core {
    /// Registers a session for `account`, ending any previous one ("logged in elsewhere").
    /// The new session starts offline until it sets a status.
    pub async fn login(
        &self,
        account: Account,
        display_name: String,
        client: ClientInfo,
    ) -> Result<Session, CoreError> {
        let (events_tx, events) = mpsc::channel(self.config().session_queue);
        let control = Arc::new(Control::default());
        let id = self.hub().next_session.fetch_add(1, Ordering::Relaxed) + 1;
        let unix_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let login = LoginStamp { unix_ms, node: self.bus().node().to_owned(), session: id };
        let entry = Online {
            session_id: id,
            login,
            account: account.to_ref(),
            events: events_tx,
            control: control.clone(),
            presence: Presence::new(Status::Offline, display_name),
            privacy: None,
            takes_invitations: false,
            flags_toward: Default::default(),
            held_bytes: Default::default(),
            client,
        };
        self.counters().session_started(entry.client.protocol);
        self.hub().names.insert(account.name.clone(), account.id);
        self.hub().uins.insert(account.uin, account.id);
        if self.bus().spans_nodes() {
            // A session of the account on another node ends when that node hears of this one.
            self.bus().publish(SessionChange::Started(entry.state()));
        }
        if let Some(previous) = self.hub().online.insert(account.id, entry) {
            self.counters().session_ended(previous.client.protocol);
            previous.control.kick(KickReason::LoggedInElsewhere);
            // The new session is registered already: a failed fan-out must not undo the login.
            if let Err(e) = self.announce_leaving(&previous).await {
                tracing::warn!(error = %e, account = %previous.account.name, "could not announce the old session leaving");
            }
        }
        Ok(Session { account, id, events, control })
    }

    /// Ends the account's session, if it has one on any node, as a login elsewhere would (its
    /// account was disabled, deleted or changed from outside the server): the protocols' way of
    /// telling a client not to log in again by itself.
    pub fn end_sessions(&self, account: AccountId) {
        self.end_session_here(account);
        if let Some(remote) = self.bus().remote(account) {
            self.bus().send_event(&remote.node, account, RemoteEvent::EndSession);
        }
    }

    pub(crate) fn end_session_here(&self, account: AccountId) {
        if let Some(entry) = self.hub().online.get(&account) {
            entry.kick(KickReason::LoggedInElsewhere);
        }
    }

    /// Disables the account (its session ends at once, wherever it is, and it cannot log in
    /// again) or enables it. Returns whether the account exists.
    pub async fn set_disabled(&self, account: AccountId, disabled: bool) -> Result<bool, CoreError> {
        let found = self.store().set_disabled(account, disabled).await?;
        if found && disabled {
            self.end_sessions(account);
        }
        Ok(found)
    }

    /// Ends a session: the messages it was handed and its client did not receive go back to
    /// the durable queue (their hand-offs do that as they are dropped), and the session is
    /// removed if it is still the account's current one, its watchers told it left.
    pub async fn logout(&self, session: &mut Session) -> Result<(), CoreError> {
        session.events.close();
        while session.events.try_recv().is_ok() {}
        let removed = self.hub().online.remove_if(&session.account.id, |_, o| o.session_id == session.id);
        if let Some((_, gone)) = removed {
            self.counters().session_ended(gone.client.protocol);
            let id = gone.account.id;
            self.bus().publish(SessionChange::Ended { account: id, login: gone.login.clone() });
            // Unless a new session of the account came in meanwhile.
            if !self.hub().online.contains_key(&id) {
                self.hub().names.remove_if(&gone.account.name, |_, v| *v == id);
                self.hub().uins.remove_if(&gone.account.uin, |_, v| *v == id);
            }
            self.announce_leaving(&gone).await?;
        }
        Ok(())
    }

    /// An account by name: from its live session, here or on another node, when it has one,
    /// else from the store. For routing: the nickname of an online account is the one it had
    /// when it logged in.
    pub async fn account_by_name(&self, name: &AccountName) -> Result<Option<Account>, CoreError> {
        let online = self.hub().names.get(name).map(|id| *id).and_then(|id| self.online_account(id));
        let online = online.or_else(|| self.bus().remote_by_name(name).map(|remote| remote.state.account.into()));
        match online {
            Some(account) => Ok(Some(account)),
            None => Ok(self.store().account_by_name(name).await?),
        }
    }

    /// An account by UIN, like [`Core::account_by_name`].
    pub async fn account_by_uin(&self, uin: u32) -> Result<Option<Account>, CoreError> {
        let online = self.hub().uins.get(&uin).map(|id| *id).and_then(|id| self.online_account(id));
        let online = online.or_else(|| self.bus().remote_by_uin(uin).map(|remote| remote.state.account.into()));
        match online {
            Some(account) => Ok(Some(account)),
            None => Ok(self.store().account_by_uin(uin).await?),
        }
    }

    fn online_account(&self, id: AccountId) -> Option<Account> {
        Some(self.hub().online.get(&id)?.account.clone().into())
    }

    async fn announce_leaving(&self, gone: &Online) -> Result<(), CoreError> {
        let (presence, privacy) = (&gone.presence, gone.shown_privacy());
        self.announce(&gone.account, |w| shown(presence, privacy, w.flags), |_| None).await
    }

    /// Changes the session's status (and shown name) and tells every watcher allowed to see it.
    pub async fn set_presence(&self, session: &Session, presence: Presence) -> Result<(), CoreError> {
        let list = self.contact_list(session.account.id).await?;
        self.set_presence_among(session, presence, &list)
    }

    /// [`Core::set_presence`] for a session's first status, returning the current presence of
    /// every forward-list contact who is online and lets the user see them: its contacts and
    /// its watchers come from one read of its list.
    pub async fn come_online(
        &self,
        session: &Session,
        presence: Presence,
    ) -> Result<Vec<(AccountRef, Presence)>, CoreError> {
        let list = self.contact_list(session.account.id).await?;
        self.set_presence_among(session, presence, &list)?;
        let visible = self.visible_among(&list.relations);
        if self.bus().spans_nodes() {
            self.look_again_later(session.account.id, list.relations, &visible);
        }
        Ok(visible)
    }

    /// Another node may not have known of this session yet when something happened for it: a
    /// contact that came online there just before may have been told of before its node knew
    /// this session (and this node may not have known of it either), and a message for it
    /// went to the durable queue. A moment later, the session is told of every such contact
    /// it sees now, and reads its queue again.
    fn look_again_later(&self, owner: AccountId, mut relations: Vec<Relation>, visible: &[(AccountRef, Presence)]) {
        relations
            .retain(|r| r.flags.contains(RelationFlags::FORWARD) && !visible.iter().any(|(v, _)| v.id == r.other.id));
        let core = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LOOK_AGAIN_AFTER).await;
            for relation in relations {
                if let Some(presence) = core.seen_through(&relation) {
                    core.notify_here(owner, Event::Presence { contact: relation.other, presence: Some(presence) });
                }
            }
            core.notify_here(owner, Event::OfflineWaiting);
        });
    }

    /// [`Core::set_presence`] with the session's list just read by the caller (for a login
    /// that needs it anyway).
    pub fn set_presence_among(
        &self,
        session: &Session,
        presence: Presence,
        list: &ContactList,
    ) -> Result<(), CoreError> {
        let relations = &list.relations;
        self.counters().presence_changed();
        let (account, privacy, before) = {
            let mut entry = self.current_entry(session)?;
            let privacy = *entry.privacy.get_or_insert(list.settings.privacy);
            let before = std::mem::replace(&mut entry.presence, presence.clone());
            // What the user's flags are, just read: messages from their contacts are checked
            // against them without the store (which may be down while conversations go on).
            let mut cache = entry.flags_toward.lock().unwrap_or_else(|p| p.into_inner());
            for relation in relations.iter().take(FLAG_CACHE.saturating_sub(cache.len())) {
                cache.insert(relation.other.id, relation.flags);
            }
            drop(cache);
            self.publish_state(&entry);
            (entry.account.clone(), privacy, before)
        };
        self.announce_to(
            &account,
            relations,
            |w| shown(&before, privacy, w.flags),
            |w| shown(&presence, privacy, w.flags),
        );
        Ok(())
    }

    fn visible_among(&self, relations: &[Relation]) -> Vec<(AccountRef, Presence)> {
        relations
            .iter()
            .filter(|r| r.flags.contains(RelationFlags::FORWARD))
            .filter_map(|r| self.seen_through(r).map(|p| (r.other.clone(), p)))
            .collect()
    }

    /// What the owner of `relation` sees of the related account right now.
    pub fn seen_through(&self, relation: &Relation) -> Option<Presence> {
        self.presence_seen_by(relation.other.id, relation.their_flags)
    }

    /// What a viewer sees of `target` right now, given the target's flags toward the viewer.
    pub(crate) fn presence_seen_by(&self, target: AccountId, flags_toward_viewer: RelationFlags) -> Option<Presence> {
        match self.hub().online.get(&target) {
            Some(entry) => shown(&entry.presence, entry.shown_privacy(), flags_toward_viewer),
            None => {
                let state = self.bus().remote(target)?.state;
                shown(&state.presence, state.shown_privacy(), flags_toward_viewer)
            }
        }
    }

    /// Tells the other nodes what a session of this one is now.
    fn publish_state(&self, entry: &Online) {
        if self.bus().spans_nodes() {
            self.bus().publish(SessionChange::Changed(entry.state()));
        }
    }

    /// Marks the session as one that joins the conversations it is invited to.
    pub fn take_invitations(&self, session: &Session) -> Result<(), CoreError> {
        let mut entry = self.current_entry(session)?;
        entry.takes_invitations = true;
        self.publish_state(&entry);
        Ok(())
    }

    /// Asks `to` to join a conversation, if they are reachable and let the inviter reach them.
    pub async fn invite(&self, to: AccountId, invite: ConversationInvite) -> Result<Invitation, CoreError> {
        let (privacy, presence, takes_invitations) = match self.hub().online.get(&to) {
            Some(entry) => (entry.shown_privacy(), entry.presence.clone(), entry.takes_invitations),
            None => {
                let state = self.bus().remote(to).ok_or(CoreError::NotOnline)?.state;
                (state.shown_privacy(), state.presence, state.takes_invitations)
            }
        };
        let flags = self.flags_toward(to, invite.from.id).await?;
        if !allows(privacy, flags) {
            return Err(CoreError::NotAllowed);
        }
        if shown(&presence, privacy, flags).is_none() {
            return Err(CoreError::NotOnline);
        }
        if !takes_invitations {
            return Ok(Invitation::ByMessage);
        }
        if self.notify(to, Event::Invitation(invite)) {
            Ok(Invitation::Sent)
        } else {
            Err(CoreError::NotOnline)
        }
    }

    /// Sessions of the network by protocol, in [`Protocol::ALL`]'s order.
    pub fn sessions_by_protocol(&self) -> [u64; 3] {
        let (here, elsewhere) = (self.activity().sessions, self.bus().remote_count_by_protocol());
        std::array::from_fn(|i| here[i] + elsewhere[i])
    }

    /// Every session of the network, this node's first.
    pub fn online_sessions(&self) -> Vec<OnlineSession> {
        let here = self.hub().online.iter().map(|entry| OnlineSession {
            account: entry.account.clone(),
            protocol: entry.client.protocol,
            status: entry.presence.status,
            since_unix_ms: entry.login.unix_ms,
            client: Some(entry.client.clone()),
            node: None,
        });
        let mut sessions: Vec<OnlineSession> = here.collect();
        sessions.extend(self.bus().remote_sessions().into_iter().map(|remote| OnlineSession {
            account: remote.state.account,
            protocol: remote.state.protocol,
            status: remote.state.presence.status,
            since_unix_ms: remote.state.login.unix_ms,
            client: None,
            node: Some(remote.node),
        }));
        sessions
    }

    /// Whether the account has a session in a status others may see (not invisible).
    pub fn is_visibly_online(&self, id: AccountId) -> bool {
        self.online_presence(id).is_some_and(|p| p.status.is_visible())
    }

    /// The presence of an account with a session (whatever others may see of it).
    pub fn online_presence(&self, id: AccountId) -> Option<Presence> {
        match self.hub().online.get(&id) {
            Some(entry) => Some(entry.presence.clone()),
            None => self.bus().remote(id).map(|remote| remote.state.presence),
        }
    }

    /// Up to `limit` accounts picked at random among those online that strangers may see
    /// (visible, and not limiting themselves to their allow list), `except` excluded.
    pub fn random_online(&self, limit: usize, except: AccountId) -> Vec<AccountId> {
        let strangers_see =
            |presence: &Presence, privacy| presence.status.is_visible() && privacy == Some(Privacy::AllowUnlisted);
        let here = self.hub().online.iter().filter(|e| strangers_see(&e.presence, e.privacy)).map(|e| *e.key());
        let elsewhere = self.bus().remote_sessions().into_iter().map(|r| r.state);
        let elsewhere = elsewhere.filter(|s| strangers_see(&s.presence, s.privacy)).map(|s| s.account.id);
        let candidates = here.chain(elsewhere).filter(|id| *id != except);
        rand::seq::IteratorRandom::choose_multiple(candidates, &mut rand::rng(), limit)
    }

    /// Stores a message for everyone and pushes it to every session online but the sender's.
    /// Returns the broadcast's id.
    pub async fn broadcast(&self, message: crate::Message) -> Result<i64, CoreError> {
        let id = self.store().add_broadcast(message.from.id, message.kind, &message.text, message.sent_at).await?;
        // Collected first: notifying takes the map's locks again.
        let mut online: Vec<AccountId> = self.hub().online.iter().map(|e| *e.key()).collect();
        online.extend(self.bus().remote_sessions().into_iter().map(|r| r.state.account.id));
        for to in online.into_iter().filter(|to| *to != message.from.id) {
            self.notify(to, Event::Broadcast { id, message: message.clone() });
        }
        Ok(id)
    }

    /// Pushes an event to the account's session; a full queue ends that session.
    /// Returns whether the event was queued.
    pub(crate) fn notify(&self, to: AccountId, event: Event) -> bool {
        if let Some(entry) = self.hub().online.get(&to) {
            return entry.push(event);
        }
        let Some(remote) = self.bus().remote(to) else { return false };
        let Some(event) = RemoteEvent::from_event(event) else { return false };
        self.bus().send_event(&remote.node, to, event);
        true
    }

    /// [`Core::notify`] for a session of this node only.
    pub(crate) fn notify_here(&self, to: AccountId, event: Event) -> bool {
        self.hub().online.get(&to).is_some_and(|entry| entry.push(event))
    }

    /// Tells each online watcher of `who` (everyone with `who` on their forward list) what they
    /// see now, when it differs from what they saw before. `seen_before` and `seen_now` give a
    /// watcher's view from their relation to `who` (flags are `who`'s toward them).
    pub(crate) async fn announce(
        &self,
        who: &AccountRef,
        seen_before: impl Fn(&Relation) -> Option<Presence>,
        seen_now: impl Fn(&Relation) -> Option<Presence>,
    ) -> Result<(), CoreError> {
        let relations = self.store().relations(who.id).await?;
        self.announce_to(who, &relations, seen_before, seen_now);
        Ok(())
    }

    /// [`Core::announce`] with `who`'s relations at hand.
    fn announce_to(
        &self,
        who: &AccountRef,
        relations: &[Relation],
        seen_before: impl Fn(&Relation) -> Option<Presence>,
        seen_now: impl Fn(&Relation) -> Option<Presence>,
    ) {
        for watcher in relations.iter().filter(|r| r.their_flags.contains(RelationFlags::FORWARD)) {
            let now = seen_now(watcher);
            if seen_before(watcher) != now {
                self.notify(watcher.other.id, Event::Presence { contact: who.clone(), presence: now });
            }
        }
    }

    /// After `owner` changed whom they let see them (flags or privacy mode), tells each watcher
    /// whose view changed. The closures give the owner's (privacy, flags) toward a watcher.
    pub(crate) async fn reannounce(
        &self,
        owner: AccountId,
        rule_before: impl Fn(&Relation) -> (Privacy, RelationFlags),
        rule_now: impl Fn(&Relation) -> (Privacy, RelationFlags),
    ) -> Result<(), CoreError> {
        let Some((account, presence)) = self.hub().online.get(&owner).map(|e| (e.account.clone(), e.presence.clone()))
        else {
            return Ok(());
        };
        let view = |(privacy, flags): (Privacy, RelationFlags)| shown(&presence, privacy, flags);
        self.announce(&account, |w| view(rule_before(w)), |w| view(rule_now(w))).await
    }

    /// `owner`'s flags toward `other`, from the owner's session when it is online.
    pub(crate) async fn flags_toward(&self, owner: AccountId, other: AccountId) -> Result<RelationFlags, CoreError> {
        let cached = |entry: &Online| entry.flags_toward.lock().unwrap_or_else(|p| p.into_inner()).get(&other).copied();
        if let Some(flags) = self.hub().online.get(&owner).and_then(|e| cached(&e)) {
            return Ok(flags);
        }
        let flags = self.store().relation_flags(owner, other).await?;
        if let Some(entry) = self.hub().online.get(&owner) {
            let mut cache = entry.flags_toward.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= FLAG_CACHE {
                cache.clear();
            }
            cache.insert(other, flags);
        }
        Ok(flags)
    }

    /// Drops a cached relation after it changed.
    pub(crate) fn forget_flags(&self, owner: AccountId, other: AccountId) {
        if let Some(entry) = self.hub().online.get(&owner) {
            entry.flags_toward.lock().unwrap_or_else(|p| p.into_inner()).remove(&other);
        }
    }

    /// An online account's privacy mode, once its session knows it.
    pub(crate) fn online_privacy(&self, id: AccountId) -> Option<Privacy> {
        self.hub().online.get(&id).and_then(|e| e.privacy)
    }

    /// Gives a session that does not know its privacy mode yet the one just read. A change
    /// made meanwhile set it already and stands: its store write came after this read.
    pub(crate) fn learn_online_privacy(&self, owner: AccountId, privacy: Privacy) {
        if let Some(mut entry) = self.hub().online.get_mut(&owner) {
            if entry.privacy.is_none() {
                entry.privacy = Some(privacy);
                self.publish_state(&entry);
            }
        }
    }

    pub(crate) fn set_online_privacy(&self, owner: AccountId, privacy: Privacy) {
        if let Some(mut entry) = self.hub().online.get_mut(&owner) {
            entry.privacy = Some(privacy);
            self.publish_state(&entry);
        }
    }

    fn current_entry(
        &self,
        session: &Session,
    ) -> Result<dashmap::mapref::one::RefMut<'_, AccountId, Online>, CoreError> {
        self.hub()
            .online
            .get_mut(&session.account.id)
            .filter(|e| e.session_id == session.id)
            .ok_or(CoreError::SessionGone)
    }
}

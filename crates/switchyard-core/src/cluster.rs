//! This node's side of the bus: answering what the other nodes ask of it.

use crate::bus::{Incoming, RemoteOutcome, SessionState};
use crate::hub::{Event, KickReason};
use crate::privacy::shown;
use crate::{Core, Inner};
use futures_util::StreamExt;
use std::sync::Weak;
use tokio::sync::mpsc;

/// Answers the other nodes until the bus or the core is gone.
pub(crate) async fn answer_other_nodes(core: Weak<Inner>, mut incoming: mpsc::Receiver<Incoming>) {
    while let Some(request) = incoming.recv().await {
        let Some(inner) = core.upgrade() else { return };
        Core { inner }.answer(request).await;
    }
}

impl Core {
    /// Answers one request; messages are routed in the order they came (one sender's stay in
    /// order), each waited for apart.
    async fn answer(&self, request: Incoming) {
        match request {
            Incoming::Accept { to, message, reply } => {
                self.accept_here(to, message).await.then(move |outcome| reply(RemoteOutcome::of(&outcome)));
            }
            Incoming::Event { to, event } => match event.into_event() {
                Some(event) => {
                    self.notify_here(to, event);
                }
                None => self.end_session_here(to),
            },
            Incoming::Replaced { account, login } => {
                if let Some(entry) = self.hub().online.get(&account).filter(|entry| entry.login < login) {
                    tracing::info!(account = %entry.account.name, node = %login.node, "logged in on another node");
                    entry.kick(KickReason::LoggedInElsewhere);
                }
            }
            Incoming::Vanished(sessions) => self.tell_watchers_here(sessions, false),
            Incoming::Appeared(sessions) => self.tell_watchers_here(sessions, true),
        }
    }

    /// Tells this node's watchers of sessions elsewhere that they are gone, or back.
    fn tell_watchers_here(&self, sessions: Vec<SessionState>, appeared: bool) {
        if self.local_count() == 0 || sessions.is_empty() {
            return;
        }
        let core = self.clone();
        tokio::spawn(async move {
            // A dead node's users come all at once: their watchers are read a few at a time,
            // not one after another, nor all at once.
            futures_util::stream::iter(sessions)
                .for_each_concurrent(WATCHER_READS, |state| core.tell_watchers_of(state, appeared))
                .await;
        });
    }

    async fn tell_watchers_of(&self, state: SessionState, appeared: bool) {
        let relations = match self.store().relations(state.account.id).await {
            Ok(relations) => relations,
            Err(e) => {
                tracing::warn!(error = %e, account = %state.account.name, "cannot read whom to tell of a session elsewhere");
                return;
            }
        };
        let seen = |w: &crate::store::Relation| shown(&state.presence, state.shown_privacy(), w.flags);
        for watcher in relations.iter().filter(|r| r.their_flags.contains(crate::RelationFlags::FORWARD)) {
            let Some(presence) = seen(watcher) else { continue };
            let presence = appeared.then_some(presence);
            self.notify_here(watcher.other.id, Event::Presence { contact: state.account.clone(), presence });
        }
    }
}

/// Store reads at once when telling watchers of many sessions elsewhere.
const WATCHER_READS: usize = 16;

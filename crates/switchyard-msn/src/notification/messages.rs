//! Messages from users of other protocols. MSN clients receive messages only in switchboards,
//! so the server opens one (it rings the user, with the sender as a member) or uses the one
//! their conversation is in. Messages that waited in the durable queue, and unseen broadcasts,
//! are delivered the same way once the user is online, marked with the time they were sent.

use super::Notification;
use crate::conn::{Conn, Replies};
use crate::switchboard::{to_msn, Member, Receipt, RemoteDelivery, Waiting};
use msnp::{MsnStatus, Reply};
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};
use switchyard_core::store::StoredMessage;
use switchyard_core::{AccountId, AccountRef, Message, Settlements};

/// Unseen broadcasts delivered at login.
const BROADCASTS_AT_LOGIN: usize = 20;

impl Notification {
    fn me(&self) -> Member {
        Member {
            account: self.session.account.to_ref(),
            handle: self.handle.clone(),
            friendly: self.presence.display_name.clone(),
        }
    }

    fn member(&self, account: AccountRef, friendly: String) -> Member {
        Member { handle: self.context.config.domains.handle_of(&account.name), account, friendly }
    }

    /// A message routed here by the core, with its receipt (the hand-off of a live message,
    /// or a broadcast's mark). A message that cannot be placed now drops its receipt: a live
    /// one goes back to the durable queue, which this session reads once it can ring.
    pub(super) fn receive_message(&mut self, conn: &mut Conn, message: Message, receipt: Option<Receipt>) {
        let from = self.member(message.from.clone(), message.from_display_name.clone());
        let Some(body) = to_msn(message.kind, &message.text, message.font.as_ref(), &from.handle) else {
            tracing::debug!(kind = ?message.kind, "message kind MSN cannot show; dropped");
            if let Some(Receipt::Live(handoff)) = receipt {
                handoff.received();
            }
            return;
        };
        // Before its first CHG the client cannot be rung.
        if self.status != MsnStatus::Offline {
            self.offer(conn, &from, Waiting { body: body.into(), receipt }, message.kind.is_live_only());
        }
    }

    /// Puts a message into a switchboard for this user, ringing them when a room was opened;
    /// false when it could not be placed.
    fn offer(&self, conn: &mut Conn, from: &Member, waiting: Waiting, live_only: bool) -> bool {
        match self.context.switchboards.deliver_from_remote(&self.me(), from, waiting, live_only) {
            RemoteDelivery::Delivered => true,
            RemoteDelivery::Ring { session, cookie } => {
                conn.send(Reply::Rng {
                    session,
                    address: &self.switchboard_address,
                    cookie: &cookie,
                    caller: &from.handle,
                    friendly: &from.friendly,
                });
                true
            }
            RemoteDelivery::Refused => false,
        }
    }

    /// Once the user is online: what waited in the durable queue, then unseen broadcasts.
    pub(super) async fn deliver_waiting_messages(&mut self, conn: &mut Conn) {
        let me = self.session.account.id;
        match self.context.core.waiting_at_login(me, &mut self.shown_queue, BROADCASTS_AT_LOGIN).await {
            Ok((queued, broadcasts)) => {
                self.offer_stored(conn, queued, Receipt::Offline).await;
                self.offer_stored(conn, broadcasts, Receipt::Broadcast).await;
            }
            Err(e) => tracing::error!(error = %e, "could not read the waiting messages"),
        }
    }

    /// What is in the durable queue and was not offered in this session yet.
    pub(super) async fn deliver_queued(&mut self, conn: &mut Conn) {
        let me = self.session.account.id;
        match self.context.core.pending_offline(me, &mut self.shown_queue).await {
            Ok(pending) => self.offer_stored(conn, pending, Receipt::Offline).await,
            Err(e) => tracing::error!(error = %e, "could not read the offline queue"),
        }
    }

    async fn offer_stored(&mut self, conn: &mut Conn, stored: Vec<StoredMessage>, receipt: fn(i64) -> Receipt) {
        let me = self.session.account.id;
        let store = self.context.core.store();
        let mut senders: HashMap<AccountId, Option<AccountRef>> = HashMap::new();
        for StoredMessage { id, message } in stored {
            let sender = match senders.get(&message.sender) {
                Some(sender) => sender.clone(),
                None => {
                    let sender = store.account_by_id(message.sender).await.ok().flatten().map(|a| a.to_ref());
                    senders.insert(message.sender, sender.clone());
                    sender
                }
            };
            // The sender's account is gone: its messages stay for the protocols that show them.
            let Some(sender) = sender else { continue };
            let friendly = self.context.config.domains.friendly_of(&sender);
            let from = self.member(sender, friendly);
            let text = format!("(sent {}) {}", sent_time(message.sent_at), message.text);
            let Some(body) = to_msn(message.kind, &text, None, &from.handle) else {
                // A notice MSN shows otherwise (someone added the user: the reverse list) or
                // not at all: done with, so it does not wait forever.
                receipt(id).settle(&self.context.core, me, &mut Settlements::default()).await;
                continue;
            };
            let waiting = Waiting { body: body.into(), receipt: Some(receipt(id)) };
            if !self.offer(conn, &from, waiting, false) {
                // Not placed (too many rings at once): offered again at the next read.
                self.shown_queue.forget(id);
            }
        }
    }
}

/// `Sun, 22 Nov 2026 10:15:00 GMT`.
fn sent_time(unix_seconds: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(unix_seconds.max(0) as u64))
}

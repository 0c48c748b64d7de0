//! Messages: sending, showing, what waited for the login, broadcasts.

use super::*;

impl Online {
    /// Offline messages, then broadcasts not seen yet, each kept until acknowledged.
    pub(super) async fn send_waiting_messages(&mut self) -> Result<(), End> {
        let (core, me) = (self.link.context.core.clone(), self.me().id);
        match core.waiting_at_login(me, &mut self.shown_queue, BROADCASTS_AT_LOGIN).await {
            Ok((queued, broadcasts)) => {
                self.send_stored(queued, Completes::Offline).await?;
                self.send_stored(broadcasts, Completes::Broadcast).await
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read waiting messages");
                Ok(())
            }
        }
    }

    /// Offline messages not shown in this session yet.
    pub(super) async fn send_queued(&mut self) -> Result<(), End> {
        let (core, me) = (self.link.context.core.clone(), self.me().id);
        match core.pending_offline(me, &mut self.shown_queue).await {
            Ok(queued) => self.send_stored(queued, Completes::Offline).await,
            Err(e) => {
                tracing::error!(error = %e, "could not read the offline queue");
                Ok(())
            }
        }
    }

    async fn send_stored(&mut self, stored: Vec<StoredMessage>, completes: fn(i64) -> Completes) -> Result<(), End> {
        for message in stored {
            self.show_stored(message, completes).await?;
        }
        Ok(())
    }

    /// Shows a stored message; its last piece's acknowledgement completes it.
    pub(super) async fn show_stored(
        &mut self,
        stored: StoredMessage,
        completes: fn(i64) -> Completes,
    ) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let sender = match core.store().account_by_id(stored.message.sender).await {
            Ok(Some(sender)) => sender,
            // The sender's account is gone: nothing to show it from; it stays queued.
            _ => return Ok(()),
        };
        let message = Message {
            from: sender.to_ref(),
            from_display_name: sender.display_name(),
            kind: stored.message.kind,
            text: stored.message.text,
            formatted: None,
            font: None,
            wants_receipt: false,
            sent_at: stored.message.sent_at,
        };
        self.show(&message, Some(completes(stored.id))).await
    }

    /// Sends a message as `SRV_MESSAGE`s; `completes` goes with the last piece.
    pub(super) async fn show(&mut self, message: &Message, completes: Option<Completes>) -> Result<(), End> {
        let face = match message.kind {
            MessageKind::AuthorizationRequest => self.face_of(message.from.id).await,
            _ => 0,
        };
        let mut packets = messages::to_client(message, face);
        let Some(last) = packets.pop() else {
            if let Some(completes) = completes {
                // Nothing MyICQ can show (a typing notice): done with it.
                self.delivered(completes).await;
            }
            return Ok(());
        };
        for packet in packets {
            self.send(packet, 0).await?;
        }
        self.send_completing(last, 0, completes).await
    }

    pub(super) async fn face_of(&self, id: AccountId) -> u8 {
        self.link.context.core.store().profile(id).await.map(|p| p.face).unwrap_or(0)
    }

    /// Routes a `SEND_MSG`; the client's packet is acknowledged once the message is done with:
    /// delivered, stored for later, or refused for good (too long, no such UIN, not allowed:
    /// the original server acknowledged those too). A message the store could not take is
    /// not, and is done again when the client resends it.
    pub(super) async fn send_message(&mut self, kind: u8, to: u32, text: &[u8], seq: u16) {
        if text.len() > messages::MAX_TEXT {
            tracing::info!(len = text.len(), "message longer than 450 bytes dropped");
            return self.link.pure_ack(seq).await;
        }
        // Messages need only the recipient's identity: the core knows online ones without the store.
        let recipient = match self.link.context.core.account_by_uin(to).await {
            Ok(Some(recipient)) => recipient,
            Ok(None) => {
                tracing::info!(to, "message to a UIN that does not exist dropped");
                return self.link.pure_ack(seq).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "recipient lookup failed");
                return self.link.retry_when_resent(seq);
            }
        };
        let from = self.me().to_ref();
        let Some(message) = messages::from_client(kind, text, from, &self.display_name, unix_now()) else {
            tracing::debug!(kind, "message of an unknown type dropped");
            return self.link.pure_ack(seq).await;
        };
        let grant = (message.kind == MessageKind::AuthorizationGranted).then(|| recipient.clone());
        let accepted = self.link.context.core.accept(recipient.id, message).await;
        self.owed.push(Owed { seq, to, grant }, [accepted]);
    }

    /// A message the client sent is settled: its packet is acknowledged, or left for a resend.
    pub(super) async fn settled(&mut self, owed: Owed, outcome: Result<Delivery, CoreError>) {
        match outcome {
            Ok(_) => {}
            Err(CoreError::NotAllowed | CoreError::NotOnline) => {
                tracing::debug!(to = owed.to, "message not deliverable")
            }
            Err(e) => {
                tracing::warn!(to = owed.to, error = %e, "message neither delivered nor stored; not acknowledged");
                return self.link.retry_when_resent(owed.seq);
            }
        }
        self.link.pure_ack(owed.seq).await;
        if let Some(recipient) = owed.grant {
            self.grant_authorization(&recipient).await;
        }
    }

    /// `BROADCAST_MSG`: only an administrator's reaches everyone.
    pub(super) async fn broadcast(&mut self, kind: u8, text: &[u8]) {
        let context = self.link.context.clone();
        if !context.config.administrators.contains(&self.me().name) {
            tracing::warn!("broadcast from a user who is not an administrator ignored");
            return;
        }
        let from = self.me().to_ref();
        let Some(mut message) = messages::from_client(kind, text, from, &self.display_name, unix_now()) else {
            return;
        };
        message.kind = MessageKind::Broadcast;
        match context.core.broadcast(message).await {
            Ok(id) => tracing::info!(id, "broadcast sent"),
            Err(e) => tracing::error!(error = %e, "broadcast failed"),
        }
    }
}

//! Presence: `CHG` with client capabilities and MSN objects, the `ILN`/`NLN` others see in the
//! connection's dialect, personal messages (`UUX`/`UBX`, MSNP11+), and the `CHL`/`QRY`
//! challenge sent after the first `CHG` (MSNP6+, when configured).

use super::{core_error, error, Notification, Why};
use crate::conn::{Conn, Replies};
use crate::status;
use crate::xml;
use msnp::dialect::PresenceExtras as Extras;
use msnp::{CommandError, ErrorCode, MsnStatus, PresenceExtras, Reply, Trid};
use rand::Rng;
use switchyard_core::{ClientDetails, Presence};
use switchyard_net::driver::Step;
use tokio::time::Instant;

/// How long a client has to answer `CHL`.
const CHALLENGE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) enum PendingChallenge {
    /// Not sent yet (it goes out after the first `CHG`).
    NotYet,
    Waiting {
        challenge: String,
        deadline: Instant,
    },
    Answered,
}

impl PendingChallenge {
    /// Completes when a challenge goes unanswered past its deadline; never otherwise.
    pub(super) async fn expired(&self) {
        match self {
            PendingChallenge::Waiting { deadline, .. } => tokio::time::sleep_until(*deadline).await,
            _ => std::future::pending().await,
        }
    }
}

impl Notification {
    /// What `CHG`/`ILN`/`NLN` carry after the status in this dialect.
    fn extras<'a>(&self, client: &'a ClientDetails) -> PresenceExtras<&'a str> {
        match self.dialect.presence_extras() {
            Extras::None => PresenceExtras::default(),
            Extras::Capabilities => PresenceExtras { capabilities: Some(client.capabilities), object: None },
            Extras::CapabilitiesAndObject => {
                PresenceExtras { capabilities: Some(client.capabilities), object: client.picture.as_deref() }
            }
        }
    }

    /// `ILN` (with the trid of the command that caused it) or `NLN`, and in MSNP11+ the
    /// contact's personal message.
    pub(super) fn show_presence(&self, conn: &mut Conn, trid: Option<Trid>, handle: &str, presence: &Presence) {
        let status = status::to_msn(presence.status);
        let friendly = &presence.display_name;
        let extras = self.extras(&presence.client);
        match trid {
            Some(trid) => conn.send(Reply::Iln { trid, status, handle, friendly, extras }),
            None => conn.send(Reply::Nln { status, handle, friendly, extras }),
        }
        // A change (NLN) may have cleared the message; an initial one (ILN) only matters if set.
        if self.dialect.has_personal_messages() && (trid.is_none() || !presence.personal_message.is_empty()) {
            let payload = personal_message_xml(&presence.personal_message);
            conn.send(Reply::Ubx { handle, payload: payload.as_bytes() });
        }
    }

    /// Tells the core what the user now shows, if they are not offline.
    pub(super) async fn publish_presence(&self, trid: Trid) -> Result<(), CommandError> {
        if self.status == MsnStatus::Offline {
            return Ok(());
        }
        self.context.core.set_presence(&self.session, self.presence.clone()).await.map_err(|e| core_error(trid, e))
    }

    pub(super) async fn change_status(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        new: MsnStatus,
        capabilities: Option<u32>,
        object: Option<String>,
    ) -> Result<(), CommandError> {
        let was_receiving = self.status != MsnStatus::Offline;
        self.presence.status = status::to_core(new);
        self.presence.client = ClientDetails { capabilities: capabilities.unwrap_or(0), picture: object };
        let core = &self.context.core;
        let coming_online = !was_receiving && new != MsnStatus::Offline;
        let contacts = if coming_online {
            core.come_online(&self.session, self.presence.clone()).await
        } else {
            core.set_presence(&self.session, self.presence.clone()).await.map(|()| Vec::new())
        }
        .map_err(|e| core_error(trid, e))?;
        self.status = new;
        conn.send(Reply::Chg { trid, status: new, extras: self.extras(&self.presence.client) });
        if coming_online {
            for (contact, presence) in contacts {
                let handle = self.context.config.domains.handle_of(&contact.name);
                self.show_presence(conn, Some(trid), &handle, &presence);
            }
            self.challenge_once(conn);
            self.deliver_waiting_messages(conn).await;
        }
        Ok(())
    }

    /// Sends `CHL` the first time the user comes online, where the dialect and configuration
    /// call for it.
    fn challenge_once(&mut self, conn: &mut Conn) {
        let wanted = self.context.config.challenges && self.dialect.challenge_scheme().is_some();
        if !wanted || !matches!(self.challenge, PendingChallenge::NotYet) {
            return;
        }
        // Twenty digits, as the service's challenges were.
        let challenge: String = (0..20).map(|_| char::from(b'0' + rand::rng().random_range(0..10u8))).collect();
        conn.send(Reply::Chl { challenge: &challenge });
        self.challenge = PendingChallenge::Waiting { challenge, deadline: Instant::now() + CHALLENGE_DEADLINE };
    }

    /// `QRY`: the right answer is acknowledged; a wrong one (or one for an unknown product)
    /// gets 540 and the connection is closed.
    pub(super) fn answer_challenge(&mut self, conn: &mut Conn, trid: Trid, product: &str, answer: &[u8]) -> Step<Why> {
        let PendingChallenge::Waiting { challenge, .. } = &self.challenge else {
            conn.send(Reply::Error { code: ErrorCode::NotExpected, trid: Some(trid) });
            return Step::Continue;
        };
        let scheme = self.dialect.challenge_scheme().expect("challenges are only sent in dialects with a scheme");
        let right = std::str::from_utf8(answer)
            .is_ok_and(|answer| msnp::challenge::verify(challenge, product, answer.trim(), scheme));
        if right {
            conn.send(Reply::Qry { trid });
            self.challenge = PendingChallenge::Answered;
            Step::Continue
        } else {
            tracing::info!(product, "wrong challenge answer");
            conn.send(Reply::Error { code: ErrorCode::ChallengeFailed, trid: Some(trid) });
            Step::End(Why::WrongChallengeAnswer)
        }
    }

    /// `UUX` (MSNP11+): the personal message, shown to watchers as `UBX`.
    pub(super) async fn set_personal_message(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        payload: &[u8],
    ) -> Result<(), CommandError> {
        if !self.dialect.has_personal_messages() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        let xml = std::str::from_utf8(payload).map_err(|_| error(trid, ErrorCode::InvalidParameter))?;
        self.presence.personal_message = personal_message_of(xml);
        self.publish_presence(trid).await?;
        conn.send(Reply::Uux { trid });
        Ok(())
    }
}

/// The text of `<PSM>` in a `UUX` payload; empty when there is none.
fn personal_message_of(xml: &str) -> String {
    let Some(start) = xml.find("<PSM>").map(|i| i + "<PSM>".len()) else { return String::new() };
    let Some(len) = xml[start..].find("</PSM>") else { return String::new() };
    xml::unescape(&xml[start..start + len])
}

/// The `UBX` payload for a personal message.
fn personal_message_xml(text: &str) -> String {
    format!("<Data><PSM>{}</PSM><CurrentMedia></CurrentMedia></Data>", xml::escape(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_messages_round_trip_through_the_xml() {
        let text = "fish & <chips> \"now\"";
        let xml = personal_message_xml(text);
        assert_eq!(
            xml,
            "<Data><PSM>fish &amp; &lt;chips&gt; &quot;now&quot;</PSM><CurrentMedia></CurrentMedia></Data>"
        );
        assert_eq!(personal_message_of(&xml), text);
        assert_eq!(personal_message_of("<Data><CurrentMedia></CurrentMedia></Data>"), "");
        assert_eq!(personal_message_of("<Data><PSM>unterminated"), "");
    }
}

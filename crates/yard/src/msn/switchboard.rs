//! One switchboard per contact: joined after a `RNG` (`ANS`) or made after `XFR SB` (`USR`,
//! then `CAL`), relaying messages both ways until the other side leaves or it falls idle.

use super::{connect, Line, Lines, Role};
use crate::{Error, Reply};
use msnp::command::AckMode;
use msnp::message::{self, Body};
use msnp::{OwnedReply, SbCommand, ServerMessage};
use std::collections::HashMap;
use std::time::Duration;
use switchyard_net::driver::{self, Step};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A switchboard nobody has written in for this long is left.
const IDLE: Duration = Duration::from_secs(600);
/// How long joining a switchboard may take.
const ENTERING: Duration = Duration::from_secs(30);

/// What a switchboard connection is asked to do.
#[derive(Debug)]
pub(super) enum Command {
    Message { text: String, reply: Reply },
    Typing { reply: Reply },
}

impl Command {
    pub(super) fn fail(self, error: Error) {
        let (Command::Message { reply, .. } | Command::Typing { reply }) = self;
        let _ = reply.send(Err(error));
    }
}

/// What a switchboard tells the notification connection.
pub(super) enum Told {
    Message { from: String, text: String },
    Typing { from: String },
    Closed { with: String },
}

pub(super) enum Start {
    /// Create a room with the `XFR SB` cookie and `CAL` the contact.
    Call { cookie: String },
    /// Join the room of a `RNG`.
    Answer { cookie: String, session: u64 },
}

/// One switchboard with `with`: joins (or creates and calls), then relays messages both ways
/// until the other side leaves or it falls idle. The commands it could not carry fail.
pub(super) async fn run(
    address: String,
    local: Option<std::net::IpAddr>,
    me: String,
    with: String,
    start: Start,
    mut commands: mpsc::Receiver<Command>,
    told: mpsc::Sender<Told>,
) {
    let result = match connect(&address, local, Role::Switchboard).await {
        Ok(mut sb) => {
            let result = match enter(&mut sb, &me, &with, start).await {
                Ok(()) => relay(&mut sb, &me, &mut commands, &told).await,
                Err(e) => Err(e),
            };
            sb.close().await;
            result
        }
        Err(e) => Err(e),
    };
    commands.close();
    let why = result.err().unwrap_or_else(|| Error::NotDelivered(format!("{with} left the conversation")));
    while let Ok(command) = commands.try_recv() {
        command.fail(why.clone());
    }
    let _ = told.send(Told::Closed { with }).await;
}

async fn enter(sb: &mut Line, me: &str, with: &str, start: Start) -> Result<(), Error> {
    let deadline = Instant::now() + ENTERING;
    match start {
        Start::Call { cookie } => {
            sb.send(SbCommand::Usr { trid: 1, handle: me.to_owned(), cookie }).await?;
            expect(sb, deadline, |reply| matches!(reply, ServerMessage::UsrOk { .. })).await?;
            sb.send(SbCommand::Cal { trid: 2, handle: with.to_owned() }).await?;
            expect(sb, deadline, |reply| matches!(reply, ServerMessage::Cal { .. })).await?;
            expect(
                sb,
                deadline,
                |reply| matches!(reply, ServerMessage::Joi { handle, .. } if handle.eq_ignore_ascii_case(with)),
            )
            .await
        }
        Start::Answer { cookie, session } => {
            sb.send(SbCommand::Ans { trid: 1, handle: me.to_owned(), cookie, session }).await?;
            expect(sb, deadline, |reply| matches!(reply, ServerMessage::AnsOk { .. })).await
        }
    }
}

/// Waits for the reply `wanted` picks (skipping `IRO` and the like); an error is a refusal.
async fn expect(sb: &mut Line, deadline: Instant, wanted: impl Fn(&OwnedReply) -> bool) -> Result<(), Error> {
    loop {
        let reply = sb.expect(deadline).await?;
        if wanted(&reply) {
            return Ok(());
        }
        if let ServerMessage::Error { .. } = reply {
            return Err(Error::NotDelivered(super::refusal(&reply)));
        }
    }
}

/// Relays messages both ways until the other side leaves or the room falls idle.
async fn relay(
    sb: &mut Line,
    me: &str,
    commands: &mut mpsc::Receiver<Command>,
    told: &mpsc::Sender<Told>,
) -> Result<(), Error> {
    let mut room = Relay { me, commands, told, acks: HashMap::new(), typed: Vec::new(), trid: 10, present: 1 };
    let end = driver::drive(sb, &mut room, std::future::pending()).await;
    for (_, reply) in room.acks {
        let _ = reply.send(Err(Error::NotDelivered("the switchboard closed".into())));
    }
    crate::ended(end).map(drop).map_err(|lost| Error::NotDelivered(format!("{lost:?}")))
}

/// A switchboard's state while it relays, as the driver runs it.
struct Relay<'a> {
    me: &'a str,
    commands: &'a mut mpsc::Receiver<Command>,
    told: &'a mpsc::Sender<Told>,
    /// Messages waiting for their `ACK`, by trid.
    acks: HashMap<u32, Reply>,
    /// Typing notifications queued, answered once written.
    typed: Vec<Reply>,
    trid: u32,
    present: usize,
}

/// How a switchboard ends itself.
enum Left {
    /// The last other participant left.
    Alone,
    /// The commands ended, or the room fell idle: `OUT` is on its way.
    Done,
}

impl driver::Session<Line> for Relay<'_> {
    /// A command; `None` when the commands ended or the room fell idle.
    type Input = Option<Command>;
    type Why = Left;

    async fn next_input(&mut self) -> Option<Command> {
        tokio::select! {
            command = self.commands.recv() => command,
            _ = tokio::time::sleep(IDLE) => None,
        }
    }

    fn ready_input(&mut self) -> Option<Option<Command>> {
        self.commands.try_recv().ok().map(Some)
    }

    async fn frame(&mut self, sb: &mut Line, frame: msnp::Frame) -> Step<Left> {
        let reply = match sb.parse(&frame) {
            Ok(reply) => reply,
            Err(e) => {
                tracing::debug!(error = %e, "ignored");
                return Step::Continue;
            }
        };
        match reply {
            ServerMessage::Msg { handle: from, body, .. } => {
                let told = match message::parse(&body) {
                    Some(Body::Text { text, .. }) => Told::Message { from, text },
                    Some(Body::Typing { .. }) => Told::Typing { from },
                    None => return Step::Continue,
                };
                let _ = self.told.send(told).await;
            }
            ServerMessage::Ack { trid } | ServerMessage::Nak { trid } => {
                if let Some(reply) = self.acks.remove(&trid) {
                    let acked = matches!(frame.verb.as_str(), "ACK");
                    let _ = reply.send(if acked { Ok(()) } else { Err(Error::NotDelivered("NAK".into())) });
                }
            }
            ServerMessage::Joi { .. } => self.present += 1,
            ServerMessage::Bye { .. } => {
                self.present = self.present.saturating_sub(1);
                if self.present == 0 {
                    return Step::End(Left::Alone);
                }
            }
            _ => {}
        }
        Step::Continue
    }

    async fn input(&mut self, sb: &mut Line, command: Option<Command>) -> Step<Left> {
        self.trid += 1;
        let trid = self.trid;
        match command {
            Some(Command::Message { text, reply }) => {
                self.acks.insert(trid, reply);
                let body = message::text(&text, None).into_bytes().into();
                sb.queue(SbCommand::Msg { trid, ack: AckMode::Acknowledged, body });
            }
            Some(Command::Typing { reply }) => {
                let body = message::typing(self.me).into_bytes().into();
                sb.queue(SbCommand::Msg { trid, ack: AckMode::Unacknowledged, body });
                self.typed.push(reply);
            }
            None => {
                sb.queue(SbCommand::Out);
                return Step::End(Left::Done);
            }
        }
        Step::Continue
    }

    async fn flushed(&mut self, sent: usize) {
        for reply in self.typed.drain(..) {
            let _ = reply.send(if sent == usize::MAX { Ok(()) } else { Err(Error::NotConnected) });
        }
    }
}

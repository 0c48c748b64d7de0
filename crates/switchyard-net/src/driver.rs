//! The one loop every session runs, server side and client side: wait for the first input,
//! handle what else is already there, write once, and end in one of a few ways.
//!
//! A session's inputs are its connection's frames and whatever else it waits on (core events,
//! settled acknowledgements, protocol timers, an application's commands): [`Session::next_input`].
//! Under load several inputs are often ready at once; answering them all and then writing once
//! puts many replies in one system call instead of one each. When nothing more is waiting the
//! session writes at once, so a lightly loaded connection waits for nothing.
//!
//! Every session ends with an [`End`]: the server shut down, the peer's input ended or was bad,
//! a write failed, or the session ended itself for a reason of its own. The protocol's parting
//! words for each (`OUT SSD`, `OUT OTH`, an MRIM `LOGOUT`) are [`Session::goodbye`]'s; the
//! caller closes the connection, which writes them.

use crate::ReadError;
use std::fmt;
use std::future::Future;
use std::io;
use tokio_util::sync::CancellationToken;

/// Inputs handled between two writes at most, so that one busy connection cannot hold its
/// thread for long and its replies do not wait behind too much work.
pub const READY_BATCH: usize = 64;

/// Where a session's frames come from and its output goes.
pub trait Link: Send {
    type Frame: Send;
    /// What makes the peer's input undecodable.
    type Bad: fmt::Display + Send;

    /// A frame already read, if there is one.
    fn buffered(&mut self) -> Option<Result<Self::Frame, ReadError<Self::Bad>>>;
    /// The next frame. Must be cancellation-safe: nothing read may be lost when it is dropped.
    fn read(&mut self) -> impl Future<Output = Result<Self::Frame, ReadError<Self::Bad>>> + Send;
    /// Whether a batch may go on before the next write (it ends once much output is queued).
    fn has_room_for_more(&self) -> bool;
    /// Writes what is queued, given up (and the connection with it) if `stop` comes first.
    fn flush_unless<F: Future<Output = ()> + Send>(
        &mut self,
        stop: impl FnOnce() -> F + Send,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// After a failed flush: how many bytes of the lost output the peer may have, whole.
    fn sent_of_lost_output(&self) -> usize;
}

/// What a session does after an input.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Step<Why> {
    Continue,
    /// Go on, but write what is queued before handling anything else (an acknowledgement a
    /// sender waits for should not wait behind other work).
    WriteNow,
    /// The session ends itself, for this reason.
    End(Why),
}

/// A handler that reports its end as an error: `Err(why)` ends the session.
impl<Why> From<Result<(), Why>> for Step<Why> {
    fn from(result: Result<(), Why>) -> Self {
        match result {
            Ok(()) => Step::Continue,
            Err(why) => Step::End(why),
        }
    }
}

/// Why a session ended. `Why` is the session's own reasons, `Bad` what its decoder rejects.
#[derive(Debug)]
pub enum End<Why, Bad> {
    Shutdown,
    /// The peer closed, the read failed, or the input could not be decoded.
    Read(ReadError<Bad>),
    /// A write failed or was given up.
    Write(io::Error),
    Session(Why),
}

impl<Why, Bad: fmt::Display> End<Why, Bad> {
    /// Logs a lost connection (a server's concern; a client tells its application instead).
    pub fn log(&self) {
        match self {
            End::Read(e) => e.log(),
            End::Write(e) => tracing::info!(error = %e, "write failed"),
            End::Shutdown | End::Session(_) => {}
        }
    }
}

/// One protocol's session as the driver runs it, over a link `L`.
pub trait Session<L: Link>: Send {
    /// Everything the session waits on besides its link's frames.
    type Input: Send;
    /// How the session ends itself (a kick, a logout, a silent peer).
    type Why: Send;

    /// The next input that is not a frame. Must be cancellation-safe.
    fn next_input(&mut self) -> impl Future<Output = Self::Input> + Send;
    /// An input that is already there, without waiting.
    fn ready_input(&mut self) -> Option<Self::Input>;
    /// Whether the link's frames are read now; false holds a peer back (too much is owed it).
    fn reads(&self) -> bool {
        true
    }
    fn frame(&mut self, link: &mut L, frame: L::Frame) -> impl Future<Output = Step<Self::Why>> + Send;
    fn input(&mut self, link: &mut L, input: Self::Input) -> impl Future<Output = Step<Self::Why>> + Send;
    /// Before each write: queue what became due while the batch ran.
    fn before_flush(&mut self, _link: &mut L) {}
    /// After each write: `sent` bytes of the output reached the peer (all of it: `usize::MAX`).
    fn flushed(&mut self, _sent: usize) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Cancelled when a write that waits for the peer should be given up (the session was
    /// ended while its peer was not reading); `None`, never. Asked once, as the drive starts.
    fn stalled(&self) -> Option<CancellationToken> {
        None
    }
    /// Queues (or sends) the protocol's parting words for `end`, if it has any.
    fn goodbye(&mut self, _link: &mut L, _end: &End<Self::Why, L::Bad>) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// An input taken for a batch.
enum Ready<F, B, I> {
    Frame(Result<F, ReadError<B>>),
    Input(I),
}

/// Runs `session` over `link` until it ends or `shutdown` completes (a server's
/// `CancellationToken::cancelled`; a client that is never shut down passes
/// `std::future::pending()`, which costs nothing to wait on). The caller then closes the link.
pub async fn drive<L: Link, S: Session<L>>(
    link: &mut L,
    session: &mut S,
    shutdown: impl Future<Output = ()>,
) -> End<S::Why, L::Bad> {
    // One future for the whole session: a fresh one each time round would join the token's
    // waiters again.
    tokio::pin!(shutdown);
    // Shared with each write's give-up future: an `Arc` is cheaper to clone than the token.
    let stalled = session.stalled().map(std::sync::Arc::new);
    let end = loop {
        let first = tokio::select! {
            biased;
            () = &mut shutdown => break End::Shutdown,
            input = session.next_input() => Ready::Input(input),
            frame = link.read(), if session.reads() => Ready::Frame(frame),
        };
        // Boxed: it holds the largest handler's state, which an idle session does not need
        // (small idle sessions, see the crate's docs).
        if let Err(end) = Box::pin(handle_batch(link, session, first)).await {
            break end;
        }
        session.before_flush(link);
        let stalled = stalled.clone();
        let stop = || async move {
            match stalled {
                Some(stalled) => stalled.cancelled().await,
                None => std::future::pending().await,
            }
        };
        match link.flush_unless(stop).await {
            Ok(()) => session.flushed(usize::MAX).await,
            Err(e) => {
                session.flushed(link.sent_of_lost_output()).await;
                break End::Write(e);
            }
        }
    };
    session.goodbye(link, &end).await;
    end
}

/// Handles `first`, then what is already there, until nothing is or [`READY_BATCH`] inputs
/// were handled. An input is taken only to be handled: nothing taken is dropped.
async fn handle_batch<L: Link, S: Session<L>>(
    link: &mut L,
    session: &mut S,
    first: Ready<L::Frame, L::Bad, S::Input>,
) -> Result<(), End<S::Why, L::Bad>> {
    let mut next = first;
    for handled in 1..=READY_BATCH {
        let step = match next {
            Ready::Frame(Ok(frame)) => session.frame(link, frame).await,
            Ready::Frame(Err(e)) => return Err(End::Read(e)),
            Ready::Input(input) => session.input(link, input).await,
        };
        match step {
            Step::End(why) => return Err(End::Session(why)),
            Step::WriteNow => break,
            Step::Continue => {}
        }
        if handled == READY_BATCH || !link.has_room_for_more() {
            break;
        }
        let frame = if session.reads() { link.buffered() } else { None };
        next = match frame.map(Ready::Frame).or_else(|| session.ready_input().map(Ready::Input)) {
            Some(ready) => ready,
            None => break,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{drive, End, Link, Session, Step, READY_BATCH};
    use crate::ReadError;
    use std::collections::VecDeque;
    use std::future::Future;
    use std::io;
    use tokio_util::sync::CancellationToken;

    /// Frames already read (then nothing: the peer has closed), and the writes made.
    #[derive(Default)]
    struct Wire {
        frames: VecDeque<u32>,
        output: Vec<u32>,
        writes: Vec<Vec<u32>>,
        /// The write that fails, and how much of its output went out before.
        failing_write: Option<(usize, usize)>,
    }

    impl Link for Wire {
        type Frame = u32;
        type Bad = String;

        fn buffered(&mut self) -> Option<Result<u32, ReadError<String>>> {
            self.frames.pop_front().map(Ok)
        }

        async fn read(&mut self) -> Result<u32, ReadError<String>> {
            self.frames.pop_front().ok_or(ReadError::Closed)
        }

        fn has_room_for_more(&self) -> bool {
            self.output.len() < 1000
        }

        async fn flush_unless<F: Future<Output = ()> + Send>(
            &mut self,
            _: impl FnOnce() -> F + Send,
        ) -> io::Result<()> {
            if self.output.is_empty() {
                return Ok(());
            }
            if self.failing_write.is_some_and(|(n, _)| n == self.writes.len()) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.writes.push(std::mem::take(&mut self.output));
            Ok(())
        }

        fn sent_of_lost_output(&self) -> usize {
            self.failing_write.map_or(0, |(_, sent)| sent)
        }
    }

    /// Echoes frames and inputs to the wire; ends itself on `last`.
    #[derive(Default)]
    struct Echo {
        inputs: VecDeque<u32>,
        last: u32,
        /// The input after which what is queued is written at once.
        write_after: u32,
        holding_back: bool,
        flushed: Vec<usize>,
        goodbyes: Vec<String>,
    }

    impl Echo {
        fn echo(&self, wire: &mut Wire, n: u32) -> Step<u32> {
            wire.output.push(n);
            if n == self.last {
                Step::End(n)
            } else if n == self.write_after {
                Step::WriteNow
            } else {
                Step::Continue
            }
        }
    }

    impl Session<Wire> for Echo {
        type Input = u32;
        type Why = u32;

        async fn next_input(&mut self) -> u32 {
            match self.inputs.pop_front() {
                Some(n) => n,
                None => std::future::pending().await,
            }
        }

        fn ready_input(&mut self) -> Option<u32> {
            self.inputs.pop_front()
        }

        fn reads(&self) -> bool {
            !self.holding_back
        }

        async fn frame(&mut self, wire: &mut Wire, n: u32) -> Step<u32> {
            self.echo(wire, n)
        }

        async fn input(&mut self, wire: &mut Wire, n: u32) -> Step<u32> {
            self.echo(wire, n)
        }

        async fn flushed(&mut self, sent: usize) {
            self.flushed.push(sent);
        }

        async fn goodbye(&mut self, _: &mut Wire, end: &End<u32, String>) {
            self.goodbyes.push(format!("{end:?}"));
        }
    }

    fn wire(frames: u32) -> Wire {
        Wire { frames: (1..=frames).collect(), ..Wire::default() }
    }

    #[tokio::test]
    async fn a_batch_takes_at_most_its_size_and_drops_nothing() {
        let (mut wire, mut echo) = (wire(150), Echo::default());
        let end = drive(&mut wire, &mut echo, std::future::pending()).await;
        assert!(matches!(end, End::Read(ReadError::Closed)), "{end:?}");
        let written: Vec<u32> = wire.writes.concat();
        assert_eq!(written, (1..=150).collect::<Vec<_>>(), "every frame once, in order");
        assert!(wire.writes.iter().all(|w| w.len() <= READY_BATCH));
        assert_eq!(wire.writes.len(), 150_usize.div_ceil(READY_BATCH), "one write per full batch");
        assert_eq!(echo.flushed, vec![usize::MAX; wire.writes.len()]);
        assert_eq!(echo.goodbyes, ["Read(Closed)"]);
    }

    #[tokio::test]
    async fn frames_and_other_inputs_share_a_batch_and_the_session_may_end_it() {
        let mut wire = wire(10);
        let mut echo = Echo { inputs: [100, 101].into(), last: 4, ..Echo::default() };
        let end = drive(&mut wire, &mut echo, std::future::pending()).await;
        assert!(matches!(end, End::Session(4)), "{end:?}");
        // The first input is the session's own (it is asked first), then frames, while any wait.
        assert_eq!(wire.output, [100, 1, 2, 3, 4], "the ending batch is not written by the driver");
        assert!(wire.writes.is_empty());
        assert_eq!(wire.frames.front(), Some(&5), "what was not handled is still waiting");
        assert_eq!(echo.inputs, [101]);
    }

    #[tokio::test]
    async fn write_now_ends_the_batch_with_a_write() {
        let mut wire = wire(5);
        let mut echo = Echo { write_after: 2, ..Echo::default() };
        let end = drive(&mut wire, &mut echo, std::future::pending()).await;
        assert!(matches!(end, End::Read(ReadError::Closed)), "{end:?}");
        assert_eq!(wire.writes, [vec![1, 2], vec![3, 4, 5]], "2 went out before 3 was handled");
    }

    #[tokio::test]
    async fn a_session_holding_its_peer_back_handles_its_other_inputs() {
        let mut wire = wire(3);
        let mut echo = Echo { inputs: [7, 8, 9].into(), last: 9, holding_back: true, ..Echo::default() };
        let end = drive(&mut wire, &mut echo, std::future::pending()).await;
        assert!(matches!(end, End::Session(9)), "{end:?}");
        assert_eq!(wire.output, [7, 8, 9]);
        assert_eq!(wire.frames.len(), 3, "no frame was read");
    }

    #[tokio::test]
    async fn a_failed_write_says_how_much_went_and_ends_the_session() {
        let mut wire = Wire { failing_write: Some((0, 12)), ..wire(3) };
        let mut echo = Echo::default();
        let end = drive(&mut wire, &mut echo, std::future::pending()).await;
        assert!(matches!(&end, End::Write(e) if e.kind() == io::ErrorKind::BrokenPipe), "{end:?}");
        assert_eq!(echo.flushed, [12]);
        assert_eq!(echo.goodbyes.len(), 1);
    }

    #[tokio::test]
    async fn shutdown_comes_before_any_input() {
        let (mut wire, mut echo) = (wire(3), Echo::default());
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let end = drive(&mut wire, &mut echo, shutdown.cancelled()).await;
        assert!(matches!(end, End::Shutdown), "{end:?}");
        assert_eq!(echo.goodbyes, ["Shutdown"]);
        assert_eq!(wire.frames.len(), 3);
    }
}

//! The one source of "now" for sessions: a tick a second. Sessions with packets in flight
//! follow the ticks to resend and give up; besides, a logged-in session has one timer, its
//! expiry. Under tokio's paused clock (tests) the ticks follow virtual time, and because a tick
//! is always at most a second away, auto-advancing never leaps past a session's deadlines.

use crate::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const TICK: Duration = Duration::from_secs(1);
/// How often dropped datagrams are summed up in the log (each is logged at debug level).
const DROP_REPORT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct Clock {
    now: watch::Receiver<Instant>,
}

impl Clock {
    pub(crate) fn start(shutdown: CancellationToken, context: Arc<Context>) -> Clock {
        let (tx, now) = watch::channel(tokio::time::Instant::now().into_std());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(TICK);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut next_report = tokio::time::Instant::now() + DROP_REPORT;
            let mut reported = 0;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    tick = ticks.tick() => {
                        tx.send_replace(tick.into_std());
                        if tick >= next_report {
                            next_report = tick + DROP_REPORT;
                            let dropped = context.stats.total();
                            if dropped > reported {
                                tracing::warn!(stats = ?context.stats.snapshot(), "MyICQ datagrams dropped");
                                reported = dropped;
                            }
                        }
                    }
                }
            }
        });
        Clock { now }
    }

    pub(crate) fn now(&self) -> Instant {
        *self.now.borrow()
    }

    /// Waits for the next tick; never returns once the clock has stopped.
    pub(crate) async fn tick(&mut self) -> Instant {
        if self.now.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.now()
    }
}

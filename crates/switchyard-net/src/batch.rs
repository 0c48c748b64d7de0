//! Handling what is ready before writing. Under load a session often has several inputs
//! waiting at once (packets already read, events queued for it); answering them all and then
//! writing once puts many replies in one system call instead of one each. When nothing more
//! is waiting, the session writes at once, so a lightly loaded connection waits for nothing.

/// Inputs handled between two writes at most, so that one busy connection cannot hold its
/// thread for long and its replies do not wait behind too much work.
pub const READY_BATCH: usize = 64;

/// A session's inputs, seen while it handles a batch.
pub trait Ready {
    type Input;
    /// An input that is already there (read, or queued), if the batch may go on.
    fn waiting(&mut self) -> Option<Self::Input>;
    /// Handles one input; false when the session ends.
    fn handle(&mut self, input: Self::Input) -> impl std::future::Future<Output = bool> + Send;
}

/// Handles `first`, then what [`Ready::waiting`] finds already there, until it finds nothing or
/// [`READY_BATCH`] inputs were handled. `waiting` is asked only for an input that will be
/// handled, so nothing taken is dropped. Returns false as soon as an input ends the session.
/// Sessions box the future this returns: it holds an input (small idle sessions, see the
/// crate's docs).
pub async fn handle_ready<R: Ready>(ready: &mut R, first: R::Input) -> bool {
    let mut input = first;
    for handled in 1..=READY_BATCH {
        if !ready.handle(input).await {
            return false;
        }
        if handled == READY_BATCH {
            break;
        }
        match ready.waiting() {
            Some(next) => input = next,
            None => break,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{handle_ready, Ready, READY_BATCH};
    use std::collections::VecDeque;

    /// Inputs waiting, those handled in order, and the input that ends the session.
    struct Queue {
        waiting: VecDeque<u32>,
        handled: Vec<u32>,
        last: u32,
    }

    impl Ready for Queue {
        type Input = u32;

        fn waiting(&mut self) -> Option<u32> {
            self.waiting.pop_front()
        }

        async fn handle(&mut self, n: u32) -> bool {
            self.handled.push(n);
            n != self.last
        }
    }

    fn queue(waiting: u32, last: u32) -> Queue {
        Queue { waiting: (1..=waiting).collect(), handled: Vec::new(), last }
    }

    #[tokio::test]
    async fn a_batch_takes_at_most_its_size_and_drops_nothing() {
        let mut q = queue(150, 0);
        let mut batches = 0;
        while let Some(first) = q.waiting.pop_front() {
            batches += 1;
            assert!(handle_ready(&mut q, first).await);
            assert!(q.handled.len() <= batches * READY_BATCH);
        }
        assert_eq!(q.handled, (1..=150).collect::<Vec<_>>(), "every input once, in order");
        assert_eq!(batches, 150_usize.div_ceil(READY_BATCH));
    }

    #[tokio::test]
    async fn a_batch_ends_when_nothing_waits_or_an_input_ends_the_session() {
        let mut q = queue(3, 0);
        let first = q.waiting.pop_front().unwrap();
        assert!(handle_ready(&mut q, first).await);
        assert_eq!(q.handled, [1, 2, 3]);

        let mut q = queue(10, 4);
        let first = q.waiting.pop_front().unwrap();
        assert!(!handle_ready(&mut q, first).await);
        assert_eq!(q.handled, [1, 2, 3, 4]);
        assert_eq!(q.waiting.front(), Some(&5), "what was not handled is still waiting");
    }
}

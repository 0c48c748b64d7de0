//! The `fanout` scenario: one user's status changes seen by everyone watching them.

use crate::report::{Report, Tally};
use crate::users::User;
use std::time::{Duration, Instant};
use yard::{Client, Event};

/// User 0 changes status `changes` times, each once every watcher saw the last; every watcher
/// records how long each change took to reach it. Returns the clients.
pub(crate) async fn fanout(
    users: &[User],
    clients: Vec<(usize, Client)>,
    changes: u32,
    report: &mut Report,
) -> Vec<(usize, Client)> {
    let mut clients = clients.into_iter();
    let Some((0, star)) = clients.next() else {
        tracing::error!("user 0 did not log in");
        return Vec::new();
    };
    let seen = Tally::default();
    // The change in progress: (its number, its status, when it was made). None before the
    // first, so that the star's coming online at login, seen late, is not counted as a change.
    let (changed, _) = tokio::sync::watch::channel(None::<(u32, yard::Status, Instant)>);
    let mut watchers = tokio::task::JoinSet::new();
    let mut watching = 0u64;
    for (i, mut client) in clients {
        let star_handle = users[0].handle(users[i].protocol);
        let (seen, mut changed) = (seen.clone(), changed.subscribe());
        watching += 1;
        watchers.spawn(async move {
            // A watcher whose contact list was composed after a change is told of it twice, in
            // the list and as the change itself: it counts once.
            let mut last_counted = None;
            while let Some(event) = client.next_event().await {
                if let Event::Presence { handle, status, .. } = event {
                    let change = *changed.borrow_and_update();
                    if let Some((number, expected, at)) = change {
                        if handle == star_handle && status == expected && last_counted != Some(number) {
                            last_counted = Some(number);
                            seen.record(at.elapsed());
                        }
                    }
                }
            }
            (i, client)
        });
    }
    let start = Instant::now();
    for k in 0..changes {
        let status = if k % 2 == 0 { yard::Status::Away } else { yard::Status::Online };
        let before = seen.count();
        changed.send_replace(Some((k, status, Instant::now())));
        if star.set_status(status).await.is_err() {
            report.message_errors += 1;
        }
        // The next change waits until every watcher saw this one (or ten seconds passed).
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.count() < before + watching && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    report.delivered = seen.deliveries(start.elapsed().as_secs_f64());
    // The watchers stop here; their clients close as they are dropped.
    let mut all = vec![(0, star)];
    watchers.abort_all();
    while let Some(done) = watchers.join_next().await {
        if let Ok(client) = done {
            all.push(client);
        }
    }
    all
}

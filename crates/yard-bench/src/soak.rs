//! The `soak` scenario: is anything a sender was told is delivered ever lost when the server is
//! killed? The bench runs the server itself, has pairs chat over all nine routes while some
//! recipients log out and back in, kills the server with SIGKILL at random moments and starts
//! it again on the same data, then lets every recipient collect what waited for it. Every
//! acknowledged message must arrive; duplicates (a message the client had, delivered again
//! after a crash) are counted and reported.

use crate::users::{source_address, User};
use crate::Args;
use anyhow::Context as _;
use rand::Rng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use yard::{Account, Client, Event, Options, Protocol};

/// How the soak runs.
pub(crate) struct Plan {
    pub(crate) server: PathBuf,
    pub(crate) kills: u32,
    /// Seconds between kills, at random in this range.
    pub(crate) between: (f64, f64),
    /// Messages each sender has waiting for their acknowledgement at once.
    pub(crate) window: usize,
}

/// Between two messages of one sender.
const PAUSE: Duration = Duration::from_millis(20);

/// What one pair's receiver got and its sender was told.
#[derive(Default)]
struct Ledger {
    acknowledged: HashSet<u64>,
    /// Sent and not acknowledged (refused, or the server died first): may arrive or not.
    unacknowledged: u64,
    received: HashMap<u64, u32>,
}

type Ledgers = Arc<Vec<Mutex<Ledger>>>;

/// The server process the soak runs, kills and runs again.
struct Server {
    binary: PathBuf,
    data_dir: PathBuf,
    ports: [u16; 3],
    child: Child,
}

impl Server {
    fn start(binary: &Path, data_dir: &Path, ports: [u16; 3]) -> anyhow::Result<Server> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("soak-server.log"))?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--msn-port", &ports[0].to_string(), "--mrim-port", &ports[1].to_string()])
            .args(["--myicq-port", &ports[2].to_string()])
            .args(["--mrim-redirect-port", "0", "--http-port", "0", "--https-port", "0"])
            .args(["--max-connections-per-address", "20000"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        Ok(Server { binary: binary.to_owned(), data_dir: data_dir.to_owned(), ports, child })
    }

    /// Waits until the server accepts connections (its MRIM port: the last TCP listener bound
    /// before the MyICQ socket, which is bound right after).
    async fn ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mrim = SocketAddr::from(([127, 0, 0, 1], self.ports[1]));
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the server exited ({status}); see {}", self.data_dir.join("soak-server.log").display());
            }
            if tokio::net::TcpStream::connect(mrim).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the server did not start listening in 30 s")
    }

    /// SIGKILL, then the same server on the same data.
    async fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        *self = Server::start(&self.binary, &self.data_dir, self.ports)?;
        self.ready().await
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_of(address: &str) -> anyhow::Result<u16> {
    let (_, port) = address.rsplit_once(':').context("an address is host:port")?;
    port.parse().context("a port is a number")
}

fn options(args: &Args, index: usize) -> Options {
    Options {
        msn_dialect: args.msn_dialect,
        nexus: args.nexus.clone(),
        reconnect: true,
        first_backoff: Duration::from_millis(200),
        // Short, so that a sender whose server restarted unnoticed (MyICQ) logs in again soon.
        timeout: Duration::from_secs(3),
        local_address: Some(source_address(args, index)),
        ..Options::default()
    }
}

/// Connects, trying again while the server is down.
async fn connect(account: &Account, options: &Options, until: Instant) -> Option<Client> {
    while Instant::now() < until {
        match Client::connect(account.clone(), options.clone()).await {
            Ok(client) => return Some(client),
            Err(e) => {
                tracing::info!(error = %e, handle = %account.handle, "login failed; trying again");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    None
}

/// `soak <pair> <n>`, wherever it is in the text (a stored MSN message is prefixed with when
/// it was sent).
fn parse(text: &str) -> Option<(usize, u64)> {
    let mut words = text[text.find("soak ")?..].split_whitespace().skip(1);
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

/// Runs the soak; returns whether no acknowledged message was lost.
pub(crate) async fn soak(args: &Args, users: &[User], plan: &Plan) -> anyhow::Result<bool> {
    let data_dir = args.data_dir.clone().context("soak runs the server on --data-dir")?;
    let ports = [port_of(&args.msn)?, port_of(&args.mrim)?, port_of(&args.myicq)?];
    let mut server = Server::start(&plan.server, &data_dir, ports)?;
    server.ready().await?;
    let pairs: Vec<(usize, usize)> = (0..users.len() / 2).map(|k| (2 * k, 2 * k + 1)).collect();
    let ledgers: Ledgers = Arc::new(pairs.iter().map(|_| Mutex::default()).collect());
    let sending = Arc::new(AtomicBool::new(true));
    let collecting = Arc::new(AtomicBool::new(true));
    let last_arrival = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let give_up = started + Duration::from_secs(600);

    let mut receivers = JoinSet::new();
    for (k, &(_, r)) in pairs.iter().enumerate() {
        let (account, options) = (users[r].account(args), options(args, r));
        let (ledgers, collecting, last_arrival) = (ledgers.clone(), collecting.clone(), last_arrival.clone());
        let sending = sending.clone();
        receivers.spawn(async move {
            receive(k, account, options, ledgers, (sending, collecting), (started, last_arrival), give_up).await
        });
    }
    let mut senders = JoinSet::new();
    for (k, &(s, r)) in pairs.iter().enumerate() {
        let (account, options) = (users[s].account(args), options(args, s));
        let to = users[r].handle(users[s].protocol);
        let (ledgers, sending, window) = (ledgers.clone(), sending.clone(), plan.window.max(1));
        senders.spawn(async move { send(k, account, options, to, ledgers, sending, window, give_up).await });
    }

    // Let the load settle, then kill the server at random moments.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for kill in 1..=plan.kills {
        let wait =
            Duration::from_secs_f64(rand::rng().random_range(plan.between.0..=plan.between.1.max(plan.between.0)));
        tokio::time::sleep(wait).await;
        server.kill_and_restart().await?;
        eprintln!("kill {kill}/{} at {:.1} s; server running again", plan.kills, started.elapsed().as_secs_f64());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    sending.store(false, Ordering::Relaxed);
    while senders.join_next().await.is_some() {}
    // Every recipient logs in once more now, and what waited for them arrives. Quiet for 5 s
    // is done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet = Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let since = started.elapsed().saturating_sub(Duration::from_millis(last_arrival.load(Ordering::Relaxed)));
        if since > quiet || Instant::now() > give_up {
            break;
        }
    }
    collecting.store(false, Ordering::Relaxed);
    receivers.abort_all();
    server.stop();
    Ok(report(users, &pairs, &ledgers, plan))
}

/// One receiver: online, collecting; now and then it logs out for a while (its messages wait
/// in the queue meanwhile), except while the final collection runs.
async fn receive(
    pair: usize,
    account: Account,
    options: Options,
    ledgers: Ledgers,
    (sending, collecting): (Arc<AtomicBool>, Arc<AtomicBool>),
    (started, last_arrival): (Instant, Arc<AtomicU64>),
    give_up: Instant,
) {
    // Whether this login came after the senders stopped.
    let mut final_login = false;
    while collecting.load(Ordering::Relaxed) {
        let Some(mut client) = connect(&account, &options, give_up).await else { return };
        final_login = final_login || !sending.load(Ordering::Relaxed);
        // A third of the recipients come and go while the senders send (online 2–8 s at a
        // time). Once the senders stopped, every recipient logs in once more (a MyICQ client
        // notices a restarted server only when its keepalive goes unanswered, a minute or two
        // later) and stays to the end.
        let leave_at = Instant::now() + Duration::from_secs_f64(rand::rng().random_range(2.0..8.0));
        loop {
            let event = tokio::select! {
                event = client.next_event() => event,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    let stopped = !sending.load(Ordering::Relaxed);
                    let leave = if stopped { !final_login } else { pair.is_multiple_of(3) && Instant::now() >= leave_at };
                    if leave {
                        break;
                    }
                    continue;
                }
            };
            let Some(event) = event else { break };
            if let Event::Message { text, .. } = event {
                if let Some((from_pair, n)) = parse(&text) {
                    if from_pair == pair {
                        *ledgers[pair].lock().expect("ledger").received.entry(n).or_default() += 1;
                        last_arrival.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                    }
                }
            }
        }
        let _ = client.logout().await;
        let away = Duration::from_secs_f64(rand::rng().random_range(0.5..2.0));
        tokio::time::sleep(away).await;
    }
}

/// One sender: numbered messages to its partner, `window` at a time, until told to stop;
/// each acknowledgement recorded.
#[allow(clippy::too_many_arguments)]
async fn send(
    pair: usize,
    account: Account,
    options: Options,
    to: String,
    ledgers: Ledgers,
    sending: Arc<AtomicBool>,
    window: usize,
    give_up: Instant,
) {
    let Some(mut client) = connect(&account, &options, give_up).await else { return };
    let mut in_flight = JoinSet::new();
    let mut n = 0u64;
    let mut failures = 0;
    while sending.load(Ordering::Relaxed) {
        while in_flight.len() >= window {
            if let Some(Ok((n, acknowledged))) = in_flight.join_next().await {
                record(&ledgers[pair], n, acknowledged);
                failures = if acknowledged { 0 } else { failures + 1 };
            }
        }
        if failures >= 3 {
            // The server restarted and this client has not noticed (MyICQ's keepalive is a
            // minute apart): a new login.
            let _ = client.logout().await;
            let Some(again) = connect(&account, &options, give_up).await else { return };
            (client, failures) = (again, 0);
        } else if failures > 0 {
            // The server is likely down: a pause rather than a burst of failures.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (handle, to, text) = (client.handle(), to.clone(), format!("soak {pair} {n}"));
        in_flight.spawn(async move { (n, handle.send_message(&to, &text).await.is_ok()) });
        n += 1;
        // A chat's pace, not a flood: what is measured is loss, and a client library that
        // cannot keep up drops events of its own.
        tokio::time::sleep(PAUSE).await;
    }
    while let Some(done) = in_flight.join_next().await {
        if let Ok((n, acknowledged)) = done {
            record(&ledgers[pair], n, acknowledged);
        }
    }
    let _ = client.logout().await;
}

fn record(ledger: &Mutex<Ledger>, n: u64, acknowledged: bool) {
    let mut ledger = ledger.lock().expect("ledger");
    if acknowledged {
        ledger.acknowledged.insert(n);
    } else {
        ledger.unacknowledged += 1;
    }
}

/// Prints the outcome per route; true when nothing acknowledged is missing.
fn report(users: &[User], pairs: &[(usize, usize)], ledgers: &Ledgers, plan: &Plan) -> bool {
    #[derive(Default)]
    struct Route {
        acknowledged: u64,
        unacknowledged: u64,
        lost: u64,
        duplicated: u64,
        extra: u64,
    }
    let name = |p: Protocol| format!("{p:?}").to_lowercase();
    let mut routes: BTreeMap<String, Route> = BTreeMap::new();
    for (k, &(s, r)) in pairs.iter().enumerate() {
        let ledger = ledgers[k].lock().expect("ledger");
        let route = routes.entry(format!("{}->{}", name(users[s].protocol), name(users[r].protocol))).or_default();
        route.acknowledged += ledger.acknowledged.len() as u64;
        route.unacknowledged += ledger.unacknowledged;
        let mut lost: Vec<u64> =
            ledger.acknowledged.iter().copied().filter(|n| !ledger.received.contains_key(n)).collect();
        lost.sort_unstable();
        if !lost.is_empty() {
            let received = ledger.received.keys().copied();
            let (first, last) = (received.clone().min().unwrap_or(0), received.max().unwrap_or(0));
            eprintln!(
                "pair {k}: lost {} (first {:?}, last {:?}); received {first}..={last}",
                lost.len(),
                lost.first(),
                lost.last()
            );
        }
        route.lost += lost.len() as u64;
        route.duplicated += ledger.received.values().filter(|count| **count > 1).count() as u64;
        route.extra += ledger.received.values().map(|count| u64::from(count.saturating_sub(1))).sum::<u64>();
    }
    println!("soak: {} kills (SIGKILL), {} pairs", plan.kills, pairs.len());
    println!("{:<14} {:>12} {:>14} {:>6} {:>16}", "route", "acknowledged", "unacknowledged", "lost", "duplicated");
    let mut lost = 0;
    for (route, r) in &routes {
        println!(
            "{route:<14} {:>12} {:>14} {:>6} {:>9} ({} extra)",
            r.acknowledged, r.unacknowledged, r.lost, r.duplicated, r.extra
        );
        lost += r.lost;
    }
    println!("lost: {lost}");
    lost == 0
}

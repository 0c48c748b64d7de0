//! `yard-bench`: load for an MSN, MRIM or MyICQ server, built on the `yard` client.
//!
//! ```sh
//! switchyard serve --data-dir /tmp/bench &
//! yard-bench --data-dir /tmp/bench --server-pid $(pgrep -n switchyard) --protocol msn --users 5000 login
//! yard-bench --data-dir /tmp/bench --server-pid $(pgrep -n switchyard) --protocol mrim --users 2000 pairs --window 8
//! ```
//!
//! Scenarios: `login` (log N users in, at a rate or as fast as the concurrency allows), `idle`
//! (hold them for a while: server memory per session), `pairs` (N/2 senders each write to their
//! partner, keeping a window of messages not yet received or at an open-loop rate). With `--protocol
//! mixed`, users take the three protocols in turn, so pairs cross protocols. Latencies go into
//! HdrHistograms, one per thread; open-loop latencies are measured from the intended send time.

mod measure;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use measure::{ms, udp_counters, usage, Latencies, Usage};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_core::{AccountName, RelationFlags, Store};
use switchyard_store_sqlite::SqliteStore;
use tokio::sync::Semaphore;
use yard::{Account, Client, Event, Options, Protocol};

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Which clients: msn (MD5 login), mrim, myicq, or mixed (the three in turn).
    #[arg(long, default_value = "msn")]
    protocol: Which,
    /// A Switchyard server's data directory: the bench's accounts are created in its database
    /// where missing. Without it (another server, or one elsewhere) the accounts must exist:
    /// `<prefix>N` with `--password`, and for MyICQ the UINs from `--myicq-first-uin` on.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The bench accounts' password.
    #[arg(long, default_value = "bench-pw")]
    password: String,
    /// MSN handles are `<prefix>N@` this domain.
    #[arg(long, default_value = "hotmail.com")]
    msn_domain: String,
    /// MRIM addresses are `<prefix>N@` this domain.
    #[arg(long, default_value = "mail.ru")]
    mrim_domain: String,
    /// Without `--data-dir`: user N's MyICQ UIN is this plus N.
    #[arg(long)]
    myicq_first_uin: Option<u32>,
    /// The server's process id, for its memory and CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value = "127.0.0.1:1863")]
    msn: String,
    #[arg(long, default_value = "127.0.0.1:2041")]
    mrim: String,
    #[arg(long, default_value = "127.0.0.1:8000")]
    myicq: String,
    /// The MSN dialect (2 is MSN Messenger 1.0's, which every MSN server speaks).
    #[arg(long, default_value_t = 2)]
    msn_dialect: u8,
    /// Users (sessions); `pairs` makes half of them senders.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Logins started per second; 0: as fast as `--concurrency` allows.
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Logins in progress at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Source addresses 127.0.0.1 … 127.0.0.N the connections are spread over.
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// Account names are this prefix and a number.
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Which {
    Msn,
    Mrim,
    Myicq,
    Mixed,
}

#[derive(Subcommand)]
enum Scenario {
    /// Log every user in, then out.
    Login,
    /// Log every user in and hold the sessions for `--seconds`.
    Idle {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Pairs of users chat for `--seconds`.
    Pairs {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Messages each sender keeps in flight, sent but not yet received by its partner
        /// (closed loop).
        #[arg(long, default_value_t = 4)]
        window: usize,
        /// Messages per second over all pairs (open loop); 0: closed loop with the window.
        #[arg(long, default_value_t = 0)]
        message_rate: u32,
    },
    /// User 0 has every other user watching it (on their lists) and changes status `--changes`
    /// times, each once every watcher saw the last: presence notifications per second and how
    /// long they take.
    Fanout {
        #[arg(long, default_value_t = 20)]
        changes: u32,
    },
}

/// One bench user: the protocol they log in with, and how each protocol names them (on one
/// Switchyard directory an MSN user writes to an MRIM user by their MSN handle).
#[derive(Clone)]
struct User {
    protocol: Protocol,
    msn: String,
    mrim: String,
    uin: u32,
}

impl User {
    fn new(args: &Args, index: usize, uin: u32) -> User {
        let protocol = match args.protocol {
            Which::Msn => Protocol::Msn,
            Which::Mrim => Protocol::Mrim,
            Which::Myicq => Protocol::MyIcq,
            Which::Mixed => [Protocol::Msn, Protocol::Mrim, Protocol::MyIcq][index % 3],
        };
        let name = format!("{}{index}", args.prefix);
        User { protocol, msn: format!("{name}@{}", args.msn_domain), mrim: format!("{name}@{}", args.mrim_domain), uin }
    }

    fn handle(&self, protocol: Protocol) -> String {
        match protocol {
            Protocol::Msn => self.msn.clone(),
            Protocol::Mrim => self.mrim.clone(),
            Protocol::MyIcq => self.uin.to_string(),
        }
    }
}

#[derive(Default, serde::Serialize)]
struct Report {
    scenario: String,
    protocol: String,
    users: usize,
    logins: u64,
    login_errors: u64,
    logins_per_second: f64,
    login_p50_ms: f64,
    login_p99_ms: f64,
    messages: u64,
    message_errors: u64,
    messages_per_second: f64,
    delivery_p50_ms: f64,
    delivery_p99_ms: f64,
    delivery_p999_ms: f64,
    server_rss_kib_before: u64,
    server_rss_kib_after: u64,
    server_kib_per_session: f64,
    server_cpu_seconds: f64,
    /// UDP datagrams delivered on this machine during the scenario: with MyICQ clients, each
    /// has the server at one end (it sent or received it).
    udp_datagrams: u64,
    udp_datagrams_per_second: f64,
    /// Datagrams dropped on this machine for a full socket buffer during the scenario.
    udp_buffer_drops: u64,
}

impl Report {
    /// What was delivered (messages or notifications) in `seconds`, and how long it took.
    fn deliveries(&mut self, count: u64, seconds: f64, latencies: &Latencies) {
        let h = latencies.merged();
        self.messages = count;
        self.messages_per_second = count as f64 / seconds;
        self.delivery_p50_ms = ms(&h, 50.0);
        self.delivery_p99_ms = ms(&h, 99.0);
        self.delivery_p999_ms = ms(&h, 99.9);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("YARD_LOG").unwrap_or_else(|_| "error".into())).init();
    let args = Args::parse();
    let users = accounts(&args).await?;
    let before = args.server_pid.and_then(usage).unwrap_or_default();
    let mut report = Report {
        scenario: scenario_name(&args.scenario).into(),
        protocol: format!("{:?}", args.protocol).to_lowercase(),
        users: users.len(),
        server_rss_kib_before: before.rss_kib,
        ..Report::default()
    };
    let mut clients = log_in(&args, &users, &mut report).await;
    let (udp_before, scenario_start) = (udp_counters(), Instant::now());
    match args.scenario {
        Scenario::Login => {}
        Scenario::Idle { seconds } => tokio::time::sleep(Duration::from_secs(seconds)).await,
        Scenario::Pairs { seconds, window, message_rate } => {
            clients = pairs(&users, clients, Duration::from_secs(seconds), window, message_rate, &mut report).await
        }
        Scenario::Fanout { changes } => clients = fanout(&users, clients, changes, &mut report).await,
    }
    if let (Some(before), Some(after)) = (udp_before, udp_counters()) {
        report.udp_datagrams = after.delivered.saturating_sub(before.delivered);
        report.udp_datagrams_per_second = report.udp_datagrams as f64 / scenario_start.elapsed().as_secs_f64();
        report.udp_buffer_drops = after.dropped.saturating_sub(before.dropped);
    }
    let after = args.server_pid.and_then(usage).unwrap_or_default();
    let sessions = report.logins as usize;
    finish_usage(&mut report, before, after, sessions);
    for (_, client) in clients {
        let _ = client.logout().await;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn scenario_name(s: &Scenario) -> &'static str {
    match s {
        Scenario::Login => "login",
        Scenario::Idle { .. } => "idle",
        Scenario::Pairs { .. } => "pairs",
        Scenario::Fanout { .. } => "fanout",
    }
}

/// The bench's users: created in the server's database where missing, or, without
/// `--data-dir`, named by the options and assumed to exist.
async fn accounts(args: &Args) -> anyhow::Result<Vec<User>> {
    let Some(data_dir) = &args.data_dir else {
        anyhow::ensure!(
            !matches!(args.scenario, Scenario::Fanout { .. }),
            "fanout sets up its contact lists in the server's database: it needs --data-dir"
        );
        let first_uin = match (args.protocol, args.myicq_first_uin) {
            (Which::Msn | Which::Mrim, first) => first.unwrap_or(0),
            (_, Some(first)) => first,
            (_, None) => anyhow::bail!("MyICQ users without --data-dir need --myicq-first-uin"),
        };
        let uin = |i: usize| u32::try_from(i).ok().and_then(|i| first_uin.checked_add(i)).context("UIN out of range");
        return (0..args.users).map(|i| Ok(User::new(args, i, uin(i)?))).collect();
    };
    let path = data_dir.join("switchyard.db");
    let store = SqliteStore::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?;
    let mut users = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let name = AccountName::new(&format!("{}{i}", args.prefix)).context("bad --prefix")?;
        let account = match store.account_by_name(&name).await? {
            Some(account) => account,
            None => store.create_account(&name, &args.password, None).await?,
        };
        users.push(User::new(args, i, account.uin));
        // For `fanout`, everyone watches user 0 (and lets it see them).
        if matches!(args.scenario, Scenario::Fanout { .. }) && i > 0 {
            let star =
                store.account_by_name(&AccountName::new(&format!("{}0", args.prefix))?).await?.context("user 0")?;
            let both = RelationFlags::FORWARD | RelationFlags::ALLOW;
            store.set_relation(account.id, star.id, both, Some("star")).await?;
            store.set_relation(star.id, account.id, RelationFlags::ALLOW, None).await?;
        }
    }
    store.close().await;
    Ok(users)
}

/// Logs every user in; returns the clients by user index.
async fn log_in(args: &Args, users: &[User], report: &mut Report) -> Vec<(usize, Client)> {
    let latencies = Latencies::default();
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in users.iter().cloned().enumerate() {
        let server = match user.protocol {
            Protocol::Msn => args.msn.clone(),
            Protocol::Mrim => args.mrim.clone(),
            Protocol::MyIcq => args.myicq.clone(),
        };
        let source: IpAddr = [127, 0, 0, 1 + (i % usize::from(args.sources.max(1))) as u8].into();
        let options = Options {
            msn_dialect: args.msn_dialect,
            reconnect: false,
            local_address: Some(source),
            timeout: Duration::from_secs(60),
            ..Options::default()
        };
        let handle = user.handle(user.protocol);
        let account = Account { protocol: user.protocol, server, handle, password: args.password.clone() };
        // Open loop: each login has its intended start, and its latency counts from there.
        let intended = (args.rate > 0).then(|| started + Duration::from_secs_f64(i as f64 / f64::from(args.rate)));
        let (gate, latencies, errors) = (gate.clone(), latencies.clone(), errors.clone());
        tasks.spawn(async move {
            if let Some(at) = intended {
                tokio::time::sleep_until(at.into()).await;
            }
            let _slot = gate.acquire_owned().await.expect("never closed");
            let from = intended.unwrap_or_else(Instant::now);
            match Client::connect(account, options).await {
                Ok(client) => {
                    latencies.record(from.elapsed());
                    Some((i, client))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "login failed");
                    errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        });
    }
    let mut clients = Vec::with_capacity(users.len());
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(client)) = done {
            clients.push(client);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let h = latencies.merged();
    report.logins = clients.len() as u64;
    report.login_errors = errors.load(Ordering::Relaxed);
    report.logins_per_second = clients.len() as f64 / elapsed;
    report.login_p50_ms = ms(&h, 50.0);
    report.login_p99_ms = ms(&h, 99.0);
    clients.sort_by_key(|(i, _)| *i);
    clients
}

/// Users 2k send to users 2k+1 for `length`; receivers measure delivery from the send time
/// written into each message (`t=<µs since the start> <run>`): the actual send in a closed loop, the
/// intended one in an open loop. Returns the clients.
async fn pairs(
    users: &[User],
    clients: Vec<(usize, Client)>,
    length: Duration,
    window: usize,
    message_rate: u32,
    report: &mut Report,
) -> Vec<(usize, Client)> {
    let mut by_index: HashMap<usize, Client> = clients.into_iter().collect();
    let pairs: Vec<(usize, usize)> = (0..users.len() / 2)
        .map(|k| (2 * k, 2 * k + 1))
        .filter(|(s, r)| by_index.contains_key(s) && by_index.contains_key(r))
        .collect();
    // Warm-up: the first message of each pair opens what it needs (an MSN switchboard).
    let mut warmups = tokio::task::JoinSet::new();
    for &(s, r) in &pairs {
        let (handle, to) = (by_index[&s].handle(), users[r].handle(users[s].protocol));
        warmups.spawn(async move { handle.send_message(&to, "warm-up").await.is_ok() });
    }
    while warmups.join_next().await.is_some() {}

    let sending: Vec<(yard::Handle, String)> =
        pairs.iter().map(|&(s, r)| (by_index[&s].handle(), users[r].handle(users[s].protocol))).collect();
    // The closed loop's window is end to end: a sender takes a slot per message and its
    // receiver gives it back on arrival. A server's acknowledgement alone means the message
    // is in the recipient's queue, which across protocols may be far from its client.
    let windows: HashMap<usize, Arc<Semaphore>> =
        pairs.iter().map(|&(_, r)| (r, Arc::new(Semaphore::new(window.max(1))))).collect();
    // Messages of an earlier run still in flight when it ended wait in the server's queue and
    // arrive at this run's logins: the run's mark tells them apart.
    let started_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let run: Arc<str> = format!("r{}.{}", std::process::id(), started_at.as_millis()).into();
    let latencies = Latencies::default();
    let delivered = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + length;
    // Receivers count until a little after the senders stop, to collect what is in flight.
    let collect_until = deadline + Duration::from_secs(2);
    let mut receivers = tokio::task::JoinSet::new();
    for (i, mut client) in by_index.drain() {
        let (latencies, delivered) = (latencies.clone(), delivered.clone());
        let receiving = i % 2 == 1;
        let window = windows.get(&i).cloned();
        let run = run.clone();
        receivers.spawn(async move {
            loop {
                let event = tokio::select! {
                    event = client.next_event() => event,
                    _ = tokio::time::sleep_until(collect_until.into()) => break,
                };
                let Some(event) = event else { break };
                if let (true, Event::Message { text, .. }) = (receiving, event) {
                    if let Some(sent) = sent_in_this_run(&text, &run) {
                        let now = start.elapsed().as_micros() as u64;
                        latencies.record(Duration::from_micros(now.saturating_sub(sent)));
                        delivered.fetch_add(1, Ordering::Relaxed);
                        if let Some(window) = &window {
                            window.add_permits(1);
                        }
                    }
                }
            }
            (i, client)
        });
    }
    let mut senders = tokio::task::JoinSet::new();
    let per_pair_interval =
        (message_rate > 0).then(|| Duration::from_secs_f64(pairs.len() as f64 / f64::from(message_rate)));
    let spread = sending.len().max(1) as f64;
    for (k, (handle, to)) in sending.into_iter().enumerate() {
        match per_pair_interval {
            None => {
                let slots = windows[&pairs[k].1].clone();
                for _ in 0..window.max(1) {
                    let (handle, to, errors, slots) = (handle.clone(), to.clone(), errors.clone(), slots.clone());
                    let run = run.clone();
                    senders.spawn(async move {
                        while Instant::now() < deadline {
                            let slot = tokio::time::timeout_at(deadline.into(), slots.acquire()).await;
                            let Ok(Ok(slot)) = slot else { break };
                            slot.forget();
                            let text = format!("t={} {run} hello", start.elapsed().as_micros());
                            if handle.send_message(&to, &text).await.is_err() {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            }
            Some(interval) => {
                let (errors, run) = (errors.clone(), run.clone());
                senders.spawn(async move {
                    let in_flight = Arc::new(Semaphore::new(window.max(1) * 64));
                    // Pairs start spread over one interval, not all at once.
                    let mut intended = start + interval.mul_f64(k as f64 / spread);
                    while intended < deadline {
                        tokio::time::sleep_until(intended.into()).await;
                        let text = format!("t={} {run} hello", intended.duration_since(start).as_micros());
                        let (handle, to, errors) = (handle.clone(), to.clone(), errors.clone());
                        let Ok(slot) = in_flight.clone().acquire_owned().await else { break };
                        tokio::spawn(async move {
                            if handle.send_message(&to, &text).await.is_err() {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            drop(slot);
                        });
                        intended += interval;
                    }
                });
            }
        }
    }
    while senders.join_next().await.is_some() {}
    let mut clients = Vec::new();
    while let Some(done) = receivers.join_next().await {
        if let Ok(client) = done {
            clients.push(client);
        }
    }
    report.message_errors = errors.load(Ordering::Relaxed);
    report.deliveries(delivered.load(Ordering::Relaxed), length.as_secs_f64(), &latencies);
    clients.sort_by_key(|(i, _)| *i);
    clients
}

/// The send time in a message of this run (`t=<µs> <run> …`).
fn sent_in_this_run(text: &str, run: &str) -> Option<u64> {
    let mut words = text.strip_prefix("t=")?.split(' ');
    let sent = words.next()?.parse().ok()?;
    (words.next()? == run).then_some(sent)
}

async fn fanout(
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
    let latencies = Latencies::default();
    let seen = Arc::new(AtomicU64::new(0));
    // The change in progress: (its status, when it was made).
    let (changed, _) = tokio::sync::watch::channel((yard::Status::Online, Instant::now()));
    let mut watchers = tokio::task::JoinSet::new();
    let mut watching = 0u64;
    for (i, mut client) in clients {
        let star_handle = users[0].handle(users[i].protocol);
        let (latencies, seen, mut changed) = (latencies.clone(), seen.clone(), changed.subscribe());
        watching += 1;
        watchers.spawn(async move {
            while let Some(event) = client.next_event().await {
                if let Event::Presence { handle, status, .. } = event {
                    let (expected, at) = *changed.borrow_and_update();
                    if handle == star_handle && status == expected {
                        latencies.record(at.elapsed());
                        seen.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (i, client)
        });
    }
    let start = Instant::now();
    for k in 0..changes {
        let status = if k % 2 == 0 { yard::Status::Away } else { yard::Status::Online };
        let before = seen.load(Ordering::Relaxed);
        changed.send_replace((status, Instant::now()));
        if star.set_status(status).await.is_err() {
            report.message_errors += 1;
        }
        // The next change waits until every watcher saw this one (or ten seconds passed).
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.load(Ordering::Relaxed) < before + watching && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    report.deliveries(seen.load(Ordering::Relaxed), start.elapsed().as_secs_f64(), &latencies);
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

fn finish_usage(report: &mut Report, before: Usage, after: Usage, sessions: usize) {
    report.server_rss_kib_after = after.rss_kib;
    report.server_cpu_seconds = after.cpu.saturating_sub(before.cpu).as_secs_f64();
    if sessions > 0 && after.rss_kib > 0 {
        report.server_kib_per_session = after.rss_kib.saturating_sub(before.rss_kib) as f64 / sessions as f64;
    }
}

fn print_table(r: &Report) {
    println!("scenario {}  protocol {}  users {}", r.scenario, r.protocol, r.users);
    println!(
        "logins      {:>8} ok {:>6} errors  {:>9.0}/s   p50 {:>8.2} ms  p99 {:>8.2} ms",
        r.logins, r.login_errors, r.logins_per_second, r.login_p50_ms, r.login_p99_ms
    );
    if r.scenario == "fanout" {
        println!(
            "presence    {:>8} seen {:>4} errors  {:>9.0}/s   p50 {:>8.2} ms  p99 {:>8.2} ms  p99.9 {:>8.2} ms",
            r.messages,
            r.message_errors,
            r.messages_per_second,
            r.delivery_p50_ms,
            r.delivery_p99_ms,
            r.delivery_p999_ms
        );
    }
    if r.scenario == "pairs" {
        println!(
            "messages    {:>8} ok {:>6} errors  {:>9.0}/s   p50 {:>8.2} ms  p99 {:>8.2} ms  p99.9 {:>8.2} ms",
            r.messages,
            r.message_errors,
            r.messages_per_second,
            r.delivery_p50_ms,
            r.delivery_p99_ms,
            r.delivery_p999_ms
        );
    }
    if matches!(r.protocol.as_str(), "myicq" | "mixed") && r.scenario != "login" {
        println!(
            "udp         {:>8} datagrams        {:>9.0}/s   {} dropped for a full buffer",
            r.udp_datagrams, r.udp_datagrams_per_second, r.udp_buffer_drops
        );
    }
    if r.server_rss_kib_after > 0 {
        println!(
            "server      RSS {} KiB -> {} KiB ({:.1} KiB per session), CPU {:.2} s",
            r.server_rss_kib_before, r.server_rss_kib_after, r.server_kib_per_session, r.server_cpu_seconds
        );
    }
}

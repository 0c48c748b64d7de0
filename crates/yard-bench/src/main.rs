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
//! partner, keeping a window of messages not yet received or at an open-loop rate), `fanout`
//! (everyone watches user 0 change status), `mixed` (pairs over all nine routes between the
//! three protocols while senders change status). With `--protocol mixed`, the other scenarios'
//! users take the three protocols the same way. Latencies go into HdrHistograms, one per thread;
//! open-loop latencies are measured from the intended send time. Without `--data-dir` the bench
//! uses accounts that already exist, so it can load other servers too.

mod fanout;
mod login;
mod measure;
mod pairs;
mod report;
mod soak;
mod users;
mod workers;

use clap::{Parser, Subcommand, ValueEnum};
use measure::{udp_counters, usage_of};
use report::{finish_usage, print_table, Report};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Which clients: msn (MD5 login), mrim, myicq, or mixed (the three in turn).
    #[arg(long, default_value = "msn")]
    protocol: Which,
    /// A Switchyard server's configuration file: the bench's accounts (and its scenario's
    /// contact lists) are made in the store it names, as `switchyard user import` makes them.
    /// Without it or `--data-dir` (another server, or one elsewhere) the accounts must exist:
    /// `<prefix>N` with `--password`, and for MyICQ the UINs from `--myicq-first-uin` on.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A Switchyard server's data directory (with its default configuration, or overriding
    /// `--config`'s): the bench's accounts are made in its store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The server's store, overriding the configuration's (sqlite://FILE or
    /// postgres://USER@HOST/DATABASE), as `switchyard --store` takes it.
    #[arg(long = "store", env = "SWITCHYARD_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
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
    /// The server's process id, for its memory and CPU time; several, comma-separated, for
    /// the nodes of one network together.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Processes the users are spread over (in runs of whole pairs), each with its own limit
    /// of open files: more sessions than one process may hold. Latency percentiles are then
    /// the worst worker's, rates the sum of the workers'.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// A worker's users: `FILE:FIRST:END` (the users JSON its parent wrote, and its slice).
    #[arg(long, hide = true)]
    worker: Option<String>,
    /// The MSN server; several, comma-separated (nodes of one network), take users in turn.
    #[arg(long, default_value = "127.0.0.1:1863")]
    msn: String,
    /// The MRIM server (or several, as `--msn`).
    #[arg(long, default_value = "127.0.0.1:2041")]
    mrim: String,
    /// The MyICQ server (or several, as `--msn`).
    #[arg(long, default_value = "127.0.0.1:8000")]
    myicq: String,
    /// The MSN dialect (2 is MSN Messenger 1.0's, which every MSN server speaks; 8 and up log
    /// in through the Passport nexus).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=12))]
    msn_dialect: u8,
    /// The Passport nexus of MSNP8+ logins [default: http://MSN-HOST:8080]
    #[arg(long)]
    nexus: Option<String>,
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
        #[command(flatten)]
        chat: Chat,
    },
    /// All three protocols at once: pairs chat over each of the nine routes in turn (MSN→MSN,
    /// MSN→MRIM, … MyICQ→MyICQ) as in `pairs`, while every sender changes status each
    /// `--status-every-ms`, seen by its partner. Messages are reported per route too.
    Mixed {
        #[command(flatten)]
        chat: Chat,
        /// How often each sender changes status (between away and online); 0: never.
        #[arg(long, default_value_t = 1000)]
        status_every_ms: u64,
    },
    /// User 0 has every other user watching it (on their lists) and changes status `--changes`
    /// times, each once every watcher saw the last: presence notifications per second and how
    /// long they take.
    Fanout {
        #[arg(long, default_value_t = 20)]
        changes: u32,
    },
    /// Runs the server (`--server`, on `--data-dir` and the ports of `--msn`, `--mrim` and
    /// `--myicq`), has pairs chat over the nine routes while some recipients come and go, kills
    /// the server with SIGKILL `--kills` times and starts it again; then counts the messages
    /// acknowledged and never delivered (the exit status is 1 if any) and those delivered twice.
    Soak {
        /// The `switchyard` binary.
        #[arg(long)]
        server: PathBuf,
        #[arg(long, default_value_t = 10)]
        kills: u32,
        /// Seconds between kills, at random from this many…
        #[arg(long, default_value_t = 1.0)]
        min_between: f64,
        /// …to this many.
        #[arg(long, default_value_t = 5.0)]
        max_between: f64,
        /// Messages each sender has waiting for their acknowledgement at once.
        #[arg(long, default_value_t = 2)]
        window: usize,
    },
}

/// How pairs chat.
#[derive(clap::Args, Clone, Copy)]
struct Chat {
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Messages each sender keeps in flight, sent but not yet received by its partner
    /// (closed loop).
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Messages per second over all pairs (open loop); 0: closed loop with the window.
    #[arg(long, default_value_t = 0)]
    message_rate: u32,
}

impl Chat {
    fn load(self, status_every_ms: u64) -> pairs::Load {
        pairs::Load {
            length: Duration::from_secs(self.seconds),
            window: self.window.max(1),
            message_rate: self.message_rate,
            status_every: (status_every_ms > 0).then(|| Duration::from_millis(status_every_ms)),
        }
    }
}

impl Args {
    /// The protocols the users take: `mixed` is always all three.
    fn protocol(&self) -> Which {
        match self.scenario {
            Scenario::Mixed { .. } | Scenario::Soak { .. } => Which::Mixed,
            _ => self.protocol,
        }
    }
}

impl Scenario {
    /// Whether the scenario's users must have each other on their contact lists, which the
    /// bench writes into the server's database.
    fn needs_contact_lists(&self) -> bool {
        match self {
            Scenario::Fanout { .. } => true,
            Scenario::Mixed { status_every_ms, .. } => *status_every_ms > 0,
            _ => false,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("YARD_LOG").unwrap_or_else(|_| "error".into())).init();
    let args = Args::parse();
    let users = match &args.worker {
        Some(slice) => workers::users_of(slice)?,
        None => users::accounts(&args).await?,
    };
    if args.workers > 1 && args.worker.is_none() {
        anyhow::ensure!(
            !matches!(args.scenario, Scenario::Fanout { .. } | Scenario::Soak { .. }),
            "fanout and soak run in one process"
        );
        let report = workers::run(&args, &users).await?;
        return print_report(&args, &report);
    }
    if let Scenario::Soak { server, kills, min_between, max_between, window } = &args.scenario {
        let plan = soak::Plan {
            server: server.clone(),
            kills: *kills,
            between: (*min_between, *max_between),
            window: *window,
        };
        let nothing_lost = soak::soak(&args, &users, &plan).await?;
        std::process::exit(if nothing_lost { 0 } else { 1 });
    }
    let before = usage_of(&args.server_pid).unwrap_or_default();
    let mut report = Report {
        scenario: scenario_name(&args.scenario).into(),
        protocol: format!("{:?}", args.protocol()).to_lowercase(),
        users: users.len(),
        server_rss_kib_before: before.rss_kib,
        ..Report::default()
    };
    let mut clients = login::log_in(&args, &users, &mut report).await;
    let (udp_before, scenario_start) = (udp_counters(), Instant::now());
    match args.scenario {
        Scenario::Login => {}
        Scenario::Idle { seconds } => tokio::time::sleep(Duration::from_secs(seconds)).await,
        Scenario::Pairs { chat } => clients = pairs::pairs(&users, clients, &chat.load(0), &mut report).await,
        Scenario::Mixed { chat, status_every_ms } => {
            clients = pairs::pairs(&users, clients, &chat.load(status_every_ms), &mut report).await
        }
        Scenario::Fanout { changes } => clients = fanout::fanout(&users, clients, changes, &mut report).await,
        Scenario::Soak { .. } => unreachable!("run above"),
    }
    if let (Some(before), Some(after)) = (udp_before, udp_counters()) {
        report.udp_datagrams = after.delivered.saturating_sub(before.delivered);
        report.udp_datagrams_per_second = report.udp_datagrams as f64 / scenario_start.elapsed().as_secs_f64();
        report.udp_buffer_drops = after.dropped.saturating_sub(before.dropped);
    }
    let after = usage_of(&args.server_pid).unwrap_or_default();
    let sessions = report.logins as usize;
    finish_usage(&mut report, before, after, sessions);
    for (_, client) in clients {
        let _ = client.logout().await;
    }
    print_report(&args, &serde_json::to_value(&report)?)
}

fn print_report(args: &Args, report: &serde_json::Value) -> anyhow::Result<()> {
    if args.json || args.worker.is_some() {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_table(&serde_json::from_value(report.clone())?);
    }
    Ok(())
}

fn scenario_name(s: &Scenario) -> &'static str {
    match s {
        Scenario::Login => "login",
        Scenario::Idle { .. } => "idle",
        Scenario::Pairs { .. } => "pairs",
        Scenario::Mixed { .. } => "mixed",
        Scenario::Fanout { .. } => "fanout",
        Scenario::Soak { .. } => "soak",
    }
}

//! yard-bench against a real server, briefly: it logs every user in over the three protocols
//! and counts cross-protocol messages. (Its figures are for BENCHMARKS.md, not for tests.)

use switchyard::{Config, RunningServer};

/// A server on free ports over a fresh data directory, its store not the default one: the
/// bench finds it through the server's configuration file.
struct Fixture {
    dir: tempfile::TempDir,
    config_file: std::path::PathBuf,
    server: RunningServer,
}

/// The store the fixture's configuration names.
const STORE_URL: &str = "sqlite://chosen.db";

impl Fixture {
    async fn start(adjust: impl FnOnce(&mut Config)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("switchyard.toml");
        let text = format!("data_dir = {:?}\n[store]\nurl = {STORE_URL:?}\n", dir.path());
        std::fs::write(&config_file, text).unwrap();
        let mut config = Config::from_file(&config_file).unwrap();
        (config.msn.port, config.mrim.port, config.mrim.redirect_port, config.myicq.port) = (0, 0, 0, 0);
        (config.http.port, config.http.https_port) = (0, None);
        adjust(&mut config);
        let server = RunningServer::start(&config).await.unwrap();
        assert!(dir.path().join("chosen.db").exists() && !dir.path().join("switchyard.db").exists());
        Fixture { dir, config_file, server }
    }

    /// Runs yard-bench against the server with `args` (and `--config` when `creating`
    /// accounts); the JSON report of a run that succeeded.
    async fn bench(&self, creating: bool, args: &[&str]) -> serde_json::Value {
        let address = |role| self.server.address(role).unwrap().to_string();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_yard-bench"));
        if creating {
            command.args(["--config", self.config_file.to_str().unwrap()]);
        }
        let output = command
            .args(["--json", "--msn", &address("msn"), "--mrim", &address("mrim"), "--myicq", &address("myicq")])
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pairs_log_in_and_deliver() {
    let fixture = Fixture::start(|_| {}).await;
    let pid = std::process::id().to_string();
    let report = fixture
        .bench(
            true,
            &["--protocol", "mixed", "--users", "12", "--server-pid", &pid, "pairs", "--seconds", "1", "--window", "2"],
        )
        .await;
    assert_eq!(report["logins"], 12, "{report}");
    assert_eq!(report["login_errors"], 0, "{report}");
    assert_eq!(report["message_errors"], 0, "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");
    assert!(report["server_rss_kib_after"].as_u64().unwrap() > 0, "{report}");
    fixture.server.shutdown().await;
}

/// Without `--config` or `--data-dir` the bench creates nothing: it logs in to accounts that exist, named by
/// its options, as it would on another server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_data_dir_it_uses_existing_accounts_named_by_its_options() {
    use switchyard_core::{AccountName, Store};
    let fixture = Fixture::start(|config| {
        (config.msn.domains, config.mrim.domains) = (vec!["example.net".into()], vec!["example.ru".into()])
    })
    .await;
    let store = switchyard_store_sqlite::SqliteStore::open(&fixture.dir.path().join("chosen.db")).await.unwrap();
    let mut uins = Vec::new();
    for i in 0..6 {
        let name = AccountName::new(&format!("load{i}")).unwrap();
        uins.push(store.create_account(&name, "s3cret", None).await.unwrap().uin);
    }
    store.close().await;
    assert!(uins.windows(2).all(|w| w[1] == w[0] + 1), "UINs not consecutive: {uins:?}");

    let first_uin = uins[0].to_string();
    let run = |password| {
        let args = [
            "--protocol",
            "mixed",
            "--users",
            "6",
            "--prefix",
            "load",
            "--password",
            password,
            "--msn-domain",
            "example.net",
            "--mrim-domain",
            "example.ru",
            "--myicq-first-uin",
            &first_uin,
            "pairs",
            "--seconds",
            "1",
            "--window",
            "2",
        ];
        let fixture = &fixture;
        async move { fixture.bench(false, &args).await }
    };
    let report = run("s3cret").await;
    assert_eq!(report["logins"], 6, "{report}");
    assert_eq!(report["message_errors"], 0, "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");

    let refused = run("wrong").await;
    assert_eq!(refused["logins"], 0, "{refused}");
    assert_eq!(refused["login_errors"], 6, "{refused}");
    fixture.server.shutdown().await;
}

/// Every watcher sees each change: no change lost, and nothing else (the star's login, an
/// earlier status) counted as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_each_change_once_per_watcher() {
    let fixture = Fixture::start(|_| {}).await;
    let report = fixture.bench(true, &["--protocol", "mixed", "--users", "9", "fanout", "--changes", "4"]).await;
    assert_eq!(report["logins"], 9, "{report}");
    assert_eq!(report["messages"], 8 * 4, "{report}");
    fixture.server.shutdown().await;
}

/// `mixed` loads every route between the three protocols at once, with status changes beside
/// the messages: each route delivers, and each change is seen at most once by the partner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_loads_all_nine_routes_with_presence() {
    let fixture = Fixture::start(|_| {}).await;
    let args = ["--users", "18", "mixed", "--seconds", "2", "--window", "2", "--status-every-ms", "400"];
    let report = fixture.bench(true, &args).await;
    assert_eq!(report["protocol"], "mixed", "{report}");
    assert_eq!(report["logins"], 18, "{report}");
    assert_eq!(report["message_errors"], 0, "{report}");
    let routes = report["routes"].as_array().unwrap();
    let names: Vec<&str> = routes.iter().map(|r| r["route"].as_str().unwrap()).collect();
    let mut expected = Vec::new();
    for from in ["msn", "mrim", "myicq"] {
        for to in ["msn", "mrim", "myicq"] {
            expected.push(format!("{from}->{to}"));
        }
    }
    assert_eq!(names, expected, "{report}");
    assert!(routes.iter().all(|route| route["messages"].as_u64().unwrap() > 0), "{report}");
    let total: u64 = routes.iter().map(|r| r["messages"].as_u64().unwrap()).sum();
    assert_eq!(report["messages"].as_u64().unwrap(), total, "{report}");
    assert_eq!(report["presence_errors"], 0, "{report}");
    let (changes, seen) = (report["presence_changes"].as_u64().unwrap(), report["presence_seen"].as_u64().unwrap());
    assert!(changes >= 9, "{report}");
    assert!(seen > 0 && seen <= changes, "{report}");
    fixture.server.shutdown().await;
}

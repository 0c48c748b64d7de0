//! yard-bench against a real server, briefly: it logs every user in over the three protocols
//! and counts cross-protocol messages. (Its figures are for BENCHMARKS.md, not for tests.)

use switchyard::{Config, RunningServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pairs_log_in_and_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    (config.msn.port, config.mrim.port, config.mrim.redirect_port, config.myicq.port) = (0, 0, 0, 0);
    (config.http.port, config.http.https_port) = (0, None);
    let server = RunningServer::start(&config).await.unwrap();
    let address = |role| server.address(role).unwrap().to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_yard-bench"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "--protocol", "mixed", "--users", "12", "--json"])
        .args(["--msn", &address("msn"), "--mrim", &address("mrim"), "--myicq", &address("myicq")])
        .args(["--server-pid", &std::process::id().to_string()])
        .args(["pairs", "--seconds", "1", "--window", "2"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["logins"], 12, "{report}");
    assert_eq!(report["login_errors"], 0, "{report}");
    assert_eq!(report["message_errors"], 0, "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");
    assert!(report["server_rss_kib_after"].as_u64().unwrap() > 0, "{report}");
    server.shutdown().await;
}

/// Without `--data-dir` the bench creates nothing: it logs in to accounts that exist, named by
/// its options, as it would on another server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_data_dir_it_uses_existing_accounts_named_by_its_options() {
    use switchyard_core::{AccountName, Store};
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    (config.msn.port, config.mrim.port, config.mrim.redirect_port, config.myicq.port) = (0, 0, 0, 0);
    (config.http.port, config.http.https_port) = (0, None);
    (config.msn.domains, config.mrim.domains) = (vec!["example.net".into()], vec!["example.ru".into()]);
    let server = RunningServer::start(&config).await.unwrap();
    let store = switchyard_store_sqlite::SqliteStore::open(&dir.path().join("switchyard.db")).await.unwrap();
    let mut uins = Vec::new();
    for i in 0..6 {
        let name = AccountName::new(&format!("load{i}")).unwrap();
        uins.push(store.create_account(&name, "s3cret", None).await.unwrap().uin);
    }
    store.close().await;
    assert!(uins.windows(2).all(|w| w[1] == w[0] + 1), "UINs not consecutive: {uins:?}");

    let address = |role| server.address(role).unwrap().to_string();
    let run = |password: &'static str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_yard-bench"));
        command
            .args(["--protocol", "mixed", "--users", "6", "--prefix", "load", "--password", password, "--json"])
            .args(["--msn-domain", "example.net", "--mrim-domain", "example.ru"])
            .args(["--myicq-first-uin", &uins[0].to_string()])
            .args(["--msn", &address("msn"), "--mrim", &address("mrim"), "--myicq", &address("myicq")])
            .args(["pairs", "--seconds", "1", "--window", "2"]);
        async move {
            let output = command.output().await.unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
        }
    };
    let report = run("s3cret").await;
    assert_eq!(report["logins"], 6, "{report}");
    assert_eq!(report["message_errors"], 0, "{report}");
    assert!(report["messages"].as_u64().unwrap() > 0, "{report}");

    let refused = run("wrong").await;
    assert_eq!(refused["logins"], 0, "{refused}");
    assert_eq!(refused["login_errors"], 6, "{refused}");
    server.shutdown().await;
}

/// Every watcher sees each change exactly once: no change lost, none notified twice, and
/// nothing else counted as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_each_change_once_per_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    (config.msn.port, config.mrim.port, config.mrim.redirect_port, config.myicq.port) = (0, 0, 0, 0);
    (config.http.port, config.http.https_port) = (0, None);
    let server = RunningServer::start(&config).await.unwrap();
    let address = |role| server.address(role).unwrap().to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_yard-bench"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "--protocol", "mixed", "--users", "9", "--json"])
        .args(["--msn", &address("msn"), "--mrim", &address("mrim"), "--myicq", &address("myicq")])
        .args(["fanout", "--changes", "4"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["logins"], 9, "{report}");
    assert_eq!(report["messages"], 8 * 4, "{report}");
    server.shutdown().await;
}

/// `mixed` loads every route between the three protocols at once, with status changes beside
/// the messages: each route delivers, and each change is seen at most once by the partner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_loads_all_nine_routes_with_presence() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    (config.msn.port, config.mrim.port, config.mrim.redirect_port, config.myicq.port) = (0, 0, 0, 0);
    (config.http.port, config.http.https_port) = (0, None);
    let server = RunningServer::start(&config).await.unwrap();
    let address = |role| server.address(role).unwrap().to_string();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_yard-bench"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "--users", "18", "--json"])
        .args(["--msn", &address("msn"), "--mrim", &address("mrim"), "--myicq", &address("myicq")])
        .args(["mixed", "--seconds", "2", "--window", "2", "--status-every-ms", "400"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["protocol"], "mixed", "{report}");
    assert_eq!(report["logins"], 18, "{report}");
    assert_eq!(report["message_errors"], 0, "{report}");
    let routes: Vec<&str> = report["routes"].as_array().unwrap().iter().map(|r| r["route"].as_str().unwrap()).collect();
    let mut expected = Vec::new();
    for from in ["msn", "mrim", "myicq"] {
        for to in ["msn", "mrim", "myicq"] {
            expected.push(format!("{from}->{to}"));
        }
    }
    assert_eq!(routes, expected, "{report}");
    for route in report["routes"].as_array().unwrap() {
        assert!(route["messages"].as_u64().unwrap() > 0, "{route}");
    }
    let total: u64 = report["routes"].as_array().unwrap().iter().map(|r| r["messages"].as_u64().unwrap()).sum();
    assert_eq!(report["messages"].as_u64().unwrap(), total, "{report}");
    assert_eq!(report["presence_errors"], 0, "{report}");
    let (changes, seen) = (report["presence_changes"].as_u64().unwrap(), report["presence_seen"].as_u64().unwrap());
    assert!(changes >= 9, "{report}");
    assert!(seen > 0 && seen <= changes, "{report}");
    server.shutdown().await;
}

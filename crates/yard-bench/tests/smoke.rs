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

//! The `switchyard` binary as an operator uses it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn switchyard(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.env_remove("SWITCHYARD_CONFIG").env("SWITCHYARD_DATA_DIR", data_dir);
    command
}

fn run(data_dir: &Path, args: &[&str]) -> Output {
    switchyard(data_dir).args(args).stdin(Stdio::null()).output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn accounts_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A directory with no database is refused (a mistyped --data-dir), unless asked to create.
    let mistyped = run(d, &["user", "add", "alice", "--password", "pw"]);
    assert!(!mistyped.status.success(), "{mistyped:?}");
    assert!(String::from_utf8_lossy(&mistyped.stderr).contains("there is no database in"), "{mistyped:?}");
    assert!(!run(d, &["user", "list"]).status.success());
    assert!(!d.join("switchyard.db").exists(), "nothing was created");
    let first = run(d, &["user", "add", "alice", "--password", "pw", "--nickname", "Alice A", "--create"]);
    assert_eq!(stdout(&first), "created alice uin 10001\n");
    // The log (the new database's migrations) goes to standard error, without colour codes
    // when that is not a terminal.
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(log.contains("database schema migrated") && !log.contains('\x1b'), "{log:?}");
    let mut add_bob =
        switchyard(d).args(["user", "add", "bob"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    add_bob.stdin.take().unwrap().write_all(b"from-stdin\n").unwrap();
    assert_eq!(stdout(&add_bob.wait_with_output().unwrap()), "created bob uin 10002\n");
    assert_eq!(stdout(&run(d, &["user", "list"])), "10001\talice\tAlice A\n10002\tbob\t\n");

    for bad in [
        &["user", "add", "Alice", "--password", "x"][..],
        &["user", "add", "alice", "--password", "x"],
        &["user", "add", "eve", "--password", "x", "--nickname", " "],
        &["user", "del", "nobody"],
    ] {
        let output = run(d, bad);
        assert!(!output.status.success(), "{bad:?} should fail");
        assert!(!output.stderr.is_empty());
    }
    // A name of digits only would be a MyICQ number, maybe another account's.
    let numeric = run(d, &["user", "add", "10004", "--password", "x"]);
    assert!(!numeric.status.success());
    assert!(String::from_utf8_lossy(&numeric.stderr).contains("digits only"), "{numeric:?}");

    assert_eq!(stdout(&run(d, &["user", "passwd", "alice", "--password", "new"])), "password changed for alice\n");
    let profile = ["user", "profile", "alice", "--first-name", "Алиса", "--sex", "female", "--birthday", "1990-03-25"];
    assert!(stdout(&run(d, &profile)).contains("first name: Алиса\tlast name: \tsex: Female\tbirthday: 1990-03-25"));
    assert!(stdout(&run(d, &["user", "profile", "alice", "--city-id", "495"]))
        .contains("sex: Female\tbirthday: 1990-03-25\tcity: 495"));
    assert!(!run(d, &["user", "profile", "alice", "--birthday", "1990-02-30"]).status.success());
    assert_eq!(stdout(&run(d, &["user", "del", "bob"])), "deleted bob\n");
    assert_eq!(stdout(&run(d, &["user", "list"])), "10001\talice\tAlice A\n");
}

/// Starts `serve`, returning the child and the listener lines it printed.
fn serve(data_dir: &Path, args: &[&str], listeners: usize) -> (Child, Vec<String>) {
    let mut child = switchyard(data_dir).arg("serve").args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let lines = (0..listeners)
        .map(|_| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            line.trim_end().to_owned()
        })
        .collect();
    (child, lines)
}

fn port_of(line: &str, role: &str) -> String {
    let prefix = format!("listening {role} 127.0.0.1:");
    line.strip_prefix(&prefix).unwrap_or_else(|| panic!("unexpected line {line:?}")).to_owned()
}

fn expect_line(reader: &mut BufReader<TcpStream>, expected: &str) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let line = line.trim_end().to_owned();
    assert!(line.starts_with(expected), "{line:?} does not start with {expected:?}");
    line
}

/// Alice (password `pw`) logs in over MSNP2 on the MSN port; returns the connection's reader.
fn alice_logs_in_to_msn(port: &str) -> BufReader<TcpStream> {
    alice_tries_msn(port).unwrap_or_else(|refused| panic!("alice was refused: {refused}"))
}

/// Alice's MSNP2 login: the connection's reader, or the line that refused her.
fn alice_tries_msn(port: &str) -> Result<BufReader<TcpStream>, String> {
    let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    writer.write_all(b"VER 1 MSNP2\r\nUSR 2 MD5 I alice@hotmail.com\r\n").unwrap();
    expect_line(&mut reader, "VER 1 MSNP2");
    let challenge = expect_line(&mut reader, "USR 2 MD5 S ").rsplit(' ').next().unwrap().to_owned();
    let response = msnp::auth::md5_response(&challenge, "pw");
    writer.write_all(format!("USR 3 MD5 S {response}\r\n").as_bytes()).unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    match answer.trim_end() {
        "USR 3 OK alice@hotmail.com alice@hotmail.com" => Ok(reader),
        refused => Err(refused.to_owned()),
    }
}

#[test]
fn serve_prints_its_ports_and_sigterm_sends_out_ssd() {
    let dir = tempfile::tempdir().unwrap();
    stdout(&run(dir.path(), &["user", "add", "alice", "--password", "pw", "--create"]));
    let (mut child, lines) = serve(
        dir.path(),
        &[
            "--msn-port",
            "0",
            "--mrim-port",
            "0",
            "--mrim-redirect-port",
            "0",
            "--http-port",
            "0",
            "--https-port",
            "0",
            "--myicq-port",
            "0",
        ],
        6,
    );
    port_of(&lines[1], "mrim");
    port_of(&lines[2], "mrim-redirect");
    port_of(&lines[3], "http");
    port_of(&lines[4], "https");
    port_of(&lines[5], "myicq");
    let port = port_of(&lines[0], "msn");

    let mut reader = alice_logs_in_to_msn(&port);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    expect_line(&mut reader, "OUT SSD");
    assert!(child.wait().unwrap().success(), "graceful shutdown exits with success");
}

#[test]
fn a_config_file_and_the_environment_set_the_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchyard.toml");
    std::fs::write(
        &config,
        "[msn]\nport = 1\ndispatch_port = 0\ndomains = [\"msn.com\"]\n[mrim]\nport = 0\nredirect_port = 0\n\
         [myicq]\nport = 0\nadministrators = [\"admin\"]\n[http]\nport = 0\nhttps_port = 0\n",
    )
    .unwrap();
    let mut command = switchyard(dir.path());
    command.env("SWITCHYARD_MSN_PORT", "0");
    let mut child =
        command.args(["--config", config.to_str().unwrap(), "serve"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..4 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(line.trim_end().to_owned());
    }
    port_of(&lines[0], "msn");
    port_of(&lines[1], "msn-dispatch");
    child.kill().unwrap();
    child.wait().unwrap();

    std::fs::write(&config, "[msn]\nprot = 1\n").unwrap();
    let output = run(dir.path(), &["--config", config.to_str().unwrap(), "user", "list"]);
    assert!(!output.status.success(), "a misspelt key is an error, not silently ignored");
}

#[test]
fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ports = ["--msn-port", "0", "--mrim-port", "0", "--mrim-redirect-port", "0", "--myicq-port", "0"];
    let ports = [&ports[..], &["--http-port", "0", "--https-port", "0"]].concat();
    let (mut first, _) = serve(d, &ports, 6);
    let second = run(d, &[&["serve"][..], &ports].concat());
    assert!(!second.status.success(), "the second server must not start");
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains(&format!("in use by another server (process {})", first.id())), "{message}");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn the_data_directory_is_private_and_its_certificates_outlive_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let ports = ["--msn-port", "0", "--mrim-port", "0", "--mrim-redirect-port", "0", "--myicq-port", "0"];
    let ports = [&ports[..], &["--http-port", "0", "--https-port", "0"]].concat();
    let (mut first, _) = serve(&d, &ports, 6);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(mode(&d), 0o700);
    assert_eq!(mode(&d.join("switchyard.db")), 0o600);
    for stem in ["mrim", "https"] {
        assert_eq!(mode(&d.join(format!("tls/{stem}.key"))), 0o600, "{stem}");
    }
    let kept = std::fs::read(d.join("tls/https.crt")).unwrap();
    let (mut second, _) = serve(&d, &ports, 6);
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(std::fs::read(d.join("tls/https.crt")).unwrap(), kept, "the same certificate after a restart");
}

#[test]
fn a_running_server_is_backed_up_into_a_database_that_opens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    run(&d, &["user", "add", "alice", "--password", "pw", "--nickname", "Alice", "--create"]);
    let ports = ["--msn-port", "0", "--mrim-port", "0", "--mrim-redirect-port", "0", "--myicq-port", "0"];
    let ports = [&ports[..], &["--http-port", "0", "--https-port", "0"]].concat();
    let (mut server, _) = serve(&d, &ports, 6);
    // Written while the server runs: still in the WAL, and in the copy.
    run(&d, &["user", "add", "bob", "--password", "pw"]);
    let copy = dir.path().join("copy.db");
    let done = run(&d, &["backup", copy.to_str().unwrap()]);
    assert!(done.status.success(), "{done:?}");
    assert!(!run(&d, &["backup", copy.to_str().unwrap()]).status.success(), "an existing file is not overwritten");
    server.kill().unwrap();
    server.wait().unwrap();

    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::copy(&copy, restored.join("switchyard.db")).unwrap();
    assert_eq!(stdout(&run(&restored, &["user", "list"])), "10001\talice\tAlice\n10002\tbob\t\n");
}

#[test]
fn help_names_the_rules_and_the_log_and_a_listener_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&run(dir.path(), &["--help"]));
    assert!(help.contains("SWITCHYARD_LOG"), "{help}");
    let add = stdout(&run(dir.path(), &["user", "add", "--help"]));
    assert!(add.contains("not digits only") && add.contains("asked for twice"), "{add}");
    let serve_help = stdout(&run(dir.path(), &["serve", "--help"]));
    assert!(serve_help.contains("`off` serves no MyICQ"), "{serve_help}");

    let ports = ["--msn-port", "0", "--mrim-port", "0", "--mrim-redirect-port", "0", "--http-port", "0"];
    let (mut server, lines) =
        serve(dir.path(), &[&ports[..], &["--https-port", "off", "--myicq-port", "off"]].concat(), 4);
    let roles: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(roles, ["msn", "mrim", "mrim-redirect", "http"]);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(!run(dir.path(), &["serve", "--myicq-port", "of"]).status.success(), "a typo is no port");
}

/// A server on `dir` with alice (password `pw`) logged in over MSN: the server, its MSN port
/// and alice's connection.
fn serving_alice(dir: &Path) -> (Child, String, BufReader<TcpStream>) {
    stdout(&run(dir, &["user", "add", "alice", "--password", "pw", "--create"]));
    let ports = ["--msn-port", "0", "--mrim-port", "0", "--mrim-redirect-port", "0", "--http-port", "0"];
    let (child, lines) = serve(dir, &[&ports[..], &["--https-port", "off", "--myicq-port", "off"]].concat(), 4);
    let port = port_of(&lines[0], "msn");
    let reader = alice_logs_in_to_msn(&port);
    (child, port, reader)
}

/// The command line writes the database directly; a deletion still takes effect at once in the
/// running server: the deleted account's session is ended.
#[test]
fn deleting_an_online_account_ends_its_session_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, mut reader) = serving_alice(dir.path());

    // The control socket answers junk, and a line longer than a request can be, in words.
    for junk in [&b"hello\n"[..], &[b'x'; 4096][..]] {
        let mut control = std::os::unix::net::UnixStream::connect(dir.path().join("control.sock")).unwrap();
        control.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = control.write_all(junk);
        let mut answer = String::new();
        BufReader::new(&control).read_line(&mut answer).unwrap();
        assert_eq!(answer, "unknown request\n");
    }
    let deleted = stdout(&run(dir.path(), &["user", "del", "alice"]));
    assert_eq!(deleted, "deleted alice (its sessions on the running server ended)\n");
    expect_line(&mut reader, "OUT OTH");
    child.kill().unwrap();
    child.wait().unwrap();
    // No server: the deletion alone.
    stdout(&run(dir.path(), &["user", "add", "bob", "--password", "pw"]));
    assert_eq!(stdout(&run(dir.path(), &["user", "del", "bob"])), "deleted bob\n");
}

/// Disabling ends the account's session on the running server and refuses its logins until
/// it is enabled again.
#[test]
fn a_disabled_account_is_signed_out_and_refused_until_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, mut reader) = serving_alice(dir.path());
    let disabled = stdout(&run(dir.path(), &["user", "disable", "alice"]));
    assert_eq!(disabled, "disabled alice (its sessions on the running server ended)\n");
    expect_line(&mut reader, "OUT OTH");
    assert_eq!(alice_tries_msn(&port).err().as_deref(), Some("911 3"));
    assert_eq!(stdout(&run(dir.path(), &["user", "enable", "alice"])), "enabled alice\n");
    alice_logs_in_to_msn(&port);
    child.kill().unwrap();
    child.wait().unwrap();
    let unknown = run(dir.path(), &["user", "disable", "nobody"]);
    assert!(!unknown.status.success());
}

#[test]
fn accounts_and_contact_lists_are_imported_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let import = |lines: &str| {
        let mut child = switchyard(d)
            .args(["user", "import"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    // Importing makes the database, as `serve` does: it is how a new network is filled.
    let lines = "user alice pw-a\nuser bob pw-b Bob B\ncontact alice bob partner\ncontact bob alice\n";
    assert_eq!(stdout(&import(lines)), "10001\talice\n10002\tbob\n");
    assert_eq!(stdout(&import(lines)), "10001\talice\n10002\tbob\n", "the same lines again change nothing");
    assert_eq!(stdout(&run(d, &["user", "list"])), "10001\talice\t\n10002\tbob\tBob B\n");
    let bad = import("user carol pw\ncontact carol nobody\n");
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("line 2: contact carol nobody") && said.contains("no account named nobody"), "{said}");
    assert!(stdout(&run(d, &["user", "list"])).contains("10003\tcarol"), "the lines before the bad one stay");
}

//! The running server's control socket, `control.sock` in the data directory: how the CLI,
//! which writes the database directly, makes a change take effect at once in the server. Only
//! the directory's owner can reach it (the directory is 0700).
//!
//! One request per connection, one line each way: `end-sessions <account id>` → `ended`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchyard_core::{AccountId, Core};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

/// A request's line, read within this long.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// Binds the socket (a stale one from a server that died is replaced: the data directory's
/// lock says no other server runs) and serves requests until `shutdown`.
pub(crate) fn start(data_dir: &Path, core: Core, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = socket_path(data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let core = core.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                // One short line: a connection cannot make the server read more.
                let mut read = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, 256));
                let got = tokio::time::timeout(REQUEST_DEADLINE, read.read_line(&mut line)).await;
                if !matches!(got, Ok(Ok(n)) if n > 0) {
                    return;
                }
                let answer = answer(&core, line.trim_end());
                let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
            });
        }
        let _ = std::fs::remove_file(&path);
    });
    Ok(())
}

fn answer(core: &Core, request: &str) -> &'static str {
    match request.split_once(' ') {
        Some(("end-sessions", id)) => match id.parse() {
            Ok(id) => {
                core.end_sessions(AccountId(id));
                tracing::info!(
                    account = id,
                    "sessions ended on request (the account was changed from the command line)"
                );
                "ended"
            }
            Err(_) => "bad account id",
        },
        _ => "unknown request",
    }
}

/// Asks a server running on `data_dir` to end an account's sessions. `Ok(false)` when no
/// server is running there.
pub fn end_sessions(data_dir: &Path, account: AccountId) -> std::io::Result<bool> {
    let stream = match std::os::unix::net::UnixStream::connect(socket_path(data_dir)) {
        Ok(stream) => stream,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(REQUEST_DEADLINE))?;
    (&stream).write_all(format!("end-sessions {}\n", account.0).as_bytes())?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    match answer.trim_end() {
        "ended" => Ok(true),
        other => Err(std::io::Error::other(format!("the server answered {other:?}"))),
    }
}

//! Spreading the users over worker processes, each a `yard-bench` of its own with its own limit
//! of open files, and adding up what they measured.

use crate::measure::usage_of;
use crate::users::User;
use crate::Args;
use anyhow::Context as _;
use serde_json::Value;
use std::process::Stdio;

/// A worker's users, from its `--worker FILE:FIRST:END`.
pub(crate) fn users_of(slice: &str) -> anyhow::Result<Vec<User>> {
    let mut parts = slice.rsplitn(3, ':');
    let (end, first, file) = (parts.next(), parts.next(), parts.next());
    let (Some(end), Some(first), Some(file)) = (end, first, file) else { anyhow::bail!("--worker is FILE:FIRST:END") };
    let (first, end): (usize, usize) = (first.parse()?, end.parse()?);
    let users: Vec<User> = serde_json::from_slice(&std::fs::read(file)?)?;
    users.get(first..end).map(<[User]>::to_vec).context("--worker's slice is outside the users")
}

/// Runs the scenario in `--workers` processes, each on a run of whole pairs of users, at once;
/// their reports added up (rates and counts summed, latencies the worst worker's, the server's
/// usage measured here over the whole run).
pub(crate) async fn run(args: &Args, users: &[User]) -> anyhow::Result<Value> {
    let file = std::env::temp_dir().join(format!("yard-bench-users-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(users)?)?;
    let before = usage_of(&args.server_pid).unwrap_or_default();
    let per_worker = users.len().div_ceil(args.workers).next_multiple_of(2);
    let own_args: Vec<String> = std::env::args().skip(1).collect();
    let mut children = Vec::new();
    for first in (0..users.len()).step_by(per_worker.max(2)) {
        let end = (first + per_worker).min(users.len());
        let child = tokio::process::Command::new(std::env::current_exe()?)
            // Before the scenario's own arguments, where the options of the bench go.
            .arg(format!("--worker={}:{first}:{end}", file.display()))
            .args(&own_args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start a worker")?;
        children.push(child);
    }
    let mut reports = Vec::new();
    for child in children {
        let output = child.wait_with_output().await?;
        anyhow::ensure!(output.status.success(), "a worker failed");
        reports.push(serde_json::from_slice::<Value>(&output.stdout).context("a worker's report")?);
    }
    let _ = std::fs::remove_file(&file);
    let after = usage_of(&args.server_pid).unwrap_or_default();
    let mut total = reports.pop().context("no worker ran")?;
    for report in &reports {
        add(&mut total, report);
    }
    let sessions = total["logins"].as_u64().unwrap_or(0).max(1);
    total["server_rss_kib_before"] = before.rss_kib.into();
    total["server_rss_kib_after"] = after.rss_kib.into();
    total["server_cpu_seconds"] = after.cpu.saturating_sub(before.cpu).as_secs_f64().into();
    total["server_kib_per_session"] = (after.rss_kib.saturating_sub(before.rss_kib) as f64 / sessions as f64).into();
    Ok(total)
}

/// Adds one worker's report to the total: latencies (`…_ms`) the worst, other numbers summed,
/// routes matched by name.
fn add(total: &mut Value, report: &Value) {
    match (total, report) {
        (Value::Object(total), Value::Object(report)) => {
            for (key, value) in report {
                match total.get_mut(key) {
                    Some(sum) if key.ends_with("_ms") => {
                        if value.as_f64() > sum.as_f64() {
                            *sum = value.clone();
                        }
                    }
                    Some(sum) => add(sum, value),
                    None => {
                        total.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(total), Value::Array(report)) => {
            for (sum, value) in total.iter_mut().zip(report) {
                add(sum, value);
            }
        }
        (sum @ Value::Number(_), Value::Number(value)) => {
            *sum = match (sum.as_u64(), value.as_u64()) {
                (Some(a), Some(b)) => (a + b).into(),
                _ => (sum.as_f64().unwrap_or(0.0) + value.as_f64().unwrap_or(0.0)).into(),
            };
        }
        _ => {}
    }
}

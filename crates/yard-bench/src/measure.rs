//! Latency histograms (one per thread, merged at the end), the server's resident memory and
//! CPU time, and the machine's UDP counters, read from `/proc`.

use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One thread's histogram: only that thread writes it, so its lock is uncontended until the
/// final merge.
type Shared = Arc<Mutex<Histogram<u64>>>;

/// Latencies from one kind of operation, recorded without contention: each thread writes its
/// own histogram, registered here the first time it records.
#[derive(Clone, Default)]
pub struct Latencies {
    threads: Arc<Mutex<Vec<Shared>>>,
}

thread_local! {
    /// The histograms of this thread, by the address of the `Latencies` they belong to.
    static MINE: RefCell<Vec<(usize, Shared)>> = const { RefCell::new(Vec::new()) };
}

pub fn histogram() -> Histogram<u64> {
    // Microseconds, up to an hour, three significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

impl Latencies {
    pub fn record(&self, latency: Duration) {
        let key = Arc::as_ptr(&self.threads) as usize;
        let micros = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
        MINE.with(|mine| {
            let mut mine = mine.borrow_mut();
            let slot = match mine.iter().find(|(k, _)| *k == key) {
                Some((_, h)) => h.clone(),
                None => {
                    let h = Arc::new(Mutex::new(histogram()));
                    self.threads.lock().expect("not poisoned").push(h.clone());
                    mine.push((key, h.clone()));
                    h
                }
            };
            let _ = slot.lock().expect("not poisoned").record(micros);
        });
    }

    pub fn merged(&self) -> Histogram<u64> {
        let mut all = histogram();
        self.add_to(&mut all);
        all
    }

    /// Adds every thread's latencies to `all`.
    pub fn add_to(&self, all: &mut Histogram<u64>) {
        for h in self.threads.lock().expect("not poisoned").iter() {
            let _ = all.add(&*h.lock().expect("not poisoned"));
        }
    }
}

/// A percentile in milliseconds.
pub fn ms(h: &Histogram<u64>, percentile: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(percentile / 100.0) as f64 / 1000.0
}

/// Resident memory (KiB) and CPU time (user + system) of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub rss_kib: u64,
    pub cpu: Duration,
}

/// The processes' memory and CPU time together (the nodes of one network); `None` when one
/// of them is gone (or there is no `/proc`).
pub fn usage_of(pids: &[u32]) -> Option<Usage> {
    pids.iter().try_fold(Usage::default(), |sum, pid| {
        let one = usage(*pid)?;
        Some(Usage { rss_kib: sum.rss_kib + one.rss_kib, cpu: sum.cpu + one.cpu })
    })
}

/// `None` when there is no such process (or no `/proc`).
pub fn usage(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, which is 100 on every architecture it runs on.
    Some(Usage { rss_kib, cpu: Duration::from_millis(ticks * 10) })
}

/// The machine's UDP counters (`/proc/net/snmp`).
#[derive(Debug, Clone, Copy, Default)]
pub struct UdpCounters {
    /// Datagrams delivered to a socket.
    pub delivered: u64,
    /// Datagrams dropped because the receiving socket's buffer was full.
    pub dropped: u64,
}

pub fn udp_counters() -> Option<UdpCounters> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (names, values) = (udp.next()?, udp.next()?);
    let field = |name: &str| -> Option<u64> {
        let at = names.split_whitespace().position(|n| n == name)?;
        values.split_whitespace().nth(at)?.parse().ok()
    };
    Some(UdpCounters { delivered: field("InDatagrams")?, dropped: field("RcvbufErrors")? })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_machine_has_udp_counters() {
        let counters = super::udp_counters().expect("/proc/net/snmp has a Udp line");
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.send_to(b"x", socket.local_addr().unwrap()).unwrap();
        socket.recv(&mut [0; 1]).unwrap();
        assert!(super::udp_counters().unwrap().delivered > counters.delivered);
    }
}

//! The process's memory and CPU time, from Linux's `/proc/self` (`None` elsewhere).

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessUsage {
    pub resident_bytes: u64,
    /// User and system time since the process started.
    pub cpu_seconds: f64,
}

/// Clock ticks per second of `/proc`'s times: 100 on every Linux this runs on.
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: u64 = 4096;

pub(crate) fn usage() -> Option<ProcessUsage> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse(&statm, &stat)
}

fn parse(statm: &str, stat: &str) -> Option<ProcessUsage> {
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The command name, in parentheses, may hold spaces: fields are counted after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ProcessUsage { resident_bytes: resident_pages * PAGE_SIZE, cpu_seconds: ticks as f64 / TICKS_PER_SECOND })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read() {
        let stat = "4242 (switch yard) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 300";
        let usage = parse("5000 300 100 10 0 200 0", stat).unwrap();
        assert_eq!(usage, ProcessUsage { resident_bytes: 300 * 4096, cpu_seconds: 3.0 });
        assert_eq!(parse("", stat), None);
    }

    #[test]
    fn this_process_is_measured() {
        let usage = usage().expect("Linux /proc");
        assert!(usage.resident_bytes > 0);
    }
}

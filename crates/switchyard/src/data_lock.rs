//! One server per data directory: two on the same database would split the network (a user
//! online on one is offline and unreachable on the other). A server holds an exclusive lock on
//! `switchyard.lock` in the directory for as long as it runs; the file names its process.

use anyhow::{bail, Context as _};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The lock; released when dropped (or when the process ends, however it ends).
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        let path = data_dir.join("switchyard.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; it does not touch memory.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "another process".to_owned() } else { format!("process {holder}") };
            bail!(
                "{} is in use by another server ({holder}); one data directory serves one server",
                data_dir.display()
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(DataDirLock { _file: file })
    }
}

//! The file descriptors the process may hold, and the one budget of connections all listeners
//! share below them: per-listener limits added up can exceed what the process may open, and a
//! flood on one protocol then made every accept fail with EMFILE.

use switchyard_net::ConnectionBudget;

/// Descriptors kept for everything but client connections: the database and its journal, the
/// listeners, the MyICQ socket, logs, certificates being read, the runtime's own.
const RESERVED: u64 = 256;

/// Raises the soft limit on open files to the hard one, and returns the budget of connections
/// that leaves room for the rest.
pub(crate) fn connection_budget(per_address: usize) -> ConnectionBudget {
    let limit = raise_open_files_limit();
    // An unlimited hard limit is still more than any semaphore holds.
    let total = limit.saturating_sub(RESERVED).clamp(1, 1 << 24);
    tracing::info!(open_files = limit, connections = total, per_address, "connection budget");
    ConnectionBudget::new(usize::try_from(total).unwrap_or(usize::MAX), per_address.max(1))
}

/// The soft `RLIMIT_NOFILE` after raising it as far as the hard limit allows.
fn raise_open_files_limit() -> u64 {
    let mut limits = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limits) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open files limit");
        return 1024;
    }
    if limits.rlim_cur < limits.rlim_max {
        let raised = libc::rlimit { rlim_cur: limits.rlim_max, rlim_max: limits.rlim_max };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limits.rlim_cur = limits.rlim_max;
        } else {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot raise the open files limit");
        }
    }
    limits.rlim_cur
}

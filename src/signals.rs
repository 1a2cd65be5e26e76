//! Shutdown requests. The handlers only store the signal number; the drain loop notices it between
//! short waits, ends the running job's process group and exits in an orderly way. Exiting from a
//! handler would orphan the job.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Signals that ask execq to stop: Ctrl-C, launchd/systemd stop, a closed terminal.
pub const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Stop signals received, shared with the signal handlers.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// The first stop signal; never cleared.
    requested: Arc<AtomicUsize>,
    /// How many stop signals have arrived. Each watcher (every running job's supervisor) keeps
    /// its own count of those it has acted on, so one signal reaches them all and a second one
    /// escalates for all of them.
    count: Arc<AtomicUsize>,
}

impl Shutdown {
    /// Installs the handlers for [`STOP_SIGNALS`].
    pub fn install() -> io::Result<Self> {
        let shutdown = Self::default();
        for signal in STOP_SIGNALS {
            signal_hook::flag::register_usize(
                signal,
                Arc::clone(&shutdown.requested),
                signal as usize,
            )?;
            crate::sys::count_signal(signal, Arc::clone(&shutdown.count))?;
        }
        Ok(shutdown)
    }

    /// The stop signal received, if any: once set, it stays set.
    pub fn requested(&self) -> Option<i32> {
        to_signal(self.requested.load(Ordering::SeqCst))
    }

    /// How many stop signals have arrived so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

fn to_signal(n: usize) -> Option<i32> {
    if n == 0 { None } else { i32::try_from(n).ok() }
}

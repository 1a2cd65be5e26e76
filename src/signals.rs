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
    /// The latest stop signal not yet acknowledged, so a second one can escalate.
    fresh: Arc<AtomicUsize>,
}

impl Shutdown {
    /// Installs the handlers for [`STOP_SIGNALS`].
    pub fn install() -> io::Result<Self> {
        let shutdown = Self::default();
        for signal in STOP_SIGNALS {
            signal_hook::flag::register_usize(
                signal,
                Arc::clone(&shutdown.fresh),
                signal as usize,
            )?;
            signal_hook::flag::register_usize(
                signal,
                Arc::clone(&shutdown.requested),
                signal as usize,
            )?;
        }
        Ok(shutdown)
    }

    /// The stop signal received, if any: once set, it stays set.
    pub fn requested(&self) -> Option<i32> {
        to_signal(self.requested.load(Ordering::SeqCst))
    }

    /// A stop signal that arrived since the last [`Shutdown::acknowledge`].
    pub fn fresh(&self) -> Option<i32> {
        to_signal(self.fresh.load(Ordering::SeqCst))
    }

    /// Marks the fresh signal as handled, so that the next one can be told apart.
    pub fn acknowledge(&self) {
        self.fresh.store(0, Ordering::SeqCst);
    }
}

fn to_signal(n: usize) -> Option<i32> {
    if n == 0 { None } else { i32::try_from(n).ok() }
}

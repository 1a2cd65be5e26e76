//! Firing schedules while a drain is busy. launchd and systemd start one drain at a time: while
//! it runs a long job, no other drain starts, so the busy drain itself looks at the schedules
//! every second (the same cheap check an idle drain makes) and enqueues what comes due; its next
//! pass (or a free `--jobs` slot) runs it.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::queue::Queue;

/// How often a busy drain looks at the schedules.
const EVERY: Duration = Duration::from_secs(1);

/// The thread that fires schedules; stopped (at once) and joined when dropped.
pub struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts ticking for `queue`, if it has schedules (`None` otherwise, or if no thread can be
    /// started: the next drain fires them then).
    pub fn start(queue: &Queue) -> Option<Self> {
        if !super::dir(queue).is_dir() {
            return None;
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let queue = queue.clone();
        let flag = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name("schedules".into())
            .spawn(move || tick(&queue, &flag))
            .ok()?;
        Some(Self {
            stop,
            handle: Some(handle),
        })
    }
}

fn tick(queue: &Queue, stop: &(Mutex<bool>, Condvar)) {
    let (lock, wake) = stop;
    let mut last_error = String::new();
    loop {
        let Ok(stopped) = lock.lock() else { return };
        let Ok((stopped, _)) = wake.wait_timeout_while(stopped, EVERY, |stopped| !*stopped) else {
            return;
        };
        if *stopped {
            return;
        }
        drop(stopped);
        match super::fire::fire_due(queue) {
            Ok(()) => last_error.clear(),
            Err(e) => {
                let error = format!("{e:#}");
                if error != last_error {
                    tracing::error!("schedules could not be checked: {error}");
                    last_error = error;
                }
            }
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

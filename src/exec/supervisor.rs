//! Watching one job's process to the end: its output read in one poll loop into bounded captures,
//! its deadline (the timeout: SIGTERM to the whole group, the grace, SIGKILL), a stop signal, and
//! whatever it leaves running in its group when it exits.
//!
//! The loop never blocks for longer than [`SLICE`], so a stop signal or the deadline is noticed
//! promptly (`wait-timeout` itself retries through signals). When the job's main process exits,
//! whatever it left in its group is ended too (TERM, CONT, grace, KILL), and output pipes still held
//! open by a process that escaped the group (`setsid`, daemons) are waited for only briefly.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use crate::exec::capture::Capture;
use crate::exec::result_file::Sink;
use crate::exec::spool::Spool;
use crate::exec::{End, Limits};
use crate::signals::Shutdown;
use crate::sys;

/// The longest the supervisor waits without re-checking signals and deadlines.
const SLICE: Duration = Duration::from_millis(100);

/// How long to keep reading after the job's group is gone, for pipes an escaped process holds.
const PIPE_DRAIN: Duration = Duration::from_millis(500);

/// How long to wait for the main process after SIGKILL before giving up on it.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Reads per stream before the loop looks at the clock again (a job printing without pause must
/// not starve signal handling).
const READS_PER_WAKE: usize = 16;

/// One of the job's output pipes, what has been kept of it, and its live copy.
pub(super) struct Stream {
    pipe: Option<File>,
    pub(super) capture: Capture,
    spool: Option<Spool>,
}

enum Wake {
    Exited,
    Deadline,
    Signal(i32),
    /// `execq cancel` asked for this job.
    Cancelled,
}

/// How long a cancelled job's group gets between SIGTERM and SIGKILL: `execq cancel` promises
/// the job is gone within a second.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

struct Supervisor<'a> {
    child: &'a mut Child,
    pgid: u32,
    streams: [Stream; 2],
    /// Where stdout is also copied (the job's `result_file`), lent for the run.
    sink: Option<&'a mut Sink>,
    /// The file whose appearance means "cancel this job" (see `execq cancel`).
    cancel: Option<&'a Path>,
    /// How many stop signals this supervisor has acted on (see `Shutdown::count`).
    signals_seen: usize,
    status: Option<ExitStatus>,
    shutdown: &'a Shutdown,
    buf: Vec<u8>,
    notes: Vec<String>,
}

/// How the run ended, the two streams (stdout, stderr) and the notes for the record.
pub(super) type Supervised = (End, [Stream; 2], Vec<String>);

/// Watches `child` (the leader of its own process group) to the end (see the module docs).
pub(super) fn supervise_child(
    child: &mut Child,
    limits: &Limits,
    shutdown: &Shutdown,
    sink: Option<&mut Sink>,
    cancel: Option<&Path>,
    spool: Option<[PathBuf; 2]>,
    started: Instant,
) -> io::Result<Supervised> {
    let new_stream = |pipe: Option<File>, spool: Option<PathBuf>| Stream {
        pipe,
        capture: Capture::new(limits.keep, limits.keep),
        spool: spool.map(Spool::new),
    };
    let [out_spool, err_spool] = spool.map_or([None, None], |[o, e]| [Some(o), Some(e)]);
    let streams = [
        new_stream(child.stdout.take().map(pipe_file).transpose()?, out_spool),
        new_stream(child.stderr.take().map(pipe_file).transpose()?, err_spool),
    ];
    let mut sup = Supervisor {
        pgid: child.id(),
        child,
        streams,
        sink,
        cancel,
        signals_seen: 0,
        status: None,
        shutdown,
        buf: vec![0; 64 * 1024],
        notes: Vec::new(),
    };
    let end = sup.supervise(started + limits.timeout, limits.grace)?;
    sup.end_leftovers(limits.grace)?;
    sup.drain_pipes()?;
    Ok((end, sup.streams, sup.notes))
}

fn pipe_file(pipe: impl Into<OwnedFd>) -> io::Result<File> {
    let file = File::from(pipe.into());
    sys::set_nonblocking(file.as_fd())?;
    Ok(file)
}

impl Supervisor<'_> {
    fn supervise(&mut self, deadline: Instant, grace: Duration) -> io::Result<End> {
        match self.pump_until(Some(deadline), true)? {
            Wake::Exited => Ok(End::Exited(self.exit_status())),
            Wake::Deadline => {
                self.terminate(grace)?;
                Ok(End::TimedOut(self.exit_status()))
            }
            Wake::Signal(signal) => {
                self.terminate(grace)?;
                Ok(End::Interrupted {
                    signal,
                    status: self.exit_status(),
                })
            }
            Wake::Cancelled => {
                self.cancel = None;
                self.terminate(grace.min(CANCEL_GRACE))?;
                Ok(End::Cancelled(self.exit_status()))
            }
        }
    }

    fn exit_status(&self) -> ExitStatus {
        self.status
            .expect("pump_until returned Exited only once the status is known")
    }

    /// Reads output and watches the main process until it exits, `deadline` passes, or (with
    /// `watch_signals`) a stop signal arrives.
    fn pump_until(&mut self, deadline: Option<Instant>, watch_signals: bool) -> io::Result<Wake> {
        loop {
            if self.status.is_none() {
                self.status = self.child.try_wait()?;
            }
            if self.status.is_some() {
                return Ok(Wake::Exited);
            }
            let signals = self.shutdown.count();
            if watch_signals && signals > self.signals_seen {
                self.signals_seen = signals;
                let signal = self.shutdown.requested().unwrap_or(libc::SIGTERM);
                return Ok(Wake::Signal(signal));
            }
            if watch_signals && self.cancel.is_some_and(|c| c.exists()) {
                return Ok(Wake::Cancelled);
            }
            let slice = match deadline {
                Some(d) if Instant::now() >= d => return Ok(Wake::Deadline),
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            if self.pipes_open() {
                self.read_ready(slice)?;
            } else {
                self.status = self.child.wait_timeout(slice)?;
            }
        }
    }

    /// SIGTERM (and SIGCONT, for a stopped job) to the whole group, up to `grace` for it to exit,
    /// then SIGKILL. A second stop signal during the grace skips the rest of it.
    fn terminate(&mut self, grace: Duration) -> io::Result<()> {
        self.signal(libc::SIGTERM);
        self.signal(libc::SIGCONT);
        if let Wake::Exited = self.pump_until(Some(Instant::now() + grace), true)? {
            return Ok(());
        }
        self.signal(libc::SIGKILL);
        if let Wake::Exited = self.pump_until(Some(Instant::now() + KILL_WAIT), false)? {
            return Ok(());
        }
        // Only a process drain may not signal (another user's, such as a setuid program) gets
        // here. Waiting longer would hang the queue; say so and move on.
        self.notes.push(
            "the job's main process could not be killed (is it another user's, such as a setuid \
             program?); it may still be running"
                .into(),
        );
        self.status = Some(ExitStatus::from_raw(libc::SIGKILL));
        Ok(())
    }

    /// Sends `signal` to the job's group. Returns whether any process was there. A failure is kept
    /// as a note: there is nothing else to do about it.
    fn signal(&mut self, signal: i32) -> bool {
        match sys::signal_group(self.pgid, signal) {
            Ok(found) => found,
            Err(e) => {
                let note = format!("could not signal the job's processes: {e}");
                if !self.notes.contains(&note) {
                    self.notes.push(note);
                }
                false
            }
        }
    }

    /// Ends whatever the job left running in its group after its main process exited.
    fn end_leftovers(&mut self, grace: Duration) -> io::Result<()> {
        // A child the job never waited for is a zombie, not a process left running: reap it first
        // (it re-parents to drain, the subreaper, when the job exits).
        sys::reap_group(self.pgid);
        if !sys::group_alive(self.pgid) {
            return Ok(());
        }
        self.signal(libc::SIGTERM);
        self.signal(libc::SIGCONT);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            sys::reap_group(self.pgid);
            if !sys::group_alive(self.pgid) {
                break;
            }
            self.read_ready(Duration::from_millis(10))?;
        }
        let killed = sys::group_alive(self.pgid) && self.signal(libc::SIGKILL);
        sys::reap_group(self.pgid);
        self.notes.push(format!(
            "processes the job left running in its group were ended{}",
            if killed {
                " (SIGKILL after the grace period)"
            } else {
                " (SIGTERM)"
            }
        ));
        Ok(())
    }

    /// Reads what is left in the pipes; gives up on a pipe an escaped process still holds open.
    fn drain_pipes(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + PIPE_DRAIN;
        while self.pipes_open() && Instant::now() < deadline {
            self.read_ready(deadline.saturating_duration_since(Instant::now()))?;
        }
        for (name, stream) in ["stdout", "stderr"].iter().zip(&mut self.streams) {
            if stream.pipe.take().is_some() {
                self.notes.push(format!(
                    "{name} was still held open by a process outside the job's group; it was not waited for"
                ));
            }
        }
        Ok(())
    }

    fn pipes_open(&self) -> bool {
        self.streams.iter().any(|s| s.pipe.is_some())
    }

    fn read_ready(&mut self, timeout: Duration) -> io::Result<()> {
        let open: Vec<usize> = (0..2).filter(|&i| self.streams[i].pipe.is_some()).collect();
        let fds: Vec<_> = open
            .iter()
            .filter_map(|&i| self.streams[i].pipe.as_ref().map(AsFd::as_fd))
            .collect();
        let millis = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
        let ready = sys::poll_readable(&fds, millis)?;
        for (&i, _) in open.iter().zip(ready).filter(|(_, r)| *r) {
            self.read_stream(i);
        }
        Ok(())
    }

    fn read_stream(&mut self, index: usize) {
        for _ in 0..READS_PER_WAKE {
            let stream = &mut self.streams[index];
            let Some(pipe) = stream.pipe.as_mut() else {
                return;
            };
            match pipe.read(&mut self.buf) {
                Ok(0) => stream.pipe = None,
                Ok(n) => {
                    stream.capture.push(&self.buf[..n]);
                    if let Some(spool) = stream.spool.as_mut() {
                        spool.write(&self.buf[..n]);
                    }
                    if index == 0
                        && let Some(sink) = self.sink.as_mut()
                    {
                        sink.write(&self.buf[..n]);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => stream.pipe = None,
            }
            return;
        }
    }
}

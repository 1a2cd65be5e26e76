//! Changing `completed/` or `failed/` while keeping the index vouching for them (see the module
//! docs): [`Change`].

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::Path;

use super::{
    Folder, Locked, Stamp, bucket_path, build, folders_now, lines, lock, now_empty, slot, start,
};
use crate::fsutil;
use crate::queue::Queue;
use crate::queue::catalog::State;

/// A filed record's task_id, for its keys.
#[derive(Clone, Copy, Debug)]
pub enum TaskId<'a> {
    /// The filer knows it (`None`: the job has none).
    Known(Option<&'a str>),
    /// Read from the record (after a crash, where the job is not at hand).
    InRecord,
}

/// A change to `completed/` or `failed/` by this process: made between [`Change::begin`] and
/// [`Change::commit`], which keep the index vouching for the folders (see the module docs).
/// Dropped without a commit (an error on the way), the index stops vouching and is rebuilt when
/// next used.
pub struct Change {
    locked: Option<(Locked, Stamp)>,
    time_lines: [Vec<u8>; 2],
    key_lines: Vec<(u64, Vec<u8>)>,
    removed: [u64; 2],
    /// The queue, while the lock is held.
    queue: Option<Queue>,
    /// The folders as the last step of this change left them.
    after: Option<[Folder; 2]>,
}

impl Change {
    /// Takes the lock and notes whether the index vouches for the folders now. Never fails: an
    /// index that cannot be kept here is left to be rebuilt.
    pub fn begin(queue: &Queue) -> Self {
        let locked = lock(queue).ok().and_then(|locked| {
            let now = folders_now(queue);
            let stamp = match Stamp::read(queue) {
                Some(stamp) => stamp,
                // A queue that has never had a record starts with an empty index.
                None if now_empty(queue) => start(queue).ok()?,
                None => return None,
            };
            stamp.vouches_for(&now).then_some((locked, stamp))
        });
        let kept = locked.is_some().then(|| queue.clone());
        Self {
            locked,
            time_lines: [Vec::new(), Vec::new()],
            key_lines: Vec::new(),
            removed: [0, 0],
            queue: kept,
            after: None,
        }
    }

    /// This change filed the record `dir/file` in `state`, for the job `name` (the job file
    /// beside a sidecar record, else `file` itself), with `task_id`.
    pub fn filed(&mut self, state: State, record: &Path, name: &OsStr, task_id: TaskId<'_>) {
        self.settled();
        if self.locked.is_none() {
            return;
        }
        let Some(file) = record.file_name() else {
            return;
        };
        let read;
        let task_id = match task_id {
            TaskId::Known(known) => known,
            TaskId::InRecord => {
                read = build::task_id(record);
                read.as_deref()
            }
        };
        let Ok(meta) = fs::symlink_metadata(record) else {
            return;
        };
        let (time_lines, key_lines) = lines(state, file, name, task_id, &meta);
        self.time_lines[slot(state)].extend_from_slice(&time_lines);
        self.key_lines.extend(key_lines);
    }

    /// Notes the folders as this change left them: called right after each step of it, so that
    /// what another process does to them meanwhile is not taken for part of it.
    fn settled(&mut self) {
        if let Some(queue) = &self.queue {
            self.after = Some(folders_now(queue));
        }
    }

    /// This change did what it cannot count (finished what a killed process began): the index
    /// will be rebuilt rather than vouch for the folders after it.
    pub fn forget(&mut self) {
        if let Some((_, stamp)) = self.locked.as_mut() {
            stamp.boot.clear();
        }
    }

    /// This change took a record out of `state` (archived, retried, removed).
    pub fn removed(&mut self, state: State, n: u64) {
        self.settled();
        self.removed[slot(state)] += n;
    }

    /// Appends the lines and moves the stamp to the folders as they are now.
    pub fn commit(mut self, queue: &Queue) {
        let Some((_locked, mut stamp)) = self.locked.take() else {
            return;
        };
        if let Err(e) = self.apply(queue, &mut stamp) {
            tracing::debug!("the index of records was not updated ({e}); it will be rebuilt");
        }
    }

    fn apply(&self, queue: &Queue, stamp: &mut Stamp) -> io::Result<()> {
        let generation = stamp.generation_dir(queue);
        if !fs::symlink_metadata(&generation)?.is_dir() {
            return Err(io::Error::other("the index's generation is not a folder"));
        }
        for (state, lines) in [State::Completed, State::Failed]
            .iter()
            .zip(&self.time_lines)
        {
            if !lines.is_empty() {
                fsutil::append(&generation.join(state.as_str()), lines)?;
                stamp.lines += lines.iter().filter(|&&b| b == b'\n').count() as u64;
            }
        }
        for (bucket, line) in &self.key_lines {
            fsutil::append(&bucket_path(&generation, *bucket), line)?;
        }
        for i in 0..2 {
            let added = self.time_lines[i].iter().filter(|&&b| b == b'\n').count() as u64;
            stamp.counts[i] = (stamp.counts[i] + added).saturating_sub(self.removed[i]);
        }
        stamp.folders = self.after.unwrap_or_else(|| folders_now(queue));
        stamp.write(queue)
    }
}

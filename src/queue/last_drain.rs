//! `QUEUE/last-drain.json`: what the last drain that did something recorded, for `status`.

use std::fs;

use anyhow::Result;
use serde_json::Value;

use crate::fsutil;
use crate::queue::Queue;

/// The file's name in the queue folder.
pub const LAST_DRAIN: &str = "last-drain.json";

/// Replaces the record with `value` (written whole in `tmp/`, then renamed: its own replacement).
pub fn write(queue: &Queue, value: &Value) -> Result<()> {
    let tmp = queue.temp_path(LAST_DRAIN);
    fsutil::write(&tmp, &serde_json::to_vec_pretty(value)?)?;
    fsutil::rename(&tmp, &queue.root.join(LAST_DRAIN))
}

/// The record, if there is one that parses.
pub fn read(queue: &Queue) -> Option<Value> {
    serde_json::from_slice(&fs::read(queue.root.join(LAST_DRAIN)).ok()?).ok()
}

//! The lines of the index: what a record's time line and key lines hold, how a name is keyed,
//! and how bytes are escaped so that a line splits one way only.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::BUCKETS;
use crate::queue::catalog::State;

/// The time line and key lines for one record.
pub(super) fn lines(
    state: State,
    file: &OsStr,
    name: &OsStr,
    task_id: Option<&str>,
    meta: &fs::Metadata,
) -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let mut time_line = format!("{}\t{}\t", time_ns(meta), meta.ino()).into_bytes();
    escape_into(file.as_bytes(), &mut time_line);
    time_line.push(b'\n');
    let mut keys = vec![name_key(name)];
    if let Some(task_id) = task_id.filter(|t| *t != keys[0]) {
        keys.push(task_id.to_owned());
    }
    let tag = if state == State::Failed { b'f' } else { b'c' };
    let key_lines = keys
        .into_iter()
        .map(|key| {
            let mut line = Vec::new();
            escape_into(key.as_bytes(), &mut line);
            line.extend_from_slice(&[b'\t', tag, b'\t']);
            escape_into(file.as_bytes(), &mut line);
            line.push(b'\n');
            (bucket_of(&key), line)
        })
        .collect();
    (time_line, key_lines)
}

/// The key a job's file name is found by: as shown, without its extension, and without the
/// number its record was filed under if it was a namesake's (`x.2.json` → `x`).
pub fn name_key(name: &OsStr) -> String {
    let shown = crate::queue::names::display_name(name);
    let stem = stem(&shown);
    match stem.rsplit_once('.') {
        Some((base, n))
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base.to_owned()
        }
        _ => stem.to_owned(),
    }
}

/// `job.tar.gz` → `job.tar` (as [`super::names::split_ext`]).
pub(super) fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

pub(super) fn time_ns(meta: &fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

pub(super) fn bucket_of(key: &str) -> u64 {
    hash(key.as_bytes()) % BUCKETS
}

pub(super) fn bucket_path(generation: &Path, bucket: u64) -> PathBuf {
    generation.join("keys").join(format!("{bucket:02x}"))
}

/// FNV-1a: stable across versions and platforms, which the buckets' names rely on.
pub(super) fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes `bytes` with `%`, tab, CR and LF as `%XX`, so a line splits one way only.
pub(super) fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'%' | b'\t' | b'\n' | b'\r' => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
            _ => out.push(b),
        }
    }
}

pub(super) fn unescape(bytes: &[u8]) -> Option<OsString> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(OsString::from_vec(out))
}

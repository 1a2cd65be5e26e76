//! Names execq gives files: numbered when taken (`stem.N.ext`), shortened to fit, with room for
//! the suffixes execq adds; and how a name is shown to people.
//!
//! One numbering scheme everywhere: the stem is shortened, never the number, so every candidate
//! differs from the others whatever the name's length, and a search for a free name ends at once.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fsutil;
use crate::fsutil::exists;

/// Whether `reference` names the file `name`: its name or stem, or theirs before the number a
/// namesake's record was filed under (`my_job.1.json` is a run of `my_job.json`, `my_job`).
pub fn answers_to(name: &OsStr, reference: &str) -> bool {
    let (stem, ext) = split_ext(name);
    let stem = display_name(OsStr::from_bytes(stem));
    if display_name(name) == reference || stem == reference {
        return true;
    }
    let Some((base, number)) = stem.rsplit_once('.') else {
        return false;
    };
    let numbered = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    let ext = display_name(OsStr::from_bytes(ext));
    numbered && (base == reference || format!("{base}{ext}") == reference)
}

/// The longest file name (in bytes) on the filesystems execq supports.
pub const NAME_MAX: usize = 255;

/// `prefix + name + suffix`, shortening `name` (at a character boundary when it is UTF-8) so the
/// whole fits in [`NAME_MAX`] bytes.
pub fn fit_name(prefix: &str, name: &OsStr, suffix: &str) -> OsString {
    fit(
        prefix.as_bytes(),
        name.as_bytes(),
        suffix.as_bytes(),
        NAME_MAX,
    )
}

fn fit(prefix: &[u8], name: &[u8], suffix: &[u8], max: usize) -> OsString {
    let room = max.saturating_sub(prefix.len() + suffix.len());
    let mut cut = name.len().min(room);
    if let Ok(text) = std::str::from_utf8(name) {
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
    }
    let mut out = Vec::with_capacity(prefix.len() + cut + suffix.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&name[..cut]);
    out.extend_from_slice(suffix);
    OsString::from_vec(out)
}

/// Splits `job.tar.gz` into (`job.tar`, `.gz`); a name without a dot has no extension.
pub fn split_ext(name: &OsStr) -> (&[u8], &[u8]) {
    let bytes = name.as_bytes();
    match bytes.iter().rposition(|&b| b == b'.') {
        Some(0) | None => (bytes, &[]),
        Some(i) => bytes.split_at(i),
    }
}

/// Whether a name in a queue folder is execq's own (or a producer's half-written file): names
/// starting with `.` are never jobs.
pub fn is_internal(name: &OsStr) -> bool {
    name.as_bytes().starts_with(b".")
}

/// A file name as text for people and JSON: each byte that is not UTF-8 is shown as `\xNN`.
pub fn display_name(name: &OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// A path as text for people and JSON, escaped as [`display_name`] does.
pub fn display_path(path: &Path) -> String {
    display_name(path.as_os_str())
}

/// The suffix of a record kept beside its job file: `x.sh` → `x.sh.result.json`.
pub const SIDECAR_SUFFIX: &str = ".result.json";

/// Bytes execq adds around a job's name in `running/` for its own files (`.NAME.sidecar.tmp`).
pub const RUNNING_RESERVE: usize = ".".len() + ".sidecar.tmp".len();

/// An extension longer than this is numbered as part of the stem (`x.1` rather than keeping a
/// 200-byte "extension" whole).
const MAX_EXT: usize = 16;

/// What must fit, and be free, beside a name execq picks in a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The name alone (a merged record, a job placed in `pending/`).
    Plain,
    /// A job file with `NAME.result.json` beside it: both must fit whole and be free.
    WithSidecar,
    /// A job in `running/`: execq's own `.NAME...` files for it must fit whole.
    Running,
}

impl Slot {
    /// The longest name this slot may take.
    fn room(self) -> usize {
        NAME_MAX
            - match self {
                Self::Plain => 0,
                Self::WithSidecar => SIDECAR_SUFFIX.len(),
                Self::Running => RUNNING_RESERVE,
            }
    }
}

/// The `n`th candidate name for `name` in a folder, at most `room` bytes: `name` itself (shortened
/// if it must be), then `stem.1.ext`, `stem.2.ext`... The stem is shortened, never the number, so
/// every `n` gives a different name whatever the name's length.
pub fn numbered(name: &OsStr, n: u64, room: usize) -> OsString {
    let (stem, ext) = match split_ext(name) {
        (stem, ext) if ext.len() <= MAX_EXT => (stem, ext),
        _ => (name.as_bytes(), &[][..]),
    };
    if n == 0 && name.len() <= room {
        return name.to_owned();
    }
    let mut suffix = if n == 0 {
        Vec::new()
    } else {
        format!(".{n}").into_bytes()
    };
    suffix.extend_from_slice(ext);
    fit(b"", stem, &suffix, room)
}

/// The first name for `name` in `dir` that is free (see [`Slot`] for what else must be).
pub fn free_name(dir: &Path, name: &OsStr, slot: Slot) -> PathBuf {
    let room = slot.room();
    (0..=u64::MAX)
        .map(|n| dir.join(numbered(name, n, room)))
        .find(|p| !(exists(p) || slot == Slot::WithSidecar && exists(&sidecar_path(p))))
        .expect("a folder holds fewer than 2^64 names")
}

/// `completed/x.sh` → `completed/x.sh.result.json`.
pub fn sidecar_path(job: &Path) -> PathBuf {
    let name = job.file_name().unwrap_or_default();
    job.with_file_name(fit_name("", name, SIDECAR_SUFFIX))
}

/// How many times a move tries the next free name when another process takes the one it picked.
const MOVE_ATTEMPTS: usize = 100;

/// Moves `from` into `dir` under the first free name for `name` (see [`free_name`]), never
/// replacing anything, and returns where it went.
pub fn move_to_free(from: &Path, dir: &Path, name: &OsStr, slot: Slot) -> Result<PathBuf> {
    try_move_to_free(from, dir, name, slot).with_context(|| {
        format!(
            "failed to move `{}` into `{}`",
            from.display(),
            dir.display()
        )
    })
}

/// [`move_to_free`] with the plain I/O error, for callers that branch on it (`NotFound`: `from`
/// is gone).
pub fn try_move_to_free(from: &Path, dir: &Path, name: &OsStr, slot: Slot) -> io::Result<PathBuf> {
    for _ in 0..MOVE_ATTEMPTS {
        let dest = free_name(dir, name, slot);
        match fsutil::rename_noreplace(from, &dest) {
            Ok(()) => return Ok(dest),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "every free name picked was taken first, {MOVE_ATTEMPTS} times"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered(OsStr::new("job.json"), 0, NAME_MAX), "job.json");
        assert_eq!(numbered(OsStr::new("job.json"), 2, NAME_MAX), "job.2.json");
        assert_eq!(numbered(OsStr::new("job"), 1, NAME_MAX), "job.1");
        assert_eq!(numbered(OsStr::new(".hidden"), 1, NAME_MAX), ".hidden.1");
    }

    #[test]
    fn numbering_gives_distinct_names_that_fit_for_every_length() {
        for slot in [Slot::Plain, Slot::WithSidecar, Slot::Running] {
            for len in 1..=NAME_MAX {
                for name in [
                    "n".repeat(len),
                    format!("{}.json", "j".repeat(len.saturating_sub(5).max(1))),
                    format!("x.{}", "e".repeat(len.saturating_sub(2).max(1))),
                ] {
                    let name = OsStr::new(&name);
                    let picks: std::collections::HashSet<OsString> =
                        (0..50).map(|n| numbered(name, n, slot.room())).collect();
                    assert_eq!(picks.len(), 50, "{slot:?} {len}");
                    for pick in &picks {
                        assert!(pick.len() <= slot.room(), "{slot:?} {len}");
                        if slot != Slot::Plain {
                            let sidecar = sidecar_path(Path::new(pick));
                            assert_eq!(
                                sidecar.as_os_str().len(),
                                pick.len() + SIDECAR_SUFFIX.len()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_long_name_whose_sidecar_is_taken_gets_a_free_name_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["s".repeat(250), format!("{}.sh", "s".repeat(250))] {
            let first = free_name(dir.path(), OsStr::new(&name), Slot::WithSidecar);
            fs::write(&first, "").unwrap();
            fs::write(sidecar_path(&first), "").unwrap();
            let second = free_name(dir.path(), OsStr::new(&name), Slot::WithSidecar);
            assert_ne!(first, second);
            assert!(!exists(&second) && !exists(&sidecar_path(&second)));
        }
    }

    #[test]
    fn move_to_free_numbers_instead_of_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let (src, out) = (dir.path().join("src"), dir.path().join("out"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("same.json"), "old").unwrap();
        fs::write(src.join("same.json"), "new").unwrap();
        let dest = move_to_free(
            &src.join("same.json"),
            &out,
            OsStr::new("same.json"),
            Slot::Plain,
        )
        .unwrap();
        assert_eq!(dest, out.join("same.1.json"));
        assert_eq!(fs::read_to_string(out.join("same.json")).unwrap(), "old");
        assert_eq!(fs::read_to_string(dest).unwrap(), "new");
    }

    #[test]
    fn long_names_are_shortened_at_a_char_boundary() {
        let long = "é".repeat(200);
        let fitted = fit_name(".", OsStr::new(&long), ".record.tmp");
        assert!(fitted.len() <= NAME_MAX);
        assert!(fitted.to_str().is_some(), "still valid UTF-8");
    }

    #[test]
    fn free_name_skips_taken_names_and_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.sh"), "").unwrap();
        fs::write(dir.path().join("a.1.sh.result.json"), "").unwrap();
        assert_eq!(
            free_name(dir.path(), OsStr::new("a.sh"), Slot::WithSidecar),
            dir.path().join("a.2.sh")
        );
        assert_eq!(
            free_name(dir.path(), OsStr::new("a.sh"), Slot::Plain),
            dir.path().join("a.1.sh")
        );
    }
}

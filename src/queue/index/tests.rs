use super::*;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

#[test]
fn a_stamp_reads_back_as_written_and_a_torn_one_vouches_for_nothing() {
    let stamp = Stamp {
        generation: 7,
        boot: "b00t".into(),
        folders: [
            Folder {
                dev: 1,
                ino: 2,
                sec: 3,
                nsec: 4,
            },
            Folder {
                dev: 5,
                ino: 6,
                sec: -7,
                nsec: 8,
            },
        ],
        counts: [1_000_000, 3],
        lines: 1_000_010,
    };
    let text = stamp.format();
    assert_eq!(Stamp::parse(&text), Some(stamp));
    assert_eq!(Stamp::parse(&text[..text.len() - 2]), None);
    assert_eq!(Stamp::parse(&text.replace("gen=7", "gen=8")), None);
}

#[test]
fn names_and_keys_survive_every_byte() {
    let name = OsString::from_vec(b"a\tb\nc%d\re\xff.json".to_vec());
    let mut line = Vec::new();
    escape_into(name.as_bytes(), &mut line);
    assert!(!line.contains(&b'\t') && !line.contains(&b'\n'));
    assert_eq!(unescape(&line), Some(name));
}

#[test]
fn a_name_is_keyed_by_its_stem_without_a_namesakes_number() {
    for (name, key) in [
        ("job.json", "job"),
        ("job.3.json", "job"),
        ("job.1", "job"),
        ("job", "job"),
        ("v1.2.json", "v1"),
        ("x.tar.gz", "x.tar"),
        ("2024.json", "2024"),
        (".5.json", ".5"),
    ] {
        assert_eq!(name_key(OsStr::new(name)), key, "{name}");
    }
}

#[test]
fn lines_are_read_backwards_across_chunks() {
    let dir = std::env::temp_dir().join(format!("execq-index-test-{}", std::process::id()));
    crate::fsutil::create_private_dir(&dir).unwrap();
    let path = dir.join("log");
    let lines: Vec<String> = (0..20_000).map(|i| format!("{i}\tfile-{i}")).collect();
    crate::fsutil::write(&path, (lines.join("\n") + "\n").as_bytes()).unwrap();
    let mut seen = Vec::new();
    read::tests_backwards(&path, |l| {
        seen.push(String::from_utf8(l.to_vec()).unwrap());
        true
    });
    seen.reverse();
    assert_eq!(seen, lines);
    crate::fsutil::remove_entry(&dir).unwrap();
}

use crate::util::*;

const GIB: u64 = 1024 * 1024 * 1024;

/// The drain's own peak RSS, as it logs it when it finishes. (The test process's RUSAGE_CHILDREN
/// would also count whatever other tests ran meanwhile, systemd-analyze among them.)
fn drain_peak_rss_bytes(log: &str) -> u64 {
    let field = log
        .lines()
        .filter(|l| l.contains("drain finished"))
        .filter_map(|l| l.split("peak_rss_kib=").nth(1))
        .next_back()
        .unwrap_or_else(|| panic!("no peak_rss_kib in the log:\n{log}"));
    let kib: u64 = field
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    kib * 1024
}

#[test]
fn a_gibibyte_of_output_keeps_drain_small_and_the_record_bounded() {
    let q = TestQueue::new();
    q.add(
        "flood.json",
        &shell_job(&format!(
            "yes 0123456789abcdef | head -c {GIB}; echo tail-marker"
        )),
    );
    // Started by a small shell that forks it: on Linux a process's peak RSS starts from that of
    // the process it was spawned from, and this test binary may be large by then.
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "\"$0\" \"$@\"; status=$?; exit $status"])
        .arg(env!("CARGO_BIN_EXE_execq"))
        .arg("--queue")
        .arg(&q.root)
        .arg("drain");
    run(cmd).success();

    let peak = drain_peak_rss_bytes(&q.log());
    assert!(
        peak < 48 * 1024 * 1024,
        "peak RSS of drain was {} MiB",
        peak / (1024 * 1024)
    );

    let result = q.result("completed/flood.json");
    assert_eq!(result["stdout_truncated"], true);
    assert_eq!(result["stdout_bytes"], GIB + "tail-marker\n".len() as u64);
    let stdout = result["stdout"].as_str().unwrap();
    assert!(stdout.starts_with("0123456789abcdef\n"));
    assert!(stdout.ends_with("tail-marker\n"));
    assert!(
        stdout.contains("[execq: "),
        "a visible marker where bytes were dropped"
    );
    assert!(
        stdout.len() <= 1024 * 1024 + 100,
        "record keeps 512 KiB + 512 KiB, got {}",
        stdout.len()
    );
    let record_size = std::fs::metadata(q.path("completed/flood.json"))
        .unwrap()
        .len();
    assert!(
        record_size < 2 * 1024 * 1024,
        "record is {record_size} bytes"
    );
}

#[test]
fn non_utf8_output_is_converted_lossily() {
    let q = TestQueue::new();
    q.add(
        "bytes.json",
        r#"{"command": "printf", "args": ["ok\\377\\n"]}"#,
    );
    q.drain(&[]).success();
    assert_eq!(q.result("completed/bytes.json")["stdout"], "ok\u{fffd}\n");
}

/// What the drain keeps at each end of a stream (`config::DEFAULT_KEEP`).
const KEEP: usize = 512 * 1024;

/// The record's text of a stream of `total` bytes that starts with `first` and ends with `last`
/// and is NUL bytes between: the first and last [`KEEP`] bytes, and the marker between them.
fn kept_text(first: &str, last: &str, total: usize) -> String {
    let nuls = |n: usize| "\0".repeat(n);
    format!(
        "{first}{}\n[execq: {} bytes omitted]\n{}{last}",
        nuls(KEEP - first.len()),
        total - 2 * KEEP,
        nuls(KEEP - last.len())
    )
}

#[test]
fn nul_and_control_bytes_make_a_correct_record() {
    const MIB: usize = 1024 * 1024;
    let q = TestQueue::new();
    // Control bytes at both ends of each stream (they are what the record keeps), a few MiB of NUL
    // bytes between on stdout, a few KiB (kept whole) on stderr.
    let (first, last) = ("start\x01\x02\x1b[31m\r\n", "\x1f\x7f\x08\x0c\tend\n");
    let err = "err\x07\x1b\n";
    let command = format!(
        "printf 'start\\001\\002\\033[31m\\r\\n'; head -c {} /dev/zero; \
         printf '\\037\\177\\010\\014\\tend\\n'; \
         {{ head -c 4096 /dev/zero; printf 'err\\007\\033\\n'; }} >&2",
        3 * MIB
    );
    q.add("nul.json", &shell_job(&command));
    q.drain(&[]).success();

    let raw = std::fs::read(q.path("completed/nul.json")).unwrap();
    assert!(
        raw.iter().all(|&b| b >= 0x20 || b == b'\n'),
        "every control byte is escaped in the record's JSON"
    );
    assert!(raw.ends_with(b"}\n"));
    let record: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(record["command"], command.as_str());
    let result = &record["result"];
    assert_eq!(result["status"], "completed");

    let total = first.len() + 3 * MIB + last.len();
    assert_eq!(result["stdout_bytes"], total as u64);
    assert_eq!(result["stdout_truncated"], true);
    let stdout = result["stdout"].as_str().unwrap();
    let expected = kept_text(first, last, total);
    let differs = stdout
        .bytes()
        .zip(expected.bytes())
        .position(|(a, b)| a != b);
    assert!(
        stdout == expected,
        "stdout is {} bytes, {} expected; first difference at {differs:?}",
        stdout.len(),
        expected.len()
    );

    assert_eq!(result["stderr_bytes"], (4096 + err.len()) as u64);
    assert_eq!(result["stderr_truncated"], false);
    assert!(result["stderr"] == format!("{}{err}", "\0".repeat(4096)));
}

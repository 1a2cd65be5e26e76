use crate::util::*;

const GIB: u64 = 1024 * 1024 * 1024;

fn children_peak_rss_bytes() -> u64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let maxrss = usage.ru_maxrss as u64;
    if cfg!(target_os = "macos") {
        maxrss
    } else {
        maxrss * 1024
    }
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
    q.drain(&[]).success();

    let peak = children_peak_rss_bytes();
    assert!(
        peak < 48 * 1024 * 1024,
        "peak RSS of drain (or any child) was {} MiB",
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

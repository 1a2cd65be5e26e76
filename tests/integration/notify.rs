//! Notifications (`[notify]`, a job's `notify`): the command channel, and webhooks against a
//! server on 127.0.0.1 started by the test — signed, retried from the outbox after a failure,
//! given up after the window, and never holding a drain past the timeout. Nothing is sent
//! anywhere but 127.0.0.1.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::util::*;

/// One request the server received.
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A server on 127.0.0.1 answering each request with the next status of `answers` (`None`: never
/// answer, as a hung endpoint). Returns its URL and the requests it receives.
fn server(answers: Vec<Option<u16>>) -> (String, mpsc::Receiver<Received>) {
    server_after(answers.into_iter().map(|a| (a, Duration::ZERO)).collect())
}

/// [`server`], each answer given after its delay.
fn server_after(answers: Vec<(Option<u16>, Duration)>) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (answer, delay) in answers {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                let (k, v) = trimmed.split_once(':').unwrap();
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send(Received { headers, body });
            let mut stream = stream;
            thread::sleep(delay);
            match answer {
                Some(code) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
                None => thread::sleep(Duration::from_secs(30)),
            }
        }
    });
    (url, rx)
}

fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn config(q: &TestQueue, text: &str) {
    fs::write(q.path("config.toml"), text).unwrap();
}

fn drain_at(q: &TestQueue, now: &str) -> Output {
    let mut cmd = q.execq(&["drain", "--grace", "1"]);
    cmd.env("EXECQ_NOW", now);
    run(cmd)
}

fn outbox(q: &TestQueue) -> Vec<String> {
    q.names("outbox")
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect()
}

#[test]
fn the_command_gets_the_record_on_stdin_and_the_job_in_its_environment() {
    let q = TestQueue::new();
    let seen = q.scratch("seen");
    config(
        &q,
        &format!(
            "[notify]\ncommand = 'cat > {0}.json; echo \"$EXECQ_JOB $EXECQ_TASK_ID $EXECQ_STATUS $EXECQ_RETURNCODE $EXECQ_RECORD\" >> {0}.env'\n",
            seen.display()
        ),
    );
    q.add("ok.json", &shell_job("true"));
    q.add(
        "bad.json",
        &serde_json::json!({"command": "exit 3", "task_id": "t-bad"}).to_string(),
    );
    q.drain(&[]).success();
    // By default every status but completed notifies.
    let env = fs::read_to_string(seen.with_extension("env")).unwrap();
    let record_path = q.path("failed/bad.json");
    assert_eq!(
        env.trim(),
        format!("bad.json t-bad failed 3 {}", record_path.display())
    );
    let record: Value =
        serde_json::from_str(&fs::read_to_string(seen.with_extension("json")).unwrap()).unwrap();
    assert_eq!(record["result"]["returncode"], 3);
    assert_eq!(q.result("failed/bad.json")["status"], "failed");
}

#[test]
fn a_jobs_own_notify_beats_the_config_and_a_failing_command_changes_nothing() {
    let q = TestQueue::new();
    let seen = q.scratch("seen.env");
    config(&q, "[notify]\ncommand = 'echo from-config; exit 7'\n");
    let job = serde_json::json!({
        "command": "true",
        "notify": {"on": ["completed"], "command": format!("echo $EXECQ_STATUS > {}", seen.display())},
    });
    q.add("own.json", &job.to_string());
    q.add("plain.json", &shell_job("exit 1"));
    q.drain(&[]).success();
    assert_eq!(fs::read_to_string(&seen).unwrap(), "completed\n");
    // The config's command failed for plain.json: logged, and the record is untouched.
    assert!(q.log().contains("notification failed"), "{}", q.log());
    assert!(q.log().contains("exited 7"), "{}", q.log());
    let plain = q.result("failed/plain.json");
    assert_eq!(plain["status"], "failed");
    assert!(plain.get("notes").is_none(), "{plain:#}");

    let bad = q.run_job(
        "typo.json",
        &serde_json::json!({"command": "true", "notify": {"hook": "x"}}).to_string(),
    );
    assert_eq!(bad["status"], "error");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("`notify`: unknown field `hook`")
    );
}

#[test]
fn a_webhook_posts_the_signed_record() {
    let q = TestQueue::new();
    let (url, received) = server(vec![Some(200)]);
    config(
        &q,
        &format!("[notify]\nwebhook = \"{url}\"\nsecret = \"s3cret\"\n"),
    );
    q.add("fails.json", &shell_job("echo nope; exit 2"));
    q.drain(&[]).success();
    let request = received.recv_timeout(DEADLINE).unwrap();
    let timestamp = request.header("X-Execq-Timestamp").unwrap().to_owned();
    assert_eq!(
        request.header("X-Execq-Signature").unwrap(),
        expected_signature("s3cret", &timestamp, &request.body)
    );
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["result"]["stdout"], "nope\n");
    assert_eq!(body, q.json("failed/fails.json"));
    assert!(outbox(&q).is_empty());
}

#[test]
fn a_failed_delivery_is_retried_later_and_given_up_after_the_window() {
    let q = TestQueue::new();
    let (url, received) = server(vec![Some(500), Some(200), Some(500), Some(500), Some(500)]);
    config(
        &q,
        &format!("[notify]\nwebhook = \"{url}\"\nsecret = \"k\"\n"),
    );
    let start = chrono::Utc::now();
    let at = |secs: i64| {
        (start + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };

    q.add("first.json", &shell_job("exit 1"));
    drain_at(&q, &at(0)).success();
    let first = received.recv_timeout(DEADLINE).unwrap();
    assert_eq!(outbox(&q).len(), 1, "kept after the 500");
    drain_at(&q, &at(10)).success(); // not due yet: the first retry waits 30 s
    assert_eq!(outbox(&q).len(), 1);
    drain_at(&q, &at(31)).success();
    let retried = received.recv_timeout(DEADLINE).unwrap();
    // At least once, so each attempt names the delivery the same way for receivers to dedupe.
    let id = first.header("X-Execq-Delivery").expect("a delivery id");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(retried.header("X-Execq-Delivery"), Some(id));
    let body: Value = serde_json::from_slice(&retried.body).unwrap();
    assert_eq!(body["result"]["returncode"], 1);
    assert!(outbox(&q).is_empty(), "delivered on retry");
    assert!(
        q.log().contains("webhook delivered on retry"),
        "{}",
        q.log()
    );

    q.add("second.json", &shell_job("exit 1"));
    drain_at(&q, &at(100)).success();
    let other = received.recv_timeout(DEADLINE).unwrap();
    assert_ne!(
        other.header("X-Execq-Delivery"),
        Some(id),
        "another record, another id"
    );
    drain_at(&q, &at(200)).success();
    received.recv_timeout(DEADLINE).unwrap();
    assert_eq!(outbox(&q).len(), 1, "still failing, still kept");
    drain_at(&q, &at(100 + 25 * 3600)).success();
    received.recv_timeout(DEADLINE).unwrap();
    assert!(outbox(&q).is_empty());
    assert!(q.log().contains("webhook delivery given up"), "{}", q.log());
}

#[test]
fn a_slow_endpoint_holds_the_drain_no_longer_than_the_timeout() {
    let q = TestQueue::new();
    let (url, received) = server(vec![None]);
    config(&q, &format!("[notify]\nwebhook = \"{url}\"\ntimeout = 1\n"));
    q.add("hangs.json", &shell_job("exit 1"));
    q.add("next.json", &shell_job("true"));
    let started = Instant::now();
    q.drain(&[]).success();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    received.recv_timeout(DEADLINE).unwrap();
    assert_eq!(q.names("completed"), ["next.json"]);
    assert_eq!(outbox(&q).len(), 1);
    assert!(
        q.log().contains("did not answer within 1000 ms"),
        "{}",
        q.log()
    );
}

#[test]
fn notify_test_reports_each_channel() {
    let q = TestQueue::new();
    let no_config = run(q.execq(&["notify", "test"]));
    assert_fails_with(&no_config, 1, "no [notify]");
    let (url, received) = server(vec![Some(204)]);
    let seen = q.scratch("test.env");
    config(
        &q,
        &format!(
            "[notify]\nwebhook = \"{url}\"\ncommand = 'echo $EXECQ_STATUS > {}'\n",
            seen.display()
        ),
    );
    let out = run(q.execq(&["notify", "test", "--json"]));
    out.success();
    let sent: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s["ok"] == true), "{sent:?}");
    received.recv_timeout(DEADLINE).unwrap();
    assert_eq!(fs::read_to_string(&seen).unwrap(), "failed\n");

    config(
        &q,
        "[notify]\nwebhook = \"http://127.0.0.1:9/hook\"\ntimeout = 2\n",
    );
    let refused = run(q.execq(&["notify", "test"]));
    assert_eq!(refused.code(), 1, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("webhook  FAILED"),
        "{}",
        refused.stdout
    );
    assert!(outbox(&q).is_empty(), "a test is not retried");

    config(&q, "[notify]\nwebhook = \"ftp://example\"\n");
    let check = run(q.execq(&["config", "--check"]));
    assert_fails_with(&check, 1, "must be an http:// or https:// address");
}

#[test]
fn desktop_notifications_go_through_notify_send_and_its_absence_is_only_logged() {
    let q = TestQueue::new();
    config(&q, "[notify]\ndesktop = true\n");
    let bin = q.scratch("bin");
    fs::create_dir(&bin).unwrap();
    let shown = q.scratch("shown");
    let fake = bin.join("notify-send");
    fs::write(
        &fake,
        format!("#!/bin/sh\nprintf '%s|' \"$@\" > {}\n", shown.display()),
    )
    .unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    q.add("boom.json", &shell_job("exit 5"));
    let mut drain = q.execq(&["drain"]);
    drain.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    run(drain).success();
    assert_eq!(
        fs::read_to_string(&shown).unwrap(),
        "--app-name=execq|execq: boom.json failed|exit code 5|"
    );

    q.add("again.json", &shell_job("exit 5"));
    let mut drain = q.execq(&["drain"]);
    drain.env("PATH", "/nonexistent");
    run(drain).success();
    assert!(
        q.log().contains("notify-send is not installed"),
        "{}",
        q.log()
    );
    assert_eq!(q.result("failed/again.json")["status"], "failed");
}

/// The README's walk-through: the receiver in scripts/ sees a signed POST arrive and says the
/// signature is valid (and that a wrong secret is not).
#[test]
fn the_readme_receiver_sees_a_signed_post() {
    for (secret, verdict) in [
        ("s3cret", "signature valid"),
        ("other", "signature INVALID"),
    ] {
        let q = TestQueue::new();
        let mut receiver = std::process::Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/webhook-receiver.py"
            ))
            .args(["--port", "0", "--secret", secret])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
        let listening = lines.next().unwrap().unwrap();
        let url = listening.strip_prefix("listening on ").unwrap().to_owned();
        config(
            &q,
            &format!("[notify]\nwebhook = \"{url}\"\nsecret = \"s3cret\"\n"),
        );
        let out = run(q.execq(&["notify", "test"]));
        assert!(out.status.success(), "{}", out.stderr);
        let line = lines.next().unwrap().unwrap();
        receiver.kill().unwrap();
        receiver.wait().unwrap();
        assert!(
            line.contains("execq-notify-test: failed (exit 1)"),
            "{line}"
        );
        assert!(line.ends_with(verdict), "{line}");
    }
}

#[test]
fn a_kept_delivery_is_posted_once_however_many_drains_find_it_due() {
    let q = TestQueue::new();
    // The retry is answered slowly, so the drains started together all find it due meanwhile.
    let slow = Duration::from_millis(1500);
    let (url, received) = server_after(vec![
        (Some(500), Duration::ZERO),
        (Some(200), slow),
        (Some(200), Duration::ZERO),
        (Some(200), Duration::ZERO),
    ]);
    config(&q, &format!("[notify]\nwebhook = \"{url}\"\n"));
    let start = chrono::Utc::now();
    let at = |secs: i64| {
        (start + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    q.add("first.json", &shell_job("exit 1"));
    drain_at(&q, &at(0)).success();
    received.recv_timeout(DEADLINE).unwrap();
    assert_eq!(outbox(&q).len(), 1, "kept after the 500");

    let drains: Vec<_> = (0..3)
        .map(|_| {
            let mut cmd = q.execq(&["drain", "--grace", "1"]);
            cmd.env("EXECQ_NOW", at(31));
            cmd.spawn().unwrap()
        })
        .collect();
    for drain in drains {
        finish(drain).success();
    }
    received.recv_timeout(DEADLINE).unwrap();
    assert!(
        received.try_recv().is_err(),
        "the kept delivery was POSTed more than once"
    );
    assert!(
        outbox(&q).is_empty(),
        "delivered, yet back: {:?}",
        outbox(&q)
    );
}

#[test]
fn a_webhook_urls_credentials_stay_out_of_logs_and_status() {
    let q = TestQueue::new();
    config(
        &q,
        "[notify]\nwebhook = \"http://user:PASSWORD@127.0.0.1:9/hooks/PATHTOKEN?k=QUERYTOKEN#FRAG\"\ntimeout = 1\n",
    );
    q.add("fails.json", &shell_job("exit 1"));
    q.drain(&[]).success();
    let status = run(q.execq(&["status", "--json"]));
    let outbox: String = q
        .names("outbox")
        .iter()
        .map(|n| std::fs::read_to_string(q.path(&format!("outbox/{n}"))).unwrap_or_default())
        .collect();
    assert!(
        q.log().contains("127.0.0.1:9"),
        "the failure is logged: {}",
        q.log()
    );
    for secret in ["PASSWORD", "PATHTOKEN", "QUERYTOKEN", "FRAG"] {
        assert!(!q.log().contains(secret), "daemon.log shows {secret}");
        assert!(!status.stdout.contains(secret), "status shows {secret}");
    }
    // The outbox itself keeps the whole URL: it has to post to it again.
    assert!(outbox.contains("PATHTOKEN"));
}

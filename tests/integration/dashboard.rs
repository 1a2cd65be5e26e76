//! `execq dashboard` and `dashboard = PATH`: one self-contained page, with everything from jobs
//! escaped, rewritten only by drains that did work.

use std::fs;

use crate::util::*;

#[test]
fn the_page_is_self_contained_and_job_output_is_inert() {
    let q = TestQueue::new();
    q.add("fine.json", &shell_job("echo fine"));
    q.add(
        "evil.json",
        &shell_job(
            r#"echo '<script>alert(1)</script></pre><a href="javascript:alert(2)">x</a>'; exit 1"#,
        ),
    );
    q.drain(&[]).success();
    q.add(
        "later.json",
        r#"{"command": "true", "not_before": "2099-01-01T00:00:00+00:00"}"#,
    );
    let out = run(q.execq(&[
        "dashboard",
        "--out",
        q.scratch("page.html").to_str().unwrap(),
    ]));
    assert_eq!(
        out.success().stdout.trim(),
        q.scratch("page.html").display().to_string()
    );
    let page = fs::read_to_string(q.scratch("page.html")).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    for external in [
        "<script", "<a ", "<link", "<img", "src=\"", "@import", "url(",
    ] {
        assert!(!page.contains(external), "the page holds `{external}`");
    }
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;/pre&gt;"),
        "output escaped"
    );
    assert!(page.contains(
        "<div class=\"count completed\" id=\"count-completed\"><span class=\"n\">1</span>"
    ));
    assert!(
        page.contains("<div class=\"count failed\" id=\"count-failed\"><span class=\"n\">1</span>")
    );
    assert!(
        page.contains(
            "<div class=\"count pending\" id=\"count-pending\"><span class=\"n\">1</span>"
        )
    );
    assert!(
        page.contains("not before 2099-01-01T00:00:00+00:00"),
        "why it waits"
    );
    assert!(page.contains("<svg class=\"chart\""));
    assert!(page.contains("prefers-color-scheme:dark"));
}

#[test]
fn a_configured_page_is_rewritten_by_drains_that_did_work_only() {
    let q = TestQueue::new();
    fs::write(q.path("config.toml"), "dashboard = \"page.html\"\n").unwrap();
    q.drain(&[]).success();
    assert!(
        !q.path("page.html").exists(),
        "an idle drain wrote the page"
    );
    q.add("one.json", &shell_job("echo one"));
    q.drain(&[]).success();
    let first = fs::read_to_string(q.path("page.html")).unwrap();
    assert!(first.contains("one.json") && first.contains("http-equiv=\"refresh\""));
    let before = fs::metadata(q.path("page.html"))
        .unwrap()
        .modified()
        .unwrap();
    q.drain(&[]).success();
    assert_eq!(
        fs::metadata(q.path("page.html"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    q.add("two.json", &shell_job("echo two"));
    q.drain(&[]).success();
    assert!(
        fs::read_to_string(q.path("page.html"))
            .unwrap()
            .contains("two.json")
    );
}

/// One HTTP/1.1 request to the served dashboard; returns the status and the body.
pub fn http(port: u16, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

/// The served page's API without a browser (tests/py/test_dashboard.py drives it in Chromium):
/// JSON for status and jobs, the token, the Host check, methods, and a clean stop on SIGINT.
#[test]
fn the_served_api_answers_and_guards_its_actions() {
    let q = TestQueue::new();
    q.add("broken.json", &shell_job("exit 2"));
    q.drain(&[]).success();
    let (server, port, token) = serve(&q);
    assert_eq!(token.len(), 32);
    let get = |path: &str, host: &str| {
        http(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
    };
    let ours = format!("127.0.0.1:{port}");

    let (status, body) = get("/api/status", &ours);
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["counts"]["failed"], 1);
    let (status, body) = get("/api/jobs/broken", &format!("localhost:{port}"));
    assert_eq!(status, 200, "{body}");
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(job["record"]["result"]["returncode"], 2);
    assert_eq!(get("/api/jobs/nothing", &ours).0, 404);
    assert_eq!(get("/api/status", "evil.example").0, 421);
    assert_eq!(get("/api/jobs/broken/retry", &ours).0, 405);
    assert_eq!(get("/nowhere", &ours).0, 404);
    let (status, page) = get("/", &ours);
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"/app.js\""), "{page}");

    let post = |path: &str, headers: &str| {
        http(
            port,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {ours}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    // A drain holds the queue: the retried job waits in pending/ where the test can see it.
    let held = hold_drain_lock(&q);
    assert_eq!(post("/api/jobs/broken/retry", "").0, 403);
    assert_eq!(
        post("/api/jobs/broken/retry", "X-Execq-Token: nope\r\n").0,
        403
    );
    let foreign = format!("X-Execq-Token: {token}\r\nOrigin: http://evil.example\r\n");
    assert_eq!(post("/api/jobs/broken/retry", &foreign).0, 403);
    assert!(
        q.path("failed/broken.json").exists(),
        "a refused retry changed the queue"
    );
    let (status, body) = post(&format!("/api/jobs/broken/retry?token={token}"), "");
    assert_eq!(status, 200, "{body}");
    assert!(q.path("pending/broken.json").exists());
    let (status, body) = post(&format!("/api/jobs/broken/retry?token={token}"), "");
    assert_eq!(status, 409, "{body}");
    drop(held);

    kill(server.id(), libc::SIGINT);
    let out = finish(server);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("dashboard stopped"), "{}", out.stderr);
}

/// Starts `execq dashboard --serve --port 0`; returns it, its port and its token.
pub fn serve(q: &TestQueue) -> (std::process::Child, u16, String) {
    serve_by(q.execq(&["dashboard", "--serve", "--port", "0"]))
}

/// [`serve`] with at most `fds` open file descriptors (`ulimit -n`).
fn serve_with_fd_limit(q: &TestQueue, fds: u32) -> (std::process::Child, u16, String) {
    let execq = q.execq(&["dashboard", "--serve", "--port", "0"]);
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {fds} && exec \"$0\" \"$@\""))
        .arg(execq.get_program())
        .args(execq.get_args())
        .stdin(std::process::Stdio::null());
    serve_by(cmd)
}

fn serve_by(mut cmd: std::process::Command) -> (std::process::Child, u16, String) {
    use std::io::{BufRead, BufReader};
    let mut server = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let (port, token) = url
        .trim()
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split_once("/?token="))
        .map(|(port, token)| (port.parse::<u16>().unwrap(), token.to_owned()))
        .unwrap_or_else(|| panic!("unexpected URL line: {url}"));
    (server, port, token)
}

fn get(port: u16, path: &str) -> (u16, String) {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn the_dashboard_file_is_private_and_shows_env_names_not_values() {
    use std::os::unix::fs::PermissionsExt;
    let q = TestQueue::new();
    q.add(
        "secret.json",
        r#"{"command": "exit 1", "env": {"API_TOKEN": "s3cret-value"}}"#,
    );
    q.drain(&[]).success();
    let out = q.scratch("page.html");
    run(q.execq(&["dashboard", "--out", out.to_str().unwrap()])).success();
    let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let page = fs::read_to_string(&out).unwrap();
    assert!(page.contains("API_TOKEN"), "the name is shown");
    assert!(!page.contains("s3cret-value"), "the value is not");
}

#[test]
fn the_served_dashboard_and_its_api_show_env_names_not_values() {
    let q = TestQueue::new();
    q.add(
        "secret.json",
        r#"{"command": "exit 1", "env": {"API_TOKEN": "s3cret-value"}}"#,
    );
    q.drain(&[]).success();
    let (server, port, _) = serve(&q);
    for path in ["/", "/partial", "/api/jobs/secret"] {
        let (status, body) = get(port, path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains("API_TOKEN"), "{path} names the variable");
        assert!(!body.contains("s3cret-value"), "{path} shows its value");
    }
    kill(server.id(), libc::SIGTERM);
    finish(server);
}

#[test]
fn webhook_secrets_and_misshapen_env_values_stay_off_the_dashboard() {
    let q = TestQueue::new();
    q.add(
        "hook.json",
        r#"{"command": "exit 1", "notify": {"webhook": "http://127.0.0.1:9/T0/B0/hook-path-token", "secret": "sign-secret"}}"#,
    );
    q.add(
        "oddenv.json",
        r#"{"command": "exit 1", "env": "ENV-AS-STRING-VALUE"}"#,
    );
    q.add(
        "pairs.json",
        r#"{"command": "exit 1", "env": [["TOK", "PAIR-VALUE"]]}"#,
    );
    q.drain(&[]).success();
    let secrets = [
        "sign-secret",
        "hook-path-token",
        "ENV-AS-STRING-VALUE",
        "PAIR-VALUE",
    ];
    let page = q.scratch("page.html");
    run(q.execq(&["dashboard", "--out", page.to_str().unwrap()])).success();
    let file = std::fs::read_to_string(&page).unwrap();
    let (server, port, _) = serve(&q);
    let mut bodies = vec![("file".to_owned(), file)];
    for path in [
        "/",
        "/partial",
        "/api/jobs/hook",
        "/api/jobs/oddenv",
        "/api/jobs/pairs",
    ] {
        let (status, body) = get(port, path);
        assert_eq!(status, 200, "{path}: {body}");
        bodies.push((path.to_owned(), body));
    }
    for (place, body) in &bodies {
        for secret in secrets {
            assert!(!body.contains(secret), "{place} shows `{secret}`");
        }
    }
    kill(server.id(), libc::SIGTERM);
    finish(server);
}

/// A client that sends requests and never reads the answers, and one that connects and says
/// nothing, hold only their own connections: another client is answered, and SIGTERM stops the
/// server.
#[test]
fn a_client_that_never_reads_does_not_freeze_the_served_dashboard() {
    use std::io::Write;
    let q = TestQueue::new();
    q.add(
        "big.json",
        &shell_job("head -c 400000 /dev/zero | tr '\\0' x"),
    );
    q.drain(&[]).success();
    let (server, port, _) = serve(&q);
    let mut stuck = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!("GET /api/jobs/big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stuck
        .set_write_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    // Pipelined requests whose answers (tens of megabytes) fill every buffer on the way back.
    for _ in 0..200 {
        if stuck.write_all(request.as_bytes()).is_err() {
            break;
        }
    }
    let _silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();

    let (status, body) = get(port, "/api/status");
    assert_eq!(status, 200, "{body}");

    kill(server.id(), libc::SIGTERM);
    let out = finish(server);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    drop(stuck);
}

/// Connections that say nothing, `n` of them (those the system lets us open).
fn idle_connections(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    (0..n)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5)).ok()
        })
        .collect()
}

/// The status of `GET /api/status`, or `None` if the connection failed (refused, reset).
fn try_status(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    std::str::from_utf8(response.get(9..12)?).ok()?.parse().ok()
}

/// Polls `GET /api/status` until it answers 200; fails after `deadline`.
fn answers_within(port: u16, deadline: std::time::Duration) {
    let start = std::time::Instant::now();
    let mut last = None;
    while start.elapsed() < deadline {
        last = try_status(port);
        if last == Some(200) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("GET /api/status did not answer 200 within {deadline:?}; last: {last:?}");
}

/// Reads `stream` until the server closes it; returns what came, or fails after `deadline`.
fn closed_within(stream: &mut std::net::TcpStream, deadline: std::time::Duration) -> Vec<u8> {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    while start.elapsed() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(_) => {}
        }
    }
    panic!("the server kept the connection open for {deadline:?}");
}

/// More idle connections than the server serves at once: the ones beyond its limit are answered
/// 503 and closed at once, the others are closed when their time to send a request is up, and a
/// client that asks meanwhile is answered.
#[test]
fn idle_connections_beyond_the_limit_do_not_freeze_the_served_dashboard() {
    let q = TestQueue::new();
    let (server, port, _) = serve(&q);
    let mut idle = idle_connections(port, 100);
    assert_eq!(idle.len(), 100);
    let beyond = closed_within(idle.last_mut().unwrap(), std::time::Duration::from_secs(3));
    let beyond = String::from_utf8_lossy(&beyond);
    assert!(
        beyond.is_empty() || beyond.starts_with("HTTP/1.1 503"),
        "{beyond}"
    );

    answers_within(port, std::time::Duration::from_secs(30));

    kill(server.id(), libc::SIGTERM);
    let out = finish(server);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("dashboard stopped"), "{}", out.stderr);
    drop(idle);
}

/// A connection that sends nothing, or half a request, is closed by the server in seconds: it
/// does not hold a thread (or a file descriptor) for ever.
#[test]
fn a_silent_or_slow_connection_is_closed_by_the_served_dashboard() {
    use std::io::Write;
    let q = TestQueue::new();
    let (server, port, _) = serve(&q);
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1")
        .unwrap();

    let said = closed_within(&mut silent, std::time::Duration::from_secs(20));
    assert!(said.is_empty(), "{}", String::from_utf8_lossy(&said));
    let said = closed_within(&mut slow, std::time::Duration::from_secs(20));
    let said = String::from_utf8_lossy(&said);
    assert!(
        said.is_empty() || said.starts_with("HTTP/1.1 408"),
        "{said}"
    );

    kill(server.id(), libc::SIGTERM);
    assert_eq!(finish(server).code(), 0);
}

/// With few file descriptors (`ulimit -n 64`), more connections than it can open make accepting
/// fail (EMFILE): the server waits and accepts again, and answers once they are gone.
#[test]
fn the_served_dashboard_survives_running_out_of_file_descriptors() {
    let q = TestQueue::new();
    q.add("done.json", &shell_job("true"));
    q.drain(&[]).success();
    let (server, port, _) = serve_with_fd_limit(&q, 64);
    let idle = idle_connections(port, 100);
    assert!(idle.len() > 64, "only {} connections", idle.len());
    drop(idle);

    answers_within(port, std::time::Duration::from_secs(30));
    let (status, body) = get(port, "/api/jobs/done");
    assert_eq!(status, 200, "{body}");

    kill(server.id(), libc::SIGTERM);
    let out = finish(server);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("dashboard stopped"), "{}", out.stderr);
}

//! `execq dashboard --serve`: the page live from a small HTTP server on 127.0.0.1.
//!
//! | route                          | what                                              |
//! |--------------------------------|---------------------------------------------------|
//! | `GET /`                        | the page ([`Mode::Served`])                       |
//! | `GET /partial`                 | its live part, which `/app.js` swaps in every 2 s |
//! | `GET /api/status`              | `execq status --json`                             |
//! | `GET /api/jobs/REF`            | `execq show --json REF`                           |
//! | `POST /api/jobs/REF/retry`     | `execq retry REF` — token and origin checked      |
//! | `POST /api/jobs/REF/cancel`    | `execq cancel REF` — token and origin checked     |
//!
//! Who may do what: the socket is bound to 127.0.0.1 only. Every request must name us in `Host`
//! (`127.0.0.1:PORT` or `localhost:PORT`), so a web page that rebinds its own DNS name to
//! 127.0.0.1 gets nothing. No response allows other origins (no CORS headers), so another page in
//! the browser cannot read the API. The actions change the queue, so they also need the random
//! token made at start and printed in the URL (header `X-Execq-Token` or `?token=`), and a
//! request that carries an `Origin` must carry ours: another local user, or another page, cannot
//! retry or cancel jobs. Reading needs no token, like reading the queue's files needs no more
//! than reaching them; the page shows no secret (jobs' `env` values are left out).

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::dashboard::page::{self, Mode};
use crate::exit_code::ExitCode;
use crate::ops::cancel::{self, Origin};
use crate::ops::kick::{self, Launch};
use crate::ops::view::Detail;
use crate::queue::Queue;
use crate::signals::Shutdown;
use crate::sys;

/// The port `--serve` listens on unless `--port` says otherwise.
pub const DEFAULT_PORT: u16 = 8767;

const APP_JS: &str = include_str!("dashboard/app.js");

/// Content-Security-Policy of every response: our own script only, nothing from anywhere else.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                   style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// A connection's answering thread ends after this long without a request.
const IDLE: Duration = Duration::from_secs(30);

/// How long one write to a client may block: a client that stops reading loses its connection
/// then, instead of holding a thread.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

struct Live {
    queue: Queue,
    port: u16,
    token: String,
}

/// One answering thread per connection: a client that does not read its answers holds up only
/// itself (answers on one connection go out in order, so its next answer waits either way), and
/// there are no more threads than tiny_http already keeps, one per connection, for reading.
#[derive(Default)]
struct Answerers {
    by_client: HashMap<SocketAddr, (mpsc::Sender<Request>, Instant)>,
}

impl Answerers {
    fn dispatch(&mut self, live: &Arc<Live>, request: Request) {
        let Some(client) = request.remote_addr().copied() else {
            let live = Arc::clone(live);
            Self::spawn(move || live.handle(request));
            return;
        };
        let request = match self.by_client.get_mut(&client) {
            Some((queue, used)) => match queue.send(request) {
                Ok(()) => {
                    *used = Instant::now();
                    return;
                }
                Err(mpsc::SendError(request)) => request,
            },
            None => request,
        };
        let (queue, requests) = mpsc::channel();
        let _ = queue.send(request);
        let live = Arc::clone(live);
        Self::spawn(move || {
            for request in requests {
                live.handle(request);
            }
        });
        self.by_client.insert(client, (queue, Instant::now()));
    }

    /// Lets the threads of idle connections end, once they have answered all they were given.
    fn prune(&mut self) {
        self.by_client.retain(|_, (_, used)| used.elapsed() < IDLE);
    }

    fn spawn(work: impl FnOnce() + Send + 'static) {
        let spawned = std::thread::Builder::new()
            .name("dashboard-client".into())
            .spawn(work);
        if let Err(e) = spawned {
            tracing::warn!("dashboard: cannot start a thread for a client: {e}");
        }
    }
}

/// Serves until Ctrl-C (or SIGTERM/SIGHUP); prints the URL, with its token, first.
pub fn serve(queue: &Queue, port: u16, open: bool) -> Result<ExitCode> {
    let shutdown = Shutdown::install().context("failed to install signal handlers")?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        anyhow!("cannot listen on 127.0.0.1:{port}: {e}; choose another port with --port (0 picks a free one)")
    })?;
    sys::set_accepted_send_timeout(&listener, SEND_TIMEOUT)
        .context("cannot set the dashboard's send timeout")?;
    let server = Server::from_listener(listener, None)
        .map_err(|e| anyhow!("cannot serve on 127.0.0.1:{port}: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .map_or(port, |addr| addr.port());
    let state = Arc::new(Live {
        queue: queue.clone(),
        port,
        token: new_token()?,
    });
    let url = format!("http://127.0.0.1:{port}/?token={}", state.token);
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")?;
        out.flush()?;
    }
    eprintln!(
        "execq: serving the dashboard of {} — Ctrl-C stops",
        queue.root.display()
    );
    if open {
        sys::open_in_browser(&url)?;
    }
    let mut answerers = Answerers::default();
    while shutdown.requested().is_none() {
        answerers.prune();
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => answerers.dispatch(&state, request),
            Ok(None) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("the dashboard server failed"),
        }
    }
    eprintln!("execq: dashboard stopped");
    Ok(ExitCode::Success)
}

/// 128 random bits, as hex.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no random bytes for the token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A response: status, content type, body.
struct Reply(u16, &'static str, String);

impl Reply {
    fn json(status: u16, value: &Value) -> Self {
        Self(status, "application/json", value.to_string())
    }

    fn error(status: u16, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::json(status, &json!({"ok": false, "error": message}))
    }
}

impl Live {
    fn handle(&self, request: Request) {
        let reply = self.route(&request);
        self.send(request, reply);
    }

    fn send(&self, request: Request, reply: Reply) {
        let Reply(status, content_type, body) = reply;
        let mut response = Response::from_string(body).with_status_code(status);
        for (name, value) in [
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Security-Policy", CSP),
        ] {
            if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        // A client that went away is not our problem.
        let _ = request.respond(response);
    }

    fn route(&self, request: &Request) -> Reply {
        if !self.host_is_ours(request) {
            return Reply::error(421, "this server answers to 127.0.0.1 and localhost only");
        }
        let url = request.url();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let method = request.method();
        match (method, segments.as_slice()) {
            (Method::Get | Method::Head, [""]) => {
                self.html(page::render(&self.queue, Mode::Served))
            }
            (Method::Get | Method::Head, ["partial"]) => {
                self.html(page::render_live(&self.queue, Mode::Served))
            }
            (Method::Get | Method::Head, ["app.js"]) => {
                Reply(200, "text/javascript; charset=utf-8", APP_JS.to_owned())
            }
            (Method::Get | Method::Head, ["api", "status"]) => {
                match crate::ops::status::report(&self.queue, crate::service::DEFAULT_LABEL) {
                    Ok(report) => Reply::json(200, &json!(report)),
                    Err(e) => Reply::error(500, format!("{e:#}")),
                }
            }
            (Method::Get | Method::Head, ["api", "jobs", reference]) => {
                let found = decode(reference)
                    .and_then(|r| crate::ops::get::get(&self.queue, &r, Detail::Record));
                match found {
                    Ok(mut job) => {
                        job.record = job.record.take().map(crate::dashboard::redacted);
                        Reply::json(200, &json!(job))
                    }
                    Err(e) => Reply::error(404, format!("{e:#}")),
                }
            }
            (Method::Post, ["api", "jobs", reference, action @ ("retry" | "cancel")]) => {
                self.act(request, query, reference, action)
            }
            (_, ["api", "jobs", _, "retry" | "cancel"]) => {
                Reply::error(405, "retry and cancel are POST requests")
            }
            _ => Reply::error(404, format!("no such page: {path}")),
        }
    }

    fn html(&self, page: Result<String>) -> Reply {
        match page {
            Ok(html) => Reply(200, "text/html; charset=utf-8", html),
            Err(e) => Reply::error(500, format!("{e:#}")),
        }
    }

    fn host_is_ours(&self, request: &Request) -> bool {
        header(request, "Host").is_some_and(|host| {
            host == format!("127.0.0.1:{}", self.port) || host == format!("localhost:{}", self.port)
        })
    }

    /// Retry or cancel, once the request proved it comes from the page we served.
    fn act(&self, request: &Request, query: &str, reference: &str, action: &str) -> Reply {
        if let Some(origin) = header(request, "Origin") {
            let ours = [
                format!("http://127.0.0.1:{}", self.port),
                format!("http://localhost:{}", self.port),
            ];
            if !ours.iter().any(|o| *o == origin) {
                tracing::warn!(%origin, action, "dashboard request refused: foreign origin");
                return Reply::error(
                    403,
                    format!("requests from {origin} may not change the queue"),
                );
            }
        }
        let given = header(request, "X-Execq-Token")
            .map(str::to_owned)
            .or_else(|| token_in(query));
        let Some(given) = given else {
            return Reply::error(
                403,
                "this needs the dashboard's token: open the URL `execq dashboard --serve` printed",
            );
        };
        if !bool::from(given.as_bytes().ct_eq(self.token.as_bytes())) {
            tracing::warn!(action, "dashboard request refused: wrong token");
            return Reply::error(
                403,
                "wrong token: open the URL the running `execq dashboard --serve` printed",
            );
        }
        let reference = match decode(reference) {
            Ok(r) => r,
            Err(e) => return Reply::error(400, format!("{e:#}")),
        };
        let done = if action == "retry" {
            crate::ops::retry::retry(&self.queue, &reference).map(|path| {
                if let Err(e) = kick::kick(&self.queue, Launch::Process) {
                    tracing::warn!("the job is queued, but no drain could be started: {e:#}");
                }
                format!("`{reference}` is pending again, as {}", path.display())
            })
        } else {
            cancel::cancel(&self.queue, &reference, Origin::Dashboard)
                .map(|c| format!("{} {} ({})", c.job(), c.status(), c.detail()))
        };
        match done {
            Ok(message) => {
                tracing::info!(job = %reference, action, "done from the dashboard");
                Reply::json(200, &json!({"ok": true, "message": message}))
            }
            Err(e) => Reply::error(409, format!("{e:#}")),
        }
    }
}

/// The value of `name` (first of them), as text.
fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn token_in(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .and_then(|t| decode(t).ok())
}

/// A percent-encoded path segment or query value, as text.
fn decode(text: &str) -> Result<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| anyhow!("`{text}` is not percent-encoded UTF-8"))
}

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
//! | `POST /api/jobs/REF/hold`, `release`, `rerun` | `execq hold`, `release`, `rerun` — the same checks |
//! | `POST /api/queue/pause`, `resume` (`?group=G`) | `execq pause`, `resume` — the same checks |
//!
//! Who may do what: the socket is bound to 127.0.0.1 only. Every request must name us in `Host`
//! (`127.0.0.1:PORT` or `localhost:PORT`), so a web page that rebinds its own DNS name to
//! 127.0.0.1 gets nothing. No response allows other origins (no CORS headers), so another page in
//! the browser cannot read the API. The actions change the queue, so they also need the random
//! token made at start and printed in the URL (header `X-Execq-Token` or `?token=`), and a
//! request that carries an `Origin` must carry ours: another local user, or another page, cannot
//! retry or cancel jobs. Reading needs no token, like reading the queue's files needs no more
//! than reaching them; the page shows no secret (jobs' `env` values are left out).
//!
//! The server under it is our own, small and bounded (`http.rs`): any local user can reach
//! 127.0.0.1, so none may hold it. Connections are capped, each must send its request within a
//! few seconds and read its answer within a few more, and running out of file descriptors only
//! pauses accepting: see that module for the limits.

mod http;

/// The actions on one job the served page may ask for.
macro_rules! JOB_ACTIONS {
    () => {
        "retry" | "cancel" | "hold" | "release" | "rerun"
    };
}

use std::io::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use self::http::{Request, Response};
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

const APP_JS: &str = include_str!("../dashboard/app.js");

/// Content-Security-Policy of every response: our own script only, nothing from anywhere else.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                   style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// Sent with every response, besides its type and length.
const HEADERS: &[(&str, &str)] = &[
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", CSP),
];

struct Live {
    queue: Queue,
    port: u16,
    token: String,
}

/// Serves until Ctrl-C (or SIGTERM/SIGHUP); prints the URL, with its token, first.
pub fn serve(queue: &Queue, port: u16, open: bool) -> Result<ExitCode> {
    let shutdown = Shutdown::install().context("failed to install signal handlers")?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        anyhow!("cannot listen on 127.0.0.1:{port}: {e}; choose another port with --port (0 picks a free one)")
    })?;
    let port = listener.local_addr().map_or(port, |addr| addr.port());
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
    http::serve(listener, &shutdown, HEADERS, move |request| {
        let Reply(status, content_type, body) = state.route(request);
        Response {
            status,
            content_type,
            body,
        }
    });
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
    fn route(&self, request: &Request) -> Reply {
        if !self.host_is_ours(request) {
            return Reply::error(421, "this server answers to 127.0.0.1 and localhost only");
        }
        let url = request.target.as_str();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET" | "HEAD", [""]) => self.html(page::render(&self.queue, Mode::Served)),
            ("GET" | "HEAD", ["partial"]) => {
                self.html(page::render_live(&self.queue, Mode::Served))
            }
            ("GET" | "HEAD", ["app.js"]) => {
                Reply(200, "text/javascript; charset=utf-8", APP_JS.to_owned())
            }
            ("GET" | "HEAD", ["api", "status"]) => {
                match crate::ops::status::report(&self.queue, crate::service::DEFAULT_LABEL) {
                    Ok(report) => Reply::json(200, &json!(report)),
                    Err(e) => Reply::error(500, format!("{e:#}")),
                }
            }
            ("GET" | "HEAD", ["api", "jobs", reference]) => {
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
            ("POST", ["api", "jobs", reference, action @ JOB_ACTIONS!()]) => self
                .authorized(request, query, action)
                .unwrap_or_else(|| self.act(reference, action)),
            ("POST", ["api", "queue", action @ ("pause" | "resume")]) => self
                .authorized(request, query, action)
                .unwrap_or_else(|| self.steer(query, action)),
            (_, ["api", "jobs", _, JOB_ACTIONS!()] | ["api", "queue", "pause" | "resume"]) => {
                Reply::error(405, "actions are POST requests")
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
        request.header("Host").is_some_and(|host| {
            host == format!("127.0.0.1:{}", self.port) || host == format!("localhost:{}", self.port)
        })
    }

    /// `None` when the request proved it comes from the page we served (its origin, if it
    /// names one, is ours, and it carries the token); else the refusal.
    fn authorized(&self, request: &Request, query: &str, action: &str) -> Option<Reply> {
        if let Some(origin) = request.header("Origin") {
            let ours = [
                format!("http://127.0.0.1:{}", self.port),
                format!("http://localhost:{}", self.port),
            ];
            if !ours.iter().any(|o| *o == origin) {
                tracing::warn!(%origin, action, "dashboard request refused: foreign origin");
                return Some(Reply::error(
                    403,
                    format!("requests from {origin} may not change the queue"),
                ));
            }
        }
        let given = request
            .header("X-Execq-Token")
            .map(str::to_owned)
            .or_else(|| token_in(query));
        let Some(given) = given else {
            return Some(Reply::error(
                403,
                "this needs the dashboard's token: open the URL `execq dashboard --serve` printed",
            ));
        };
        if !bool::from(given.as_bytes().ct_eq(self.token.as_bytes())) {
            tracing::warn!(action, "dashboard request refused: wrong token");
            return Some(Reply::error(
                403,
                "wrong token: open the URL the running `execq dashboard --serve` printed",
            ));
        }
        None
    }

    fn kick(&self) {
        if let Err(e) = kick::kick(&self.queue, Launch::Process) {
            tracing::warn!("the queue may run again, but no drain could be started: {e:#}");
        }
    }

    /// An action on one job, authorized.
    fn act(&self, reference: &str, action: &str) -> Reply {
        let reference = match decode(reference) {
            Ok(r) => r,
            Err(e) => return Reply::error(400, format!("{e:#}")),
        };
        let queued = |path: std::path::PathBuf| {
            self.kick();
            crate::queue::names::display_name(path.file_name().unwrap_or_default())
        };
        let door = crate::job::sandbox::Origin::Dashboard;
        let done = match action {
            "retry" => crate::ops::retry::retry(&self.queue, &reference, door)
                .map(|path| format!("`{reference}` is pending again, as {}", queued(path))),
            "rerun" => {
                crate::ops::rerun::rerun(&self.queue, &reference, door, |_| Ok(())).map(|path| {
                    format!(
                        "a fresh copy of `{reference}` is queued as {}",
                        queued(path)
                    )
                })
            }
            "hold" => crate::ops::edit::hold(&self.queue, &reference)
                .map(|done| format!("`{}` is held", done.name)),
            "release" => crate::ops::edit::release(&self.queue, &reference).map(|done| {
                self.kick();
                format!("`{}` is released", done.name)
            }),
            _ => cancel::cancel(&self.queue, &reference, Origin::Dashboard)
                .map(|c| format!("{} {} ({})", c.job(), c.status(), c.detail())),
        };
        match done {
            Ok(message) => {
                tracing::info!(job = %reference, action, "done from the dashboard");
                Reply::json(200, &json!({"ok": true, "message": message}))
            }
            Err(e) => Reply::error(409, format!("{e:#}")),
        }
    }

    /// Pause or resume the queue (or `?group=`), authorized.
    fn steer(&self, query: &str, action: &str) -> Reply {
        let group = query
            .split('&')
            .find_map(|p| p.strip_prefix("group="))
            .map(decode);
        let group = match group.transpose() {
            Ok(group) => group,
            Err(e) => return Reply::error(400, format!("{e:#}")),
        };
        let door = crate::job::sandbox::Origin::Dashboard;
        let done = if action == "pause" {
            crate::ops::pause::pause(&self.queue, group.as_deref(), door)
        } else {
            crate::ops::pause::resume(&self.queue, group.as_deref(), door).inspect(|_| self.kick())
        };
        match done {
            Ok(changed) => Reply::json(
                200,
                &json!({"ok": true, "message": format!("{} {}{}", changed.scope, if changed.paused { "paused" } else { "resumed" }, if changed.unchanged { " (already)" } else { "" })}),
            ),
            Err(e) => Reply::error(400, format!("{e:#}")),
        }
    }
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

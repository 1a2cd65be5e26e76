//! The small HTTP/1.1 server under the dashboard: our own accept loop, one bounded thread per
//! connection, one request per connection (`Connection: close`), heads parsed by `httparse`.
//!
//! What a client can hold, and for how long:
//! - at most [`MAX_CONNECTIONS`] connections are served at once; one more is answered 503 and
//!   closed at once, and the others go on being served;
//! - the whole request head must arrive within [`HEAD_TIMEOUT`] of the connection, and be at most
//!   [`MAX_HEAD`] bytes (431 beyond); a connection that sends nothing is closed then;
//! - a body (only `Content-Length`, at most [`MAX_BODY`] bytes) is read and ignored;
//! - each write to the client may block for [`WRITE_TIMEOUT`], the whole answer for
//!   [`ANSWER_TIMEOUT`]: a client that does not read loses its connection then;
//! - running out of file descriptors (EMFILE, ENFILE) or memory while accepting makes the loop wait
//!   [`BACKOFF`] and accept again: it never stops listening. Only a stop signal ends it, within
//!   [`TICK`].

use std::io::{self, Read, Write};
use std::net::{Shutdown as Close, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::signals::Shutdown;
use crate::sys;

/// Connections served at once; each has a thread.
pub const MAX_CONNECTIONS: usize = 64;
/// The time from accepting a connection to having its whole request head (and body).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 64;
/// The largest request body read (and ignored); none of our routes needs one.
pub const MAX_BODY: usize = 16 * 1024;
/// How long one write to a client may block.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the whole answer may take to send.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the loop waits after an accept failed for want of descriptors or memory.
pub const BACKOFF: Duration = Duration::from_millis(100);
/// How often the accept loop checks for a stop signal.
pub const TICK: Duration = Duration::from_millis(200);
/// After answering, how long we wait for the client to close, so that closing with its unread
/// bytes still queued does not reset the connection before it has read the answer.
const LINGER: Duration = Duration::from_secs(1);

/// A parsed request: what the routes look at.
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    /// The value of header `name` (the first of them, any case), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, content type, body, and headers sent with every answer.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Serves `answer` on `listener` until `shutdown` reports a stop signal. Errors accepting a
/// connection are waited out, never returned: the server keeps listening.
pub fn serve<F>(
    listener: TcpListener,
    shutdown: &Shutdown,
    headers: &'static [(&str, &str)],
    answer: F,
) where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    let open = Arc::new(AtomicUsize::new(0));
    let mut failing = false;
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::warn!("dashboard: cannot make the listening socket non-blocking: {e}");
    }
    while shutdown.requested().is_none() {
        let ready = sys::poll_readable(&[listener.as_fd()], TICK.as_millis() as i32);
        if !matches!(ready.as_deref(), Ok([true])) {
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                failing = false;
                let slot = Slot::take(&open);
                let Some(slot) = slot else {
                    refuse(stream, headers);
                    continue;
                };
                let answer = Arc::clone(&answer);
                let spawned = std::thread::Builder::new()
                    .name("dashboard-client".into())
                    .spawn(move || {
                        let _slot = slot;
                        connection(stream, headers, &*answer);
                    });
                if let Err(e) = spawned {
                    tracing::warn!("dashboard: cannot start a thread for a client: {e}");
                }
            }
            Err(e) if is_transient(&e) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!("dashboard: cannot accept connections for now: {e}");
                    failing = true;
                }
                std::thread::sleep(BACKOFF);
            }
        }
    }
}

/// Errors of one connection attempt only, which the next accept does not repeat.
fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One of the [`MAX_CONNECTIONS`] places, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Option<Self> {
        let taken = open.fetch_add(1, Ordering::SeqCst);
        let slot = Self(Arc::clone(open));
        (taken < MAX_CONNECTIONS).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers a connection beyond the limit with 503 and closes it, without waiting on it: the
/// answer fits an empty socket buffer, and a client that cannot take it at once gets nothing.
/// What the client already sent is read first, so that closing does not reset the connection.
fn refuse(mut stream: TcpStream, headers: &[(&str, &str)]) {
    let busy = text(
        503,
        "too many connections to the dashboard; try again shortly",
    );
    if stream.set_nonblocking(true).is_ok() {
        let _ = stream.write_all(&head(&busy, headers, busy.body.len()));
        let _ = stream.write_all(busy.body.as_bytes());
        let _ = stream.shutdown(Close::Write);
        let _ = stream.read(&mut [0u8; 4096]);
    }
}

/// Reads one request from `stream`, answers it and closes the connection.
fn connection(
    mut stream: TcpStream,
    headers: &[(&str, &str)],
    answer: &dyn Fn(&Request) -> Response,
) {
    // Accepted sockets inherit non-blocking mode from the listener on macOS, not on Linux.
    if stream.set_nonblocking(false).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let (response, head_only) = match read_request(&mut stream, deadline) {
        Ok(request) => (answer(&request), request.method == "HEAD"),
        Err(Refusal::Silent) => return,
        Err(Refusal::Status(status, message)) => (text(status, message), false),
    };
    let _ = send(&mut stream, &response, headers, head_only);
    linger(stream);
}

/// Why a request is not answered by the routes.
enum Refusal {
    /// Nothing to say: the client sent nothing, or went away.
    Silent,
    Status(u16, &'static str),
}

/// The request head, and its body read and dropped, all by `deadline`.
fn read_request(stream: &mut TcpStream, deadline: Instant) -> Result<Request, Refusal> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(Refusal::Status(431, "the request head is too large"));
        }
        let n = read_by(stream, &mut buf[len..], deadline).map_err(|e| match e.kind() {
            io::ErrorKind::TimedOut if len > 0 => {
                Refusal::Status(408, "the request did not arrive in time")
            }
            _ => Refusal::Silent,
        })?;
        if n == 0 {
            return Err(Refusal::Silent);
        }
        len += n;
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut fields);
        match parsed.parse(&buf[..len]) {
            Ok(httparse::Status::Partial) => continue,
            Ok(httparse::Status::Complete(end)) => {
                let request = to_request(&parsed)?;
                skip_body(stream, &request, len - end, deadline)?;
                return Ok(request);
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Refusal::Status(431, "the request has too many headers"));
            }
            Err(_) => return Err(Refusal::Status(400, "malformed request")),
        }
    }
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Result<Request, Refusal> {
    let bad = Refusal::Status(400, "malformed request");
    let mut headers = Vec::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let value = std::str::from_utf8(field.value)
            .map_err(|_| Refusal::Status(400, "a header is not UTF-8"))?;
        headers.push((field.name.to_owned(), value.trim().to_owned()));
    }
    Ok(Request {
        method: parsed.method.ok_or(bad)?.to_owned(),
        target: parsed.path.unwrap_or("").to_owned(),
        headers,
    })
}

/// Reads and drops the request's body; `already` bytes of it came with the head.
fn skip_body(
    stream: &mut TcpStream,
    request: &Request,
    already: usize,
    deadline: Instant,
) -> Result<(), Refusal> {
    if request.header("Transfer-Encoding").is_some() {
        return Err(Refusal::Status(
            411,
            "a request body needs a Content-Length",
        ));
    }
    let length = match request.header("Content-Length") {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| Refusal::Status(400, "bad Content-Length"))?,
    };
    if length > MAX_BODY {
        return Err(Refusal::Status(413, "the request body is too large"));
    }
    let mut left = length.saturating_sub(already);
    let mut scratch = [0u8; 4096];
    while left > 0 {
        let want = left.min(scratch.len());
        match read_by(stream, &mut scratch[..want], deadline) {
            Ok(0) | Err(_) => return Err(Refusal::Silent),
            Ok(n) => left -= n,
        }
    }
    Ok(())
}

/// One read that gives up at `deadline` with `TimedOut`.
fn read_by(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::ErrorKind::TimedOut.into());
            }
            other => return other,
        }
    }
}

/// Writes the answer, in pieces, giving up at [`ANSWER_TIMEOUT`].
fn send(
    stream: &mut TcpStream,
    response: &Response,
    headers: &[(&str, &str)],
    head_only: bool,
) -> io::Result<()> {
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    stream.write_all(&head(response, headers, response.body.len()))?;
    if head_only {
        return Ok(());
    }
    for piece in response.body.as_bytes().chunks(64 * 1024) {
        if Instant::now() > deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.write_all(piece)?;
    }
    stream.flush()
}

/// Says we are done, then waits briefly for the client to close its side.
fn linger(mut stream: TcpStream) {
    if stream.shutdown(Close::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut scratch = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_HEAD {
        match read_by(&mut stream, &mut scratch, deadline) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// The status line and headers of `response`.
fn head(response: &Response, headers: &[(&str, &str)], length: usize) -> Vec<u8> {
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nDate: {date}\r\nContent-Type: {}\r\nContent-Length: {length}\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// An answer of the server itself, before any route: JSON, as the API's errors are.
fn text(status: u16, message: &str) -> Response {
    Response {
        status,
        content_type: "application/json",
        body: serde_json::json!({"ok": false, "error": message}).to_string(),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

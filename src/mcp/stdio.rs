//! The stdio between the client and rmcp. rmcp drops a line that is not JSON, and a line over its
//! length limit, without a word, so a client waits forever for their answers. Lines pass through
//! here first: one over [`MAX_REQUEST`] bytes gets an Invalid Request error (read and thrown away
//! as it comes, never held), one that is not UTF-8 or not JSON a Parse error, both with id `null`
//! as JSON-RPC says; everything else goes on to rmcp unchanged. Answers from both reach stdout as
//! whole lines.

use std::io;
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::{Mutex, mpsc};

use super::tasks::{Route, Tasks};
use tokio::task::JoinHandle;

/// The largest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 16 * 1024 * 1024;

/// The tasks that move lines between the client and the server.
pub struct Relay {
    input: JoinHandle<()>,
    output: JoinHandle<io::Result<()>>,
}

impl Relay {
    /// Starts moving lines between `input`, `output` and the server, whose own input and output
    /// are returned.
    /// `tasks` sees every line on the way (see `mcp::tasks`).
    pub fn start<R, W>(input: R, output: W, tasks: Arc<Tasks>) -> (DuplexStream, DuplexStream, Self)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (to_server, read) = tokio::io::duplex(64 * 1024);
        let to_server = Arc::new(Mutex::new(to_server));
        let (write, from_server) = tokio::io::duplex(64 * 1024);
        let (lines, outgoing) = mpsc::channel(64);
        let errors = lines.clone();
        let input = tokio::spawn(filter(
            input,
            Arc::clone(&to_server),
            errors,
            Arc::clone(&tasks),
        ));
        tokio::spawn(forward(from_server, lines, to_server, tasks));
        let output = tokio::spawn(write_out(outgoing, output));
        (read, write, Self { input, output })
    }

    /// Once the server is done: stops reading the client, and writes out what is left.
    pub async fn finish(self) -> io::Result<()> {
        self.input.abort();
        self.output.await.unwrap_or(Ok(()))
    }
}

/// A JSON-RPC error answer to a request whose id is unknown.
fn error_line(code: i64, message: &str) -> Vec<u8> {
    let mut line =
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
            .to_string()
            .into_bytes();
    line.push(b'\n');
    line
}

/// One line from the client, at most [`MAX_REQUEST`] bytes of it kept.
enum Line {
    Whole(Vec<u8>),
    TooLong,
    End,
}

async fn read_line<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                Line::End
            } else if too_long {
                Line::TooLong
            } else {
                Line::Whole(line)
            });
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1);
        if !too_long && line.len() + take > MAX_REQUEST + 1 {
            too_long = true;
            line = Vec::new();
        }
        if !too_long {
            line.extend_from_slice(&available[..take]);
        }
        input.consume(take);
        if newline.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Whole(line)
            });
        }
    }
}

/// Whether a line is JSON that rmcp can read: UTF-8 throughout (rmcp reads lines as text and drops
/// one that is not, strings included), and JSON to the end, strings decoded (a lone surrogate
/// escape such as `"\ud800"` is not a string rmcp can take). The answer to a line that is not has
/// id `null`, as JSON-RPC says for a request whose id could not be read: an id dug out of a line
/// that does not parse would be a guess, and a wrong id is worse for a client than none.
fn parse(text: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(text).map_err(|e| {
        format!(
            "the request is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    serde_json::from_str::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Writes one whole line to the server.
async fn to_server(server: &Mutex<DuplexStream>, line: &[u8]) -> io::Result<()> {
    let mut server = server.lock().await;
    server.write_all(line).await?;
    if !line.ends_with(b"\n") {
        server.write_all(b"\n").await?;
    }
    Ok(())
}

async fn filter<R: AsyncRead + Unpin>(
    input: R,
    server: Arc<Mutex<DuplexStream>>,
    errors: mpsc::Sender<Vec<u8>>,
    tasks: Arc<Tasks>,
) {
    let mut input = BufReader::new(input);
    while let Ok(line) = read_line(&mut input).await {
        let answer = match line {
            Line::End => break,
            Line::TooLong => error_line(
                -32600,
                &format!("Invalid Request: the request is over the {MAX_REQUEST}-byte limit"),
            ),
            Line::Whole(line) => {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match parse(text) {
                    Err(why) => error_line(-32700, &format!("Parse error: {why}")),
                    Ok(()) => match tasks.inbound(text) {
                        Some(Route::Client(answer) | Route::Both(answer, _)) => answer,
                        Some(Route::Nowhere) => continue,
                        Some(Route::Server(rewritten)) => {
                            if to_server(&server, &rewritten).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        None => {
                            if to_server(&server, &line).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    },
                }
            }
        };
        if errors.send(answer).await.is_err() {
            break;
        }
    }
    // The end of input for rmcp (the forwarding task holds the stream too).
    let _ = server.lock().await.shutdown().await;
}

async fn forward(
    from_server: DuplexStream,
    lines: mpsc::Sender<Vec<u8>>,
    server: Arc<Mutex<DuplexStream>>,
    tasks: Arc<Tasks>,
) {
    let mut from_server = BufReader::new(from_server);
    loop {
        let mut line = Vec::new();
        match from_server.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let sent = match tasks.outbound(&line) {
                    None => lines.send(line).await.is_ok(),
                    Some(Route::Client(reply)) => lines.send(reply).await.is_ok(),
                    Some(Route::Server(request)) => to_server(&server, &request).await.is_ok(),
                    Some(Route::Both(reply, request)) => {
                        lines.send(reply).await.is_ok()
                            && to_server(&server, &request).await.is_ok()
                    }
                    Some(Route::Nowhere) => true,
                };
                if !sent {
                    break;
                }
            }
        }
    }
}

async fn write_out<W: AsyncWrite + Unpin>(
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    mut output: W,
) -> io::Result<()> {
    while let Some(line) = outgoing.recv().await {
        output.write_all(&line).await?;
        output.flush().await?;
    }
    Ok(())
}

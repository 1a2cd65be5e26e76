//! `execq dashboard`: one self-contained HTML page of the queue — counts, running jobs, pending
//! jobs in run order with why each waits, recent finished jobs with their records, and two inline
//! SVG charts. No script, no external asset: it works from `file://`, and everything taken from a
//! job (commands, output, names) is escaped, so nothing a job prints can run in the page.
//!
//! It reads a bounded amount: the counts from folder listings, the newest [`RECENT`] finished
//! records, the first [`PENDING_SHOWN`] pending jobs.

use std::cmp::Reverse;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::job::result::{Status, timestamp};
use crate::queue::Queue;
use crate::queue::catalog::{self, Entry, State};

/// Finished records the page shows (and its charts count).
pub const RECENT: usize = 200;

/// Pending jobs the page lists.
pub const PENDING_SHOWN: usize = 100;

/// Output kept per stream in a job's detail.
const OUTPUT_SHOWN: usize = 16 * 1024;

/// Writes the page to `out` atomically (a temporary file beside it, renamed over it).
pub fn write(queue: &Queue, out: &Path, refresh: Option<u32>) -> Result<()> {
    let html = render(queue, refresh)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        out.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    fs::write(&tmp, html).with_context(|| format!("failed to write `{}`", tmp.display()))?;
    crate::fsutil::rename(&tmp, out)
}

/// The page.
pub fn render(queue: &Queue, refresh: Option<u32>) -> Result<String> {
    let (mut recent, completed) = catalog::newest(queue, State::Completed, RECENT)?;
    let (failed_recent, failed) = catalog::newest(queue, State::Failed, RECENT)?;
    recent.extend(failed_recent);
    recent.sort_by_key(|e| Reverse(e.time));
    recent.truncate(RECENT);
    let counts = [
        (State::Pending, catalog::count(queue, State::Pending)?),
        (State::Running, catalog::count(queue, State::Running)?),
        (State::Completed, completed),
        (State::Failed, failed),
    ];
    let running = catalog::load(queue, State::Running)?;
    let mut pending = catalog::load(queue, State::Pending)?;
    pending.sort_by_key(|e| (Reverse(e.schedule().priority), e.time, e.file_name.clone()));
    pending.truncate(PENDING_SHOWN);
    let waiting = catalog::waiting(queue, &pending)?;
    let now = SystemTime::now();

    let mut page = String::new();
    let meta_refresh = refresh.map_or(String::new(), |s| {
        format!("<meta http-equiv=\"refresh\" content=\"{s}\">")
    });
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{meta_refresh}\
         <title>execq — {}</title><style>{CSS}</style></head><body>\
         <header><h1>execq</h1><p class=\"muted\">{} · {}</p></header>",
        esc(&queue.root.display().to_string()),
        esc(&queue.root.display().to_string()),
        esc(&timestamp(chrono::Local::now()))
    );
    page.push_str("<section class=\"counts\">");
    for (state, n) in counts {
        let _ = write!(
            page,
            "<div class=\"count {s}\" id=\"count-{s}\"><span class=\"n\">{n}</span><span>{s}</span></div>",
            s = state.as_str()
        );
    }
    page.push_str("</section>");

    page.push_str("<section><h2>Running</h2>");
    if running.is_empty() {
        page.push_str("<p class=\"muted\">nothing is running</p>");
    } else {
        page.push_str("<table><tr><th>job</th><th>running for</th><th>command</th></tr>");
        for e in &running {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&e.name),
                crate::output::age(e.time),
                esc(&e.command())
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");

    page.push_str("<section><h2>Pending, in run order</h2>");
    if pending.is_empty() {
        page.push_str("<p class=\"muted\">nothing is pending</p>");
    } else {
        page.push_str(
            "<table><tr><th>job</th><th>priority</th><th>waits for</th><th>command</th></tr>",
        );
        for e in &pending {
            let why = waiting
                .get(&e.file_name)
                .map_or_else(|| "ready".to_owned(), ToString::to_string);
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&e.name),
                e.schedule().priority,
                esc(&why),
                esc(&e.command())
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</section>");

    page.push_str("<section class=\"charts\"><div><h2>Finished per hour, last 24 h</h2>");
    page.push_str(&hourly_chart(&recent, now));
    page.push_str("</div><div><h2>Durations</h2>");
    page.push_str(&duration_chart(&recent));
    page.push_str("</div></section>");

    let _ = write!(
        page,
        "<section><h2>Recent</h2><p class=\"muted\">the newest {} finished jobs; select one for its record</p>",
        recent.len()
    );
    for e in &recent {
        page.push_str(&job_detail(e));
    }
    page.push_str("</section><footer class=\"muted\">made by <code>execq dashboard</code></footer></body></html>\n");
    Ok(page)
}

fn job_detail(e: &Entry) -> String {
    let result = e.result.as_ref();
    let status = result.map_or("?", |r| r.status.as_str());
    let code = result
        .and_then(|r| r.returncode)
        .map_or_else(|| "-".into(), |c| c.to_string());
    let duration = result.map_or_else(|| "-".into(), |r| crate::output::duration_ms(r.duration_ms));
    let mut out = format!(
        "<details class=\"job\" id=\"job-{id}\"><summary><span class=\"status {status}\">{status}</span> \
         <b>{name}</b> <span class=\"muted\">exit {code} · {duration} · {when}</span></summary>\
         <p><code>{command}</code></p>",
        id = esc(&e.name),
        name = esc(&e.name),
        when = esc(&timestamp(e.time.into())),
        command = esc(&e.command()),
    );
    if let Some(r) = result {
        if let Some(error) = &r.error {
            let _ = write!(out, "<p class=\"error\">{}</p>", esc(error));
        }
        for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            if !text.is_empty() {
                let _ = write!(
                    out,
                    "<h3>{name}</h3><pre>{}</pre>",
                    esc(&tail(text, OUTPUT_SHOWN))
                );
            }
        }
    }
    if let Ok(record) = e.record() {
        let pretty = serde_json::to_string_pretty(&record).unwrap_or_default();
        let _ = write!(
            out,
            "<h3>record</h3><pre class=\"record\">{}</pre>",
            esc(&tail(&pretty, 4 * OUTPUT_SHOWN))
        );
    }
    out.push_str("</details>");
    out
}

/// The last `max` bytes of `text` (at a character boundary).
fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = text.len() - max;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("[… {cut} bytes not shown]\n{}", &text[cut..])
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Bars of jobs finished in each of the last 24 hours, completed stacked under the rest.
fn hourly_chart(recent: &[Entry], now: SystemTime) -> String {
    let mut ok = [0u32; 24];
    let mut bad = [0u32; 24];
    for e in recent {
        let Ok(age) = now.duration_since(e.time) else {
            continue;
        };
        let hour = (age.as_secs() / 3600) as usize;
        if hour < 24 {
            let slot = 23 - hour;
            if e.result
                .as_ref()
                .is_some_and(|r| r.status == Status::Completed)
            {
                ok[slot] += 1;
            } else {
                bad[slot] += 1;
            }
        }
    }
    let max = ok
        .iter()
        .zip(&bad)
        .map(|(a, b)| a + b)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::from(
        "<svg class=\"chart\" viewBox=\"0 0 240 100\" role=\"img\" aria-label=\"jobs finished per hour\">",
    );
    for i in 0..24 {
        let x = i * 10 + 1;
        let h_ok = f64::from(ok[i]) / f64::from(max) * 90.0;
        let h_bad = f64::from(bad[i]) / f64::from(max) * 90.0;
        let _ = write!(
            svg,
            "<rect class=\"ok\" x=\"{x}\" y=\"{:.1}\" width=\"8\" height=\"{h_ok:.1}\"><title>{} completed</title></rect>\
             <rect class=\"bad\" x=\"{x}\" y=\"{:.1}\" width=\"8\" height=\"{h_bad:.1}\"><title>{} not completed</title></rect>",
            95.0 - h_ok,
            ok[i],
            95.0 - h_ok - h_bad,
            bad[i]
        );
    }
    svg.push_str("<line x1=\"0\" y1=\"95.5\" x2=\"240\" y2=\"95.5\" class=\"axis\"/></svg>");
    svg.push_str("<p class=\"muted legend\"><span class=\"ok\">■</span> completed <span class=\"bad\">■</span> other · oldest hour on the left</p>");
    svg
}

/// How many recent jobs took under 1 s, 10 s, 1 min, 10 min, 1 h, and longer.
fn duration_chart(recent: &[Entry]) -> String {
    const BUCKETS: [(&str, Duration); 6] = [
        ("<1s", Duration::from_secs(1)),
        ("<10s", Duration::from_secs(10)),
        ("<1m", Duration::from_secs(60)),
        ("<10m", Duration::from_secs(600)),
        ("<1h", Duration::from_secs(3600)),
        ("≥1h", Duration::MAX),
    ];
    let mut counts = [0u32; 6];
    for r in recent.iter().filter_map(|e| e.result.as_ref()) {
        let took = Duration::from_millis(r.duration_ms);
        let i = BUCKETS.iter().position(|(_, b)| took < *b).unwrap_or(5);
        counts[i] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut svg = String::from(
        "<svg class=\"chart\" viewBox=\"0 0 240 100\" role=\"img\" aria-label=\"duration distribution\">",
    );
    for (i, ((label, _), n)) in BUCKETS.iter().zip(counts).enumerate() {
        let x = i * 40 + 4;
        let h = f64::from(n) / f64::from(max) * 75.0;
        let _ = write!(
            svg,
            "<rect class=\"ok\" x=\"{x}\" y=\"{:.1}\" width=\"32\" height=\"{h:.1}\"><title>{n}</title></rect>\
             <text x=\"{}\" y=\"97\" text-anchor=\"middle\">{}</text>",
            85.0 - h,
            x + 16,
            esc(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

const CSS: &str = "\
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#6a737d;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--card:#f6f8fa}\
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8b949e;--line:#30363d;--ok:#3fb950;--bad:#f85149;--card:#161b22}}\
*{box-sizing:border-box}body{margin:0 auto;max-width:1100px;padding:1rem;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,sans-serif}\
h1{margin:0}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}h3{font-size:.9rem;margin:.8rem 0 .3rem}.muted{color:var(--muted)}\
.counts{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:.6rem}\
.count{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem;display:flex;flex-direction:column}\
.count .n{font-size:1.8rem;font-weight:600}.count.failed .n{color:var(--bad)}.count.completed .n{color:var(--ok)}\
table{width:100%;border-collapse:collapse;display:block;overflow-x:auto}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}\
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}pre{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;max-height:30rem}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:1rem}.chart{width:100%;height:auto;max-height:200px}\
.chart .ok{fill:var(--ok)}.chart .bad{fill:var(--bad)}.chart text{fill:var(--muted);font-size:8px}.axis{stroke:var(--line)}\
.legend .ok{color:var(--ok)}.legend .bad{color:var(--bad)}\
details.job{border:1px solid var(--line);border-radius:6px;margin:.3rem 0;padding:.3rem .6rem;background:var(--card)}summary{cursor:pointer;overflow-wrap:anywhere}\
.status{font-weight:600;color:var(--bad)}.status.completed{color:var(--ok)}.error{color:var(--bad)}\
footer{margin-top:2rem;font-size:.85rem}";

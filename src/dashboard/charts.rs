//! The page's two charts, as inline SVG: jobs finished per hour over the last day, and how long
//! recent jobs took.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::job::result::Status;
use crate::queue::catalog::Entry;

use super::esc;

/// Bars of jobs finished in each of the last 24 hours, completed stacked under the rest.
pub fn hourly_chart(recent: &[Entry], now: SystemTime) -> String {
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
pub fn duration_chart(recent: &[Entry]) -> String {
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

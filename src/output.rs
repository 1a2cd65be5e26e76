//! Output for people and tools: aligned tables, short ages, JSON, colors. Writes that fail because the reader went away
//! (`execq list | head`) are not errors.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

/// An aligned, left-justified table with a header row.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Adds a row. Control characters in a cell (a newline in a file name, an escape sequence in
    /// a task id) are shown escaped, so each row is one line and nothing reaches the terminal raw.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.iter().map(|c| escape_controls(c)).collect());
    }

    pub fn render(&self) -> String {
        self.render_with(&self.widths())
    }

    fn widths(&self) -> Vec<usize> {
        (0..self.rows[0].len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn render_with(&self, widths: &[usize]) -> String {
        let columns = widths.len();
        let mut out = String::new();
        for row in &self.rows {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c + 1 == columns {
                        cell.clone()
                    } else {
                        format!("{cell:<width$}", width = widths[c])
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

/// A table printed as it is filled, for listings too long to hold in memory: its columns are as
/// wide as the widest cells of the first [`StreamTable::SAMPLE`] rows (a longer cell later widens
/// only its own row). Stops quietly when the reader goes away (`execq list | head`).
pub struct StreamTable {
    table: Table,
    widths: Option<Vec<usize>>,
    gone: bool,
}

impl StreamTable {
    const SAMPLE: usize = 1000;

    pub fn new(header: &[&str]) -> Self {
        Self {
            table: Table::new(header),
            widths: None,
            gone: false,
        }
    }

    /// Whether the reader went away: nothing more will be printed.
    pub fn gone(&self) -> bool {
        self.gone
    }

    pub fn row(&mut self, cells: Vec<String>) -> Result<()> {
        self.table.row(cells);
        if self.table.rows.len() > Self::SAMPLE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let widths = self.widths.get_or_insert_with(|| self.table.widths());
        let text = self.table.render_with(widths);
        self.table.rows.clear();
        if !self.gone {
            match io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.gone = true,
                other => other.context("failed to write to stdout")?,
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.flush()
    }
}

/// A JSON array printed one element at a time, exactly as [`print_json`] prints the whole
/// array. Stops quietly when the reader goes away.
#[derive(Default)]
pub struct JsonArray {
    started: bool,
    gone: bool,
}

impl JsonArray {
    pub fn gone(&self) -> bool {
        self.gone
    }

    pub fn item(&mut self, value: &impl serde::Serialize) -> Result<()> {
        let mut text = String::from(if self.started { ",\n" } else { "[\n" });
        self.started = true;
        for (i, line) in serde_json::to_string_pretty(value)?.lines().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str("  ");
            text.push_str(line);
        }
        self.write(&text)
    }

    pub fn finish(mut self) -> Result<()> {
        let end = if self.started { "\n]\n" } else { "[]\n" };
        self.write(end)
    }

    fn write(&mut self, text: &str) -> Result<()> {
        if self.gone {
            return Ok(());
        }
        match io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.gone = true,
            other => other.context("failed to write to stdout")?,
        }
        Ok(())
    }
}

/// "4s", "12m", "3h", "5d".
pub fn age(since: SystemTime) -> String {
    age_secs(
        SystemTime::now()
            .duration_since(since)
            .unwrap_or(Duration::ZERO)
            .as_secs(),
    )
}

/// A number of seconds as "4s", "12m", "3h", "5d".
pub fn age_secs(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// "850ms", "3.2s", "4m05s".
pub fn duration_ms(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
    }
}

/// Prints a line on stdout; a reader that went away (`| head`) is not an error.
pub fn print_line(line: &str) -> Result<()> {
    print(&format!("{line}\n"))
}

/// Whether an error comes from the reader closing the pipe (`execq list | head`): the reader's
/// choice, not a failure.
pub fn reader_went_away(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// An error already in `daemon.log` (the same one, met again): printed, not logged again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AlreadyLogged(pub String);

/// Whether color is allowed at all: `NO_COLOR` unset or empty (<https://no-color.org>).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `text` to stdout as is; a closed pipe ends output quietly.
pub fn print(text: &str) -> Result<()> {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("failed to write to stdout"),
    }
}

/// Pretty JSON on stdout, with a trailing newline.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    print(&(serde_json::to_string_pretty(value)? + "\n"))
}

/// Whether to color stdout: a terminal, and NO_COLOR unset.
pub fn color() -> bool {
    io::stdout().is_terminal() && color_allowed()
}

/// `text` in bold red/green/yellow when coloring.
pub fn paint(text: &str, code: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// `text` with every control character (tab aside) and Unicode line break escaped.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(c),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

/// Where the last `max` bytes of `text` begin, moved forward to a character boundary (0 when all
/// of it fits): for showing the end of a job's output.
pub fn tail_start(text: &str, max: usize) -> usize {
    let mut cut = text.len().saturating_sub(max);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_starts_at_a_character_boundary() {
        assert_eq!(tail_start("hello", 10), 0);
        assert_eq!(tail_start("hello", 2), 3);
        // "é" is two bytes: a cut inside it moves past it.
        assert_eq!(&"aéb"[tail_start("aéb", 2)..], "b");
        assert_eq!(tail_start("", 0), 0);
    }

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let mut t = Table::new(&["A", "LONGER", "C"]);
        t.row(vec!["xyz".into(), "1".into(), "end".into()]);
        assert_eq!(t.render(), "A    LONGER  C\nxyz  1       end\n");
    }

    #[test]
    fn a_cell_cannot_break_its_row_or_reach_the_terminal_raw() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["new\nline".into(), "\x1b[2Jclear".into()]);
        let out = t.render();
        assert_eq!(out.lines().count(), 2, "{out:?}");
        assert!(!out.contains('\x1b'), "{out:?}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(3200), "3.2s");
        assert_eq!(duration_ms(245_000), "4m05s");
    }
}

//! `execq config [--check] [--json]`: the queue's drain settings and where each comes from.

use anyhow::Result;

use crate::config::{self, DrainOptions, FILE};
use crate::exit_code::ExitCode;
use crate::output::{self, Table};
use crate::queue::Queue;

/// Runs `execq config`. With `check`, only validates: exit 0 when `config.toml` is valid or absent,
/// 1 (with the line and key of the mistake on stderr) when it is not.
pub fn run(queue: &Queue, check: bool, json: bool) -> Result<ExitCode> {
    if check {
        return self::check(queue);
    }
    let file = config::load(queue)?;
    let (_, settings) = config::effective(
        file.as_ref(),
        &config::Flags::default(),
        DrainOptions::default(),
    );
    if json {
        output::print_json(&settings)?;
        return Ok(ExitCode::Success);
    }
    let mut table = Table::new(&["SETTING", "VALUE", "FROM"]);
    for s in &settings {
        table.row(vec![
            s.name.to_owned(),
            s.value.clone(),
            s.source.to_string(),
        ]);
    }
    output::print(&table.render())?;
    output::print_line("(a flag given to `execq drain` beats both)")?;
    Ok(ExitCode::Success)
}

/// `config --check`: config.toml and every schedule file; each mistake on stderr, exit 1 if any.
fn check(queue: &Queue) -> Result<ExitCode> {
    let mut mistakes = Vec::new();
    let file = match config::load(queue) {
        Ok(file) => file,
        Err(e) => {
            mistakes.push(e.to_string());
            None
        }
    };
    mistakes.extend(crate::cron::problems(queue));
    let schedules = crate::cron::entries(queue)?.map_or(0, |e| e.len());
    if !mistakes.is_empty() {
        for mistake in &mistakes {
            eprintln!("execq: error: {mistake}");
        }
        return Ok(ExitCode::Error);
    }
    let what = if file.is_some() {
        format!("{} is valid", queue.root.join(FILE).display())
    } else {
        format!(
            "no {} (every setting has its default)",
            queue.root.join(FILE).display()
        )
    };
    output::print_line(&what)?;
    if schedules > 0 {
        output::print_line(&format!("{schedules} schedule(s) valid"))?;
    }
    Ok(ExitCode::Success)
}

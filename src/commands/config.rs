//! `execq config [--check] [--json]`: the queue's drain settings and where each comes from.

use anyhow::Result;

use crate::config::{self, FILE};
use crate::drain::DrainOptions;
use crate::exit_code::ExitCode;
use crate::output::{self, Table};
use crate::queue::Queue;

/// Runs `execq config`. With `check`, only validates: exit 0 when `config.toml` is valid or absent,
/// 1 (with the line and key of the mistake on stderr) when it is not.
pub fn run(queue: &Queue, check: bool, json: bool) -> Result<ExitCode> {
    let file = config::load(queue)?;
    if check {
        let what = if file.is_some() {
            format!("{} is valid", queue.root.join(FILE).display())
        } else {
            format!(
                "no {} (every setting has its default)",
                queue.root.join(FILE).display()
            )
        };
        output::print_line(&what)?;
        return Ok(ExitCode::Success);
    }
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

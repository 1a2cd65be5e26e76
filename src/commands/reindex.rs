//! `execq reindex`: rebuild the index of records, or (`--check`) compare it with the records.

use anyhow::Result;

use crate::exit_code::ExitCode;
use crate::output;
use crate::queue::Queue;
use crate::queue::catalog::State;
use crate::queue::index;

/// Runs `execq reindex`.
pub fn run(queue: &Queue, check: bool) -> Result<ExitCode> {
    queue.open()?;
    if check {
        let problems = index::check(queue)?;
        for problem in &problems {
            output::print_line(problem)?;
        }
        if problems.is_empty() {
            output::print_line("the index agrees with the records")?;
            return Ok(ExitCode::Success);
        }
        return Ok(ExitCode::Error);
    }
    let stamp = index::rebuild_now(queue)?;
    output::print_line(&format!(
        "indexed {} completed and {} failed records",
        stamp.count(State::Completed),
        stamp.count(State::Failed)
    ))?;
    Ok(ExitCode::Success)
}

//! One module per verb of the command line. Each takes the queue and its options, does its work,
//! prints its own output and returns the exit code.

pub mod cancel;
pub mod config;
pub mod dashboard;
pub mod drain;
pub mod edit;
pub mod follow;
pub mod list;
pub mod logs;
pub mod notify;
pub mod pause;
pub mod prune;
pub mod reindex;
pub mod retry;
pub mod schedule;
pub mod service;
pub mod show;
pub mod status;
pub mod submit;
pub mod wait;

/// Does `each` for every job named, printing the line it returns or the error it meets; exits 1
/// if any failed (every job is still tried): `cancel`, `hold`, `release`.
fn for_each_job(
    jobs: &[String],
    mut each: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<crate::exit_code::ExitCode> {
    let mut all = true;
    for reference in jobs {
        match each(reference) {
            Ok(line) => crate::output::print_line(&line)?,
            Err(e) => {
                eprintln!("execq: error: {e:#}");
                all = false;
            }
        }
    }
    Ok(if all {
        crate::exit_code::ExitCode::Success
    } else {
        crate::exit_code::ExitCode::Error
    })
}

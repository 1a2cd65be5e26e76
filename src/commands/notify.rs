//! `execq notify test`: a sample notification through every channel `[notify]` configures.

use anyhow::{Result, bail};
use serde_json::json;

use crate::config;
use crate::exit_code::ExitCode;
use crate::job::result::Status;
use crate::notify::{self, Event};
use crate::output;
use crate::queue::Queue;
use crate::signals::Shutdown;

/// Runs `execq notify test`: exit 0 if every channel worked, 1 if one did not.
pub fn test(queue: &Queue, json: bool) -> Result<ExitCode> {
    let Some(notify) = config::load(queue)?.and_then(|c| c.notify) else {
        bail!(
            "no [notify] in `{}`; add one (see the README's Notifications)",
            queue.root.join(config::FILE).display()
        );
    };
    if notify.command.is_none() && notify.webhook.is_none() && notify.desktop != Some(true) {
        bail!("[notify] names no channel: set `command`, `webhook` or `desktop = true`");
    }
    queue.open()?;
    let record = json!({
        "command": "echo this is a test",
        "task_id": "execq-notify-test",
        "description": "a sample notification from `execq notify test`",
        "result": {
            "status": "failed", "returncode": 1, "stdout": "", "stderr": "a test\n",
            "error": null, "duration_ms": 1,
        },
    });
    let path = queue.temp_path("notify-test.json");
    crate::fsutil::write(&path, &serde_json::to_vec_pretty(&record)?)?;
    let event = Event {
        job: "execq-notify-test.json",
        record: &path,
        status: Status::Failed,
        returncode: Some(1),
        task_id: Some("execq-notify-test".into()),
    };
    let sent = notify::send_through(None, &notify, &event, &Shutdown::default());
    crate::fsutil::discard(&path);
    if json {
        output::print_json(&sent)?;
    } else {
        for s in &sent {
            let verdict = if s.ok { "ok" } else { "FAILED" };
            output::print_line(&format!("{:<8} {verdict}: {}", s.channel, s.detail))?;
        }
    }
    Ok(if sent.iter().all(|s| s.ok) {
        ExitCode::Success
    } else {
        ExitCode::Error
    })
}

//! "Now", for schedules and retention: the system clock, or the time in `EXECQ_NOW` (RFC 3339),
//! which lets tests (and a person checking a schedule) see what a drain would do at another time
//! without waiting for it.

use anyhow::{Context, Result};
use chrono::{DateTime, Local};

/// The variable that sets "now".
pub const ENV: &str = "EXECQ_NOW";

/// The current time in the local time zone, or `EXECQ_NOW`'s when it is set and not empty.
pub fn now() -> Result<DateTime<Local>> {
    match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Local))
            .with_context(|| {
                format!("{ENV}=`{text}` is not an RFC 3339 time such as 2026-11-24T14:00:00+01:00")
            }),
        _ => Ok(Local::now()),
    }
}

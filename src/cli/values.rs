//! The value parsers the arguments share: seconds, RFC 3339 times, a job's timeout.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use execq::duration;

pub(super) fn seconds_or_zero(text: &str) -> Result<Duration, String> {
    duration::parse_secs(text).map_err(|e| e.to_string())
}

pub(super) fn seconds(text: &str) -> Result<Duration, String> {
    duration::parse_positive_secs(text).map_err(|e| e.to_string())
}

pub(super) fn rfc3339(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as 2026-11-24T14:00:00+01:00"))
}

/// A job's timeout as the job file will hold it: a positive, finite number of seconds.
pub(super) fn job_seconds(text: &str) -> Result<f64, String> {
    seconds(text).map(|d| d.as_secs_f64())
}

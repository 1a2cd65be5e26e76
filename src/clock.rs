//! "Now", for schedules, retention and webhook retries: the system clock, or the time in
//! `EXECQ_NOW` (RFC 3339), which lets tests (and a person checking a schedule) see what a drain
//! would do at another time without waiting for it.
//!
//! Schedule times are `jiff::Zoned` values in the system's zone (`TZ`, else /etc/localtime), which
//! map local times to instants correctly across DST transitions.

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The variable that sets "now".
pub const ENV: &str = "EXECQ_NOW";

/// The current time in the local time zone, or `EXECQ_NOW`'s when it is set and not empty.
pub fn now() -> Result<Zoned> {
    Ok(instant()?.to_zoned(zone()))
}

/// The current instant, or `EXECQ_NOW`'s. Cheaper than [`now`]: no time zone is loaded.
pub fn instant() -> Result<Timestamp> {
    match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => {
            text.trim().parse::<Timestamp>().with_context(|| {
                format!("{ENV}=`{text}` is not an RFC 3339 time such as 2026-11-24T14:00:00+01:00")
            })
        }
        _ => Ok(Timestamp::now()),
    }
}

/// An RFC 3339 time, in the local zone.
pub fn parse(text: &str) -> Result<Zoned> {
    Ok(text.parse::<Timestamp>()?.to_zoned(zone()))
}

/// The local time zone (UTC if it cannot be told).
pub fn zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// RFC 3339 to the second, with the offset in force then: `2026-11-24T03:30:00+01:00`.
pub fn rfc3339(at: &Zoned) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Seconds since the Unix epoch.
pub fn unix(at: &Zoned) -> i64 {
    at.timestamp().as_second()
}

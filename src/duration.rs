//! Durations that come from outside execq — job fields, command-line flags, config.toml — checked
//! once, here.
//!
//! Every one is a finite, non-negative number of seconds no larger than [`MAX`] (100 years), so
//! adding it to a clock reading can neither panic nor wrap, in debug and release builds alike.
//! `nan`, `inf` and negative numbers are refused with a message that names the value.

use std::time::Duration;

use serde::Deserialize;

/// The longest duration execq accepts: 100 years of 365.25 days.
pub const MAX: Duration = Duration::from_secs(MAX_SECS);
const MAX_SECS: u64 = 3_155_760_000;

/// Why a number is not a duration execq accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a number of seconds")]
    NotANumber(String),
    #[error("`{0}` is not a finite number of seconds")]
    NotFinite(String),
    #[error("`{0}` is negative")]
    Negative(String),
    #[error("`{0}` must be more than 0")]
    Zero(String),
    #[error("`{0}` is more than the limit of {MAX_SECS} seconds (100 years)")]
    TooLong(String),
}

/// `secs` as a duration, or why not (`shown` is how the number is named in the message).
pub fn from_secs_f64(secs: f64, shown: &str) -> Result<Duration, DurationError> {
    let shown = || shown.to_owned();
    if !secs.is_finite() {
        return Err(DurationError::NotFinite(shown()));
    }
    if secs < 0.0 {
        return Err(DurationError::Negative(shown()));
    }
    if secs > MAX_SECS as f64 {
        return Err(DurationError::TooLong(shown()));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| DurationError::TooLong(shown()))
}

/// Parses a number of seconds ("2", "0.5"); zero is allowed.
pub fn parse_secs(text: &str) -> Result<Duration, DurationError> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| DurationError::NotANumber(text.to_owned()))?;
    from_secs_f64(secs, text)
}

/// [`parse_secs`], refusing zero.
pub fn parse_positive_secs(text: &str) -> Result<Duration, DurationError> {
    match parse_secs(text)? {
        d if d.is_zero() => Err(DurationError::Zero(text.to_owned())),
        d => Ok(d),
    }
}

/// Parses an age such as "30d", "12h", "90m", "45s", "2w" or a plain number of seconds.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "`{text}`: use a number with s, m, h, d or w (for example 30d)"
            ));
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age like 30d or 12h"))?;
    number
        .checked_mul(scale)
        .filter(|&secs| secs <= MAX_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| DurationError::TooLong(text.to_owned()).to_string())
}

/// A duration in `config.toml` or a job's `notify`: a number of seconds, or text such as "90s",
/// "10m", "2h".
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "SecondsText")]
pub struct Seconds(pub Duration);

#[derive(Deserialize)]
#[serde(untagged)]
enum SecondsText {
    Number(f64),
    Text(String),
}

impl TryFrom<SecondsText> for Seconds {
    type Error = String;

    fn try_from(value: SecondsText) -> Result<Self, String> {
        match value {
            SecondsText::Number(secs) => from_secs_f64(secs, &secs.to_string())
                .map(Seconds)
                .map_err(|e| e.to_string()),
            SecondsText::Text(text) => parse_age(&text).map(Seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_people_write_them() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert!(parse_age("3 weeks").is_err());
        assert!(parse_age("d").is_err());
    }

    #[test]
    fn ages_that_would_wrap_are_refused() {
        for age in ["213503982334602d", "18446744073709551615w", "36525d1"] {
            assert!(parse_age(age).is_err(), "{age}");
        }
        assert_eq!(
            parse_age("36524d"),
            Ok(Duration::from_secs(36_524 * 86_400))
        );
    }

    #[test]
    fn seconds_from_outside_are_finite_and_bounded() {
        for bad in ["nan", "inf", "-inf", "-1", "1e19", "3155760001", "x", ""] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_secs("0"), Ok(Duration::ZERO));
        assert_eq!(parse_secs("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_secs("3155760000"), Ok(MAX));
        assert_eq!(
            parse_positive_secs("0").unwrap_err().to_string(),
            "`0` must be more than 0"
        );
        assert_eq!(
            parse_secs("1e19").unwrap_err().to_string(),
            "`1e19` is more than the limit of 3155760000 seconds (100 years)"
        );
    }

    #[test]
    fn the_largest_duration_can_be_added_to_a_clock() {
        let now = std::time::Instant::now();
        assert!(now.checked_add(MAX).is_some());
        assert!(std::time::SystemTime::now().checked_add(MAX).is_some());
    }
}

//! Notification settings: a job's `notify` field, and `[notify]` in config.toml (its keys beat the
//! file's one by one). Sending them is the `notify` module's work.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::duration::Seconds;
use crate::job::result::Status;

/// The command's and each delivery's timeout unless `timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Notification settings (`[notify]`, or a job's `notify`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<Status>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desktop: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Seconds>,
}

impl Notify {
    /// A job's `notify` field: `Ok(None)` when absent.
    pub fn of_job(value: Option<&Value>) -> Result<Option<Self>, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let notify: Self =
                    serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
                notify.check()?;
                Ok(Some(notify))
            }
        }
    }

    /// Checks what serde cannot: the webhook's address.
    pub fn check(&self) -> Result<(), String> {
        if let Some(url) = &self.webhook {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.parse::<ureq::http::Uri>().is_err() {
                return Err(format!(
                    "`webhook` must be an http:// or https:// address, found `{url}`"
                ));
            }
        }
        Ok(())
    }

    /// These settings, with `base`'s for each key not given.
    pub fn or(&self, base: Option<&Self>) -> Self {
        let Some(base) = base else {
            return self.clone();
        };
        Self {
            on: self.on.clone().or_else(|| base.on.clone()),
            command: self.command.clone().or_else(|| base.command.clone()),
            webhook: self.webhook.clone().or_else(|| base.webhook.clone()),
            secret: self.secret.clone().or_else(|| base.secret.clone()),
            desktop: self.desktop.or(base.desktop),
            timeout: self.timeout.or(base.timeout),
        }
    }

    /// Whether a job that ended with `status` notifies.
    pub fn wants(&self, status: Status) -> bool {
        match &self.on {
            Some(on) => on.contains(&status),
            None => status != Status::Completed,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_TIMEOUT, |Seconds(d)| d)
    }
}

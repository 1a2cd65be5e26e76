//! Webhook deliveries: an HTTP(S) POST of the record as JSON, signed when a `secret` is set.
//!
//! Signature (as GitHub and Stripe do it): `X-Execq-Timestamp: <unix seconds>` and
//! `X-Execq-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`.
//! A receiver recomputes it over the raw body and rejects old timestamps (replays). HTTPS
//! certificates are checked against the system's roots on macOS, Mozilla's elsewhere.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// One POST to make.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Delivery {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The record, as sent.
    pub body: String,
    pub timeout_ms: u64,
}

impl Delivery {
    pub fn new(url: &str, secret: Option<&str>, body: Vec<u8>, timeout: Duration) -> Self {
        Self {
            url: url.to_owned(),
            secret: secret.map(str::to_owned),
            body: String::from_utf8_lossy(&body).into_owned(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The delivery's id: the same on every attempt (the first one and each retry from the
    /// outbox), different for every record, so a receiver can drop a repeat. Delivery is at least
    /// once: a drain killed between the answer and removing the outbox file, or an answer that
    /// comes after the timeout, means the record is sent again.
    pub fn id(&self) -> String {
        use sha2::Digest;
        let digest = Sha256::new()
            .chain_update(self.url.as_bytes())
            .chain_update([0])
            .chain_update(self.body.as_bytes())
            .finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The URL as logs, errors and pages show it ([`shown_url`]).
    pub fn shown(&self) -> String {
        shown_url(&self.url)
    }

    /// Posts it once, signed with the current time. `Ok(status)` for a 2xx answer.
    pub fn send(&self) -> Result<u16, String> {
        let timestamp = crate::clock::instant()
            .map(|t| t.as_second())
            .unwrap_or_default();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls())
            .timeout_global(Some(Duration::from_millis(self.timeout_ms)))
            .http_status_as_error(false)
            .user_agent(concat!("execq/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut request = agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Execq-Timestamp", timestamp.to_string())
            .header("X-Execq-Delivery", self.id());
        if let Some(secret) = &self.secret {
            request = request.header(
                "X-Execq-Signature",
                format!("sha256={}", sign(secret, timestamp, self.body.as_bytes())),
            );
        }
        match request.send(self.body.as_bytes()) {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err(format!(
                "{} answered HTTP {}",
                self.shown(),
                response.status()
            )),
            Err(ureq::Error::Timeout(_)) => Err(format!(
                "{} did not answer within {} ms",
                self.shown(),
                self.timeout_ms
            )),
            Err(e) => Err(format!(
                "{}: {}",
                self.shown(),
                redact_urls(&e.to_string(), &self.url)
            )),
        }
    }
}

/// A webhook URL as execq shows it — in `daemon.log`, errors, `status` and the dashboard: its
/// scheme and host only. The user, password, path, query and fragment are left out, since a hook
/// URL often is its own credential (Slack's and Discord's carry the token in the path).
pub fn shown_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}/…")
        }
        None => "(a URL)".into(),
    }
}

/// `text` with every mention of `url` shown as [`shown_url`] (an HTTP client's error may quote it).
fn redact_urls(text: &str, url: &str) -> String {
    text.replace(url, &shown_url(url))
}

/// macOS: the system's TLS and its trusted roots (the keychain).
#[cfg(target_os = "macos")]
fn tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build()
}

/// Elsewhere: rustls with Mozilla's roots (webpki-roots), the same on every distribution.
#[cfg(not(target_os = "macos"))]
fn tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::WebPki)
        .build()
}

/// The hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`
        assert_eq!(
            sign("key", 1_700_000_000, b"{}"),
            "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}

//! Crash points for tests: `EXECQ_FAULT=NAME` makes the process abort (as a kill would stop it)
//! when it reaches the point of that name. Used to check that what a killed drain leaves behind is
//! finished by the next one; nothing sets it in normal use.

/// The variable naming the point to crash at.
pub const ENV: &str = "EXECQ_FAULT";

/// Aborts the process if `EXECQ_FAULT` names this point.
pub fn point(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        std::process::abort();
    }
}

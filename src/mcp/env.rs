//! Variables an agent may set in a job's `env` while programs are allowlisted.
//!
//! An allowlist names the program that starts; the environment can still decide what that program
//! runs or loads (`OPENSSL_CONF` for curl, `MAKEFILES` for make, `RUSTC_WRAPPER` for cargo, ...),
//! and no list of such variables can be complete. So under an allowlist an agent may set only the
//! variables the user named ([`Allowed`]: `--allow-env`, `[mcp] allow_env`).
//!
//! On top of that, [`refused`] names variables known to load code, which are refused even if the
//! user named them (and naming one is an error when the server starts, so the user learns at
//! once rather than from an agent's failed call): an allowlist is a promise about which programs
//! run, and these turn an allowed program into any program. These are the variables that a shell, the dynamic loader, a common interpreter or
//! a common tool reads as code, as a program to run, or as a place to load code or code-running
//! configuration from. The list is by name and by prefix, compared without regard to case: a name
//! refused in error costs an agent a variable, a variable let through in error costs the user
//! their allowlist, and some programs (and Windows-minded ports) look names up case-insensitively.
//!
//! No list can know every program's own variables; the README says so, and why an allowlist is
//! not a sandbox.

use std::collections::BTreeSet;
use std::fmt;

/// Refused by exact name.
const NAMES: &[&str] = &[
    // The search path itself: which program a name runs.
    "PATH",
    // Shells: files sourced at start, options, prompts expanded (with command substitution)
    // under `set -x`, word splitting, `cd`'s and autoload's search paths, the shell to run.
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "FPATH",
    "ZDOTDIR",
    "SHELL",
    // Where rc and configuration files (git's, zsh's, Python's user site) are found.
    "HOME",
    "XDG_CONFIG_HOME",
    // The C library: character-set converters loaded as modules, tunables.
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "MALLOC_CONF",
    // Java, Tcl, PHP.
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "TCLLIBPATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    // Programs that other programs start on their user's behalf.
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MANPAGER",
    "BROWSER",
    "LESSOPEN",
    "LESSCLOSE",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    // Options read by make and GNU tar, which can name programs to run.
    "MAKEFLAGS",
    "MFLAGS",
    "GNUMAKEFLAGS",
    "TAR_OPTIONS",
];

/// Refused by prefix.
const PREFIXES: &[&str] = &[
    // The dynamic loader (glibc, musl; macOS's dyld): libraries preloaded, search paths.
    "LD_",
    "DYLD_",
    // bash functions imported from the environment, overriding commands by name.
    "BASH_FUNC_",
    // Interpreters: module paths, startup files, options that load modules.
    "PYTHON",
    "PERL",
    "RUBY",
    "NODE_",
    "NPM_CONFIG_",
    "LUA_",
    // git: many of its variables name programs to run (GIT_SSH_COMMAND, GIT_EXTERNAL_DIFF,
    // GIT_ASKPASS, GIT_PAGER, ...) or configuration that can (GIT_CONFIG_*); all are refused.
    "GIT_",
];

/// Whether an agent may not set `name` under an allowlist, whatever the user allowed.
pub fn refused(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    NAMES.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// The variables the user lets agents set under an allowlist: names, compared exactly (case
/// counts, as it does on Unix), and patterns `PREFIX*` (a non-empty prefix, then one `*` at the
/// end), for families such as `LC_*`. No bare `*`: it would let through every loader the
/// denylist misses, which is what naming variables is for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    names: BTreeSet<String>,
    prefixes: BTreeSet<String>,
}

impl Allowed {
    /// `Err` names the first entry that is not a name or a pattern, or that could only allow
    /// variables [`refused`] refuses.
    pub fn new(entries: &[String]) -> Result<Self, String> {
        let mut allowed = Self::default();
        for entry in entries {
            let (stem, pattern) = match entry.strip_suffix('*') {
                Some(prefix) => (prefix, true),
                None => (entry.as_str(), false),
            };
            if stem.is_empty() || stem.contains(['=', '\0', '*']) {
                return Err(format!(
                    "`{entry}` is not a variable name or a pattern: give NAME, or PREFIX* (such as LC_*); names may not contain `=` or NUL, and `*` may only end a pattern after a prefix"
                ));
            }
            // A pattern is refused when every name it matches is: its prefix starts with one of
            // the refused prefixes (`GIT_*`, `LD_AUDIT*`). One that only overlaps them (`L*`) is
            // kept, and the names it shares with them are refused when an agent sets them.
            let upper = stem.to_ascii_uppercase();
            if (pattern && PREFIXES.iter().any(|p| upper.starts_with(p)))
                || (!pattern && refused(stem))
            {
                return Err(format!(
                    "`{entry}` can never be allowed: a shell, the dynamic loader or an interpreter reads it as code to run or where to load code from, which would let an allowed program run anything (see src/mcp/env.rs); to let agents set it, run without an allowlist"
                ));
            }
            if pattern {
                allowed.prefixes.insert(stem.to_owned());
            } else {
                allowed.names.insert(stem.to_owned());
            }
        }
        Ok(allowed)
    }

    /// Whether the user allowed `name` (exactly, or by a pattern's prefix).
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name) || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// The entries, as the user would write them; `none` for none.
impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = (self.names.iter().cloned())
            .chain(self.prefixes.iter().map(|p| format!("{p}*")))
            .collect();
        if entries.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&entries.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Allowed, refused};

    fn allowed(entries: &[&str]) -> Result<Allowed, String> {
        Allowed::new(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn allowed_names_are_exact_and_patterns_are_prefixes() {
        let list = allowed(&["GREETING", "LC_*"]).unwrap();
        for name in ["GREETING", "LC_ALL", "LC_"] {
            assert!(list.contains(name), "{name}");
        }
        for name in [
            "greeting",
            "GREETINGS",
            "GREETIN",
            "LC",
            "lc_all",
            "OPENSSL_CONF",
        ] {
            assert!(!list.contains(name), "{name}");
        }
        assert_eq!(list.to_string(), "GREETING, LC_*");
        assert_eq!(allowed(&[]).unwrap().to_string(), "none");
    }

    #[test]
    fn entries_that_are_not_names_or_could_load_code_are_errors() {
        for entry in [
            "",
            "*",
            "A=B",
            "A*B",
            "A**",
            "LD_PRELOAD",
            "path",
            "GIT_*",
            "LD_AUDIT*",
        ] {
            assert!(allowed(&[entry]).is_err(), "{entry:?}");
        }
        // Overlapping the refused prefixes is fine: the refused names stay refused.
        assert!(allowed(&["L*", "GIT"]).is_ok());
    }

    #[test]
    fn code_loading_variables_are_refused_in_any_case() {
        for name in [
            "PATH",
            "BASH_ENV",
            "bash_env",
            "BASH_FUNC_ls%%",
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "PYTHONPATH",
            "NODE_OPTIONS",
            "npm_config_script_shell",
            "GIT_SSH_COMMAND",
            "PERL5OPT",
        ] {
            assert!(refused(name), "{name}");
        }
    }

    #[test]
    fn ordinary_variables_are_not() {
        for name in [
            "GREETING",
            "API_TOKEN",
            "LANG",
            "TZ",
            "RUST_LOG",
            "PATHS",
            "ENVIRONMENT",
        ] {
            assert!(!refused(name), "{name}");
        }
    }
}

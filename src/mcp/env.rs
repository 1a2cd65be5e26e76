//! Variables an agent may not set in a job's `env` while programs are allowlisted.
//!
//! An allowlist names the program that starts; the environment can still decide what that program
//! runs or loads. These are the variables that a shell, the dynamic loader, a common interpreter or
//! a common tool reads as code, as a program to run, or as a place to load code or code-running
//! configuration from. The list is by name and by prefix, compared without regard to case: a name
//! refused in error costs an agent a variable, a variable let through in error costs the user
//! their allowlist, and some programs (and Windows-minded ports) look names up case-insensitively.
//!
//! No list can know every program's own variables; the README says so, and why an allowlist is
//! not a sandbox.

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

/// Whether an agent may not set `name` under an allowlist.
pub fn refused(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    NAMES.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::refused;

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

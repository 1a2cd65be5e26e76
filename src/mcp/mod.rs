//! `execq mcp`: the queue as a Model Context Protocol server on stdio, for AI agents.
//!
//! An agent submits a job and gets its reference back at once (or its result, when it finishes
//! within `wait_seconds`, capped below clients' tool-call limits), then asks for its status,
//! pages through its output, cancels or retries it. So a command longer than the client's
//! tool-call timeout is never cut off or lost: it runs in the queue, and its result waits.
//!
//! - `tools.rs`: the tools, their input and output schemas (rmcp's macros), errors as tool
//!   errors the model can act on;
//! - `jobs.rs`: what the tools read and do, synchronously (run on tokio's blocking pool);
//! - `stdio.rs`: the lines between the client and rmcp, answering those rmcp would drop;
//! - `env.rs`: the variables an agent may never set while programs are allowlisted, and the
//!   `--allow-env` names and patterns that say which it may;
//! - here: who may run what ([`Policy`], `--allow`, `--allow-env`, `--allow-shell`,
//!   `--read-only`, `[mcp]`), and the runtime, created only by this command.

mod args;
mod calls;
mod control;
mod env;
mod resources;
mod schema;
mod stdio;
mod tasks;
mod text;
mod tools;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::{DEFAULT_MAX_WAIT, McpConfig};
use crate::duration::Seconds;
use crate::exit_code::ExitCode;
use crate::job::{JobSpec, Program};
use crate::queue::Queue;

/// `execq mcp`'s flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    pub allow: Vec<String>,
    pub allow_env: Vec<String>,
    pub allow_shell: bool,
    pub read_only: bool,
}

/// What agents may do through this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `None`: any program (no allowlist was given).
    pub allow: Option<BTreeSet<String>>,
    /// What `env` may set under an allowlist, on top of which [`env::refused`] still refuses.
    pub allow_env: env::Allowed,
    /// This server's own `PATH`, the one `ops::submit` writes into each job it submits.
    pub path: Option<String>,
    pub allow_shell: bool,
    pub read_only: bool,
    pub max_wait: Duration,
}

impl Policy {
    /// Flags beat `[mcp]`: `--allow` and `--allow-env` replace the file's lists; `--allow-shell`
    /// and `--read-only` can only add to what the file says. `Err` names an `allow_env` entry
    /// that is not a name or pattern, or that names a variable that is never allowed.
    pub fn new(opts: &Opts, file: Option<&McpConfig>) -> Result<Self, String> {
        let file = file.cloned().unwrap_or_default();
        let allow_shell = opts.allow_shell || file.allow_shell.unwrap_or(false);
        let listed = if opts.allow.is_empty() {
            file.allow
        } else {
            Some(opts.allow.clone())
        };
        // An allowlist, or only shell allowed: either way the list is what programs may run.
        let allow = match listed {
            Some(list) => Some(list.into_iter().collect()),
            None if allow_shell => Some(BTreeSet::new()),
            None => None,
        };
        let allow_env = if opts.allow_env.is_empty() {
            env::Allowed::new(file.allow_env.as_deref().unwrap_or_default())
                .map_err(|e| format!("[mcp] allow_env in config.toml: {e}"))?
        } else {
            env::Allowed::new(&opts.allow_env).map_err(|e| format!("--allow-env: {e}"))?
        };
        Ok(Self {
            allow,
            allow_env,
            path: std::env::var_os("PATH").map(|p| p.to_string_lossy().into_owned()),
            allow_shell,
            read_only: opts.read_only || file.read_only.unwrap_or(false),
            max_wait: file.max_wait.map_or(DEFAULT_MAX_WAIT, |Seconds(d)| d),
        })
    }

    /// `Err` says, in a sentence for the model, why this job may not run.
    pub fn check(
        &self,
        program: Option<&str>,
        shell: bool,
        env: &[(String, String)],
    ) -> Result<(), String> {
        if self.read_only {
            return Err("this execq server is read-only (--read-only): it can inspect the queue but not submit, cancel or retry jobs".into());
        }
        let Some(allowed) = &self.allow else {
            return Ok(());
        };
        if shell && !self.allow_shell {
            return Err(format!(
                "shell commands are not allowed here (the server was started without --allow-shell); run one of the allowed programs with `command` and `args` instead: {}",
                list(allowed)
            ));
        }
        if let Some(program) = program
            && !allowed.contains(program)
        {
            return Err(format!(
                "`{program}` is not an allowed program; allowed: {} (the user sets them with --allow or [mcp] allow)",
                list(allowed)
            ));
        }
        // With an allowlist, the environment must not change which program runs or what it
        // loads. No list of such variables is complete, so only the names the user allowed may
        // be set; and the ones known to load code not even then (`Allowed::new` refuses them).
        for (name, _) in env {
            if env::refused(name) {
                return Err(format!(
                    "`{name}` may not be set in `env` when programs are allowlisted: a shell, the dynamic loader or an interpreter reads it as code to run or where to load code from"
                ));
            }
            if !self.allow_env.contains(name) {
                return Err(format!(
                    "`{name}` may not be set in `env`: under an allowlist only the variables in `allow_env` may be (the user allows it with `--allow-env {name}` or [mcp] allow_env); allowed: {}",
                    self.allow_env
                ));
            }
        }
        Ok(())
    }

    /// [`Policy::check`] for a job as the drain reads it (a retried one). Under an allowlist, a
    /// job may also carry nothing a submission through this server could not: a `notify` hook
    /// runs a command or posts the record, and a `result_file` writes where it names.
    pub fn check_spec(&self, spec: &JobSpec) -> Result<(), String> {
        if self.allow.is_some() {
            if spec.notify.is_some() {
                return Err("it has a `notify` hook, which an agent may not set here: a hook runs a command of its own".into());
            }
            if spec.result_file.is_some() {
                return Err("it has a `result_file`, which an agent may not set here".into());
            }
        }
        let (program, shell) = match &spec.program {
            Program::Argv { program, .. } => (Some(program.as_str()), false),
            // A script is code for its interpreter, as a shell command line is for /bin/sh.
            Program::Shell(_) | Program::Script { .. } => (None, true),
        };
        // Every job `ops::submit` writes carries its submitter's PATH. This server's own is what a
        // submit_job through it would carry anyway, so it passes; any other PATH is refused.
        let env: Vec<_> = (spec.env.iter())
            .filter(|(name, value)| !(name == "PATH" && self.path.as_ref() == Some(value)))
            .cloned()
            .collect();
        self.check(program, shell, &env).map_err(|why| {
            if env.iter().any(|(name, _)| name == "PATH") {
                format!(
                    "{why} (the job carries the PATH of whoever submitted it, not this server's)"
                )
            } else {
                why
            }
        })
    }
}

fn list(allowed: &BTreeSet<String>) -> String {
    if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `execq mcp`: serves MCP on stdin/stdout until the client closes it.
pub fn run(queue: &Queue, opts: &Opts) -> Result<ExitCode> {
    let file = crate::config::load(queue).map_err(|e| anyhow::anyhow!("{e}"))?;
    let policy = Policy::new(opts, file.as_ref().and_then(|c| c.mcp.as_ref()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !policy.read_only {
        // The queue this server submits to, there from the start (daemon.log with it).
        queue.open()?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the MCP server's runtime")?;
    runtime.block_on(tools::serve(queue.clone(), policy))?;
    // Tool calls still waiting on the blocking pool (a client that hung up mid-wait) end here.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(ExitCode::Success)
}

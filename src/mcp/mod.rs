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
//! - `env.rs`: the variables an agent may not set while programs are allowlisted;
//! - here: who may run what ([`Policy`], `--allow`, `--allow-shell`, `--read-only`, `[mcp]`),
//!   and the runtime, created only by this command.

mod args;
mod calls;
mod env;
mod stdio;
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
    pub allow_shell: bool,
    pub read_only: bool,
}

/// What agents may do through this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `None`: any program (no allowlist was given).
    pub allow: Option<BTreeSet<String>>,
    pub allow_shell: bool,
    pub read_only: bool,
    pub max_wait: Duration,
}

impl Policy {
    /// Flags beat `[mcp]`: `--allow` replaces the file's list; `--allow-shell` and `--read-only`
    /// can only add to what the file says.
    pub fn new(opts: &Opts, file: Option<&McpConfig>) -> Self {
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
        Self {
            allow,
            allow_shell,
            read_only: opts.read_only || file.read_only.unwrap_or(false),
            max_wait: file.max_wait.map_or(DEFAULT_MAX_WAIT, |Seconds(d)| d),
        }
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
        // With an allowlist, the environment must not change which program runs or what it loads.
        if let Some((name, _)) = env.iter().find(|(name, _)| env::refused(name)) {
            return Err(format!(
                "`{name}` may not be set in `env` when programs are allowlisted: a shell, the dynamic loader or an interpreter reads it as code to run or where to load code from"
            ));
        }
        Ok(())
    }

    /// [`Policy::check`] for a job as the drain reads it (a retried one).
    pub fn check_spec(&self, spec: &JobSpec) -> Result<(), String> {
        let (program, shell) = match &spec.program {
            Program::Argv { program, .. } => (Some(program.as_str()), false),
            // A script is code for its interpreter, as a shell command line is for /bin/sh.
            Program::Shell(_) | Program::Script { .. } => (None, true),
        };
        self.check(program, shell, &spec.env)
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
    let policy = Policy::new(opts, file.as_ref().and_then(|c| c.mcp.as_ref()));
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

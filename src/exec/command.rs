//! The command a job runs: its program and arguments, working folder and environment.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::exec::StartError;
use crate::job::limits::Plan;
use crate::job::{JobSpec, Program};
use crate::sys;

/// The program that is started for `program` (the interpreter, for a script).
pub fn program_name(program: &Program) -> &str {
    match program {
        Program::Argv { program, .. } => program,
        Program::Shell(_) => "/bin/sh",
        Program::Script { interpreter } => &interpreter[0],
    }
}

/// The command for `spec`; `script` is the job file (run by a script's interpreter), `env` is added
/// to the environment, `limits` is applied to the process before it execs, and `sandbox` confines
/// it (see `exec::sandbox`).
pub fn build(
    spec: &JobSpec,
    script: &Path,
    env: &[(&str, &OsStr)],
    limits: Plan,
    sandbox: Option<sys::sandbox::Prepared>,
) -> Result<Command, StartError> {
    let start = |program: &str| sys::sandbox::command(OsStr::new(program), sandbox);
    let mut command = match &spec.program {
        Program::Argv { program, args } => {
            let mut c = start(program);
            c.args(args);
            c
        }
        Program::Shell(line) => {
            let mut c = start("/bin/sh");
            c.arg("-c").arg(line);
            c
        }
        Program::Script { interpreter } => {
            let mut c = start(&interpreter[0]);
            c.args(&interpreter[1..]).arg(script);
            c
        }
    };
    if let Some(dir) = &spec.cwd {
        if !dir.is_dir() {
            return Err(StartError::NoWorkingDir(dir.clone()));
        }
        command.current_dir(dir);
    }
    for var in crate::fault::VARS {
        command.env_remove(var);
    }
    command.env_remove(sys::sandbox::ABI_ENV);
    command.envs(env.iter().copied());
    command.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(id) = &spec.task_id {
        command.env("EXECQ_TASK_ID", id);
    }
    if !limits.is_empty() {
        sys::limits::apply_before_exec(&mut command, limits.into_child());
    }
    Ok(command)
}

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    execq::reset_sigchld();
    let invocation = match cli::Cli::try_parse() {
        Ok(cli) => cli.into_invocation(),
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                execq::ExitCode::Usage
            } else {
                execq::ExitCode::Success
            }
            .into();
        }
    };
    execq::run(invocation).into()
}

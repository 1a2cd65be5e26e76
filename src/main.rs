mod cli;
mod man;

use std::io::Write;

fn main() -> std::process::ExitCode {
    execq::reset_sigchld();
    let invocation = match cli::Cli::parse_args() {
        Ok(cli) => match cli.into_action() {
            cli::Action::Run(invocation) => invocation,
            cli::Action::Print(text) => {
                let mut out = std::io::stdout().lock();
                return match out.write_all(&text).and_then(|()| out.flush()) {
                    Ok(()) => execq::ExitCode::Success,
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                        execq::ExitCode::Success
                    }
                    Err(e) => {
                        eprintln!("execq: error: {e}");
                        execq::ExitCode::Error
                    }
                }
                .into();
            }
        },
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

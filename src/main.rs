mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    execq::sys::reset_sigchld();
    let invocation = cli::Cli::parse().into_invocation();
    execq::app::run(invocation).into()
}

//! `execq man`: the manual page, generated from the clap definition (`cli/`) like the
//! completions: clap_mangen's page for `execq` itself, then a COMMANDS section with every
//! command's synopsis, description and options, so `man execq` is the whole reference.

use std::io::{self, Write};

use clap::{Arg, Command};
use roff::{Roff, bold, italic, roman};

/// Writes the page.
pub fn render(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    clap_mangen::Man::new(cmd.clone())
        .date(env!("CARGO_PKG_VERSION"))
        .render(out)?;
    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        command(&mut roff, "execq", sub);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "The README (installed with the package, or at the project's repository) explains the \
         queue's folders, job formats, records, guarantees and the service in full.",
    )]);
    roff.to_writer(out)
}

fn command(roff: &mut Roff, parent: &str, cmd: &Command) {
    let path = format!("{parent} {}", cmd.get_name());
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    roff.control("SS", [path.as_str()]);
    let mut synopsis = vec![bold(path.clone())];
    for arg in own_args(cmd).filter(|a| a.is_positional()) {
        synopsis.push(roman(" "));
        synopsis.push(italic(value_name(arg)));
    }
    if !subs.is_empty() {
        synopsis.push(roman(" "));
        synopsis.push(italic("COMMAND"));
    }
    if own_args(cmd).any(|a| !a.is_positional()) {
        synopsis.push(roman(" [OPTIONS]"));
    }
    roff.text(synopsis);
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        roff.control("PP", []);
        roff.text([roman(about.to_string())]);
    }
    for arg in own_args(cmd) {
        roff.control("TP", []);
        roff.text([bold(flags(arg))]);
        if let Some(help) = arg.get_long_help().or(arg.get_help()) {
            roff.text([roman(help.to_string())]);
        }
    }
    for sub in subs {
        command(roff, &path, sub);
    }
}

/// The command's own arguments: not the global ones (described once, at the top), not --help.
fn own_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
}

fn value_name(arg: &Arg) -> String {
    arg.get_value_names()
        .and_then(|names| names.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string)
}

fn flags(arg: &Arg) -> String {
    if arg.is_positional() {
        return value_name(arg);
    }
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("--{long}"));
    }
    let mut text = names.join(", ");
    if arg.get_action().takes_values() {
        text.push_str(&format!(" {}", value_name(arg)));
    }
    text
}

//! `execq dashboard`: where the page goes, or the port it is served on.

use std::path::PathBuf;

use clap::Args;

use execq::options;

#[derive(Debug, Args)]
pub(super) struct DashboardArgs {
    /// Where to write it [default: QUEUE/dashboard.html]
    #[arg(long, value_name = "FILE", conflicts_with = "serve")]
    out: Option<PathBuf>,
    /// Open it in the browser (open on macOS, xdg-open elsewhere)
    #[arg(long)]
    open: bool,
    /// Serve the page live on 127.0.0.1 instead, with /api/status, /api/jobs/REF and retry
    /// and cancel buttons (they need the token in the printed URL); Ctrl-C stops
    #[arg(long)]
    serve: bool,
    /// The port to serve on (0: any free port)
    #[arg(long, value_name = "N", requires = "serve", default_value_t = options::DASHBOARD_PORT)]
    port: u16,
}

impl From<DashboardArgs> for options::Dashboard {
    fn from(args: DashboardArgs) -> Self {
        Self {
            out: args.out,
            open: args.open,
            serve: args.serve.then_some(args.port),
        }
    }
}

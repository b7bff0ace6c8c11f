//! The command line: clap derive, the only file that knows clap. `///` comments are the help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A declarative load-test runner: YAML plans, four concurrency models, HdrHistograms, HTML
/// reports and CI gates.
#[derive(Debug, Parser)]
#[command(name = "loadplan", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run plans, write a report folder per plan, print a summary and exit with the verdict.
    Run(RunArgs),
    /// Parse, resolve and expand plans: list their cells and totals. Sends nothing.
    Validate {
        /// Plan files (YAML).
        #[arg(required = true)]
        plans: Vec<PathBuf>,
    },
    /// Run the built-in target server in the foreground until Ctrl-C.
    Serve {
        /// Address to listen on; port 0 picks a free port (printed on the first line).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// A worker process of the `processes` model (internal).
    #[command(name = "__worker", hide = true)]
    Worker,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Plan files (YAML), run one after the other.
    #[arg(required = true)]
    pub plans: Vec<PathBuf>,
    /// Folder for report folders: each run writes <out>/<plan name>/<run id>/.
    #[arg(long, env = "LOADPLAN_OUT", default_value = "reports")]
    pub out: PathBuf,
    /// Run only the scenarios with these names (repeatable).
    #[arg(long, value_name = "SCENARIO")]
    pub only: Vec<String>,
}

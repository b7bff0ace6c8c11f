//! The command line: clap derive, the only file that knows clap. `///` comments are the help text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
pub use clap_complete::Shell;

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
        /// Override a plan key, as `run --set` does.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<crate::plan::SetValue>,
    },
    /// Run the built-in target server in the foreground until Ctrl-C: HTTP/1.1 and HTTP/2 (h2c
    /// with prior knowledge), or HTTPS with ALPN h2 and http/1.1.
    Serve(ServeArgs),
    /// Rebuild every output of saved runs from their summary.json files, or merge the results
    /// files of a sharded run into one report (exact: histograms add bucket by bucket).
    Report {
        /// summary.json files (or run folders holding one), or shard results files.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Folder for report folders: each result is written to <out>/<plan name>/<run id>/.
        #[arg(long)]
        out: PathBuf,
        /// Bound summary.md to this many bytes (default 1 MiB, GitHub's step summary limit;
        /// 65536 for a PR comment): whole sections are left out, and named, to fit.
        #[arg(long, env = "LOADPLAN_MARKDOWN_MAX_BYTES", value_name = "BYTES", default_value_t = crate::units::MARKDOWN_MAX_BYTES, value_parser = parse_markdown_bytes)]
        markdown_max_bytes: usize,
        /// Print only the verdict line (and warnings and errors): no table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a commented starter plan that runs on the built-in server, and the plan schema
    /// beside it for editors. Never overwrites a file.
    Init(InitArgs),
    /// Print a shell completion script: `source <(loadplan completions bash)`.
    Completions {
        /// The shell to complete in.
        shell: Shell,
    },
    /// Print the JSON Schema of the plan format (or, with --summary, of summary.json).
    Schema {
        /// Print the schema of summary.json instead of the plan's.
        #[arg(long)]
        summary: bool,
    },
    /// Write one HTML page charting each cell's p50, p99, throughput and error rate across saved
    /// runs of one plan, failed, invalid and interrupted runs marked, and the change points of
    /// each series (shifts, by e-divisive means with a permutation test) at their first run.
    Trend {
        /// A plan's report folder (reports/<plan>/, holding run folders), run folders, or
        /// summary.json files; all of the same plan.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The HTML file to write.
        #[arg(long, value_name = "FILE", default_value = "trend.html")]
        out: PathBuf,
        /// Exit 1 when a cell's p50, p99, throughput or error rate shifted for the worse (a
        /// change point) with its first run among the last --recent runs.
        #[arg(long, env = "LOADPLAN_FAIL_ON_CHANGE")]
        fail_on_change: bool,
        /// How many of the latest runs count as recent for --fail-on-change.
        #[arg(long, value_name = "N", default_value_t = crate::stats::change::RECENT_RUNS as u64, value_parser = clap::value_parser!(u64).range(1..))]
        recent: u64,
    },
    /// Run a few iterations of one scenario with one user, printing every request and response
    /// (method, URL, status, headers, body up to 2 KiB; values of the environment, the data file
    /// and captures shown as their ${NAME}); exit 1 when a check fails. Records nothing.
    #[command(name = "try")]
    Try {
        /// The plan file (YAML).
        plan: PathBuf,
        /// The scenario to try (default: the plan's first HTTP scenario).
        #[arg(long, value_name = "NAME")]
        scenario: Option<String>,
        /// Iterations to run (a flow's iteration, or one target).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
        iterations: u64,
    },
    /// Write the comparison page of two saved runs: per cell and request, both percentile
    /// spectra on one log axis and every baseline check with its outcome and noise band. Exits
    /// 1 when a check regressed, as `run --baseline` would.
    Compare {
        /// The baseline: a run folder or its summary.json.
        #[arg(value_name = "BASELINE")]
        baseline: PathBuf,
        /// The run compared with it: a run folder or its summary.json.
        #[arg(value_name = "RUN")]
        run: PathBuf,
        /// The HTML file to write (default: compare.html in RUN's folder).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A worker process of the `processes` model (internal).
    #[command(name = "__worker", hide = true)]
    Worker,
}

/// `loadplan serve`: the built-in target server.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Serve HTTPS. Without --tls-cert, a CA and a certificate for 127.0.0.1, ::1 and
    /// localhost are generated at start, and the second line says where the CA certificate
    /// is (`ca-certificate PATH`, removed at shutdown).
    #[arg(long)]
    pub tls: bool,
    /// With --tls: serve this certificate chain (PEM, leaf first) instead of a generated one.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// With --tls-cert: its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires_all = ["tls", "tls_cert"])]
    pub tls_key: Option<PathBuf>,
    /// With --tls: require client certificates signed by the CA in this PEM file (mutual
    /// TLS); a handshake without one fails.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub client_ca: Option<PathBuf>,
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
    /// Override a plan key before the plan is checked, e.g.
    /// `--set scenarios.shop.concurrency=50` (a scenario by name or index), `--set
    /// defaults.timeout=2s`, `--set rounds=3` (repeatable). The value is read as the plan's
    /// YAML would be and recorded in summary.json (`plan.effective`).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<crate::plan::SetValue>,
    /// Compare with earlier runs of the same plan: a summary.json, or a folder of them (a
    /// history, searched recursively: the last --baseline-runs passing runs of each plan make
    /// the reference). Repeatable; only a regression beyond the tolerance and the noise fails.
    #[arg(long, env = "LOADPLAN_BASELINE", value_name = "SUMMARY|DIR")]
    pub baseline: Vec<PathBuf>,
    /// How many of a plan's last passing runs a history baseline uses (default 5; overrides the
    /// plan's `baseline.runs`).
    #[arg(long, env = "LOADPLAN_BASELINE_RUNS", value_name = "N")]
    pub baseline_runs: Option<std::num::NonZeroUsize>,
    /// Run only the I-th of N equal parts of every cell (users and work divided so the N parts
    /// add up to the whole), e.g. 2/4. Needs --results; merge with `loadplan report`.
    #[arg(long, env = "LOADPLAN_SHARD", value_name = "I/N", value_parser = parse_shard, requires = "results")]
    pub shard: Option<crate::stats::Shard>,
    /// With --shard: write the raw, mergeable results (histograms included) to FILE, and no report.
    #[arg(
        long,
        env = "LOADPLAN_RESULTS",
        value_name = "FILE",
        requires = "shard"
    )]
    pub results: Option<PathBuf>,
    /// Wait until this time (RFC 3339, e.g. 2026-11-25T03:00:00Z) before the first cell, so that
    /// all shards begin together.
    #[arg(long, env = "LOADPLAN_START_AT", value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<std::time::SystemTime>,
    /// How much worse than the baseline a figure may get, with its sign: 10% (overrides the
    /// plan's `baseline.tolerance` for every figure; under 100%, as it applies to throughput).
    #[arg(long, env = "LOADPLAN_TOLERANCE", value_parser = parse_tolerance)]
    pub tolerance: Option<f64>,
    /// Run every cell N times, interleaved (A B C … A B C …), and report each figure as the
    /// median of its rounds with the spread beside it (overrides the plan's `rounds`).
    #[arg(long, env = "LOADPLAN_ROUNDS", value_name = "N")]
    pub rounds: Option<std::num::NonZeroUsize>,
    /// Folder of handlebars templates replacing the embedded ones: report.html.hbs, and any
    /// other *.hbs file as a partial of that name (style.hbs, scenario.hbs).
    #[arg(long, env = "LOADPLAN_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Bound summary.md to this many bytes (default 1 MiB, GitHub's step summary limit; 65536
    /// for a PR comment): it opens with a summary of at most 2 KiB and folds the rest into
    /// <details> blocks; whole sections are left out, and named, to fit.
    #[arg(long, env = "LOADPLAN_MARKDOWN_MAX_BYTES", value_name = "BYTES", default_value_t = crate::units::MARKDOWN_MAX_BYTES, value_parser = parse_markdown_bytes)]
    pub markdown_max_bytes: usize,
    /// Print only the verdict line (and warnings and errors): no progress, no table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print summary.json on stdout, byte for byte as written, and everything meant for people
    /// on stderr: `loadplan run plan.yaml --json | jq .verdict`. One plan at a time.
    #[arg(long, conflicts_with = "shard")]
    pub json: bool,
    /// Stop the whole run after this long (e.g. 10m, 90s): what was measured is written and
    /// marked `interrupted`, and the exit code is 130, as for Ctrl-C.
    #[arg(long, env = "LOADPLAN_MAX_DURATION", value_name = "DURATION", value_parser = parse_limit)]
    pub max_duration: Option<Duration>,
    /// Push live metrics while the run goes on, e.g. prometheus=http://127.0.0.1:9090/api/v1/write
    /// (Prometheus remote write). Repeatable; in the environment, comma-separated. Credentials
    /// come from LOADPLAN_EXPORT_BEARER, or LOADPLAN_EXPORT_USER and LOADPLAN_EXPORT_PASSWORD,
    /// or the URL's userinfo; none is ever shown.
    #[arg(
        long,
        env = "LOADPLAN_EXPORT",
        value_name = "KIND=URL",
        value_delimiter = ',',
        hide_env_values = true,
        value_parser = parse_export
    )]
    pub export: Vec<crate::export::ExportArg>,
    /// How often --export pushes (and once more at the end).
    #[arg(
        long,
        env = "LOADPLAN_EXPORT_INTERVAL",
        value_name = "DURATION",
        default_value = "1s",
        value_parser = parse_interval
    )]
    pub export_interval: Duration,
}

/// `loadplan init`: a starter plan.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The plan file to write; `loadplan.schema.json` is written beside it.
    #[arg(default_value = "loadplan.yaml", value_name = "FILE")]
    pub file: PathBuf,
    /// What the starter plan shows.
    #[arg(long, value_enum, default_value_t = Starter::Http)]
    pub template: Starter,
}

/// The starter plans of `loadplan init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Starter {
    /// HTTP targets on the built-in server, sequential against async, with thresholds.
    Http,
    /// A flow: log in, capture the token, list the items, fetch one, with checks.
    Flow,
    /// I/O-bound against CPU-bound work under the four concurrency models.
    Cpu,
}

/// The completion script of `shell` for the whole command line, hidden commands left out (the
/// generators list them). Made in memory: the generator panics when its output fails, and a
/// closed pipe must not crash us.
pub fn completions(shell: Shell) -> Vec<u8> {
    let full = Cli::command();
    let mut visible = clap::Command::new("loadplan").version(env!("CARGO_PKG_VERSION"));
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        visible = visible.subcommand(sub.clone());
    }
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut visible, "loadplan", &mut out);
    out
}

fn parse_limit(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the limit must be above zero".into()),
        Err(e) => Err(format!("`{s}` is not a duration such as 10m or 90s: {e}")),
    }
}

/// Never fails: the text is checked once credentials are known, by messages that never quote
/// it whole (a parse error here would echo the URL, userinfo and all).
fn parse_export(s: &str) -> Result<crate::export::ExportArg, String> {
    Ok(crate::export::ExportArg::new(s))
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d >= Duration::from_millis(100) => Ok(d),
        Ok(_) => Err("the interval must be at least 100ms".into()),
        Err(e) => Err(format!("`{s}` is not a duration such as 1s or 500ms: {e}")),
    }
}

fn parse_markdown_bytes(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= crate::units::MARKDOWN_MIN_BYTES => Ok(n),
        Ok(_) => Err(format!(
            "at least {} bytes: the opening summary alone may take 2 KiB",
            crate::units::MARKDOWN_MIN_BYTES
        )),
        Err(_) => Err(format!("`{s}` is not a number of bytes such as 65536")),
    }
}

fn parse_shard(s: &str) -> Result<crate::stats::Shard, crate::stats::ShardError> {
    crate::stats::Shard::parse(s)
}

/// An RFC 3339 time (`2026-11-25T03:00:00Z`, a numeric offset, a fraction); without an offset
/// it is read as UTC.
fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    let utc = |e: jiff::Error| format!("{s}Z").parse::<jiff::Timestamp>().map_err(|_| e);
    s.parse::<jiff::Timestamp>()
        .or_else(utc)
        .and_then(std::time::SystemTime::try_from)
        .map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    crate::plan::parse_tolerance(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_rfc3339_an_offset_or_utc() {
        let at = |secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        for (text, want) in [
            ("2026-11-25T03:00:00Z", Some(at(1_795_575_600))),
            ("2026-11-25T04:00:00+01:00", Some(at(1_795_575_600))),
            ("2026-11-25T03:00:00", Some(at(1_795_575_600))),
            (
                "2026-11-25T03:00:00.5Z",
                Some(at(1_795_575_600) + std::time::Duration::from_millis(500)),
            ),
            ("tomorrow", None),
            ("", None),
        ] {
            assert_eq!(parse_time(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn time_limits_read_as_durations() {
        let cases = [
            ("10m", Ok(Duration::from_secs(600))),
            ("90s", Ok(Duration::from_secs(90))),
            ("1h 30m", Ok(Duration::from_secs(5400))),
            ("0s", Err("above zero")),
            ("ten", Err("not a duration")),
            ("10", Err("not a duration")),
        ];
        for (text, want) in cases {
            match (parse_limit(text), want) {
                (Ok(d), Ok(w)) => assert_eq!(d, w, "{text}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn tolerances_need_their_percent_sign() {
        // (text, tolerance or a word of the error)
        let cases = [
            ("10%", Ok(0.1)),
            ("2.5 %", Ok(0.025)),
            ("10", Err("write 10%")),
            ("0.1", Err("write 0.1%")),
            ("100%", Err("100% or more")),
            ("150%", Err("100% or more")),
            ("ten%", Err("percentage")),
        ];
        for (text, want) in cases {
            match (parse_tolerance(text), want) {
                (Ok(t), Ok(w)) => assert!((t - w).abs() < 1e-12, "{text}: {t}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn completions_leave_hidden_commands_out() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = String::from_utf8(completions(shell)).expect("utf-8");
            assert!(script.contains("max-duration"), "{shell}");
            assert!(!script.contains("__worker"), "{shell}");
        }
    }
}

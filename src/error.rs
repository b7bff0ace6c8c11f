//! The one error type of a command, and the exit code each kind of failure gives.
//!
//! Every command handler returns `Result<Verdict, Error>`; `lib.rs` prints the error, once, and
//! exits with [`Error::exit_code`]. A target that fails is never an error here: it is data in the
//! summary. Exit codes are API (README): 2 for input that cannot be used, 3 for a run that could
//! not be carried out.

use crate::gate::exit;
use crate::plan::PlanError;
use crate::report::ReportError;
use crate::run::RunError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Plans that cannot be run, every one of them located in its file.
    #[error("{}", .0.iter().map(PlanError::render).collect::<Vec<_>>().join("\n"))]
    Plans(Vec<PlanError>),
    /// Arguments that do not fit together, or name what is not there.
    #[error("error: {0}")]
    Usage(String),
    /// A saved file (summary.json, shard results, baseline) that cannot be used.
    #[error("error: {0}")]
    Input(String),
    /// A baseline (summary.json or history folder) that cannot be used.
    #[error("error: {0}")]
    Baseline(#[from] crate::gate::baseline::LoadError),
    /// The run could not be carried out (built-in server, runtime, target resolution).
    #[error("error: {0}")]
    Run(#[from] RunError),
    /// Outputs could not be rendered or written.
    #[error("error: {0}")]
    Report(#[from] ReportError),
    /// The system refused something a command needs (a file it writes, a thread it starts).
    #[error("error: {what}: {source}")]
    System {
        what: String,
        source: std::io::Error,
    },
    /// The trend page could not be produced from valid inputs.
    #[error("error: {0}")]
    Trend(crate::report::trend::TrendError),
    /// An `--export` target that cannot be used.
    #[error("error: {0}")]
    Export(#[from] crate::export::TargetError),
    /// The standalone server stopped or could not start.
    #[error("error: {0}")]
    Serve(crate::server::ServeError),
    /// A worker process of the `processes` host stopped before reporting.
    #[error("error: loadplan worker: {0}")]
    Worker(#[from] crate::run::host::worker::WorkerError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plans(_)
            | Error::Usage(_)
            | Error::Input(_)
            | Error::Baseline(_)
            | Error::Export(_) => exit::INVALID,
            Error::Run(_)
            | Error::Report(_)
            | Error::System { .. }
            | Error::Trend(_)
            | Error::Serve(_)
            | Error::Worker(_) => exit::RUN_FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_exit_code() {
        let cases = [
            (Error::Plans(Vec::new()), exit::INVALID),
            (Error::Usage("x".into()), exit::INVALID),
            (Error::Input("x".into()), exit::INVALID),
            (
                Error::Run(RunError::Builtin(crate::run::BuiltinError::Silent)),
                exit::RUN_FAILED,
            ),
            (
                Error::System {
                    what: "x".into(),
                    source: std::io::Error::other("y"),
                },
                exit::RUN_FAILED,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
        }
        assert_eq!(Error::Usage("no".into()).to_string(), "error: no");
    }
}

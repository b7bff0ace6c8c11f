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
    /// The run could not be carried out (built-in server, runtime, target resolution).
    #[error("error: {0}")]
    Run(#[from] RunError),
    /// Outputs could not be rendered or written.
    #[error("error: {0}")]
    Report(#[from] ReportError),
    /// Anything else that stopped a command (a worker process, the standalone server).
    #[error("error: {0:#}")]
    Failed(#[from] anyhow::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Plans(_) | Error::Usage(_) | Error::Input(_) => exit::INVALID,
            Error::Run(_) | Error::Report(_) | Error::Failed(_) => exit::RUN_FAILED,
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
            (Error::Run(RunError::Builtin("x".into())), exit::RUN_FAILED),
            (Error::Failed(anyhow::anyhow!("x")), exit::RUN_FAILED),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
        }
        assert_eq!(Error::Usage("no".into()).to_string(), "error: no");
    }
}

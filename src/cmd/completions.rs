//! `loadplan completions SHELL`: the shell's completion script on stdout.

use std::io::Write as _;

use crate::Error;
use crate::cli::{self, Shell};
use crate::stats::Verdict;

pub fn run(shell: Shell) -> Result<Verdict, Error> {
    // A closed pipe (`loadplan completions bash | head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(&cli::completions(shell));
    Ok(Verdict::Passed)
}

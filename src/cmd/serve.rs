//! `loadplan serve`: the built-in target server in the foreground, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use crate::Error;
use crate::stats::Verdict;

pub fn run(addr: SocketAddr) -> Result<Verdict, Error> {
    crate::server::run_standalone(addr)?;
    Ok(Verdict::Passed)
}

//! `loadplan serve`: the built-in target server in the foreground, until Ctrl-C or SIGTERM.

use crate::Error;
use crate::cli::ServeArgs;
use crate::server::{self, ServeError, ServeOptions};
use crate::stats::Verdict;

pub fn run(args: &ServeArgs) -> Result<Verdict, Error> {
    let options = ServeOptions {
        addr: args.addr,
        tls: args.tls,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        client_ca: args.client_ca.clone(),
    };
    server::run_standalone(options).map_err(|e| match e {
        ServeError::Flags => Error::Usage(e.to_string()),
        other => Error::Failed(other.into()),
    })?;
    Ok(Verdict::Passed)
}

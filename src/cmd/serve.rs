//! `loadplan serve`: the built-in target server in the foreground, until Ctrl-C or SIGTERM. What
//! it says (the address lines on stdout, accept failures on stderr) is printed here.

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
    let voice = server::Voice {
        announce: |lines| {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(lines.as_bytes()).and_then(|()| out.flush())
        },
        log: |line| super::tell!("{line}"),
    };
    server::run_standalone(options, voice).map_err(|e| match e {
        ServeError::Flags => Error::Usage(e.to_string()),
        other => Error::Serve(other),
    })?;
    Ok(Verdict::Passed)
}

//! The one integration-test binary: end-to-end runs of the real `loadplan` binary.
//!
//! Every load goes to loopback (the built-in server on an ephemeral port, or small servers bound
//! to port 0 by the tests), is bounded in count and time, and stops by itself.

mod util;

mod capacity;
mod change;
mod cli;
mod errors;
mod export;
mod faults;
mod files;
mod flows;

mod gate;
mod groups;
mod grpc;
mod language;
mod netns;
mod open;
mod report;
mod run;
mod saved;
mod server;
mod shards;
mod slo;
mod streams;
mod tidy;
mod tls;
mod traffic;
mod trend;
mod truth;
mod validity;
mod websocket;

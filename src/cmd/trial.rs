//! `loadplan try PLAN [--scenario NAME] [--iterations N]`: one user runs N iterations of one
//! scenario, and every request and response is printed (method, URL, status, headers, body up to
//! 2 KiB), for someone writing a flow. Values of the environment, the data file and captures
//! show as their `${NAME}`. The plan's `before:` runs first (its captures are variables), its
//! `after:` not at all. Nothing is measured or written; exit 1 when an iteration (or `before:`)
//! failed (a check, a capture, a connection), 0 otherwise.

use std::path::Path;

use super::{load_plans, say};
use crate::Error;
use crate::plan::{Base, Workload};
use crate::run::{BuiltinServer, RunError, base_url};
use crate::stats::Verdict;
use crate::workload::{Prepared, Resolved, Traced, Unit};

pub fn run(path: &Path, scenario: Option<&str>, iterations: u64) -> Result<Verdict, Error> {
    let plans = load_plans(&[path.to_path_buf()], &[])?;
    let Some(plan) = plans.first() else {
        return Err(Error::Usage("no plan".into()));
    };
    let http = |s: &&crate::plan::Scenario| matches!(s.workload, Workload::Http(_));
    let s = match scenario {
        Some(name) => plan
            .scenarios
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
                Error::Usage(format!(
                    "plan `{}` has no scenario `{name}` (its scenarios: {})",
                    plan.name,
                    names.join(", ")
                ))
            })?,
        None => plan.scenarios.iter().find(http).ok_or_else(|| {
            Error::Usage(format!("plan `{}` has no HTTP scenario to try", plan.name))
        })?,
    };
    if !http(&s) {
        return Err(Error::Usage(format!(
            "scenario `{}` computes a CPU kernel: there are no requests to show",
            s.name
        )));
    }
    let server = match &plan.base {
        Base::Builtin { tls } => Some(BuiltinServer::start(*tls).map_err(RunError::Builtin)?),
        _ => None,
    };
    let base = base_url(&plan.base, server.as_ref());
    let extra_ca = server.as_ref().and_then(|s| s.ca_pem.as_deref());
    let failed = (|| -> Result<u64, Error> {
        // `before:` runs first, as in a run: its captures are the scenario's variables.
        let before = match &plan.before {
            Some(steps) => {
                let once = crate::run::once::run(
                    steps,
                    base.as_ref(),
                    extra_ca,
                    plan.defaults_timeout,
                    &[],
                )?;
                say!("{}", once.describe("before"));
                if once.error.is_some() {
                    return Ok(1);
                }
                once.values
            }
            None => Vec::new(),
        };
        let mut resolved =
            Resolved::new(&s.workload, base.as_ref(), extra_ca).map_err(RunError::from)?;
        if let Resolved::Http(h) = &mut resolved {
            h.preset_from(&before);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RunError::Runtime)?;
        let _entered = runtime.enter();
        let prepared = Prepared::new(&resolved, s.timeout, (0, 1), None).map_err(RunError::from)?;
        let seed = match &s.workload {
            Workload::Http(h) => h.seed.unwrap_or_else(|| fastrand::u64(..)),
            Workload::Cpu(_) => 0,
        };
        let Unit::Http(mut session) = prepared.unit(0, seed) else {
            return Err(Error::Usage("not an HTTP scenario".into()));
        };
        session.trace_on();
        say!(
            "trying scenario `{}` of plan `{}`: one user, {}",
            s.name,
            plan.name,
            crate::units::count(iterations as usize, "iteration")
        );
        let mut failed = 0;
        for op in 0..iterations {
            let outcome = runtime.block_on(session.execute(op, &mut |_| {}));
            say!("\n── iteration {} ──", op + 1);
            for t in session.take_trace() {
                show(&t);
            }
            match (&outcome.error, outcome.exhausted) {
                (_, true) => {
                    say!(
                        "iteration {}: the data file's unique rows are used up",
                        op + 1
                    );
                    break;
                }
                (Some(kind), _) => {
                    failed += 1;
                    say!(
                        "iteration {}: FAILED ({}): {}",
                        op + 1,
                        kind.as_str(),
                        outcome.message.as_deref().unwrap_or("no message")
                    );
                }
                (None, _) => say!("iteration {}: ok", op + 1),
            }
        }
        Ok(failed)
    })();
    if let Some(server) = server {
        server.stop();
    }
    let failed = failed?;
    say!(
        "\n{} of {} failed",
        crate::units::count(failed as usize, "iteration"),
        iterations
    );
    Ok(if failed > 0 {
        Verdict::Failed
    } else {
        Verdict::Passed
    })
}

/// One request and its response, as text.
fn show(t: &Traced) {
    say!("\n> {} {}    [{}]", t.method, t.url, t.name);
    for (k, v) in &t.request_headers {
        say!("> {k}: {v}");
    }
    if !t.request_body.is_empty() {
        say!(">\n{}", t.request_body);
    }
    if let Some(status) = t.status {
        say!("< {status}");
        for (k, v) in &t.response_headers {
            say!("< {k}: {v}");
        }
        if !t.response_body.is_empty() {
            say!("<\n{}", t.response_body);
        }
    }
    if let Some(e) = &t.error {
        say!("! {e}");
    }
}

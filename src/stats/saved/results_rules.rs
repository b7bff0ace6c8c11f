//! The rules a saved shard results file must keep.

use crate::stats::recorder::RecorderWire;
use crate::stats::results::{CellPartWire, Results};
use crate::units::MAX_CONCURRENCY;

use super::*;

// ---------------------------------------------------------------------------------------------
// Shard results.

/// Checks a parsed shard results file (see the module doc); `name` is the file, for messages.
/// What needs the plan (scenario indices, the plan's cells) is checked by `merge_results`.
pub fn check_results(name: &str, r: &Results) -> Result<(), SavedError> {
    results_rules(r).map_err(|v| v.in_file(name))
}

pub(super) fn results_rules(r: &Results) -> Check {
    let at = ROOT;
    run(&r.plan, &r.run_id, [&r.started_at, &r.finished_at])?;
    if r.plan_hash.len() != 64 || !r.plan_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(at
            .field("plan_hash")
            .fail("not a plan hash (64 hexadecimal digits)"));
    }
    plan_parts(&at.field("plan_parts"), &r.plan_parts)?;
    let shard = at.field("shard");
    shard.field("count").within(r.shard.count, 1, MAX_SHARDS)?;
    if r.shard.index >= r.shard.count {
        return Err(shard.field("index").fail(format!(
            "{} is out of range for {} shards (0-based)",
            r.shard.index, r.shard.count
        )));
    }
    at.field("cores").within(r.cores, 1, MAX_CORES)?;
    let at_once = at.field("once");
    for (i, o) in r.once.iter().enumerate() {
        let at = at_once.index(i);
        if !matches!(o.key.as_str(), "before" | "after") {
            return Err(at.field("key").fail("neither `before` nor `after`"));
        }
        recorder(&at.field("recorder"), &o.recorder)?;
    }
    let cells = at.field("cells");
    for (i, c) in r.cells.iter().enumerate() {
        let at = cells.index(i);
        part(&at, c)?;
        let twice = r.cells[..i]
            .iter()
            .any(|o| (o.scenario, o.model, o.concurrency) == (c.scenario, c.model, c.concurrency));
        if twice {
            return Err(at.fail(format!(
                "a second share of cell `{} · {}` in one shard",
                c.scenario_name,
                c.model.label(c.concurrency, c.workers)
            )));
        }
    }
    Ok(())
}

/// Parts of a plan are named by the plan (scenario, request and header names): bounded in number
/// and length, each with a SHA-256 digest.
fn plan_parts(at: &At, parts: &std::collections::BTreeMap<String, String>) -> Check {
    if parts.len() > MAX_PLAN_PARTS {
        return Err(at.fail(format!(
            "{} parts; a plan has at most {MAX_PLAN_PARTS}",
            parts.len()
        )));
    }
    for (name, digest) in parts {
        if name.is_empty() || name.len() > MAX_PART_NAME {
            return Err(at.fail(format!(
                "a part name of {} bytes (1 to {MAX_PART_NAME})",
                name.len()
            )));
        }
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(at.fail("not a digest (64 hexadecimal digits)"));
        }
    }
    Ok(())
}

/// Parts of a plan a shard file may name ([`Results::plan_parts`]).
const MAX_PLAN_PARTS: usize = 1 << 20;
/// Bytes of a part's name: scenario, request and header names, each bounded by the plan.
const MAX_PART_NAME: usize = 4096;

/// Every field of a cell's share, by construction (destructured, so that a new field does not
/// compile without its rule).
pub(super) fn part(at: &At, c: &CellPartWire) -> Check {
    let CellPartWire {
        // Checked against the plan by `merge_results` (an index into its scenarios, a round
        // within its rounds); typed by serde (a known model, a boolean).
        scenario: _,
        round: _,
        model: _,
        complete: _,
        scenario_name,
        concurrency,
        workers,
        recorder,
        wall_us,
        cpu_us,
        peak_rss_bytes,
        notes,
        offset_us,
        capacity,
    } = c;
    at.field("scenario_name").name(scenario_name)?;
    at.field("concurrency")
        .within(*concurrency, 1, MAX_CONCURRENCY)?;
    at.field("workers").within(*workers, 1, MAX_WORKERS)?;
    at.field("wall_us").micros(*wall_us)?;
    at.field("cpu_us").micros(*cpu_us)?;
    at.field("offset_us").micros(*offset_us)?;
    at.field("peak_rss_bytes").count(*peak_rss_bytes)?;
    if notes.len() > MAX_NOTES {
        return Err(at
            .field("notes")
            .out_of_range(notes.len(), &format!("0 to {MAX_NOTES} entries")));
    }
    if let Some(c) = capacity {
        super::summary_rules::capacity(&at.field("capacity"), c)?;
    }
    self::recorder(&at.field("recorder"), recorder)
}

pub(super) fn recorder(at: &At, r: &RecorderWire) -> Check {
    let ops = r.operations;
    at.field("operations").count(ops)?;
    at.field("successes").count(r.successes)?;
    let errors = at.field("errors");
    for (i, n) in r.errors.iter().enumerate() {
        errors.index(i).count(*n)?;
    }
    at.adds_up(
        r.errors.iter().copied().chain([r.successes]),
        ops,
        "successes and errors",
    )?;
    at.field("retried").count(r.retried)?;
    let statuses = at.field("statuses");
    for (i, (code, n)) in r.statuses.iter().enumerate() {
        let at = statuses.index(i);
        if !(100..=999).contains(code) {
            return Err(at.fail(format!("{code} is not an HTTP status code (100 to 999)")));
        }
        if r.statuses[..i].iter().any(|(c, _)| c == code) {
            return Err(at.fail(format!("status {code} is listed twice")));
        }
        at.count(*n)?;
    }
    let answered = r
        .statuses
        .iter()
        .try_fold(0u64, |a, (_, n)| a.checked_add(*n));
    if answered.is_none_or(|n| n > ops) {
        return Err(statuses.fail(format!("count more responses than the {ops} operations")));
    }
    at.field("bytes").count(r.bytes)?;
    at.field("out_of_range").count(r.out_of_range)?;
    let latency = histogram(&at.field("latency"), &r.latency)?;
    at.adds_up(
        [latency.len(), r.out_of_range],
        ops,
        "the latency histogram's values and out_of_range",
    )?;
    // Unlike a summary's (older summaries have none), a shard's timeline always accounts for
    // every operation: merged with another shard's, it must still add up.
    let timeline = at.field("timeline");
    let counts = r
        .timeline
        .iter()
        .map(|s| (s.second, s.operations, s.errors, s.bytes));
    seconds(
        &timeline,
        counts,
        |a, v| a.count(v),
        (ops, r.errors.iter().sum()),
    )?;
    for (i, s) in r.timeline.iter().enumerate() {
        second_histogram(
            &timeline.index(i).field("latency"),
            &s.latency,
            s.operations,
        )?;
    }
    if let Some(o) = &r.open {
        let at = at.field("open");
        arrivals(&at, o.scheduled, o.dropped, |a, v| a.count(v))?;
        for (field, b64) in [("uncorrected", &o.uncorrected), ("lag", &o.lag)] {
            let at = at.field(field);
            let h = histogram(&at, b64)?;
            if h.len() > ops {
                return Err(at.fail(format!("holds {} values for {ops} operations", h.len())));
            }
        }
    }
    if let Some(c) = &r.connections {
        let at = at.field("connections");
        for (field, n) in [
            ("opened", c.opened),
            ("tls_handshakes", c.tls_handshakes),
            ("tls_resumed", c.tls_resumed),
            ("streamed", c.streamed),
            ("events", c.events),
        ] {
            at.field(field).count(n)?;
        }
        let protocols = at.field("protocols");
        for (name, n) in &c.protocols {
            protocols.field(name).count(*n)?;
        }
        for (field, b64) in [
            ("dns", &c.dns),
            ("connect", &c.connect),
            ("tls", &c.tls),
            ("ttfb", &c.ttfb),
        ] {
            histogram(&at.field(field), b64)?;
        }
        // Absent from results written before streams were timed (and WebSocket steps).
        for (field, b64) in [
            ("first_event", &c.first_event),
            ("event_gap", &c.event_gap),
            ("upgrade", &c.upgrade),
        ] {
            if let Some(b64) = b64 {
                histogram(&at.field(field), b64)?;
            }
        }
    }
    if let Some(t) = &r.think {
        histogram(&at.field("think"), t)?;
    }
    // Each request name's own recorder, under the same rules: the merge decodes every
    // histogram in it.
    let requests = at.field("requests");
    for (i, q) in r.requests.iter().enumerate() {
        recorder(&requests.index(i), q)?;
    }
    Ok(())
}

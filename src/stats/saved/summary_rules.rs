//! The rules a saved summary.json must keep: every count, time, rate and histogram in range and
//! consistent with the others.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::stats::ConnectionsSummary;
use crate::stats::recorder::TimelinePoint;
use crate::stats::summary::{
    BaselineReport, CapacityProbe, CapacitySummary, CellSummary, GroupSummary, LatencySummary,
    MachineCheck, OnceSummary, OpenSummary, PlanInfo, RequestSummary, RoundsSummary,
    ScenarioSummary, Spread, Summary,
};
use crate::units::MAX_CONCURRENCY;

use super::*;

// ---------------------------------------------------------------------------------------------
// The summary.

/// Checks a parsed summary (see the module doc); `name` is the file, for messages.
pub fn check_summary(name: &str, s: &Summary) -> Result<(), SavedError> {
    summary_rules(s).map_err(|v| v.in_file(name))
}

/// At most this many validity findings: a run finds at most one per rule, cell and round, so a
/// longer list was not written by loadplan.
const MAX_VALIDITY: usize = 100_000;

/// At most this many effective values (`plan.effective`): more was not written by loadplan.
const MAX_EFFECTIVE: usize = 10_000;

/// At most this many extra percentiles per latency summary (a plan names a few).
const MAX_PERCENTILES: usize = 1_000;

/// Every field of the summary, by construction (destructured, as [`cell`] is).
pub(super) fn summary_rules(s: &Summary) -> Check {
    let Summary {
        // Read before these rules run (`parse` accepts exactly the current version).
        schema_version: _,
        plan,
        run_id,
        started_at,
        finished_at,
        duration_seconds,
        // Text shown as it is (escaped) in the reports; typed by serde.
        loadplan_version: _,
        ci: _,
        verdict: _,
        host,
        scenarios,
        groups,
        once,
        baseline,
        export,
        validity,
    } = s;
    let at = ROOT;
    let (started, finished) = (started_at.to_string(), finished_at.to_string());
    run(plan, run_id, [&started, &finished])?;
    at.field("duration_seconds").seconds(*duration_seconds)?;
    at.field("host")
        .field("cores")
        .within(host.cores, 1, MAX_CORES)?;
    let at_scenarios = at.field("scenarios");
    for (i, sc) in scenarios.iter().enumerate() {
        scenario(&at_scenarios.index(i), sc)?;
    }
    let at_once = at.field("once");
    for (i, o) in once.iter().enumerate() {
        let OnceSummary { key, requests } = o;
        let at = at_once.index(i);
        if !matches!(key.as_str(), "before" | "after") {
            return Err(at.field("key").fail("neither `before` nor `after`"));
        }
        let at_requests = at.field("requests");
        for (j, q) in requests.iter().enumerate() {
            request(&at_requests.index(j), q)?;
        }
    }
    let at_groups = at.field("groups");
    for (i, g) in groups.iter().enumerate() {
        group(&at_groups.index(i), g)?;
    }
    if let Some(b) = baseline {
        self::baseline(&at.field("baseline"), b)?;
    }
    // Validity findings are shown as they are (escaped); their figures must be numbers, and a
    // run breaks at most one finding per rule, cell and round.
    let at_validity = at.field("validity");
    if validity.len() > MAX_VALIDITY {
        return Err(
            at_validity.out_of_range(validity.len(), &format!("0 to {MAX_VALIDITY} entries"))
        );
    }
    for (i, v) in validity.iter().enumerate() {
        let at = at_validity.index(i);
        at.field("scenario").name(&v.scenario)?;
        at.field("measured").finite(v.measured)?;
        at.field("bound").finite(v.bound)?;
    }
    let at_export = at.field("export");
    for (i, e) in export.iter().enumerate() {
        let at = at_export.index(i);
        for (name, n) in [
            ("intervals", e.intervals),
            ("sent", e.sent),
            ("retried", e.retried),
            ("dropped", e.dropped),
        ] {
            at.field(name).total(n)?;
        }
    }
    Ok(())
}

/// What a summary and a shard file both say about their run.
pub(super) fn run(plan: &PlanInfo, run_id: &str, [started, finished]: [&str; 2]) -> Check {
    ROOT.field("plan").field("name").name(&plan.name)?;
    // The effective values are text shown escaped (typed by serde); a plan has a few dozen load
    // keys, and `--set` adds what the command line held.
    ROOT.field("plan")
        .field("effective")
        .within(plan.effective.len(), 0, MAX_EFFECTIVE)?;
    ROOT.field("run_id").run_id(run_id)?;
    ROOT.field("started_at").time(started)?;
    ROOT.field("finished_at").time(finished)
}

/// Every field of a scenario group, by construction: its name, its members' names, and its
/// cells under the same rules as a scenario's.
pub(super) fn group(at: &At, g: &GroupSummary) -> Check {
    let GroupSummary {
        name,
        members,
        cells,
    } = g;
    at.field("name").name(name)?;
    let at_members = at.field("members");
    if members.is_empty() {
        return Err(at_members.fail("a group without members is never written"));
    }
    for (i, m) in members.iter().enumerate() {
        at_members.index(i).name(m)?;
    }
    let at_cells = at.field("cells");
    for (i, c) in cells.iter().enumerate() {
        cell(&at_cells.index(i), c)?;
    }
    Ok(())
}

/// Every field of a scenario, by construction (destructured, as [`cell`] is).
pub(super) fn scenario(at: &At, s: &ScenarioSummary) -> Check {
    let ScenarioSummary {
        name,
        busy_fraction,
        cells,
        // Typed by serde (`io` or `cpu`, a boolean, a number), or text shown as it is
        // (escaped) in the reports.
        kind: _,
        bound: _,
        classified: _,
        seed: _,
        tls_insecure: _,
        description: _,
        bound_cell: _,
        workload: _,
        load: _,
    } = s;
    at.field("name").name(name)?;
    at.field("busy_fraction").magnitude(*busy_fraction)?;
    if cells.is_empty() {
        return Err(at
            .field("cells")
            .fail("a scenario without cells is never written"));
    }
    let at_cells = at.field("cells");
    for (i, c) in cells.iter().enumerate() {
        cell(&at_cells.index(i), c)?;
    }
    Ok(())
}

/// Every field of a cell, by construction: the struct is destructured, so a field added to
/// [`CellSummary`] does not compile until it has its rule here (or says why it needs none).
pub(super) fn cell(at: &At, c: &CellSummary) -> Check {
    let CellSummary {
        // Typed: serde refuses anything but a known model or a boolean.
        model: _,
        complete: _,
        concurrency,
        workers,
        operations,
        retried,
        // Checked together by `outcomes` (with `error_messages`).
        successes: _,
        errors: _,
        status_codes: _,
        error_rate: _,
        bytes: _,
        error_messages: _,
        wall_seconds,
        throughput_per_s,
        attempts_per_s,
        requests_per_s,
        latency_us,
        latency_out_of_range,
        cpu_seconds,
        cores_busy,
        peak_rss_bytes,
        speedup,
        notes,
        start_offset_seconds,
        thresholds,
        timeline,
        histogram,
        open,
        connections,
        requests,
        think_us,
        rounds,
        machine,
        capacity,
    } = c;
    at.field("concurrency")
        .within(*concurrency, 1, MAX_CONCURRENCY)?;
    at.field("workers").within(*workers, 1, MAX_WORKERS)?;
    let ops = *operations;
    outcomes(at, Outcomes::from(c))?;
    // Requests, not operations (a flow's iteration sends several): a count in range.
    at.field("retried").total(*retried)?;
    at.field("wall_seconds").seconds(*wall_seconds)?;
    at.field("throughput_per_s").magnitude(*throughput_per_s)?;
    at.field("attempts_per_s").magnitude(*attempts_per_s)?;
    if let Some(x) = requests_per_s {
        at.field("requests_per_s").magnitude(*x)?;
    }
    at.field("cpu_seconds").cpu_seconds(*cpu_seconds)?;
    at.field("cores_busy").magnitude(*cores_busy)?;
    at.field("peak_rss_bytes").total(*peak_rss_bytes)?;
    at.field("start_offset_seconds")
        .seconds(*start_offset_seconds)?;
    if let Some(x) = speedup {
        at.field("speedup").magnitude(*x)?;
    }
    texts(&at.field("notes"), notes, MAX_NOTES)?;
    latency(&at.field("latency_us"), latency_us)?;
    at.field("latency_out_of_range")
        .total(*latency_out_of_range)?;
    at.adds_up(
        [latency_us.count, *latency_out_of_range],
        ops,
        "latency_us.count and latency_out_of_range",
    )?;
    latency_histogram(&at.field("histogram"), histogram, latency_us)?;
    let at_thresholds = at.field("thresholds");
    for (i, t) in thresholds.iter().enumerate() {
        let at = at_thresholds.index(i);
        if let Some(o) = t.observed {
            at.field("observed").finite(o)?;
        }
        at.field("limit").finite(t.limit)?;
        if let Some(w) = &t.windows {
            windows(&at.field("windows"), w)?;
        }
    }
    self::timeline(&at.field("timeline"), timeline, c)?;
    if let Some(o) = open {
        self::open(&at.field("open"), o, ops)?;
    }
    if let Some(x) = connections {
        self::connections(&at.field("connections"), x)?;
    }
    let at_requests = at.field("requests");
    for (i, q) in requests.iter().enumerate() {
        request(&at_requests.index(i), q)?;
    }
    if let Some(t) = think_us {
        latency(&at.field("think_us"), t)?;
    }
    if let Some(r) = rounds {
        self::rounds(&at.field("rounds"), r)?;
    }
    if let Some(x) = capacity {
        self::capacity(&at.field("capacity"), x)?;
    }
    self::machine(&at.field("machine"), machine)
}

/// A capacity search: rates and figures in range, the bracket in order, the probes' counts
/// consistent.
pub(super) fn capacity(at: &At, c: &CapacitySummary) -> Check {
    let CapacitySummary {
        slo,
        capacity_per_s,
        good_per_s,
        bad_per_s,
        from_per_s,
        to_per_s,
        precision,
        // Typed: serde refuses an unknown reason.
        stopped: _,
        probes,
        shown_probe,
    } = c;
    if *shown_probe >= probes.len().max(1) {
        return Err(at
            .field("shown_probe")
            .fail(format!("probe {shown_probe} of {}", probes.len())));
    }
    texts(&at.field("slo"), slo, MAX_NOTES)?;
    for (field, x) in [
        ("capacity_per_s", capacity_per_s),
        ("good_per_s", good_per_s),
        ("bad_per_s", bad_per_s),
    ] {
        if let Some(x) = x {
            at.field(field).magnitude(*x)?;
        }
    }
    at.field("from_per_s").magnitude(*from_per_s)?;
    at.field("to_per_s").magnitude(*to_per_s)?;
    at.field("precision").magnitude(*precision)?;
    if let (Some(g), Some(b)) = (good_per_s, bad_per_s)
        && g >= b
    {
        return Err(at.fail(format!("good_per_s {g} is not below bad_per_s {b}")));
    }
    let at_probes = at.field("probes");
    for (i, p) in probes.iter().enumerate() {
        let CapacityProbe {
            rate_per_s,
            hold_seconds,
            achieved_per_s,
            operations,
            errors,
            error_rate,
            dropped,
            p50_us,
            p99_us,
            p99_uncorrected_us,
            cores_busy,
            kept: _,
            generator_limited: _,
            broken,
        } = p;
        let at = at_probes.index(i);
        at.field("rate_per_s").magnitude(*rate_per_s)?;
        at.field("hold_seconds").seconds(*hold_seconds)?;
        at.field("achieved_per_s").magnitude(*achieved_per_s)?;
        at.field("operations").total(*operations)?;
        at.field("errors").total(*errors)?;
        at.field("dropped").total(*dropped)?;
        at.field("error_rate").magnitude(*error_rate)?;
        at.field("cores_busy").magnitude(*cores_busy)?;
        if errors > operations {
            return Err(at
                .field("errors")
                .fail(format!("{errors} errors of {operations} operations")));
        }
        let highest = shape().highest_us;
        for (field, v) in [
            ("p50_us", *p50_us),
            ("p99_us", *p99_us),
            ("p99_uncorrected_us", *p99_uncorrected_us),
        ] {
            if v > highest {
                return Err(at.field(field).out_of_range(v, "0 to one hour"));
            }
        }
        texts(&at.field("broken"), broken, MAX_NOTES)?;
    }
    Ok(())
}

/// Notes a cell carries: at most this many (a run writes a handful).
pub(super) const MAX_NOTES: usize = 1_000;

/// Free text shown in the reports (escaped there): a bounded number of lines.
fn texts(at: &At, texts: &[String], most: usize) -> Check {
    if texts.len() > most {
        return Err(at.out_of_range(texts.len(), &format!("0 to {most} entries")));
    }
    Ok(())
}

/// Error messages: each under a category the cell counts errors of, at most
/// [`MESSAGES_PER_KIND`](crate::stats::MESSAGES_PER_KIND) each.
fn messages(
    at: &At,
    messages: &BTreeMap<String, Vec<String>>,
    errors: &BTreeMap<String, u64>,
) -> Check {
    for (kind, list) in messages {
        let at = at.field(kind);
        if !errors.contains_key(kind) {
            return Err(at.fail("messages of an error category the cell does not count"));
        }
        texts(&at, list, crate::stats::MESSAGES_PER_KIND)?;
    }
    Ok(())
}

/// A cell's figures over its rounds: every spread's numbers in range, in order, and no more
/// values than rounds.
fn rounds(at: &At, r: &RoundsSummary) -> Check {
    let RoundsSummary {
        count,
        throughput_per_s,
        attempts_per_s,
        error_rate,
        speedup,
        p50_us,
        p90_us,
        p99_us,
        cores_busy,
        wall_seconds,
        cpu_us_per_op,
    } = r;
    at.field("count")
        .within(*count, 1, MAX_SUMMARY_COUNT as usize)?;
    let spreads = [
        ("throughput_per_s", Some(throughput_per_s)),
        ("attempts_per_s", Some(attempts_per_s)),
        ("error_rate", Some(error_rate)),
        ("speedup", speedup.as_ref()),
        ("p50_us", Some(p50_us)),
        ("p90_us", Some(p90_us)),
        ("p99_us", Some(p99_us)),
        ("cores_busy", Some(cores_busy)),
        ("wall_seconds", Some(wall_seconds)),
        ("cpu_us_per_op", cpu_us_per_op.as_ref()),
    ];
    for (name, spread) in spreads {
        let Some(Spread {
            median,
            min,
            max,
            values,
        }) = spread
        else {
            continue;
        };
        let at = at.field(name);
        for (field, v) in [("median", median), ("min", min), ("max", max)] {
            at.field(field).magnitude(*v)?;
        }
        if !(min <= median && median <= max) {
            return Err(at.fail("min, median and max out of order"));
        }
        if values.len() > *count {
            return Err(at
                .field("values")
                .fail("more values than the cell has rounds"));
        }
        for (i, v) in values.iter().enumerate() {
            at.field("values").index(i).magnitude(*v)?;
        }
    }
    Ok(())
}

/// The machine checks: ratios and shares in range (the flags and the sample are typed).
fn machine(at: &At, m: &MachineCheck) -> Check {
    let MachineCheck {
        cpu_us_per_op,
        cpu_per_op_vs_sequential,
        sample: _,
        other_seconds,
        other_share,
        other_cores,
        steal_share,
        too_short: _,
        flags: _,
    } = m;
    let figures = [
        ("cpu_us_per_op", cpu_us_per_op),
        ("cpu_per_op_vs_sequential", cpu_per_op_vs_sequential),
        ("other_seconds", other_seconds),
        ("other_share", other_share),
        ("other_cores", other_cores),
        ("steal_share", steal_share),
    ];
    for (name, v) in figures {
        if let Some(v) = v {
            at.field(name).magnitude(*v)?;
        }
    }
    Ok(())
}

/// What a cell and a request name both count: their operations and how they ended.
pub(super) struct Outcomes<'a> {
    operations: u64,
    successes: u64,
    errors: &'a BTreeMap<String, u64>,
    status_codes: &'a BTreeMap<String, u64>,
    error_rate: f64,
    bytes: u64,
    messages: &'a BTreeMap<String, Vec<String>>,
}

impl<'a> From<&'a CellSummary> for Outcomes<'a> {
    fn from(c: &'a CellSummary) -> Self {
        Outcomes {
            operations: c.operations,
            successes: c.successes,
            errors: &c.errors,
            status_codes: &c.status_codes,
            error_rate: c.error_rate,
            bytes: c.bytes,
            messages: &c.error_messages,
        }
    }
}

impl<'a> From<&'a RequestSummary> for Outcomes<'a> {
    fn from(q: &'a RequestSummary) -> Self {
        Outcomes {
            operations: q.operations,
            successes: q.successes,
            errors: &q.errors,
            status_codes: &q.status_codes,
            error_rate: q.error_rate,
            bytes: q.bytes,
            messages: &q.error_messages,
        }
    }
}

/// Counters in range, successes and errors adding up to the operations, no more responses than
/// operations.
pub(super) fn outcomes(at: &At, o: Outcomes) -> Check {
    messages(&at.field("error_messages"), o.messages, o.errors)?;
    let ops = o.operations;
    at.field("operations").total(ops)?;
    at.field("successes").total(o.successes)?;
    let errors = at.field("errors");
    for (k, n) in o.errors {
        errors.field(k).total(*n)?;
    }
    at.adds_up(
        o.errors.values().copied().chain([o.successes]),
        ops,
        "successes and errors",
    )?;
    let statuses = at.field("status_codes");
    for (code, n) in o.status_codes {
        let at = statuses.field(code);
        match code.parse::<u16>() {
            Ok(100..=999) => at.total(*n)?,
            _ => return Err(at.fail("not an HTTP status code (100 to 999)")),
        }
    }
    let answered = o
        .status_codes
        .values()
        .try_fold(0u64, |a, n| a.checked_add(*n));
    if answered.is_none_or(|n| n > ops) {
        return Err(statuses.fail(format!("count more responses than the {ops} operations")));
    }
    at.field("error_rate").fraction(o.error_rate)?;
    at.field("bytes").total(o.bytes)
}

/// One request name's statistics: the cell's rules, but for the values above one hour (a
/// request's are not counted apart, so its histogram may hold fewer values than operations).
/// Every field of a named request, by construction (destructured, as [`cell`] is).
pub(super) fn request(at: &At, q: &RequestSummary) -> Check {
    let RequestSummary {
        name,
        operations,
        retried,
        // Checked together by `outcomes`.
        successes: _,
        errors: _,
        error_rate: _,
        status_codes: _,
        error_messages: _,
        bytes: _,
        latency_us,
        histogram,
        timeline,
    } = q;
    if name.chars().any(char::is_control) {
        return Err(at.field("name").fail("must not contain control characters"));
    }
    outcomes(at, Outcomes::from(q))?;
    at.field("retried").total(*retried)?;
    let latency_at = at.field("latency_us");
    latency(&latency_at, latency_us)?;
    if latency_us.count > *operations {
        return Err(latency_at.field("count").fail(format!(
            "{} values for {} operations",
            latency_us.count, operations
        )));
    }
    let errors = q.errors.values().fold(0u64, |a, n| a.saturating_add(*n));
    timeline_of(&at.field("timeline"), timeline, (*operations, errors))?;
    // Unlike a cell's, a request's histogram was there from the start.
    let at = at.field("histogram");
    if histogram.is_empty() {
        return Err(at.fail("missing (every request name's latencies are written)"));
    }
    latency_histogram(&at, histogram, latency_us)
}

/// A latency histogram, when there is one (older summaries have none): valid, and holding what
/// its latency summary says.
pub(super) fn latency_histogram(at: &At, b64: &str, l: &LatencySummary) -> Check {
    if b64.is_empty() {
        return Ok(());
    }
    let h = histogram(at, b64)?;
    agrees(at, &h, l)
}

pub(super) fn connections(at: &At, c: &ConnectionsSummary) -> Check {
    at.field("opened").total(c.opened)?;
    at.field("tls_handshakes").total(c.tls_handshakes)?;
    at.field("tls_resumed").total(c.tls_resumed)?;
    at.field("streamed").total(c.streamed)?;
    at.field("events").total(c.events)?;
    let protocols = at.field("protocols");
    for (name, n) in &c.protocols {
        protocols.field(name).total(*n)?;
    }
    for (field, l) in [
        ("dns_us", &c.dns_us),
        ("connect_us", &c.connect_us),
        ("tls_us", &c.tls_us),
        ("ttfb_us", &c.ttfb_us),
        ("first_event_us", &c.first_event_us),
        ("event_gap_us", &c.event_gap_us),
        ("upgrade_us", &c.upgrade_us),
    ] {
        latency(&at.field(field), l)?;
    }
    Ok(())
}

/// Percentiles in order and in the histogram's range; `count` within the counters' range.
pub(super) fn latency(at: &At, l: &LatencySummary) -> Check {
    at.field("count").total(l.count)?;
    let highest = shape().highest_us;
    let marks = [
        ("min", l.min),
        ("p50", l.p50),
        ("p90", l.p90),
        ("p99", l.p99),
        ("p999", l.p999),
        ("max", l.max),
    ];
    for (field, v) in marks {
        if v > highest {
            return Err(at
                .field(field)
                .out_of_range(v, &format!("0 to {highest} µs, one hour")));
        }
    }
    for pair in marks.windows(2) {
        let ((a, x), (b, y)) = (pair[0], pair[1]);
        if x > y {
            return Err(at.fail(format!("out of order: {a} {x} > {b} {y}")));
        }
    }
    let range = format!("0 to {highest} µs, one hour");
    let extra = at.field("percentiles");
    extra.within(l.percentiles.len(), 0, MAX_PERCENTILES)?;
    for (name, v) in &l.percentiles {
        if *v > highest {
            return Err(extra.field(name).out_of_range(*v, &range));
        }
    }
    at.field("mean").float(l.mean, highest as f64, &range)?;
    at.field("stdev").float(l.stdev, highest as f64, &range)
}

pub(super) fn histogram(at: &At, b64: &str) -> Result<Histogram<u64>, Violation> {
    decode_histogram(b64).map_err(|e| at.fail(format!("not a valid HdrHistogram ({e})")))
}

/// The histogram holds what the summary says it holds.
pub(super) fn agrees(at: &At, h: &Histogram<u64>, l: &LatencySummary) -> Check {
    if h.len() != l.count {
        return Err(at.fail(format!(
            "holds {} values, but latency_us.count is {}",
            h.len(),
            l.count
        )));
    }
    if l.count > 0 && !(h.equivalent(h.min(), l.min) && h.equivalent(h.max(), l.max)) {
        return Err(at.fail(format!(
            "spans {} to {} µs, but latency_us says {} to {}",
            h.min(),
            h.max(),
            l.min,
            l.max
        )));
    }
    Ok(())
}

/// What summary and shard timelines share: seconds in order and within ten years, each second's
/// counters in range and its errors within its operations, and all of them adding up to the
/// cell's. Each item: (second, operations, errors, bytes).
pub(super) fn seconds(
    at: &At,
    points: impl Iterator<Item = (u32, u64, u64, u64)> + Clone,
    count: fn(&At, u64) -> Check,
    (ops, errors): (u64, u64),
) -> Check {
    let mut previous: Option<u32> = None;
    for (i, (second, operations, errs, bytes)) in points.clone().enumerate() {
        let at = at.index(i);
        if let Some(p) = previous.filter(|p| second <= *p) {
            return Err(at
                .field("second")
                .fail(format!("{second} does not follow second {p}")));
        }
        previous = Some(second);
        if f64::from(second) > MAX_SECONDS {
            return Err(at.field("second").out_of_range(second, "0 to ten years"));
        }
        count(&at.field("operations"), operations)?;
        count(&at.field("bytes"), bytes)?;
        if errs > operations {
            return Err(at.field("errors").fail(format!(
                "{errs} errors in a second of {operations} operations"
            )));
        }
    }
    at.adds_up(points.clone().map(|p| p.1), ops, "the seconds' operations")?;
    at.adds_up(points.map(|p| p.2), errors, "the seconds' errors")
}

/// A per-second histogram: valid, and holding no more values than the second's operations.
pub(super) fn second_histogram(at: &At, b64: &str, operations: u64) -> Check {
    let h = histogram(at, b64)?;
    if h.len() > operations {
        return Err(at.fail(format!(
            "holds {} values in a second of {operations} operations",
            h.len()
        )));
    }
    Ok(())
}

/// An open model's arrivals: counters in range, no more dropped than scheduled.
pub(super) fn arrivals(
    at: &At,
    scheduled: u64,
    dropped: u64,
    count: fn(&At, u64) -> Check,
) -> Check {
    count(&at.field("scheduled"), scheduled)?;
    count(&at.field("dropped"), dropped)?;
    if dropped > scheduled {
        return Err(at
            .field("dropped")
            .fail(format!("{dropped} dropped of {scheduled} scheduled")));
    }
    Ok(())
}

pub(super) fn timeline(at: &At, points: &[TimelinePoint], c: &CellSummary) -> Check {
    // The errors were checked to add up to at most the operations: no overflow.
    let errors = c.errors.values().sum();
    timeline_of(at, points, (c.operations, errors))
}

/// A cell's or a request's seconds, adding up to its `(operations, errors)`.
fn timeline_of(at: &At, points: &[TimelinePoint], (ops, errors): (u64, u64)) -> Check {
    if points.is_empty() {
        return Ok(()); // written by a loadplan that kept no timeline
    }
    let counts = points
        .iter()
        .map(|p| (p.second, p.operations, p.errors, p.bytes));
    seconds(at, counts, |a, v| a.total(v), (ops, errors))?;
    let highest = shape().highest_us;
    for (i, p) in points.iter().enumerate() {
        let at = at.index(i);
        for (field, v) in [
            ("p50_us", p.p50_us),
            ("p99_us", p.p99_us),
            ("max_us", p.max_us),
        ] {
            if v > highest {
                return Err(at.field(field).out_of_range(v, "0 to one hour"));
            }
        }
        if p.p50_us > p.p99_us || p.p99_us > p.max_us {
            return Err(at.fail(format!(
                "out of order: p50_us {}, p99_us {}, max_us {}",
                p.p50_us, p.p99_us, p.max_us
            )));
        }
        at.field("in_flight").magnitude(p.in_flight)?;
        let by_kind = p
            .error_kinds
            .values()
            .fold(0u64, |a, n| a.saturating_add(*n));
        if !p.error_kinds.is_empty() && by_kind != p.errors {
            return Err(at.field("error_kinds").fail(format!(
                "add up to {by_kind}, not the second's {} errors",
                p.errors
            )));
        }
        if !p.histogram.is_empty() {
            second_histogram(&at.field("histogram"), &p.histogram, p.operations)?;
        }
    }
    Ok(())
}

pub(super) fn open(at: &At, o: &OpenSummary, ops: u64) -> Check {
    arrivals(at, o.scheduled, o.dropped, |a, v| a.total(v))?;
    at.field("target_rate_per_s")
        .magnitude(o.target_rate_per_s)?;
    at.field("achieved_rate_per_s")
        .magnitude(o.achieved_rate_per_s)?;
    for (field, l) in [
        ("latency_uncorrected_us", &o.latency_uncorrected_us),
        ("send_lag_us", &o.send_lag_us),
    ] {
        let at = at.field(field);
        latency(&at, l)?;
        if l.count > ops {
            return Err(at
                .field("count")
                .fail(format!("{} values for {ops} operations", l.count)));
        }
    }
    Ok(())
}

pub(super) fn baseline(at: &At, b: &BaselineReport) -> Check {
    at.field("tolerance").finite(b.tolerance)?;
    let checks = at.field("checks");
    for (i, c) in b.checks.iter().enumerate() {
        let at = checks.index(i);
        at.field("baseline").finite(c.baseline)?;
        at.field("current").finite(c.current)?;
        if let Some(x) = c.change
            && !x.is_finite()
        {
            return Err(at.field("change").out_of_range(show(x), "a finite number"));
        }
    }
    Ok(())
}

/// A windowed threshold's windows: each span forward in time, its worst figure a number.
fn windows(at: &At, w: &crate::stats::WindowOutcome) -> Check {
    let span = |at: At, b: &crate::stats::Span| -> Check {
        if b.from_s > b.to_s {
            return Err(at.fail(format!(
                "a span from second {} to second {} goes back in time",
                b.from_s, b.to_s
            )));
        }
        at.field("worst").finite(b.worst)
    };
    if let Some(b) = &w.first_breach {
        span(at.field("first_breach"), b)?;
    }
    let at_breaches = at.field("breaches");
    for (i, b) in w.breaches.iter().enumerate() {
        span(at_breaches.index(i), b)?;
    }
    Ok(())
}

//! The plan stage: a YAML file in, a validated [`Plan`] out.
//!
//! `spec.rs` mirrors the file and checks each value as it is read (so errors carry a line and
//! column); `resolve.rs` turns the mirror into the typed plan the runner executes and expands it
//! into cells. This stage is the only user of `serde_yaml`; it sends nothing and writes nothing.

pub mod capacity;
mod cut;
pub mod effective;
pub mod functions;
pub mod grpc;
mod guard;
pub mod http;
mod locate;
pub mod model;
pub mod requests;
mod resolve;
pub mod schema;
pub mod spec;
pub mod text;
pub mod threshold;
mod unset;
pub mod validity;
mod wording;

use std::path::{Path, PathBuf};

pub use effective::{Effective, SetValue};
pub use model::Model;
pub use resolve::{
    Base, BaselineSettings, Cell, DEFAULT_BASELINE_RUNS, Kernel, Load, Plan, Scenario, Tolerances,
    Workload, slug,
};
pub use threshold::Threshold;
pub use wording::suggest;

/// A tolerance as `--tolerance` and the plan's `baseline.tolerance` write it (`10%` or `0.1`), as
/// a fraction: the command line reads it the plan's way without seeing the YAML mirror.
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    spec::Percent::parse_for_throughput(s).map(|p| p.0)
}

/// Error messages longer than this are cut: they quote values, and a value can be huge.
const MAX_MESSAGE_CHARS: usize = 400;

/// A plan that cannot be run, located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", location_prefix(file, *line, *column))]
pub struct PlanError {
    pub file: PathBuf,
    /// 1-based; 0 when the error concerns the whole file (unreadable, too large).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending line of the file, for the caret display.
    pub source_line: Option<String>,
}

fn location_prefix(file: &Path, line: usize, column: usize) -> String {
    if line == 0 {
        format!("{}: ", file.display())
    } else {
        format!("{}:{line}:{column}: ", file.display())
    }
}

impl PlanError {
    fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        PlanError {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            message: message.into(),
            source_line: None,
        }
    }

    /// The error followed by the source line and a caret under the column.
    pub fn render(&self) -> String {
        let mut out = format!("error: {self}");
        if let Some(src) = &self.source_line {
            let n = self.line.to_string();
            let pad = " ".repeat(n.len());
            let caret_at: String = src
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("\n{pad} |\n{n} | {src}\n{pad} | {caret_at}^"));
        }
        out
    }
}

/// Parses the plan text saved in results, for re-rendering and merging: variables the current
/// environment lacks read as `placeholder` (no request is ever built from this plan).
pub fn parse_saved(path: &Path, text: &str) -> Result<Plan, PlanError> {
    parse_saved_with(path, text, &[])
}

/// [`parse_saved`] with the load values the run used (`--set` and `${NAME}` in load keys), as
/// its summary recorded them.
pub fn parse_saved_with(
    path: &Path,
    text: &str,
    effective: &[Effective],
) -> Result<Plan, PlanError> {
    let recorded = |name: &str| {
        effective.iter().find_map(|e| {
            let inner = e.from.strip_prefix("${")?.strip_suffix('}')?;
            let n = inner.split_once(":-").map_or(inner, |(n, _)| n);
            (n == name).then(|| e.value.clone())
        })
    };
    let env = |name: &str| {
        Some(
            recorded(name)
                .or_else(|| std::env::var(name).ok())
                .unwrap_or_else(|| "placeholder".to_string()),
        )
    };
    let sets: Vec<SetValue> = effective
        .iter()
        .filter(|e| e.source == "set")
        .map(|e| SetValue {
            path: e.key.clone(),
            value: e.value.clone(),
        })
        .collect();
    parse_all(path, text, &env, &sets, false).map_err(first_error)
}

/// Reads, parses and validates one plan file.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    load_with(path, &[]).map_err(first_error)
}

/// Reads, parses and validates one plan file with `--set` values; every error found (up to
/// [`MAX_ERRORS`]), in file order.
pub fn load_with(path: &Path, sets: &[SetValue]) -> Result<Plan, Vec<PlanError>> {
    let bytes = crate::files::read_plan(path).map_err(|e| {
        vec![PlanError::whole_file(
            path,
            format!("cannot read the plan: {e}"),
        )]
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let (line, column) = line_col(&String::from_utf8_lossy(e.as_bytes()), at);
            return Err(vec![PlanError {
                file: path.to_path_buf(),
                line,
                column,
                message: "the plan is not valid UTF-8".into(),
                source_line: None,
            }]);
        }
    };
    parse_all(path, &text, &|name| std::env::var(name).ok(), sets, true)
}

/// Parses plan text, `${NAME}` read from the environment; `path` is used for messages and for
/// the report.
pub fn parse(path: &Path, text: &str) -> Result<Plan, PlanError> {
    parse_with(path, text, &|name| std::env::var(name).ok())
}

/// Parses plan text with `env` giving the values of `${NAME}` references.
pub fn parse_with(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, PlanError> {
    parse_all(path, text, env, &[], true).map_err(first_error)
}

/// The first error in file order.
fn first_error(mut errors: Vec<PlanError>) -> PlanError {
    if errors.is_empty() {
        return PlanError::whole_file(Path::new("plan"), "invalid plan");
    }
    errors.swap_remove(0)
}

/// At most this many errors are reported for one plan.
pub const MAX_ERRORS: usize = 20;

/// Parses plan text with `--set` values; `read_files`: whether files the plan names (TLS) are
/// read and checked. Returns every error found, in file order.
///
/// After an error, the value it concerns (its key and what is below it, or the list item that
/// holds it) is blanked out of a working copy of the text and the copy is parsed again, so each
/// round finds the next error; an error of a mapping that holds a blanked value is a consequence
/// (a scenario without the `repeat` just blanked lacks its load) and is not reported. A YAML
/// syntax error, unset variables or an error inside a flow collection (`{…}`, `[…]`) stop the
/// search: what follows them cannot be read apart.
pub fn parse_all(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    sets: &[SetValue],
    read_files: bool,
) -> Result<Plan, Vec<PlanError>> {
    let (mut edited, problems) = effective::apply(text, env, sets);
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .take(MAX_ERRORS)
            .map(|p| PlanError {
                file: path.to_path_buf(),
                line: p.line,
                column: p.column,
                message: p.message,
                source_line: source_line(text, p.line),
            })
            .collect());
    }
    let mut work = edited.text.clone();
    let mut found: Vec<PlanError> = Vec::new();
    let mut cuts: Vec<std::ops::Range<usize>> = Vec::new();
    for _ in 0..MAX_ERRORS * 3 {
        let r = parse_text(path, &work, env, read_files);
        let (e, stop) = match r {
            Ok(mut plan) if found.is_empty() => {
                let names: Vec<String> = plan.scenarios.iter().map(|s| s.name.clone()).collect();
                effective::name_keys(&mut edited, &names);
                plan.source = text.to_string();
                plan.effective = edited.effective;
                return Ok(plan);
            }
            Ok(_) => break,
            Err(e) => e,
        };
        if found
            .iter()
            .any(|f| (f.line, f.column, &f.message) == (e.line, e.column, &e.message))
        {
            break;
        }
        let block = if stop {
            None
        } else {
            cut::block_at(&work, e.line, e.column)
        };
        let Some(block) = block else {
            // A key the blanking took away (`missing field`, no scenario left) is a consequence.
            let consequence = !cuts.is_empty()
                && ((e.line, e.column) == (1, 1)
                    || e.message.starts_with("missing field")
                    || e.message.contains("at least one scenario"));
            if !consequence {
                found.push(e);
            }
            break;
        };
        let consequence = cuts.iter().any(|c| block.reach.contains(&c.start));
        if !consequence {
            found.push(e);
        }
        if found.len() >= MAX_ERRORS {
            break;
        }
        cut::blank(&mut work, &block);
        cuts.push(block.lines.clone());
    }
    let mut errors: Vec<PlanError> = found
        .into_iter()
        .map(|mut e| {
            if let Some(note) = edited.note(e.line) {
                e.message = format!("{} ({note})", e.message);
            }
            (e.line, e.column) = edited.original(e.line, e.column);
            e.source_line = source_line(text, e.line);
            e
        })
        .collect();
    errors.sort_by_key(|e| (e.line, e.column));
    if errors.is_empty() {
        errors.push(PlanError::whole_file(path, "invalid plan"));
    }
    Err(errors)
}

/// Parses plan text once; the error, and whether looking further is pointless (a YAML syntax
/// error, unset variables).
fn parse_text(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read_files: bool,
) -> Result<Plan, (PlanError, bool)> {
    // The YAML library has `panic!`s on paths thought unreachable; a plan must never reach one,
    // but if one does, it is an invalid plan, not a crash.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse_guarded(path, text, env, read_files)
    }))
    .unwrap_or_else(|_| {
        Err((
            PlanError::whole_file(
                path,
                "the YAML parser failed on this plan (a loadplan bug worth reporting)",
            ),
            true,
        ))
    })
}

fn parse_guarded(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read_files: bool,
) -> Result<Plan, (PlanError, bool)> {
    // Hostile YAML first: costs the library does not bound are refused before the real passes.
    guard::flow_depth(text).map_err(|(at, message)| {
        let e = PlanError {
            file: path.to_path_buf(),
            line: at.line,
            column: at.column,
            message,
            source_line: source_line(text, at.line),
        };
        (e, true)
    })?;
    guard::expansion(serde_yaml::Deserializer::from_str(text))
        .map_err(|e| (yaml_error(path, text, &e), true))?;
    let spec = serde_yaml::from_str::<spec::PlanFile>(text)
        .map_err(|e| {
            // Text that is not YAML at all cannot be read past its error.
            let syntax = serde_yaml::from_str::<serde_yaml::Value>(text).is_err();
            (yaml_error(path, text, &e), syntax)
        })?
        .0;
    let ctx = resolve::Context {
        file: path,
        source: text,
        env,
        read_files,
    };
    let located = |e: &resolve::ResolveError| {
        // Checks across keys name the value they concern by its path; find it in the text.
        locate::locate(text, &e.at).unwrap_or((1, 1))
    };
    let first = match resolve::resolve(spec, &ctx) {
        Ok(plan) => return Ok(plan),
        Err(e) => e,
    };
    let (line, column) = match &first.unset {
        Some(u) => u.first_use(text, located(&first)),
        None => located(&first),
    };
    let stop = first.unset.is_some();
    let message = if first.unset.is_some() {
        every_unset_variable(&ctx, first, &located)
    } else {
        first.message
    };
    let e = PlanError {
        file: path.to_path_buf(),
        line,
        column,
        message,
        source_line: source_line(text, line),
    };
    Err((e, stop))
}

/// Resolution stops at the first value with an unset variable; the others are found by resolving
/// again with stand-ins for the names already found, until none is left (or a stand-in itself
/// trips a check). Returns the message naming them all, each with its line.
fn every_unset_variable(
    ctx: &resolve::Context,
    first: resolve::ResolveError,
    located: &dyn Fn(&resolve::ResolveError) -> (usize, usize),
) -> String {
    // A stand-in that passes as a path, a query, a header or a port; a whole URL when it stood
    // where a URL must be.
    const STAND_IN: &str = "1";
    const URL_STAND_IN: &str = "http://unset.invalid";
    let mut found = vec![(located(&first), first)];
    let mut stand_ins: Vec<(String, &str)> = Vec::new();
    loop {
        for (_, e) in &found {
            for name in e.unset.iter().flat_map(|u| &u.names) {
                if !stand_ins.iter().any(|(n, _)| n == name) {
                    stand_ins.push((name.clone(), STAND_IN));
                }
            }
        }
        let env = |name: &str| {
            (ctx.env)(name).or_else(|| {
                stand_ins
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| (*v).to_string())
            })
        };
        let again = resolve::Context { env: &env, ..*ctx };
        // The text parsed once already; the mirror is read again rather than cloned.
        let Ok(spec::PlanFile(spec)) = serde_yaml::from_str::<spec::PlanFile>(ctx.source) else {
            break;
        };
        let Err(e) = resolve::resolve(spec, &again) else {
            break;
        };
        let at = located(&e);
        // Every name it reports is new (the others have stand-ins): progress until none is left.
        if e.unset.is_some() {
            found.push((at, e));
            continue;
        }
        // Another error where a stand-in stands: try a URL there once, else stop looking.
        let Some((_, there)) = found.iter().find(|(a, _)| *a == at) else {
            break;
        };
        let names = there.unset.iter().flat_map(|u| &u.names);
        let mut changed = false;
        for name in names {
            if let Some(s) = stand_ins
                .iter_mut()
                .find(|(n, v)| n == name && *v == STAND_IN)
            {
                s.1 = URL_STAND_IN;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Each place at its first use, in file order.
    let mut places: Vec<((usize, usize), &unset::Unset)> = found
        .iter()
        .filter_map(|(at, e)| {
            e.unset
                .as_deref()
                .map(|u| (u.first_use(ctx.source, *at), u))
        })
        .collect();
    places.sort_by_key(|(at, _)| *at);
    let places: Vec<(usize, &unset::Unset)> =
        places.into_iter().map(|((line, _), u)| (line, u)).collect();
    unset::message(&places)
}

/// Line `line` (1-based) of the text, cut to 200 characters, for the caret display.
fn source_line(text: &str, line: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    text.lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.chars().take(200).collect())
}

fn yaml_error(path: &Path, text: &str, e: &serde_yaml::Error) -> PlanError {
    let (mut line, mut column) = e
        .location()
        .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
    let mut message = e.to_string();
    // The library appends "at line L column C"; we print the location up front instead.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    if let Some(at) = scenario_at(text, &message) {
        (line, column) = at;
    }
    if message.is_empty() {
        message = "invalid plan".into();
    }
    match source_line(text, line).and_then(|src| wording::scanner_error(&message, &src, column)) {
        Some((at, plain)) => (column, message) = (at, plain),
        None => message = wording::humanize(&message),
    }
    // Messages quote the offending value, which may be a whole megabyte of text.
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    PlanError {
        file: path.to_path_buf(),
        line,
        column,
        message,
        source_line: source_line(text, line),
    }
}

/// Where the scenario an error of the whole scenario list concerns starts. The library places
/// an error raised after a scenario was read (the checks across its keys, a repeated name) at the
/// start of the list, that is at the first scenario, whichever scenario it is about; the message
/// names it (`scenario `NAME`: …`, `scenario N repeats the name …`), so it is found again here.
fn scenario_at(text: &str, message: &str) -> Option<(usize, usize)> {
    let rest = message.strip_prefix("scenarios: scenario ")?;
    let index = if let Some(named) = rest.strip_prefix('`') {
        let name = named.split('`').next()?;
        let plan = serde_yaml::from_str::<serde_yaml::Value>(text).ok()?;
        plan.get("scenarios")?
            .as_sequence()?
            .iter()
            .position(|s| s.get("name").and_then(serde_yaml::Value::as_str) == Some(name))?
    } else {
        let (n, _) = rest.split_once(" repeats the name ")?;
        n.parse::<usize>().ok()?.checked_sub(1)?
    };
    locate::locate(text, &locate::Path::root().key("scenarios").index(index))
}

fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> PlanError {
        parse(Path::new("p.yaml"), text).expect_err("the plan should be refused")
    }

    const HEAD: &str = "version: 1\nname: t\nbase: builtin\nscenarios:\n";

    #[test]
    fn a_scenario_check_is_reported_once_at_its_scenario() {
        let text = format!(
            "{HEAD}  - name: a\n    targets: [/x]\n    repeat: 1\n  - name: b\n    targets: [/x]\n  - name: c\n    targets: [/x]\n    repeat: 0\n"
        );
        let errors =
            parse_all(Path::new("p.yaml"), &text, &|_| None, &[], false).expect_err("two errors");
        let seen: Vec<(usize, usize, bool)> = errors
            .iter()
            .map(|e| (e.line, e.column, e.message.contains("scenario `b`")))
            .collect();
        assert_eq!(seen, [(8, 5, true), (12, 13, false)], "{errors:#?}");
    }

    #[test]
    fn errors_carry_line_and_column() {
        let cases: &[(&str, usize, usize, &str)] = &[
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n    bogus: 1\n",
                8,
                5,
                "unknown field `bogus`",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: many\n",
                7,
                13,
                "invalid type",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 0\n",
                7,
                13,
                "expected a whole number above 0",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    duration: 5\n",
                7,
                15,
                "has no unit",
            ),
            (
                "  - name: a\n    targets: [/hello]\n",
                5,
                5,
                "how much load is missing",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n    models: [fibers]\n",
                8,
                14,
                "unknown value `fibers`",
            ),
            (
                "  - name: a\n    cpu: { kernel: sum_squares, bytes: 3 }\n    repeat: 1\n",
                5,
                5,
                "takes `n`, not `bytes`",
            ),
            (
                "  - name: a\n    targets: [\"${LOADPLAN_TEST_SURELY_UNSET}\"]\n    repeat: 1\n",
                6,
                16,
                "LOADPLAN_TEST_SURELY_UNSET",
            ),
            (
                "  - name: a\n    targets: [/x]\n    repeat: 1\n  - name: a\n    targets: [/x]\n    repeat: 1\n",
                8,
                5,
                "scenario 2 repeats the name `a`",
            ),
            // A check across a scenario's keys, in a scenario after the first: at that scenario.
            (
                "  - name: a\n    targets: [/x]\n    repeat: 1\n  - name: b\n    targets: []\n    repeat: 1\n",
                8,
                5,
                "scenario `b`: `targets` is empty",
            ),
            (
                "  - name: a\n    targets: [\"ftp://h/\"]\n    repeat: 1\n",
                6,
                15,
                "scheme",
            ),
            (
                "  - name: a\n    targets: [/x]\n    repeat: 1\n    concurrency: [4, 0]\n",
                8,
                18,
                "concurrency",
            ),
        ];
        let mut wrong = Vec::new();
        for (body, line, column, msg) in cases {
            let e = err(&format!("{HEAD}{body}"));
            if !e.message.contains(msg) || (e.line, e.column) != (*line, *column) {
                wrong.push(format!("want {line}:{column} {msg}, got {e}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn errors_speak_plain_words() {
        // (scenario body, line, column, what the message says, what it must not say)
        let cases: &[(&str, usize, usize, &str, &str)] = &[
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n    concurency: 4\n",
                8,
                5,
                "unknown field `concurency`, did you mean `concurrency`?",
                "`thresholds`",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n    models: [asynch]\n",
                8,
                14,
                "did you mean `async`?",
                "variant",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: many\n",
                7,
                13,
                "expected a whole number above 0",
                "u64",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n    workers: 0\n",
                8,
                14,
                "expected a whole number above 0",
                "usize",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n    cookies: maybe\n",
                8,
                14,
                "expected true or false",
                "boolean",
            ),
            (
                "  - name: a\n    targets: [/hello]\n    repeat: 1\n\tconcurrency: 4\n",
                8,
                1,
                "tab character in the indentation: YAML indents with spaces only",
                "cannot start any token",
            ),
            (
                "\t- name: a\n\t  targets: [/hello]\n\t  repeat: 1\n",
                5,
                1,
                "replace the tab with spaces",
                "cannot start any token",
            ),
        ];
        let mut wrong = Vec::new();
        for (body, line, column, says, not) in cases {
            let e = err(&format!("{HEAD}{body}"));
            if !e.message.contains(says)
                || e.message.contains(not)
                || (e.line, e.column) != (*line, *column)
            {
                wrong.push(format!("want {line}:{column} {says}, got {e}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn every_unset_variable_is_named_at_once() {
        let text = "version: 1\nname: t\nbase: ${UNSET_BASE}\nscenarios:\n  - name: a\n    targets: [\"/x?a=${UNSET_A}\", \"${UNSET_URL}/y\"]\n    headers: { h: \"${SET} ${UNSET_B} ${UNSET_A}\" }\n    repeat: 1\n";
        let env = |name: &str| (name == "SET").then(|| "v".to_string());
        let e = parse_with(Path::new("p.yaml"), text, &env).expect_err("unset variables");
        assert_eq!((e.line, e.column), (3, 7), "{e}");
        let want = "4 environment variables are not set: `UNSET_BASE`, `UNSET_A`, `UNSET_URL`, `UNSET_B`\n  line 3: `${UNSET_BASE}`\n  line 6: `${UNSET_A}`\n  line 6: `${UNSET_URL}`\n  line 7: `${UNSET_B}`";
        assert_eq!(e.message, want);
        // One alone reads as before.
        let one = parse_with(
            Path::new("p.yaml"),
            &text.replace("${UNSET_BASE}", "builtin"),
            &|n| (n != "UNSET_A").then(|| "http://h".to_string()),
        )
        .expect_err("one unset variable");
        assert_eq!(
            one.message,
            "environment variable `UNSET_A` is not set (the plan references `${UNSET_A}`)"
        );
    }

    #[test]
    fn relative_targets_need_a_base() {
        let e =
            err("version: 1\nname: t\nscenarios:\n  - name: a\n    targets: [/x]\n    repeat: 1\n");
        assert!(e.message.contains("needs `base`"), "{e}");
        assert_eq!((e.line, e.column), (5, 15));
    }

    #[test]
    fn render_points_at_the_column() {
        let e = err(&format!(
            "{HEAD}  - name: a\n    targets: [/hello]\n    repeat: x\n"
        ));
        let r = e.render();
        assert!(r.starts_with("error: p.yaml:7:13: "), "{r}");
        assert!(r.ends_with("7 |     repeat: x\n  |             ^"), "{r}");
    }
}

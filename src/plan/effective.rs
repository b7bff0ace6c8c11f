//! Load values from outside the plan: `${NAME}` and `${NAME:-default}` in the keys that say how
//! much load to send (`concurrency`, `repeat`, `duration`, `rate`, `stages`, `timeout`, `think`,
//! `rounds`, …), and `--set PATH=VALUE` for any key.
//!
//! Both are edits of the plan *text* before it is parsed, so that the substituted value is read,
//! type-checked and reported exactly where the plan writes it: `USERS=lots` fails at the line of
//! `concurrency` with the message `concurrency` always gives. The edits keep every line where it
//! was (a `--set` of a key the plan lacks adds one line, mapped back) and [`Edited::original`]
//! maps a position in the edited text back to the file.
//!
//! Input: the plan text, the environment, the `--set` values. Output: the edited text, the
//! effective values (each substituted or overridden load value, recorded in the summary), and
//! the problems found. Only load keys are substituted here: `${NAME}` in a URL, header or body is
//! a secret's place and stays for `resolve.rs`, which never shows its value. A substituted load
//! value holds no YAML syntax (no `:`, `#`, `{`, quotes or line breaks), so it cannot add keys.

use serde::{Deserialize, Serialize};

use super::locate::{self, Seg};

/// Keys whose `${…}` values are substituted before parsing: how much load, for how long.
pub const LOAD_KEYS: &[&str] = &[
    "concurrency",
    "repeat",
    "duration",
    "rate",
    "stages",
    "timeout",
    "think",
    "min",
    "max",
    "rounds",
    "workers",
    "warmup",
    "connections",
    "max_in_flight",
    "runs",
    "latency_floor",
    "seed",
];

/// `--set PATH=VALUE`: `scenarios.shop.concurrency=50` (a scenario by name or index),
/// `defaults.timeout=2s`, `rounds=3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetValue {
    pub path: String,
    pub value: String,
}

impl std::str::FromStr for SetValue {
    type Err = String;

    fn from_str(s: &str) -> Result<SetValue, String> {
        let Some((path, value)) = s.split_once('=') else {
            return Err(format!(
                "`{s}` has no `=`: write PATH=VALUE, e.g. `scenarios.shop.concurrency=50`"
            ));
        };
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "`{path}` is not a key path: write keys joined by dots, e.g. `scenarios.shop.concurrency`"
            ));
        }
        if value.contains(['\n', '\r']) {
            return Err(format!(
                "the value of `{path}` has a line break: --set takes one line"
            ));
        }
        Ok(SetValue {
            path: path.to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// One load value that came from outside the plan: what the run used, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Effective {
    /// The key it set, as a path (`scenarios.shop.concurrency`); a key nested deeper (a stage's
    /// `duration`) is named by the scenario key that holds it (`scenarios.shop.stages`).
    pub key: String,
    /// The value the run used, as text.
    pub value: String,
    /// `--set`, or the plan's `${NAME}` / `${NAME:-default}` expression as written.
    pub from: String,
    /// `environment`, `default` (the variable was unset or empty) or `set` (`--set`).
    pub source: String,
}

/// A problem found while editing, at a position of the original text (line 0: the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One change of a line: at `col` (1-based, chars, edited text) `new_len` chars replaced
/// `old_len` chars that started at column `orig_col` of the line before this edit.
#[derive(Debug, Clone)]
struct ColumnEdit {
    line: usize,
    col: usize,
    new_len: usize,
    old_len: usize,
    note: String,
}

/// The plan text with its load values filled in, and the way back to the file's positions.
#[derive(Debug, Clone, Default)]
pub struct Edited {
    pub text: String,
    /// Each substituted or overridden value, in file order (then `--set` order).
    pub effective: Vec<Effective>,
    /// Where each effective value stands in the edited text (its line), for naming its key.
    pub lines: Vec<usize>,
    /// Lines of the edited text that `--set` added, with the `--set` they came from and the
    /// column of the mapping they went into.
    inserted: Vec<(usize, String, usize)>,
    columns: Vec<ColumnEdit>,
}

impl Edited {
    /// The position in the file of a position in the edited text.
    pub fn original(&self, line: usize, column: usize) -> (usize, usize) {
        if line == 0 {
            return (0, 0);
        }
        let added = self.inserted.iter().filter(|(l, _, _)| *l <= line).count();
        if let Some((_, _, col)) = self.inserted.iter().find(|(l, _, _)| *l == line) {
            return ((line + 1).saturating_sub(added).max(1), *col);
        }
        let mut col = column;
        let mut edits: Vec<&ColumnEdit> = self.columns.iter().filter(|e| e.line == line).collect();
        edits.sort_by_key(|e| std::cmp::Reverse(e.col));
        for e in edits {
            if column >= e.col + e.new_len {
                col = col + e.old_len - e.new_len;
            } else if column >= e.col {
                col = e.col;
            }
        }
        (line.saturating_sub(added).max(1), col.max(1))
    }

    /// Where the value at this position of the edited text came from, when it was edited.
    pub fn note(&self, line: usize) -> Option<String> {
        if let Some((_, set, _)) = self.inserted.iter().find(|(l, _, _)| *l == line) {
            return Some(set.clone());
        }
        let notes: Vec<&str> = self
            .columns
            .iter()
            .filter(|e| e.line == line)
            .map(|e| e.note.as_str())
            .collect();
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    /// Whether anything was edited.
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty() && self.columns.is_empty()
    }
}

/// Applies `--set` values, then substitutes `${…}` in load keys from `env`.
pub fn apply(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    sets: &[SetValue],
) -> (Edited, Vec<Problem>) {
    let mut edited = Edited {
        text: text.to_string(),
        ..Edited::default()
    };
    let mut problems = Vec::new();
    // Substitution first: `${…}` in a flow mapping is not YAML until it is substituted, and
    // `--set` reads the text to find its key.
    substitute(&mut edited, env, &mut problems);
    for set in sets {
        if let Err(message) = apply_set(&mut edited, set) {
            problems.push(Problem {
                line: 0,
                column: 0,
                message: format!("--set {}={}: {message}", set.path, set.value),
            });
        }
    }
    (edited, problems)
}

/// The path of a `--set`, with a scenario named by its name turned into its index.
fn set_path(text: &str, path: &str) -> Result<locate::Path, String> {
    let mut out = locate::Path::root();
    let mut after_scenarios = false;
    for seg in path.split('.') {
        let numbered = seg.parse::<usize>().ok();
        if after_scenarios && numbered.is_none() {
            let names = scenario_names(text);
            match names.iter().position(|n| n == seg) {
                Some(i) => out = out.index(i),
                None => {
                    let hint = super::suggest(seg, names.iter().map(String::as_str))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(format!("the plan has no scenario `{seg}`{hint}"));
                }
            }
        } else {
            out = match numbered {
                Some(i) => out.index(i),
                None => out.key(seg),
            };
        }
        after_scenarios = out.0.len() == 1 && seg == "scenarios";
    }
    Ok(out)
}

/// The scenarios' names, in order (empty when the text does not parse).
fn scenario_names(text: &str) -> Vec<String> {
    let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Vec::new();
    };
    v.get("scenarios")
        .and_then(serde_yaml::Value::as_sequence)
        .map(|s| {
            s.iter()
                .map(|x| {
                    x.get("name")
                        .and_then(serde_yaml::Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn apply_set(edited: &mut Edited, set: &SetValue) -> Result<(), String> {
    if set.value.contains(['\n', '\r']) {
        return Err("the value has a line break: --set takes one line".into());
    }
    let path = set_path(&edited.text, &set.path)?;
    let note = format!("from `--set {}={}`", set.path, set.value);
    // Only a load value is recorded: a `--set` of a header, URL or body may carry a secret,
    // which never reaches any output (a saved plan re-read without it is read as with an unset
    // variable).
    let load = set.path.split('.').any(|k| LOAD_KEYS.contains(&k));
    let record = |edited: &mut Edited, line: usize| {
        // `lines` runs beside `effective`, one line per recorded value.
        if load {
            edited.effective.push(Effective {
                key: set.path.clone(),
                value: set.value.clone(),
                from: "--set".into(),
                source: "set".into(),
            });
            edited.lines.push(line);
        }
    };
    if let Some((line, col)) = locate::locate(&edited.text, &path) {
        let Some(src) = edited.text.lines().nth(line - 1).map(str::to_string) else {
            return Err("the plan text moved under --set (a loadplan bug worth reporting)".into());
        };
        let Some(end) = value_end(&src, col) else {
            return Err(format!(
                "the plan writes `{}` over several lines; --set replaces a value written on one line",
                set.path
            ));
        };
        let chars: Vec<char> = src.chars().collect();
        let new_line: String = chars[..col - 1]
            .iter()
            .chain(set.value.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter())
            .collect();
        replace_line(&mut edited.text, line, &new_line);
        // A value substituted there is replaced: its edit and its effective value go.
        let replaced = |e: &ColumnEdit| e.line == line && e.col >= col && e.col <= end;
        let mut keep = Vec::new();
        for (i, l) in edited.lines.iter().enumerate() {
            let substituted_here = *l == line && edited.effective[i].source != "set";
            keep.push(!substituted_here || !edited.columns.iter().any(replaced));
        }
        let mut flags = keep.iter();
        edited.effective.retain(|_| *flags.next().unwrap_or(&true));
        let mut flags = keep.iter();
        edited.lines.retain(|_| *flags.next().unwrap_or(&true));
        edited.columns.retain(|e| !replaced(e));
        edited.columns.push(ColumnEdit {
            line,
            col,
            new_len: set.value.chars().count(),
            old_len: end + 1 - col,
            note,
        });
        record(edited, line);
        return Ok(());
    }
    let Some((last, parent)) = path.0.split_last() else {
        return Err("an empty key path".into());
    };
    let Seg::Key(key) = last else {
        return Err("--set cannot add an item to a list; set the whole list".into());
    };
    let parent = locate::Path(parent.to_vec());
    let Some((line, col)) = (if parent.0.is_empty() {
        Some((1, 1))
    } else {
        locate::locate(&edited.text, &parent)
    }) else {
        return Err(format!("the plan has no `{parent}` to set `{key}` in"));
    };
    let Some(src) = edited.text.lines().nth(line - 1).map(str::to_string) else {
        return Err("the plan text moved under --set (a loadplan bug worth reporting)".into());
    };
    let chars: Vec<char> = src.chars().collect();
    let before: String = chars[..(col - 1).min(chars.len())].iter().collect();
    let at = chars.get(col - 1).copied();
    if at == Some('{') || before.trim_end().ends_with('{') {
        // A flow mapping: the key goes in at its start, on the same line.
        let insert_at = if at == Some('{') { col } else { col - 1 };
        let empty = chars[insert_at..].iter().find(|c| !c.is_whitespace()) == Some(&'}');
        let piece = format!("{key}: {}{}", set.value, if empty { "" } else { ", " });
        let new_line: String = chars[..insert_at]
            .iter()
            .copied()
            .chain(piece.chars())
            .chain(chars[insert_at..].iter().copied())
            .collect();
        replace_line(&mut edited.text, line, &new_line);
        edited.columns.push(ColumnEdit {
            line,
            col: insert_at + 1,
            new_len: piece.chars().count(),
            old_len: 0,
            note,
        });
        record(edited, line);
        return Ok(());
    }
    if !before.chars().all(|c| c == ' ' || c == '-') {
        return Err(format!(
            "cannot add `{key}` to `{parent}` as the plan writes it"
        ));
    }
    // A block mapping: the key goes in as its first line, at its indentation.
    let new_line = format!(
        "{before}{key}: {}\n{}{}",
        set.value,
        " ".repeat(col - 1),
        chars[col - 1..].iter().collect::<String>()
    );
    replace_line(&mut edited.text, line, &new_line);
    for e in &mut edited.columns {
        if e.line >= line {
            e.line += 1;
        }
    }
    for (l, _, _) in &mut edited.inserted {
        if *l >= line {
            *l += 1;
        }
    }
    for l in &mut edited.lines {
        if *l >= line {
            *l += 1;
        }
    }
    edited.inserted.push((line, note, col));
    record(edited, line);
    Ok(())
}

/// Replaces line `line` (1-based) of `text`.
fn replace_line(text: &mut String, line: usize, with: &str) {
    let mut out = String::with_capacity(text.len() + with.len());
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            out.push_str(with);
            if l.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(l);
        }
    }
    *text = out;
}

/// The end (0-based char index, exclusive) of the one-line value starting at column `col`.
fn value_end(line: &str, col: usize) -> Option<usize> {
    let chars: Vec<char> = line.chars().collect();
    let start = col.checked_sub(1)?;
    let first = *chars.get(start)?;
    let depth = open_brackets(&chars[..start]);
    match first {
        '[' | '{' => {
            let mut depth = 0i32;
            let mut quote: Option<char> = None;
            for (i, &c) in chars.iter().enumerate().skip(start) {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quote = Some(c),
                    (None, '[' | '{') => depth += 1,
                    (None, ']' | '}') => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        '"' | '\'' => chars
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, c)| **c == first)
            .map(|(i, _)| i + 1),
        '|' | '>' | '-' if chars.get(start + 1).is_none_or(|c| c.is_whitespace()) => None,
        _ => {
            let mut end = chars.len();
            for (i, &c) in chars.iter().enumerate().skip(start) {
                let flow_end = depth > 0 && matches!(c, ',' | ']' | '}');
                let comment = c == '#' && i > 0 && chars[i - 1].is_whitespace();
                if flow_end || comment {
                    end = i;
                    break;
                }
            }
            while end > start && chars[end - 1].is_whitespace() {
                end -= 1;
            }
            // A key alone on its line (`concurrency:` with the value below) is not one line.
            if chars[start..end].last() == Some(&':') {
                return None;
            }
            Some(end)
        }
    }
}

/// How many `[` and `{` are open in `chars` (quotes skipped).
fn open_brackets(chars: &[char]) -> i32 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for &c in chars {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// The part of a line before its comment.
fn without_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// A line's indentation: its leading spaces and `- ` list markers.
fn indentation(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ' || *c == '-').count()
}

/// The last `key:` in `text`.
fn last_key(text: &str) -> Option<&str> {
    let mut found = None;
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices(':') {
        let after = bytes.get(i + 1).copied();
        if after.is_some_and(|b| b != b' ' && b != b'\t') {
            continue;
        }
        let head = &text[..i];
        // After the last character that cannot be in a key (whatever its width in bytes).
        let start = head
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(0, |(j, c)| j + c.len_utf8());
        let key = &head[start..];
        if !key.is_empty() {
            found = Some(key);
        }
    }
    found
}

/// The key a `${` at byte `at` of line `n` (0-based) belongs to, or `None` inside a block
/// scalar (`body: |`), where nothing is substituted here.
fn key_of<'a>(lines: &[&'a str], n: usize, at: usize) -> Option<&'a str> {
    let line = lines[n];
    let own = last_key(&line[..at]);
    // Look up the parents: a block scalar above means this is text, not YAML.
    let mut indent = indentation(line);
    let mut parent = None;
    for l in lines[..n].iter().rev() {
        let code = without_comment(l);
        if code.trim().is_empty() {
            continue;
        }
        let i = indentation(code);
        if i < indent {
            let t = code.trim_end();
            let scalar = t
                .rsplit(' ')
                .next()
                .is_some_and(|w| w.starts_with('|') || w.starts_with('>'));
            if scalar {
                return None;
            }
            if parent.is_none() {
                parent = last_key(code);
            }
            indent = i;
            if i == 0 {
                break;
            }
        }
    }
    own.or(parent)
}

/// Substitutes `${NAME}` and `${NAME:-default}` in load keys.
fn substitute(
    edited: &mut Edited,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    let text = edited.text.clone();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out_lines: Vec<String> = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        let code_len = without_comment(line).len();
        let mut out = String::with_capacity(line.len());
        let mut rest = 0usize;
        let mut search = 0usize;
        let mut out_col_shift: isize = 0;
        while let Some(found) = line[search..code_len].find("${") {
            let at = search + found;
            search = at + 2;
            if at > 0 && line.as_bytes()[at - 1] == b'$' {
                continue;
            }
            let Some(close) = line[at..code_len].find('}') else {
                break;
            };
            let inner = &line[at + 2..at + close];
            let Some(key) = key_of(&lines, n, at) else {
                continue;
            };
            if !LOAD_KEYS.contains(&key) {
                continue;
            }
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let expr = &line[at..=at + close];
            let orig_line = n + 1;
            let orig_col = line[..at].chars().count() + 1;
            // `--set` and substitutions seldom share a line: the line maps back, the column is
            // the one written.
            let (line_no, _) = edited.original(orig_line, 1);
            let col = orig_col;
            let problem = |message: String| Problem {
                line: line_no,
                column: col,
                message,
            };
            if !super::spec::is_variable_name(name) {
                let what = if name.contains('(') {
                    format!(
                        "`{expr}`: functions make request text (a URL, a header, a body); `{key}` takes a value, from `${{NAME}}` or `${{NAME:-default}}`"
                    )
                } else {
                    format!(
                        "`{expr}` is not a valid variable reference: names are letters, digits and _"
                    )
                };
                problems.push(problem(what));
                search = at + close + 1;
                continue;
            }
            let set = env(name).filter(|v| !v.is_empty());
            let (value, source) = match (set, default) {
                (Some(v), _) => (v, "environment"),
                (None, Some(d)) => (d.to_string(), "default"),
                (None, None) => {
                    problems.push(problem(format!(
                        "environment variable `{name}` is not set (`{key}: {expr}`); give it a default with `${{{name}:-…}}`"
                    )));
                    search = at + close + 1;
                    continue;
                }
            };
            let allowed = |c: char| c.is_ascii_alphanumeric() || " ._%/+-[],".contains(c);
            if !value.chars().all(allowed) {
                problems.push(problem(format!(
                    "`{expr}` gives `{key}` characters no number, duration, rate or list of them has"
                )));
                search = at + close + 1;
                continue;
            }
            out.push_str(&line[rest..at]);
            let edited_col = (orig_col as isize + out_col_shift).max(1) as usize;
            out.push_str(&value);
            let (new_len, old_len) = (value.chars().count(), expr.chars().count());
            out_col_shift += new_len as isize - old_len as isize;
            rest = at + close + 1;
            search = rest;
            edited.columns.push(ColumnEdit {
                line: orig_line,
                col: edited_col,
                new_len,
                old_len,
                note: format!("`{value}` came from `{expr}`"),
            });
            edited.effective.push(Effective {
                key: key.to_string(),
                value,
                from: expr.to_string(),
                source: source.into(),
            });
            edited.lines.push(orig_line);
        }
        out.push_str(&line[rest..]);
        out_lines.push(out);
    }
    edited.text = out_lines.join("\n");
}

/// Names each effective value's key by its path: the scenario (or `defaults`) key whose value
/// holds its line. `--set` values keep the path given.
pub fn name_keys(edited: &mut Edited, scenarios: &[String]) {
    let text = edited.text.clone();
    let mut candidates: Vec<(usize, String)> = Vec::new();
    let mut look = |path: locate::Path, name: String| {
        if let Some((line, _)) = locate::locate(&text, &path) {
            candidates.push((line, name));
        }
    };
    for key in LOAD_KEYS {
        look(locate::Path::root().key(key), (*key).to_string());
        look(
            locate::Path::root().key("defaults").key(key),
            format!("defaults.{key}"),
        );
        look(
            locate::Path::root().key("baseline").key(key),
            format!("baseline.{key}"),
        );
        for (i, s) in scenarios.iter().enumerate() {
            look(
                locate::Path::root().key("scenarios").index(i).key(key),
                format!("scenarios.{s}.{key}"),
            );
        }
    }
    // A value on a line of its own below its key (`concurrency:` then `- ${N}`) belongs to the
    // nearest key above it.
    for (e, line) in edited.effective.iter_mut().zip(&edited.lines) {
        if e.source == "set" {
            continue;
        }
        if let Some((_, name)) = candidates
            .iter()
            .filter(|(l, _)| l <= line)
            .max_by_key(|(l, _)| *l)
        {
            e.key = name.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "version: 1\nname: t\nbase: builtin\nscenarios:\n  - name: shop\n    targets: [\"/x?u=${USERS}\"]\n    duration: ${DURATION:-2s}\n    concurrency: ${USERS}   # users\n    models: [async]\n";

    fn env(name: &str) -> Option<String> {
        match name {
            "USERS" => Some("4".into()),
            "EMPTY" => Some(String::new()),
            "BAD" => Some("1\nx: 2".into()),
            _ => None,
        }
    }

    /// Found by fuzzing: a character wider than a byte before a key (`{…thorization:`) cut a
    /// string inside it and panicked.
    #[test]
    fn keys_after_wide_characters_are_found() {
        let cases = [
            ("headers: {…thorization: ", Some("thorization")),
            ("é: ", None),
            ("  concurrency: ", Some("concurrency")),
            ("naïve_key: ", Some("ve_key")),
        ];
        for (text, want) in cases {
            assert_eq!(last_key(text), want, "{text}");
        }
    }

    #[test]
    fn load_keys_are_substituted_and_other_keys_are_not() {
        let (e, problems) = apply(PLAN, &env, &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(e.text.contains("duration: 2s\n"), "{}", e.text);
        assert!(e.text.contains("concurrency: 4   # users"), "{}", e.text);
        assert!(
            e.text.contains("/x?u=${USERS}"),
            "URLs keep their references"
        );
        let got: Vec<(&str, &str, &str)> = e
            .effective
            .iter()
            .map(|x| (x.value.as_str(), x.from.as_str(), x.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("2s", "${DURATION:-2s}", "default"),
                ("4", "${USERS}", "environment")
            ]
        );
        // The value `4` at 8:18 of the edited text stands where `${USERS}` stands in the file.
        assert_eq!(e.original(8, 18), (8, 18));
        assert_eq!(e.original(7, 15), (7, 15));
        assert_eq!(e.original(7, 17), (7, 30));
    }

    #[test]
    fn problems_name_the_line_of_the_key() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("    repeat: ${NOPE}\n", 10, 13, "`NOPE` is not set"),
            ("    repeat: ${EMPTY}\n", 10, 13, "`EMPTY` is not set"),
            ("    repeat: ${BAD}\n", 10, 13, "characters no number"),
            (
                "    repeat: ${uuid()}\n",
                10,
                13,
                "functions make request text",
            ),
        ];
        for (extra, line, col, says) in cases {
            let text = format!("{PLAN}{extra}");
            let (_, problems) = apply(&text, &env, &[]);
            assert_eq!(problems.len(), 1, "{extra}: {problems:?}");
            let p = &problems[0];
            assert!(p.message.contains(says), "{extra}: {}", p.message);
            assert_eq!((p.line, p.column), (*line, *col), "{extra}");
        }
    }

    #[test]
    fn block_scalars_and_escapes_are_left_alone() {
        let text = "a:\n  body: |\n    timeout: ${T}\n  timeout: $${T}\n";
        let (e, problems) = apply(text, &|_| None, &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(e.text, text);
    }

    #[test]
    fn set_replaces_or_adds_a_key() {
        let set = |s: &str| s.parse::<SetValue>().expect(s);
        let (e, problems) = apply(
            PLAN,
            &env,
            &[
                set("scenarios.shop.concurrency=50"),
                set("scenarios.0.timeout=1s"),
                set("rounds=2"),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            e.text.contains("    concurrency: 50   # users"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains("  - timeout: 1s\n    name: shop"),
            "{}",
            e.text
        );
        assert!(e.text.starts_with("rounds: 2\nversion: 1"), "{}", e.text);
        // Lines after the two added ones map back to the file.
        assert_eq!(e.original(10, 5), (8, 5));
        assert_eq!(e.original(1, 1), (1, 1));
        assert_eq!(e.note(1).as_deref(), Some("from `--set rounds=2`"));
        let keys: Vec<&str> = e
            .effective
            .iter()
            .filter(|x| x.source == "set")
            .map(|x| x.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "scenarios.shop.concurrency",
                "scenarios.0.timeout",
                "rounds"
            ]
        );
        // A key that is not a load value is set, never recorded: it may carry a secret.
        let (e, problems) = apply(
            PLAN,
            &env,
            &[set("scenarios.0.description=s3cret"), set("rounds=3")],
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert!(e.text.contains("description: s3cret"), "{}", e.text);
        assert!(e.effective.iter().all(|x| !x.value.contains("s3cret")));
        assert_eq!(e.effective.iter().filter(|x| x.source == "set").count(), 1);
        let (_, problems) = apply(PLAN, &env, &[set("scenarios.shp.concurrency=5")]);
        assert!(
            problems[0].message.contains("did you mean `shop`?"),
            "{problems:?}"
        );
        assert!("no-equals".parse::<SetValue>().is_err());
        assert!("a..b=1".parse::<SetValue>().is_err());
    }
}

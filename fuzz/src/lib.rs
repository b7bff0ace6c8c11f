//! What the saved-results fuzz targets share: the real files they start from, a structure-aware
//! mutator that edits those files as JSON (the edits chosen by `arbitrary`), and every renderer run
//! on one summary.
//!
//! Input: fuzzer bytes. Output: the bytes of a saved file (raw, when the input looks like JSON, or
//! a real file with edits applied), and renderings whose results are thrown away. Must not hide a
//! panic: nothing here catches one.

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use loadplan::report::{self, Reporter};
use loadplan::stats::Summary;
use loadplan::stats::saved::{self, Saved};
use serde_json::Value;

/// Real files of `tests/fixtures/saved/plan.yaml`, run on the built-in server.
pub const SUMMARY: &[u8] = include_bytes!("../../tests/fixtures/saved/summary.json");
pub const SHARD_1: &[u8] = include_bytes!("../../tests/fixtures/saved/shard-1-of-2.json");
pub const SHARD_2: &[u8] = include_bytes!("../../tests/fixtures/saved/shard-2-of-2.json");

/// One edit of one node of a JSON document (nodes numbered in document order).
#[derive(Arbitrary, Debug)]
pub struct Edit {
    node: u16,
    action: Action,
}

#[derive(Arbitrary, Debug)]
enum Action {
    Set(NewValue),
    Remove,
    /// A number plus a small amount (off-by-one counts, just-out-of-range values).
    Nudge(i8),
    /// A number times a power of ten.
    Scale(i8),
    /// A string, list or object cut to its first N characters or entries.
    Truncate(u16),
    /// The value of another node (a histogram of another cell, a count of another field).
    CopyFrom(u16),
    /// One character of a string replaced (a histogram with one base64 digit changed).
    Flip(u16, u8),
}

#[derive(Arbitrary, Debug)]
enum NewValue {
    Zero,
    MinusOne,
    One,
    Huge,
    Tiny,
    TwoPow53,
    TwoPow63,
    U64Max,
    U64MaxAsFloat,
    I64Min,
    Int(u64),
    Negative(i64),
    Float(f64),
    Text(String),
    NanText,
    InfinityText,
    EmptyText,
    Null,
    Bool(bool),
    EmptyList,
    EmptyObject,
    NumberAsText,
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node's path, in document order (the root first).
fn nodes(v: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), v)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter().rev() {
                    let mut p = path.clone();
                    p.push(Step::Key(k.clone()));
                    stack.push((p, child));
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate().rev() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    stack.push((p, child));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, s| match s {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn int_or_float(x: i128) -> Value {
    if let Ok(u) = u64::try_from(x) {
        Value::from(u)
    } else if let Ok(i) = i64::try_from(x) {
        Value::from(i)
    } else {
        Value::from(x as f64)
    }
}

impl NewValue {
    fn value(&self, old: &Value) -> Value {
        match self {
            NewValue::Zero => Value::from(0),
            NewValue::MinusOne => Value::from(-1),
            NewValue::One => Value::from(1),
            NewValue::Huge => Value::from(1e308),
            NewValue::Tiny => Value::from(5e-324),
            NewValue::TwoPow53 => Value::from(1u64 << 53),
            NewValue::TwoPow63 => Value::from(1u64 << 63),
            NewValue::U64Max => Value::from(u64::MAX),
            NewValue::U64MaxAsFloat => Value::from(u64::MAX as f64),
            NewValue::I64Min => Value::from(i64::MIN),
            NewValue::Int(n) => Value::from(*n),
            NewValue::Negative(n) => Value::from(-(n.unsigned_abs() as i128) as f64),
            NewValue::Float(f) if f.is_finite() => Value::from(*f),
            NewValue::Float(_) => Value::Null,
            NewValue::Text(s) => Value::from(s.as_str()),
            NewValue::NanText => Value::from("NaN"),
            NewValue::InfinityText => Value::from("Infinity"),
            NewValue::EmptyText => Value::from(""),
            NewValue::Null => Value::Null,
            NewValue::Bool(b) => Value::from(*b),
            NewValue::EmptyList => Value::Array(Vec::new()),
            NewValue::EmptyObject => Value::Object(Default::default()),
            NewValue::NumberAsText => Value::from(old.to_string()),
        }
    }
}

fn apply(doc: &mut Value, edit: &Edit) {
    let all = nodes(doc);
    let path = &all[usize::from(edit.node) % all.len()];
    let source = match edit.action {
        Action::CopyFrom(j) => at(doc, &all[usize::from(j) % all.len()]).map(|v| v.clone()),
        _ => None,
    };
    if let Action::Remove = edit.action {
        let Some((last, parent)) = path.split_last() else {
            return;
        };
        match (at(doc, parent), last) {
            (Some(Value::Object(m)), Step::Key(k)) => {
                m.remove(k);
            }
            (Some(Value::Array(a)), Step::Index(i)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => {}
        }
        return;
    }
    let Some(node) = at(doc, path) else { return };
    match &edit.action {
        Action::Set(new) => *node = new.value(node),
        Action::Remove => {}
        Action::Nudge(d) => {
            if let Some(u) = node.as_u64() {
                *node = int_or_float(i128::from(u) + i128::from(*d));
            } else if let Some(i) = node.as_i64() {
                *node = int_or_float(i128::from(i) + i128::from(*d));
            } else if let Some(f) = number(node) {
                *node = Value::from(f + f64::from(*d));
            }
        }
        Action::Scale(k) => {
            if let Some(f) = number(node) {
                let x = f * 10f64.powi(i32::from(*k % 40));
                *node = if x.is_finite() {
                    Value::from(x)
                } else {
                    Value::Null
                };
            }
        }
        Action::Truncate(n) => match node {
            Value::String(s) => {
                let keep: String = s.chars().take(usize::from(*n) % (s.len() + 1)).collect();
                *s = keep;
            }
            Value::Array(a) => a.truncate(usize::from(*n) % (a.len() + 1)),
            Value::Object(m) => {
                let keep = usize::from(*n) % (m.len() + 1);
                let drop: Vec<String> = m.keys().skip(keep).cloned().collect();
                for k in drop {
                    m.remove(&k);
                }
            }
            _ => {}
        },
        Action::CopyFrom(_) => {
            if let Some(v) = source {
                *node = v;
            }
        }
        Action::Flip(i, c) => {
            if let Value::String(s) = node
                && !s.is_empty()
            {
                let mut chars: Vec<char> = s.chars().collect();
                let at = usize::from(*i) % chars.len();
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
                chars[at] = char::from(ALPHABET[usize::from(*c) % ALPHABET.len()]);
                *s = chars.into_iter().collect();
            }
        }
    }
}

/// `template` with `edits` applied, pretty-printed as loadplan writes it.
pub fn edited(template: &[u8], edits: &[Edit]) -> Vec<u8> {
    let Ok(mut doc) = serde_json::from_slice::<Value>(template) else {
        return template.to_vec();
    };
    for e in edits {
        apply(&mut doc, e);
    }
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}

/// True when the fuzzer's bytes are meant as a file as they are (they start like JSON).
pub fn is_raw(data: &[u8]) -> bool {
    matches!(data.first(), Some(b'{' | b'[' | b' ' | b'\n' | b'"'))
}

/// A saved file from fuzzer bytes: the bytes themselves when they look like JSON, else one of
/// `templates` (chosen by the first byte) with edits read from the rest.
pub fn saved_file(data: &[u8], templates: &[&[u8]]) -> Vec<u8> {
    if is_raw(data) {
        return data.to_vec();
    }
    let (pick, rest) = data.split_first().unwrap_or((&0, &[]));
    let template = templates[usize::from(*pick) % templates.len()];
    let edits = Vec::<Edit>::arbitrary_take_rest(Unstructured::new(rest)).unwrap_or_default();
    edited(template, &edits)
}

thread_local! {
    static REPORTERS: Vec<Box<dyn Reporter>> = report::reporters(None).unwrap_or_default();
}

/// What `loadplan report` does with an accepted summary, short of writing files: re-derive the
/// verdict, print the console table and gate, render every output file. Then the summary.json it
/// rendered must read back.
pub fn render_everything(mut summary: Summary) {
    loadplan::gate::decide(&mut summary);
    let _ = report::console::table(&summary);
    let _ = report::console::gate(&summary);
    let _ = report::markdown::render(&summary);
    REPORTERS.with(|reporters| {
        assert!(!reporters.is_empty(), "the embedded templates load");
        for r in reporters {
            let _ = r.render(&summary);
        }
    });
    let json = report::Json.render(&summary).unwrap_or_default();
    if let Err(e) = saved::parse("rendered summary.json", &json) {
        panic!("a summary.json loadplan rendered is refused: {e}");
    }
}

/// With `LOADPLAN_FUZZ_DUMP=DIR`, writes the file a target built from its input to `DIR/name`,
/// to see what a crash input amounts to (`cargo fuzz run TARGET CRASH_FILE`).
pub fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("LOADPLAN_FUZZ_DUMP") {
        let _ = std::fs::write(std::path::Path::new(&dir).join(name), bytes);
    }
}

/// Parses `bytes`; a refusal must name the file.
pub fn parse(name: &str, bytes: &[u8]) -> Option<Saved> {
    dump(name, bytes);
    match saved::parse(name, bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with(&format!("{name}: ")), "{message}");
            None
        }
    }
}

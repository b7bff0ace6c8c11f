//! What a response must be (`expect`), and what a flow takes from it (`capture`), compiled once
//! per process: JSON paths (RFC 9535, `serde_json_path`), regular expressions (`regex`), header
//! names.
//!
//! Input: a response's status, headers and (when a check or capture needs it) body. Output: the
//! first failure, as an error category and a message; captured values into the iteration's
//! slots. A failed check's message says what was expected and what was found, each cut to
//! [`SHOWN`] bytes, after [`Mask`] has put `${NAME}` in place of every value of the environment,
//! the data row or a capture (so a secret never reaches a report, only its name).

use std::cell::OnceCell;

use hyper::HeaderMap;
use hyper::header::HeaderName;
use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::plan::requests::{Capture, CaptureFrom, Check, Expect, PickMany};
use crate::plan::text::Text;
use crate::workload::ErrorKind;

/// The longest expected or found value a message shows, in bytes.
pub const SHOWN: usize = 200;

/// Values shorter than this are not masked: a two-digit id is no secret, and masking it would
/// blank every such digit pair of a body.
const MIN_MASKED: usize = 4;

/// What a message must not show: the environment's values the plan substituted, and the run-time
/// variables (data columns, captures), each replaced by its `${NAME}`.
#[derive(Clone, Copy)]
pub struct Mask<'a> {
    /// (name, value) of each environment variable the scenario substituted.
    pub env: &'a [(String, String)],
    /// The name of each slot.
    pub names: &'a [String],
    pub vars: &'a [Option<String>],
}

impl Mask<'_> {
    /// `text` masked, then cut to `limit` bytes (at a character boundary) with the size left out.
    pub fn show(&self, text: &str, limit: usize) -> String {
        let mut secrets: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(
                self.names
                    .iter()
                    .zip(self.vars)
                    .filter_map(|(n, v)| v.as_deref().map(|v| (n.as_str(), v))),
            )
            .filter(|(_, v)| v.len() >= MIN_MASKED)
            .collect();
        // The longest first: a value that contains another is masked whole.
        secrets.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for (name, value) in secrets {
            if out.contains(value) {
                out = out.replace(value, &format!("${{{name}}}"));
            }
        }
        cut(&out, limit)
    }

    /// A body, masked and cut, as a message shows it.
    fn body(&self, body: &[u8]) -> String {
        if body.is_empty() {
            return "an empty body".into();
        }
        // Cut before masking too: a 4 MiB body is not copied whole for a message; the margin
        // keeps a secret that straddles the first cut whole for the mask.
        let head = &body[..body.len().min(SHOWN * 8)];
        let text = String::from_utf8_lossy(head);
        let mut shown = self.show(&text, SHOWN);
        if head.len() < body.len() && !shown.ends_with(')') {
            shown.push_str(&format!(" ({} bytes in all)", body.len()));
        }
        format!("`{shown}`")
    }
}

/// `text` cut to `limit` bytes at a character boundary, saying how much was left out.
pub fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// A response as checks and captures see it; the body parsed as JSON at most once.
pub struct Seen<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    json: OnceCell<Option<Value>>,
}

impl<'a> Seen<'a> {
    pub fn new(status: u16, headers: &'a HeaderMap, body: &'a [u8]) -> Seen<'a> {
        Seen {
            status,
            headers,
            body,
            json: OnceCell::new(),
        }
    }

    fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.body).ok())
            .as_ref()
    }
}

/// A request's `expect`, compiled.
pub struct Checks {
    status: Vec<u16>,
    json: Vec<(JsonPath, String, Expect)>,
    body_contains: Option<Text>,
    headers: Vec<(HeaderName, Text)>,
}

impl Checks {
    pub fn new(c: &Check) -> Result<Checks, String> {
        let mut json = Vec::with_capacity(c.json.len());
        for (path, expect) in &c.json {
            let p = JsonPath::parse(path).map_err(|e| format!("`{path}`: {e}"))?;
            json.push((p, path.clone(), expect.clone()));
        }
        let mut headers = Vec::with_capacity(c.headers.len());
        for (name, value) in &c.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            headers.push((n, value.clone()));
        }
        Ok(Checks {
            status: c.status.clone(),
            json,
            body_contains: c.body_contains.clone(),
            headers,
        })
    }

    pub fn reads_body(&self) -> bool {
        !self.json.is_empty() || self.body_contains.is_some()
    }

    /// The category of a status alone: `status` for an error status the plan does not accept,
    /// `expectation` for another status it does not list.
    pub fn classify(&self, status: u16) -> Option<ErrorKind> {
        if self.status.is_empty() {
            return (status >= 400).then_some(ErrorKind::Status);
        }
        if self.status.contains(&status) {
            None
        } else if status >= 400 {
            Some(ErrorKind::Status)
        } else {
            Some(ErrorKind::Expectation)
        }
    }

    /// The first way the response is not what it must be: what was expected and what was
    /// found, masked by `mask` (its `vars` are the iteration's).
    pub fn verify(&self, r: &Seen, mask: &Mask) -> Option<(ErrorKind, String)> {
        let vars = mask.vars;
        if let Some(kind) = self.classify(r.status) {
            // An error status says enough alone (and groups as one message); another status
            // says which the plan accepts.
            let expected = match self.status.as_slice() {
                _ if kind == ErrorKind::Status => String::new(),
                [one] => format!(", expected {one}"),
                many => format!(
                    ", expected one of {}",
                    many.iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Some((kind, format!("status {}{expected}", r.status)));
        }
        let get = |n: usize| vars.get(n).and_then(|v| v.as_deref());
        for (name, want) in &self.headers {
            let want = want.render(get);
            let values: Vec<&str> = r
                .headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap_or("(not text)"))
                .collect();
            if !values.iter().any(|v| v.starts_with(&want)) {
                let found = match values.as_slice() {
                    [] => "none".to_string(),
                    some => format!("`{}`", mask.show(&some.join(", "), SHOWN)),
                };
                return Some((
                    ErrorKind::Expectation,
                    format!(
                        "header `{name}` is missing or does not have the expected value: expected `{}…`, found {found}",
                        mask.show(&want, SHOWN)
                    ),
                ));
            }
        }
        if let Some(t) = &self.body_contains {
            let needle = t.render(get);
            let found =
                !needle.is_empty() && r.body.windows(needle.len()).any(|w| w == needle.as_bytes());
            if !found && !needle.is_empty() {
                return Some((
                    ErrorKind::Expectation,
                    format!(
                        "the body does not contain the expected text `{}`: found {}",
                        mask.show(&needle, SHOWN),
                        mask.body(r.body)
                    ),
                ));
            }
        }
        for (path, text, expect) in &self.json {
            let Some(doc) = r.json() else {
                return Some((
                    ErrorKind::Expectation,
                    format!("the body is not JSON: found {}", mask.body(r.body)),
                ));
            };
            let nodes = path.query(doc);
            let first = nodes.first();
            let shown = |v: &Value| format!("`{}`", mask.show(&v.to_string(), SHOWN));
            let found = || first.map_or_else(|| "nothing".to_string(), &shown);
            let failed = match expect {
                Expect::Exists if nodes.is_empty() => {
                    Some(format!("finds nothing: found {}", mask.body(r.body)))
                }
                Expect::Exists => None,
                Expect::Equals(v) if first != Some(v) => Some(format!(
                    "does not find the expected value: expected {}, found {}",
                    shown(v),
                    found()
                )),
                Expect::Equals(_) => None,
                Expect::EqualsText(t) => {
                    let want = t.render(get);
                    let same = match first {
                        Some(Value::String(s)) => *s == want,
                        Some(other) => {
                            // Another node reads as its JSON text: `3`, `true`.
                            let text = other.to_string();
                            text == want
                        }
                        None => false,
                    };
                    (!same).then(|| {
                        format!(
                            "does not find the expected value: expected `{}`, found {}",
                            mask.show(&want, SHOWN),
                            found()
                        )
                    })
                }
            };
            if let Some(what) = failed {
                return Some((ErrorKind::Expectation, format!("json `{text}` {what}")));
            }
        }
        None
    }
}

/// A step's `capture`, compiled.
pub struct Captures {
    list: Vec<(usize, String, Source)>,
}

enum Source {
    Json(JsonPath, String),
    JsonMany(JsonPath, String, PickMany),
    Header(HeaderName),
    Regex(Regex),
}

impl Captures {
    pub fn new(captures: &[Capture]) -> Result<Captures, String> {
        let mut list = Vec::with_capacity(captures.len());
        for c in captures {
            let source = match &c.from {
                CaptureFrom::Json(p) => Source::Json(
                    JsonPath::parse(p).map_err(|e| format!("`{p}`: {e}"))?,
                    p.clone(),
                ),
                CaptureFrom::JsonMany(p, pick) => Source::JsonMany(
                    JsonPath::parse(p).map_err(|e| format!("`{p}`: {e}"))?,
                    p.clone(),
                    *pick,
                ),
                CaptureFrom::Header(h) => Source::Header(
                    HeaderName::from_bytes(h.as_bytes())
                        .map_err(|_| format!("`{h}` is not a header name"))?,
                ),
                CaptureFrom::Regex(r) => {
                    Source::Regex(Regex::new(r).map_err(|e| format!("`{r}`: {e}"))?)
                }
            };
            list.push((c.slot, c.name.clone(), source));
        }
        Ok(Captures { list })
    }

    pub fn reads_body(&self) -> bool {
        self.list.iter().any(|(_, _, s)| {
            matches!(
                s,
                Source::Json(..) | Source::JsonMany(..) | Source::Regex(_)
            )
        })
    }

    /// Fills the slots from the response; the first capture that finds nothing is the error
    /// (`pick: all` finding nothing is an empty array, not an error). `rng` makes `pick: random`'s
    /// choice.
    pub fn apply(
        &self,
        r: &Seen,
        vars: &mut [Option<String>],
        rng: &mut fastrand::Rng,
    ) -> Result<(), String> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for (slot, name, source) in &self.list {
            let value = match source {
                Source::JsonMany(path, written, pick) => {
                    let Some(doc) = r.json() else {
                        return Err(format!(
                            "capture `{name}`: json `{written}`: the body is not JSON"
                        ));
                    };
                    let nodes = path.query(doc).all();
                    match pick {
                        PickMany::All => {
                            Value::Array(nodes.into_iter().cloned().collect()).to_string()
                        }
                        PickMany::Random if nodes.is_empty() => {
                            return Err(format!(
                                "capture `{name}`: json `{written}` finds nothing"
                            ));
                        }
                        PickMany::Random => text(nodes[rng.usize(..nodes.len())]),
                    }
                }
                Source::Json(path, text) => r
                    .json()
                    .and_then(|doc| {
                        path.query(doc).first().map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                    })
                    .ok_or_else(|| format!("capture `{name}`: json `{text}` finds nothing"))?,
                Source::Header(h) => r
                    .headers
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .ok_or_else(|| format!("capture `{name}`: no header `{h}`"))?,
                Source::Regex(re) => {
                    let text = String::from_utf8_lossy(r.body);
                    re.captures(&text)
                        .and_then(|c| c.get(1).or_else(|| c.get(0)))
                        .map(|m| m.as_str().to_string())
                        .ok_or_else(|| {
                            format!("capture `{name}`: regex `{}` finds nothing", re.as_str())
                        })?
                }
            };
            if let Some(v) = vars.get_mut(*slot) {
                *v = Some(value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Text {
        Text::literal(s)
    }

    #[test]
    fn expectations_fail_with_what_was_expected_and_found_secrets_masked() {
        let check = Check {
            status: vec![200],
            json: vec![
                ("$.token".into(), Expect::Exists),
                ("$.n".into(), Expect::Equals(serde_json::json!(3))),
            ],
            body_contains: Some(text("token")),
            headers: vec![("content-type".into(), text("application/json"))],
            grpc_code: None,
        };
        let checks = Checks::new(&check).expect("checks");
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            "application/json; charset=utf-8".parse().expect("value"),
        );
        let cases: [(u16, &str, Option<&str>); 5] = [
            (200, r#"{"token":"s3cret","n":3}"#, None),
            (401, r#"{"token":"s3cret","n":3}"#, Some("status 401")),
            (200, r#"{"tok":"x","n":3}"#, Some("does not contain")),
            (
                200,
                r#"{"token":"s3cret","n":4}"#,
                Some("json `$.n` does not find"),
            ),
            (200, "token but not json", Some("not JSON")),
        ];
        let env = [("TOKEN".to_string(), "s3cret".to_string())];
        let mask = Mask {
            env: &env,
            names: &[],
            vars: &[],
        };
        for (status, body, want) in cases {
            let got = checks.verify(&Seen::new(status, &h, body.as_bytes()), &mask);
            match (got, want) {
                (None, None) => {}
                (Some((_, m)), Some(w)) => {
                    assert!(m.contains(w), "{body}: {m}");
                    assert!(!m.contains("s3cret"), "{m}");
                }
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(checks.classify(204), Some(ErrorKind::Expectation));
        let exact = [
            (
                204,
                r#"{"token":"s3cret","n":3}"#,
                "status 204, expected 200",
            ),
            (
                200,
                r#"{"tok":"s3cret","n":3}"#,
                r#"the body does not contain the expected text `token`: found `{"tok":"${TOKEN}","n":3}`"#,
            ),
            (
                200,
                r#"{"token":"s3cret","n":4}"#,
                "json `$.n` does not find the expected value: expected `3`, found `4`",
            ),
        ];
        for (status, body, want) in exact {
            let got = checks.verify(&Seen::new(status, &h, body.as_bytes()), &mask);
            assert_eq!(got.map(|g| g.1).as_deref(), Some(want));
        }
        assert_eq!(checks.classify(503), Some(ErrorKind::Status));
    }

    #[test]
    fn captures_fill_slots_or_say_what_found_nothing() {
        let caps = Captures::new(&[
            Capture {
                slot: 0,
                name: "token".into(),
                from: CaptureFrom::Json("$.token".into()),
            },
            Capture {
                slot: 1,
                name: "id".into(),
                from: CaptureFrom::Regex(r"id=(\d+)".into()),
            },
            Capture {
                slot: 2,
                name: "next".into(),
                from: CaptureFrom::Header("location".into()),
            },
        ])
        .expect("captures");
        let mut h = HeaderMap::new();
        h.insert("location", "/items/7".parse().expect("value"));
        let mut vars = vec![None, None, None];
        let body = br#"{"token":"abc","link":"id=42"}"#;
        let mut rng = fastrand::Rng::with_seed(1);
        caps.apply(&Seen::new(200, &h, body), &mut vars, &mut rng)
            .expect("found");
        assert_eq!(
            vars,
            [
                Some("abc".into()),
                Some("42".into()),
                Some("/items/7".into())
            ]
        );
        let e = caps
            .apply(
                &Seen::new(200, &HeaderMap::new(), b"{}"),
                &mut vars,
                &mut rng,
            )
            .expect_err("nothing");
        assert_eq!(e, "capture `token`: json `$.token` finds nothing");
    }

    #[test]
    fn pick_takes_one_node_at_random_or_all_of_them() {
        let caps = Captures::new(&[
            Capture {
                slot: 0,
                name: "ids".into(),
                from: CaptureFrom::JsonMany("$.items[*].id".into(), PickMany::All),
            },
            Capture {
                slot: 1,
                name: "one".into(),
                from: CaptureFrom::JsonMany("$.items[*].id".into(), PickMany::Random),
            },
        ])
        .expect("captures");
        let h = HeaderMap::new();
        let body = br#"{"items":[{"id":1},{"id":"b"},{"id":3}]}"#;
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut vars = vec![None, None];
            caps.apply(&Seen::new(200, &h, body), &mut vars, &mut rng)
                .expect("found");
            assert_eq!(vars[0].as_deref(), Some(r#"[1,"b",3]"#));
            seen.insert(vars[1].clone().expect("picked"));
        }
        let want: std::collections::BTreeSet<String> =
            ["1", "b", "3"].into_iter().map(String::from).collect();
        assert_eq!(seen, want, "every node is picked some time");
        // `all` of nothing is an empty list; `random` of nothing is an error.
        let mut vars = vec![None, None];
        let e = caps
            .apply(&Seen::new(200, &h, br#"{"items":[]}"#), &mut vars, &mut rng)
            .expect_err("random finds nothing");
        assert_eq!(vars[0].as_deref(), Some("[]"));
        assert_eq!(e, "capture `one`: json `$.items[*].id` finds nothing");
    }

    #[test]
    fn a_mask_names_each_secret_and_a_long_value_is_cut() {
        let env = [("API_KEY".to_string(), "k-123456".to_string())];
        let names = ["user".to_string(), "token".to_string(), "id".to_string()];
        let vars = [Some("ann@example.com".into()), None, Some("7".into())];
        let mask = Mask {
            env: &env,
            names: &names,
            vars: &vars,
        };
        let cases = [
            (
                "key k-123456 for ann@example.com",
                "key ${API_KEY} for ${user}",
            ),
            // Short values (an id of 7) are not secrets worth blanking every 7 for.
            ("item 7", "item 7"),
        ];
        for (text, want) in cases {
            assert_eq!(mask.show(text, SHOWN), want);
        }
        let long = "é".repeat(150);
        let shown = mask.show(&long, SHOWN);
        assert!(shown.ends_with("… (300 bytes in all)"), "{shown}");
        assert_eq!(shown.len(), 200 + "… (300 bytes in all)".len());
    }
}

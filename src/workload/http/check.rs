//! What a response must be (`expect`), and what a flow takes from it (`capture`), compiled once
//! per process: JSON paths (RFC 9535, `serde_json_path`), regular expressions (`regex`), header
//! names.
//!
//! Input: a response's status, headers and (when a check or capture needs it) body. Output: the
//! first failure, as an error category and a message; captured values into the iteration's
//! slots. Messages name the path, header or pattern as the plan wrote it, never a value seen.

use std::cell::OnceCell;

use hyper::HeaderMap;
use hyper::header::HeaderName;
use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::plan::requests::{Capture, CaptureFrom, Check, Expect};
use crate::plan::text::Text;
use crate::workload::ErrorKind;

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

    /// The first way the response is not what it must be.
    pub fn verify(&self, r: &Seen, vars: &[Option<String>]) -> Option<(ErrorKind, String)> {
        if let Some(kind) = self.classify(r.status) {
            return Some((kind, format!("status {}", r.status)));
        }
        let get = |n: usize| vars.get(n).and_then(|v| v.as_deref());
        for (name, want) in &self.headers {
            let want = want.render(get);
            let ok = r
                .headers
                .get_all(name)
                .iter()
                .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&want)));
            if !ok {
                return Some((
                    ErrorKind::Expectation,
                    format!("header `{name}` is missing or does not have the expected value"),
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
                    "the body does not contain the expected text".into(),
                ));
            }
        }
        for (path, text, expect) in &self.json {
            let Some(doc) = r.json() else {
                return Some((ErrorKind::Expectation, "the body is not JSON".into()));
            };
            let nodes = path.query(doc);
            let ok = match expect {
                Expect::Exists => !nodes.is_empty(),
                Expect::Equals(v) => nodes.first().is_some_and(|n| *n == *v),
            };
            if !ok {
                let what = match expect {
                    Expect::Exists => "finds nothing",
                    Expect::Equals(_) => "does not find the expected value",
                };
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
        self.list
            .iter()
            .any(|(_, _, s)| matches!(s, Source::Json(..) | Source::Regex(_)))
    }

    /// Fills the slots from the response; the first capture that finds nothing is the error.
    pub fn apply(&self, r: &Seen, vars: &mut [Option<String>]) -> Result<(), String> {
        for (slot, name, source) in &self.list {
            let value = match source {
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
    fn expectations_fail_with_words_not_values() {
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
        for (status, body, want) in cases {
            let got = checks.verify(&Seen::new(status, &h, body.as_bytes()), &[]);
            match (got, want) {
                (None, None) => {}
                (Some((_, m)), Some(w)) => {
                    assert!(m.contains(w), "{body}: {m}");
                    assert!(!m.contains("s3cret"));
                }
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(checks.classify(204), Some(ErrorKind::Expectation));
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
        caps.apply(&Seen::new(200, &h, body), &mut vars)
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
            .apply(&Seen::new(200, &HeaderMap::new(), b"{}"), &mut vars)
            .expect_err("nothing");
        assert_eq!(e, "capture `token`: json `$.token` finds nothing");
    }
}

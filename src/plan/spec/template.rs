//! `${NAME}` strings and header maps: read as written, syntax checked; values are substituted
//! in `resolve.rs`, from the environment it is given. `${NAME:-default}` and function calls
//! (`${uuid()}`, `${hmac_sha256_hex(KEY, BODY)}`, see `plan::functions`) are checked here too.

use serde::Deserialize;
use serde::de::Deserializer;

use super::checked_str;
use crate::plan::functions::{self, Expr};
use crate::plan::text::{Arg, Call};

/// A string that may reference environment variables as `${NAME}` (`$${` writes a literal `${`).
///
/// The plan stage reads it as written (`raw`, the only form ever shown) and checks its syntax;
/// the values are substituted once, in `resolve.rs`, from the environment it is given.
#[derive(Debug, Clone)]
pub struct Template {
    pub raw: String,
    /// Whether it references at least one variable.
    pub has_vars: bool,
}

/// One piece of a template: text as written, a variable's name, or a default or a call.
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
    Expr(Expr),
}

/// An expression's value from `lookup`; the names it lacks go to `missing`.
fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<String>, missing: &mut Vec<String>) -> String {
    match e {
        Expr::Var(n) => lookup(n).unwrap_or_else(|| {
            if !missing.contains(n) {
                missing.push(n.clone());
            }
            String::new()
        }),
        Expr::Lit(s) => s.clone(),
        Expr::Or(n, d) => lookup(n)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| d.clone()),
        Expr::Call(f, args) => {
            let args: Vec<String> = args.iter().map(|a| eval(a, lookup, missing)).collect();
            f.apply(&args)
        }
    }
}

/// An expression as run-time text: slots for run-time variables, the environment's values now.
fn to_arg(
    e: &Expr,
    slot: &dyn Fn(&str) -> Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> Arg {
    match e {
        Expr::Var(n) => match (slot(n), env(n)) {
            (Some(s), _) => Arg::Slot(s),
            (None, Some(v)) => Arg::Lit(v),
            (None, None) => {
                if !missing.contains(n) {
                    missing.push(n.clone());
                }
                Arg::Lit(String::new())
            }
        },
        Expr::Lit(s) => Arg::Lit(s.clone()),
        Expr::Or(n, d) => match (slot(n), env(n).filter(|v| !v.is_empty())) {
            (Some(s), _) => Arg::Call(Call {
                func: functions::Func::Or,
                args: vec![Arg::Slot(s), Arg::Lit(d.clone())],
            }),
            (None, Some(v)) => Arg::Lit(v),
            (None, None) => Arg::Lit(d.clone()),
        },
        Expr::Call(f, args) => Arg::Call(Call {
            func: *f,
            args: args.iter().map(|a| to_arg(a, slot, env, missing)).collect(),
        }),
    }
}

impl Template {
    /// Checks the `${NAME}` syntax of `raw`.
    pub fn parse(raw: &str) -> Result<Template, String> {
        let mut has_vars = false;
        for piece in pieces(raw) {
            if let Piece::Var(_) | Piece::Expr(_) = piece? {
                has_vars = true;
            }
        }
        Ok(Template {
            raw: raw.to_string(),
            has_vars,
        })
    }

    /// The text with every variable substituted by `lookup`; the names `lookup` lacks otherwise.
    pub fn expand(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
        let mut value = String::with_capacity(self.raw.len());
        let mut missing = Vec::new();
        for piece in pieces(&self.raw) {
            match piece {
                Ok(Piece::Text(t)) => value.push_str(t),
                Ok(Piece::Var(name)) => match lookup(name) {
                    Some(v) => value.push_str(&v),
                    None if missing.iter().any(|m| m == name) => {}
                    None => missing.push(name.to_string()),
                },
                Ok(Piece::Expr(e)) => value.push_str(&eval(&e, lookup, &mut missing)),
                // `parse` accepted the text, so this cannot happen; keep the text as written.
                Err(_) => value.push_str(&self.raw),
            }
        }
        if missing.is_empty() {
            Ok(value)
        } else {
            Err(missing)
        }
    }

    /// The names of the variables it references, in order, each once.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let mut owned: Vec<Expr> = Vec::new();
        for p in pieces(&self.raw).flatten() {
            match p {
                Piece::Var(name) => {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
                Piece::Expr(e) => owned.push(e),
                Piece::Text(_) => {}
            }
        }
        // Names inside calls and defaults, found in the text itself so that they borrow from it.
        let mut inner: Vec<&str> = Vec::new();
        for e in &owned {
            e.names(&mut inner);
        }
        for n in inner {
            if let Some(i) = self.raw.find(n) {
                let here = &self.raw[i..i + n.len()];
                if !out.contains(&here) {
                    out.push(here);
                }
            }
        }
        out
    }

    /// The text with run-time variables left as slots: `slot` says which names are filled at run
    /// time (and by which slot); the others are substituted now by `env`. The names neither
    /// knows come back as the error.
    pub fn to_text(
        &self,
        slot: &dyn Fn(&str) -> Option<usize>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<crate::plan::text::Text, Vec<String>> {
        let mut text = crate::plan::text::Text::default();
        let mut missing = Vec::new();
        for piece in pieces(&self.raw) {
            match piece {
                Ok(Piece::Text(t)) => text.push_str(t),
                Ok(Piece::Var(name)) => match (slot(name), env(name)) {
                    (Some(n), _) => text.push_slot(n),
                    (None, Some(v)) => text.push_str(&v),
                    (None, None) if missing.iter().any(|m| m == name) => {}
                    (None, None) => missing.push(name.to_string()),
                },
                Ok(Piece::Expr(e)) => match to_arg(&e, slot, env, &mut missing) {
                    Arg::Lit(v) => text.push_str(&v),
                    Arg::Slot(n) => text.push_slot(n),
                    Arg::Call(c) => text.push_call(c),
                },
                // `parse` accepted the text, so this cannot happen; keep the text as written.
                Err(_) => text.push_str(&self.raw),
            }
        }
        if missing.is_empty() {
            Ok(text)
        } else {
            Err(missing)
        }
    }
}

/// The message for variables the environment lacks.
pub fn missing_message(names: &[String]) -> String {
    match names {
        [one] => {
            format!("environment variable `{one}` is not set (the plan references `${{{one}}}`)")
        }
        many => format!(
            "environment variables {} are not set (the plan references them)",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Splits a template into text and variable names; `$${` is a literal `${`.
fn pieces(raw: &str) -> impl Iterator<Item = Result<Piece<'_>, String>> {
    let mut rest = raw;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let Some(i) = rest.find('$') else {
            let t = rest;
            rest = "";
            return Some(Ok(Piece::Text(t)));
        };
        if i > 0 {
            let t = &rest[..i];
            rest = &rest[i..];
            return Some(Ok(Piece::Text(t)));
        }
        let after = &rest[1..];
        if let Some(tail) = after.strip_prefix("${") {
            rest = tail;
            return Some(Ok(Piece::Text("${")));
        }
        let Some(tail) = after.strip_prefix('{') else {
            rest = after;
            return Some(Ok(Piece::Text("$")));
        };
        let Some(end) = closing_brace(tail) else {
            failed = true;
            return Some(Err(format!("unclosed `${{` in `{raw}`")));
        };
        let name = &tail[..end];
        rest = &tail[end + 1..];
        if is_variable_name(name) {
            return Some(Ok(Piece::Var(name)));
        }
        match functions::parse(name) {
            Ok(e) => Some(Ok(Piece::Expr(e))),
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// Where the `}` closing a `${` stands in `tail` (the text after `${`), quotes skipped.
fn closing_brace(tail: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    // `${base64(${USER})}`: a name written as `${USER}` inside a call.
    let mut depth = 0usize;
    for (i, c) in tail.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if tail[..i].contains('(') => quote = Some(c),
            (None, '{') if tail[..i].ends_with('$') => depth += 1,
            (None, '}') if depth > 0 => depth -= 1,
            (None, '}') => return Some(i),
            _ => {}
        }
    }
    None
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a string", Template::parse)
    }
}

/// Header name → value, in the order written.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, Template)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = |k: &str, _: &[(String, Template)]| {
            hyper::header::HeaderName::from_bytes(k.as_bytes())
                .map(|_| ())
                .map_err(|_| format!("`{k}` is not a valid HTTP header name"))
        };
        let value = |k: &str, v: Template| {
            // A value with variables is checked once they are substituted.
            if !v.has_vars && hyper::header::HeaderValue::from_str(&v.raw).is_err() {
                return Err(format!(
                    "the value of header `{k}` is not a valid HTTP header value"
                ));
            }
            Ok(v)
        };
        super::ordered_map(d, "a map of header names to values", name, value).map(Headers)
    }
}

/// A variable's name: a letter or `_`, then letters, digits and `_`.
pub fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn templates_expand_and_escape() {
        let cases = [
            ("plain", "plain", false),
            ("Bearer ${TOKEN}", "Bearer s3cret", true),
            ("$${TOKEN}", "${TOKEN}", false),
            ("cost $5", "cost $5", false),
        ];
        for (raw, value, vars) in cases {
            let t = Template::parse(raw).expect(raw);
            assert_eq!(t.expand(&env).as_deref(), Ok(value), "{raw}");
            assert_eq!(t.has_vars, vars, "{raw}");
            assert_eq!(t.raw, raw);
            assert!(!format!("{t:?}").contains("s3cret"));
        }
    }

    #[test]
    fn template_errors_name_the_variable() {
        let cases = [
            ("${MISSING}", "`MISSING` is not set"),
            ("${bad-name}", "not a valid variable reference"),
            ("${TOKEN", "unclosed"),
        ];
        for (raw, msg) in cases {
            let e = Template::parse(raw)
                .map_err(|e| vec![e])
                .and_then(|t| t.expand(&env))
                .map_err(|e| {
                    if e.len() == 1 && e[0].contains(' ') {
                        e[0].clone()
                    } else {
                        missing_message(&e)
                    }
                })
                .expect_err(raw);
            assert!(e.contains(msg), "{raw}: {e}");
        }
    }
}

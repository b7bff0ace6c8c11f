//! Text that may hold run-time variables: a request's URL, header values and body once the plan
//! is resolved. Environment variables are substituted when the plan loads; what is left are
//! *slots*, filled at run time from the iteration's data row and captures.
//!
//! Input: a checked [`Template`](super::spec::Template) and where each name comes from. Output:
//! [`Text`], plain data that travels to worker processes. Its `Debug` never shows a value: the
//! literal parts may hold substituted secrets.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::functions::Func;

/// Literal text and slots, in order.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pieces: Vec<Piece>,
    /// Values go into a JSON string (a `json:` body): quotes and control characters escaped.
    json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Piece {
    Lit(String),
    /// The iteration's variable number N.
    Slot(usize),
    /// A function computed each time the text is rendered (`${uuid()}`).
    Call(Call),
}

/// A function call of `${…}` (see `plan::functions`), computed when the text is rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub func: Func,
    pub args: Vec<Arg>,
}

/// An argument of a call: text known at load, an iteration's variable, or another call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arg {
    Lit(String),
    Slot(usize),
    Call(Call),
}

impl Call {
    /// The value, with slots filled by `value` (empty for a slot it lacks).
    pub fn eval<'v>(&self, value: &dyn Fn(usize) -> Option<&'v str>) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| match a {
                Arg::Lit(s) => s.clone(),
                Arg::Slot(n) => value(*n).unwrap_or_default().to_string(),
                Arg::Call(c) => c.eval(value),
            })
            .collect();
        self.func.apply(&args)
    }

    /// Whether it can be computed once, at load: no fresh function, no slot.
    pub fn is_constant(&self) -> bool {
        !self.func.fresh()
            && self.args.iter().all(|a| match a {
                Arg::Lit(_) => true,
                Arg::Slot(_) => false,
                Arg::Call(c) => c.is_constant(),
            })
    }

    fn slots(&self, out: &mut Vec<usize>) {
        for a in &self.args {
            match a {
                Arg::Lit(_) => {}
                Arg::Slot(n) => out.push(*n),
                Arg::Call(c) => c.slots(out),
            }
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Text({} pieces, {} slots)",
            self.pieces.len(),
            self.slots().count()
        )
    }
}

impl Text {
    /// Text without slots.
    pub fn literal(s: impl Into<String>) -> Text {
        Text {
            pieces: vec![Piece::Lit(s.into())],
            json: false,
        }
    }

    /// Appends literal text.
    pub fn push_str(&mut self, s: &str) {
        if let Some(Piece::Lit(last)) = self.pieces.last_mut() {
            last.push_str(s);
        } else if !s.is_empty() {
            self.pieces.push(Piece::Lit(s.to_string()));
        }
    }

    /// Appends another text.
    pub fn append(&mut self, other: &Text) {
        for p in &other.pieces {
            match p {
                Piece::Lit(s) => self.push_str(s),
                Piece::Slot(n) => self.push_slot(*n),
                Piece::Call(c) => self.pieces.push(Piece::Call(c.clone())),
            }
        }
    }

    /// Appends a slot.
    pub fn push_slot(&mut self, slot: usize) {
        self.pieces.push(Piece::Slot(slot));
    }

    /// Appends a call: computed now when it can be, else at every render.
    pub fn push_call(&mut self, call: Call) {
        if call.is_constant() {
            self.push_str(&call.eval(&|_| None));
        } else {
            self.pieces.push(Piece::Call(call));
        }
    }

    /// Values filled into this text are escaped for a JSON string.
    pub fn into_json(mut self) -> Text {
        self.json = true;
        self
    }

    /// The text, when it has no slots.
    pub fn as_static(&self) -> Option<String> {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => Some(s.as_str()),
                Piece::Slot(_) | Piece::Call(_) => None,
            })
            .collect()
    }

    /// The slots it uses (those of its calls' arguments too).
    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Slot(n) => out.push(*n),
                Piece::Call(c) => c.slots(&mut out),
                Piece::Lit(_) => {}
            }
        }
        out.into_iter()
    }

    /// The text with every slot filled by `value` (an empty string for a slot it lacks).
    pub fn render<'v>(&self, value: impl Fn(usize) -> Option<&'v str>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            let computed;
            let filled = match p {
                Piece::Lit(s) => {
                    out.push_str(s);
                    None
                }
                Piece::Slot(n) => Some(value(*n).unwrap_or_default()),
                Piece::Call(c) => {
                    computed = c.eval(&value);
                    Some(computed.as_str())
                }
            };
            match filled {
                None => {}
                Some(v) => {
                    if self.json {
                        let quoted = serde_json::to_string(v).unwrap_or_default();
                        out.push_str(
                            quoted
                                .get(1..quoted.len().saturating_sub(1))
                                .unwrap_or_default(),
                        );
                    } else {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }

    /// The byte offset where the first slot would start, when rendered with empty values.
    pub fn first_slot_at(&self) -> Option<usize> {
        let mut at = 0;
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => at += s.len(),
                Piece::Slot(_) | Piece::Call(_) => return Some(at),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_filled_and_escaped_for_json() {
        let mut t = Text::literal("{\"user\":\"");
        t.push_slot(0);
        t.push_str("\"}");
        let json = t.clone().into_json();
        let values = ["a\"b".to_string()];
        let get = |n: usize| values.get(n).map(String::as_str);
        assert_eq!(t.render(get), "{\"user\":\"a\"b\"}");
        assert_eq!(json.render(get), "{\"user\":\"a\\\"b\"}");
        assert_eq!(t.as_static(), None);
        assert_eq!(Text::literal("x").as_static().as_deref(), Some("x"));
        assert_eq!(t.first_slot_at(), Some(9));
        assert!(!format!("{t:?}").contains("user"));
    }
}

#[cfg(test)]
mod call_tests {
    use super::*;

    #[test]
    fn fresh_calls_are_computed_at_every_render_and_constant_ones_once() {
        let mut t = Text::literal("/x?id=");
        t.push_call(Call {
            func: Func::Uuid,
            args: vec![],
        });
        t.push_str("&b=");
        t.push_call(Call {
            func: Func::Base64,
            args: vec![Arg::Lit("a".into())],
        });
        t.push_str("&s=");
        t.push_call(Call {
            func: Func::Sha256Hex,
            args: vec![Arg::Slot(0)],
        });
        let values = ["abc".to_string()];
        let get = |n: usize| values.get(n).map(String::as_str);
        let (a, b) = (t.render(get), t.render(get));
        assert_ne!(a, b, "a uuid per render");
        assert!(a.contains("&b=YQ==&s=ba7816bf"), "{a}");
        assert_eq!(t.as_static(), None);
        assert_eq!(t.slots().collect::<Vec<_>>(), [0]);
        assert!(!format!("{t:?}").contains("YQ=="));
    }
}

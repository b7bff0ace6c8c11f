//! Guards run on plan text before the strict parse, against YAML that is valid but hostile.
//!
//! Input: the plan text. Output: nothing, or the position where the text becomes too costly to
//! parse. Two costs are bounded here because the YAML library bounds neither:
//!
//! - Flow nesting (`[[[[…` or `{a: {a: …`): the library's scanner does work proportional to the
//!   current flow depth for every token, so a few hundred kilobytes of `[` take minutes. The
//!   depth is estimated lexically and refused above [`MAX_FLOW_DEPTH`] before the parser runs.
//! - Alias expansion (`*name`): an anchored list or map repeated through aliases expands
//!   multiplicatively in memory ("billion laughs"). A first walk counts what the document expands
//!   to, without keeping it, and stops at [`MAX_EXPANDED`].
//!
//! Must not allocate in proportion to the expanded document, or report values it reads (a value
//! may hold a substituted secret; here nothing is substituted yet, but keep it that way).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Deepest flow nesting accepted. Real plans nest two or three levels; the YAML library refuses
/// more than 128 levels anyway, but only after scanning the whole file.
pub const MAX_FLOW_DEPTH: usize = 64;

/// What a document may expand to, in bytes of scalar text plus [`NODE_COST`] per node. A plan of
/// 1 MiB without aliases stays well below; an alias bomb reaches it quickly.
pub const MAX_EXPANDED: u64 = 8 << 20;
const NODE_COST: u64 = 16;

/// A 1-based position in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub line: usize,
    pub column: usize,
}

/// Estimates the flow nesting depth and refuses it above [`MAX_FLOW_DEPTH`].
///
/// The estimate never falls below the YAML scanner's real depth: brackets open everywhere, but
/// inside what looks like a quoted string or a comment a closing bracket is not counted, since a
/// misjudged string boundary must err towards refusing, never towards parsing a bomb. Quotes are
/// recognised where YAML can start a quoted scalar: at a line's first non-blank character, after
/// a blank, or right after `[`, `{`, `,` or `:`.
pub fn flow_depth(text: &str) -> Result<(), (At, String)> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Region {
        Plain,
        Double,
        Single,
        Comment,
    }
    let mut region = Region::Plain;
    let mut depth = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    // The previous character, `\n` at the start of the text.
    let mut prev = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        let token_start = prev.is_whitespace() || matches!(prev, '[' | '{' | ',' | ':');
        match (region, c) {
            (_, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err((
                        At { line, column },
                        format!(
                            "`[` and `{{` are nested more than {MAX_FLOW_DEPTH} levels deep here \
                             (counting those inside quoted strings): refused before parsing"
                        ),
                    ));
                }
            }
            (Region::Plain, ']' | '}') => depth = depth.saturating_sub(1),
            (Region::Plain, '"') if token_start => region = Region::Double,
            (Region::Plain, '\'') if token_start => region = Region::Single,
            (Region::Plain, '#') if token_start => region = Region::Comment,
            (Region::Double, '\\') => {
                // An escaped character never ends the string. An escaped bracket is still counted
                // (next turn), in case this string is not one to YAML.
                if let Some(&n) = chars.peek().filter(|n| !matches!(n, '[' | '{')) {
                    chars.next();
                    if n == '\n' {
                        line += 1;
                        column = 0;
                    } else {
                        column += 1;
                    }
                    prev = n;
                    continue;
                }
            }
            (Region::Double, '"') => region = Region::Plain,
            (Region::Single, '\'') => {
                if chars.peek() == Some(&'\'') {
                    // `''` is a quote inside a single-quoted string.
                    chars.next();
                    column += 1;
                } else {
                    region = Region::Plain;
                }
            }
            (Region::Comment, '\n') => region = Region::Plain,
            _ => {}
        }
        prev = c;
    }
    Ok(())
}

/// Walks the whole document as YAML would expand it (aliases included), keeping nothing, and
/// fails once it exceeds [`MAX_EXPANDED`]. Nesting deeper than the library's limit fails there.
pub fn expansion<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    let left = Cell::new(MAX_EXPANDED);
    Budget { left: &left }.deserialize(d)
}

#[derive(Clone, Copy)]
struct Budget<'a> {
    left: &'a Cell<u64>,
}

impl Budget<'_> {
    fn charge<E: de::Error>(self, bytes: usize) -> Result<(), E> {
        let cost = NODE_COST.saturating_add(bytes as u64);
        match self.left.get().checked_sub(cost) {
            Some(rest) => {
                self.left.set(rest);
                Ok(())
            }
            None => Err(E::custom(format!(
                "the plan expands to more than {} MiB, probably through YAML aliases (`*name`) \
                 repeating large anchored values: refused",
                MAX_EXPANDED >> 20
            ))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.charge(v.len())
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.charge(v.len())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.charge::<A::Error>(0)?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.charge::<A::Error>(0)?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged value (`!tag value`): the tag names the variant, the value follows.
        use de::VariantAccess;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_error(text: &str) -> Option<At> {
        flow_depth(text).err().map(|(at, _)| at)
    }

    #[test]
    fn flow_depth_counts_real_brackets() {
        let deep = format!("a: {}{}\n", "[".repeat(65), "]".repeat(65));
        let cases: Vec<(String, Option<At>)> = vec![
            ("a: [1, [2, {b: c}]]\n".into(), None),
            (format!("a: {}{}\n", "[".repeat(64), "]".repeat(64)), None),
            (
                deep,
                Some(At {
                    line: 1,
                    column: 68,
                }),
            ),
            // Balanced lists one after the other never add up.
            ("a: [x]\n".repeat(1000), None),
            // Closing brackets inside quotes or comments do not close anything...
            (
                format!("a: [\"{}\", {}", "]".repeat(10), "[".repeat(64)),
                Some(At {
                    line: 1,
                    column: 82,
                }),
            ),
            (
                format!("a: [ # {}\n {}", "]".repeat(10), "[".repeat(64)),
                Some(At {
                    line: 2,
                    column: 65,
                }),
            ),
            // ...while quotes inside words, escaped quotes and `''` do not end strings early.
            ("a: it's [x] and [y]\n".repeat(100), None),
            ("a: [\"q\\\"]\", 'it''s]', b]\n".repeat(100), None),
        ];
        for (text, want) in cases {
            assert_eq!(depth_error(&text), want, "{}", &text[..text.len().min(80)]);
        }
    }

    fn expand(text: &str) -> Result<(), String> {
        expansion(serde_yaml::Deserializer::from_str(text)).map_err(|e| e.to_string())
    }

    #[test]
    fn expansion_is_bounded() {
        assert_eq!(expand("a: &a [1, 2]\nb: [*a, *a]\n"), Ok(()));
        let items = vec!["x"; 10_000].join(", ");
        let aliases = vec!["*a"; 10_000].join(", ");
        let bomb = format!("a: &a [{items}]\nb: [{aliases}]\n");
        let e = expand(&bomb).expect_err("an alias bomb is refused");
        assert!(e.contains("expands to more than"), "{e}");
        let e = expand("a: &a [*a]\n").expect_err("a recursive alias is refused");
        assert!(!e.is_empty());
    }
}

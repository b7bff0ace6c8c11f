//! Where a value stands in the plan text, from its path (`scenarios[1].targets[0]`).
//!
//! Checks that need more than one value (a relative URL needs `base`; a `${NAME}` needs the
//! environment; a threshold needs a model the scenario runs) run after parsing, in `resolve.rs`.
//! They name the value by its path, and this module finds its exact line and column by walking
//! the YAML once more to that node and stopping there: the YAML library stamps the position of the
//! node it was reading on the error that stops the walk. Nothing is kept of the values read.
//!
//! Input: the plan text and a path. Output: a 1-based line and column, or `None` when the path
//! is not in the text.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path: a key of a mapping or an index into a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the top of the plan to one value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Path {
        Path::default()
    }

    /// This path, one key further.
    pub fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    /// This path, one list index further.
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The message that stops the walk; never shown.
const FOUND: &str = "\u{0}loadplan: found";

/// The 1-based line and column of the value at `path`.
pub fn locate(text: &str, path: &Path) -> Option<(usize, usize)> {
    let de = serde_yaml::Deserializer::from_str(text);
    match Walk(&path.0).deserialize(de) {
        Ok(()) => None,
        Err(e) if e.to_string().contains(FOUND) => {
            e.location().map(|l| (l.line().max(1), l.column().max(1)))
        }
        Err(_) => None,
    }
}

/// Walks the rest of a path; at its end, stops with [`FOUND`] on whatever node is there.
struct Walk<'a>(&'a [Seg]);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Walk<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.here()?;
        while let Some(k) = map.next_key::<KeyText>()? {
            match self.0.first() {
                Some(Seg::Key(want)) if k.0.as_deref() == Some(want.as_str()) => {
                    map.next_value_seed(Walk(&self.0[1..]))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.here()?;
        let mut i = 0usize;
        loop {
            let more = match self.0.first() {
                Some(Seg::Index(want)) if *want == i => {
                    seq.next_element_seed(Walk(&self.0[1..]))?
                }
                _ => seq.next_element::<IgnoredAny>()?.map(|_| ()),
            };
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.here()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.here()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.here()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.here()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.here()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
}

/// A mapping key read as text when it is a string, skipped otherwise.
struct KeyText(Option<String>);

impl<'de> de::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyText, E> {
                Ok(KeyText(Some(s.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyText, E> {
                Ok(KeyText(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_values() {
        let text = "version: 1\nname: t\nscenarios:\n  - name: a\n    targets: [/x, \"${X}\"]\n    repeat: 1\n  - name: b\n    targets:\n      - url: /y\n        headers: { a: b }\n    thresholds: [\"p99 < 1ms\"]\n";
        let p = |segs: &[&str]| {
            Path(
                segs.iter()
                    .map(|s| match s.parse::<usize>() {
                        Ok(i) => Seg::Index(i),
                        Err(_) => Seg::Key((*s).to_string()),
                    })
                    .collect(),
            )
        };
        type Case<'a> = (&'a [&'a str], Option<(usize, usize)>);
        let cases: &[Case] = &[
            (&["name"], Some((2, 7))),
            (&["scenarios", "0", "targets", "1"], Some((5, 19))),
            (&["scenarios", "1", "targets", "0", "url"], Some((9, 14))),
            (
                &["scenarios", "1", "targets", "0", "headers", "a"],
                Some((10, 23)),
            ),
            (&["scenarios", "1", "thresholds", "0"], Some((11, 18))),
            (&["scenarios", "2"], None),
            (&["nothing"], None),
        ];
        for (segs, want) in cases {
            let path = p(segs);
            assert_eq!(locate(text, &path), *want, "{path}");
        }
        assert_eq!(
            p(&["scenarios", "1", "targets", "0", "url"]).to_string(),
            "scenarios[1].targets[0].url"
        );
    }
}

//! Plain words for what the YAML library says about a plan: a near miss gets "did you mean", a
//! Rust type name becomes what a plan author writes ("a whole number above 0"), a tab in the
//! indentation is named as the cause.
//!
//! Input: the library's message (and, for tabs, the line it points at). Output: the message a
//! plan author reads. Must not move an error's location except onto the tab it names, nor drop
//! what the library said when there is nothing better to say.

/// The candidate nearest to `word`, when one is near enough to be what was meant: at most one
/// edit (insertion, deletion, substitution, transposition) per three letters and fewer edits
/// than the shorter word has letters, or `word` being the start of the candidate (three letters
/// or more). Case is ignored.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c_lower = c.to_lowercase();
        let distance = strsim::damerau_levenshtein(&lower, &c_lower);
        let (word_len, c_len) = (lower.chars().count(), c_lower.chars().count());
        // A single edit is a different word when the word has a letter or two: `c` is not `a`.
        let near = (distance <= (word_len.max(c_len) / 3).max(1) && distance < word_len.min(c_len))
            || (word_len >= 3 && c_lower.starts_with(&lower));
        if near && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The library's message in plain words (the path prefix it carries is kept).
pub fn humanize(message: &str) -> String {
    unknown_name(message)
        .or_else(|| wrong_type(message))
        .unwrap_or_else(|| message.to_string())
}

/// `unknown field `concurency`, expected one of …` → `…, did you mean `concurrency`?`; the full
/// list stays only when no key is near. Enum "variants" are values to a plan author.
fn unknown_name(message: &str) -> Option<String> {
    let (kind, at) = [("field", "unknown field `"), ("value", "unknown variant `")]
        .into_iter()
        .find_map(|(kind, marker)| message.find(marker).map(|i| (kind, (i, marker.len()))))?;
    let (head, want) = message.rsplit_once(", expected ")?;
    let name = head.get(at.0 + at.1..)?.strip_suffix('`')?;
    let prefix = &message[..at.0];
    // The names listed are every other piece between backticks.
    let names = want.split('`').skip(1).step_by(2);
    Some(match suggest(name, names) {
        Some(near) => format!("{prefix}unknown {kind} `{name}`, did you mean `{near}`?"),
        None => format!("{prefix}unknown {kind} `{name}`, expected {want}"),
    })
}

/// `invalid type: string "many", expected a nonzero u64` → `…, expected a whole number above 0`.
fn wrong_type(message: &str) -> Option<String> {
    let (head, want) = message.rsplit_once(", expected ")?;
    let marker = ["invalid type: ", "invalid value: "]
        .into_iter()
        .find_map(|m| head.find(m).map(|i| i + m.len()))?;
    let (before, found) = head.split_at(marker);
    // A number past every integer type is read as a 128-bit one: say what is wrong with it.
    if let Some(n) = found.strip_prefix("integer `").and_then(|f| {
        f.strip_suffix("` as u128")
            .or_else(|| f.strip_suffix("` as i128"))
    }) {
        let path = before
            .rsplit_once(": invalid")
            .map_or("", |(p, _)| p)
            .to_string();
        let path = if path.is_empty() { path } else { path + ": " };
        return Some(format!(
            "{path}`{n}` is too large, expected {}",
            plain_type(want)
        ));
    }
    Some(format!(
        "{before}{}, expected {}",
        plain_found(found),
        plain_type(want)
    ))
}

/// What serde says it found, in the words of YAML (user text in quotes is left alone).
fn plain_found(found: &str) -> String {
    match found {
        "sequence" => "list".into(),
        "unit value" => "an empty value".into(),
        other => match other.strip_prefix("floating point ") {
            Some(n) => format!("decimal number {n}"),
            None => other.to_string(),
        },
    }
}

/// What serde says it expected, without Rust's type names.
fn plain_type(want: &str) -> String {
    const UNSIGNED: [&str; 6] = ["u8", "u16", "u32", "u64", "u128", "usize"];
    const SIGNED: [&str; 6] = ["i8", "i16", "i32", "i64", "i128", "isize"];
    if want
        .strip_prefix("a nonzero ")
        .is_some_and(|t| UNSIGNED.contains(&t) || SIGNED.contains(&t))
    {
        return "a whole number above 0".into();
    }
    if want.starts_with("struct ") || want.starts_with("internally tagged enum ") {
        return "a map of keys to values".into();
    }
    let plain = match want {
        w if UNSIGNED.contains(&w) => "a whole number (0 or more)",
        w if SIGNED.contains(&w) => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        "a borrowed string" => "a string",
        "a character" => "a single character",
        "unit" => "nothing",
        // An enum (a model, a kernel) written as a map instead of its name.
        "a YAML tag starting with '!'" => "a single name, not a map",
        other => other,
    };
    plain.to_string()
}

/// A scanner error caused by a tab (YAML indents with spaces only), or by a character that
/// cannot start a plain value: the message that says so, and the column of the tab. `line` is
/// the text of the line the library points at, `column` 1-based.
pub fn scanner_error(message: &str, line: &str, column: usize) -> Option<(usize, String)> {
    let tab_said = message.contains("tab character");
    let no_token = message.contains("cannot start any token");
    if !tab_said && !no_token {
        return None;
    }
    let indentation = line.chars().take_while(|c| c.is_whitespace());
    let at_column = line.chars().nth(column.saturating_sub(1));
    if let Some(tab) = indentation
        .clone()
        .position(|c| c == '\t')
        .or_else(|| (at_column == Some('\t')).then(|| column.saturating_sub(1)))
    {
        return Some((
            tab + 1,
            "found a tab character in the indentation: YAML indents with spaces only, so \
             replace the tab with spaces"
                .into(),
        ));
    }
    match at_column {
        Some(c) if no_token && !c.is_whitespace() => Some((
            column,
            format!("`{c}` cannot start a value in YAML: put the value in quotes"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_get_a_suggestion_and_far_ones_the_list() {
        let keys = "`name`, `targets`, `repeat`, `concurrency`, `connections`, `models`, `timeout`";
        let cases = [
            ("concurency", Some("did you mean `concurrency`?")),
            ("Concurrency", Some("did you mean `concurrency`?")),
            ("nmae", Some("did you mean `name`?")),
            ("modles", Some("did you mean `models`?")),
            ("repaet", Some("did you mean `repeat`?")),
            ("timout", Some("did you mean `timeout`?")),
            ("conn", Some("did you mean `connections`?")),
            ("zzzz", None),
            ("n", None),
            ("retries", None),
            ("bogus", None),
        ];
        for (typo, want) in cases {
            let m = humanize(&format!(
                "scenarios[0]: unknown field `{typo}`, expected one of {keys}"
            ));
            assert!(
                m.starts_with(&format!("scenarios[0]: unknown field `{typo}`")),
                "{m}"
            );
            match want {
                Some(w) => {
                    assert!(m.ends_with(w), "{typo}: {m}");
                    assert!(!m.contains("`targets`"), "{typo}: the list stays out: {m}");
                }
                None => assert!(m.ends_with(keys), "{typo}: {m}"),
            }
        }
    }

    #[test]
    fn unknown_values_are_suggested_too() {
        let cases = [
            (
                "models[0]: unknown variant `asynch`, expected one of `sequential`, `threads`, `async`, `processes`",
                "models[0]: unknown value `asynch`, did you mean `async`?",
            ),
            (
                "connection: unknown variant `keepalive`, expected `keep-alive` or `per-request`",
                "connection: unknown value `keepalive`, did you mean `keep-alive`?",
            ),
            (
                "order: unknown variant `rand`, expected one of `sequential`, `random`, `unique`",
                "order: unknown value `rand`, did you mean `random`?",
            ),
            (
                "models[0]: unknown variant `fibers`, expected one of `sequential`, `threads`",
                "models[0]: unknown value `fibers`, expected one of `sequential`, `threads`",
            ),
        ];
        for (library, plain) in cases {
            assert_eq!(humanize(library), plain);
        }
    }

    #[test]
    fn types_read_as_a_plan_author_writes_them() {
        let cases = [
            (
                "repeat: invalid type: string \"many\", expected a nonzero u64",
                "repeat: invalid type: string \"many\", expected a whole number above 0",
            ),
            (
                "repeat: invalid value: integer `0`, expected a nonzero u64",
                "repeat: invalid value: integer `0`, expected a whole number above 0",
            ),
            (
                "workers: invalid type: integer `-1`, expected a nonzero usize",
                "workers: invalid type: integer `-1`, expected a whole number above 0",
            ),
            (
                "seed: invalid type: string \"x\", expected u64",
                "seed: invalid type: string \"x\", expected a whole number (0 or more)",
            ),
            (
                "weight: invalid type: string \"x\", expected f64",
                "weight: invalid type: string \"x\", expected a number",
            ),
            (
                "cookies: invalid type: integer `3`, expected a boolean",
                "cookies: invalid type: integer `3`, expected true or false",
            ),
            (
                "models: invalid type: string \"async\", expected a sequence",
                "models: invalid type: string \"async\", expected a list",
            ),
            (
                "name: invalid type: sequence, expected a string",
                "name: invalid type: list, expected a string",
            ),
            (
                "expect: invalid type: integer `200`, expected struct ExpectSpec",
                "expect: invalid type: integer `200`, expected a map of keys to values",
            ),
            (
                "invalid type: sequence, expected struct PlanSpec",
                "invalid type: list, expected a map of keys to values",
            ),
            (
                "repeat: invalid type: floating point `1.5`, expected a nonzero u64",
                "repeat: invalid type: decimal number `1.5`, expected a whole number above 0",
            ),
            (
                "models[0]: invalid type: map, expected a YAML tag starting with '!'",
                "models[0]: invalid type: map, expected a single name, not a map",
            ),
            (
                "repeat: invalid type: integer `99999999999999999999999` as u128, expected a nonzero u64",
                "repeat: `99999999999999999999999` is too large, expected a whole number above 0",
            ),
            // A value quoting the library's words is left as written.
            (
                "name: invalid type: string \"sequence, expected u64\", expected a boolean",
                "name: invalid type: string \"sequence, expected u64\", expected true or false",
            ),
            // Messages of our own pass through.
            (
                "timeout: duration `5` has no unit: write e.g. 5s or 5ms",
                "timeout: duration `5` has no unit: write e.g. 5s or 5ms",
            ),
        ];
        for (library, plain) in cases {
            assert_eq!(humanize(library), plain);
        }
    }

    #[test]
    fn tabs_are_named_as_the_cause() {
        let tab = "found a tab character in the indentation";
        // (library message, line, column it points at; column and message wanted, 0 for none)
        let cases = [
            (
                "found character that cannot start any token",
                "\t- name: a",
                1,
                (1, tab),
            ),
            (
                "found a tab character that violates indentation",
                "  \ttargets: [/hello]",
                3,
                (3, tab),
            ),
            (
                "found character that cannot start any token",
                "    name: @home",
                11,
                (
                    11,
                    "`@` cannot start a value in YAML: put the value in quotes",
                ),
            ),
            ("did not find expected ',' or ']'", "\t- x", 1, (0, "")),
        ];
        for (message, line, column, (want_column, want)) in cases {
            match scanner_error(message, line, column) {
                Some((c, m)) => {
                    assert_eq!(c, want_column, "{line:?}");
                    assert!(m.contains(want), "{line:?}: {m}");
                }
                None => assert_eq!(want_column, 0, "{line:?}: no message"),
            }
        }
    }
}

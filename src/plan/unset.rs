//! `${name}` references that nothing provides, in words that say what each was taken for: a
//! column the scenario's data file lacks, or an environment variable that is not set; and where
//! in the text each is used.
//!
//! Input: what `resolve.rs` and `requests.rs` found missing at one value, and the plan text.
//! Output: one message for them all, and the line and column of a use. Never shows a value.

use super::spec::missing_message;

/// `${NAME}` references of one value that nothing provides.
pub(super) struct Unset {
    /// Every name, in order of use (`plan::parse` gives each a stand-in to find the others).
    pub names: Vec<String>,
    /// For the names taken as environment variables: what else was looked at; may be empty.
    pub note: String,
    /// A near name for one of them (`: did you mean …`); may be empty.
    pub hint: String,
    /// The names taken as columns of the scenario's data file, which it lacks.
    pub columns: Option<MissingColumns>,
}

/// Names a data file lacks, with what it has.
pub(super) struct MissingColumns {
    /// The file as the plan names it.
    pub file: String,
    /// Its header.
    pub has: Vec<String>,
    pub names: Vec<String>,
    /// Whether the scenario is a flow (captures were looked at too).
    pub flow: bool,
}

impl MissingColumns {
    fn sentence(&self, names: &[&String]) -> String {
        let one = names.len() == 1;
        let others = match (self.flow, one) {
            (true, true) => "is it a capture of an earlier step or an environment variable",
            (true, false) => "are they captures of earlier steps or environment variables",
            (false, true) => "is it an environment variable",
            (false, false) => "are they environment variables",
        };
        format!(
            "data file `{}` has no column{} {} (its columns: {}), nor {others}",
            self.file,
            if one { "" } else { "s" },
            quoted(names.iter().copied()),
            quoted(self.has.iter()),
        )
    }
}

/// Whether a name nothing provides reads as an environment variable rather than a column of the
/// data file beside it: written in capitals (as environment variables are) while the file's
/// columns are not.
pub(super) fn reads_as_environment(name: &str, columns: &[String]) -> bool {
    let capitals = |s: &str| !s.chars().any(|c| c.is_ascii_lowercase());
    capitals(name) && !columns.iter().all(|c| capitals(c))
}

impl Unset {
    /// The names taken as environment variables.
    fn environment(&self) -> Vec<&String> {
        let columns = self.columns.as_ref().map_or(&[][..], |c| &c.names[..]);
        self.names.iter().filter(|n| !columns.contains(n)).collect()
    }

    /// Where its first name is used in `text`, the value that holds it being at `value`.
    pub(super) fn first_use(&self, text: &str, value: (usize, usize)) -> (usize, usize) {
        self.names
            .first()
            .map_or(value, |name| use_of(text, value, name))
    }

    /// The message for this value alone.
    pub(super) fn message(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.columns {
            parts.push(c.sentence(&c.names.iter().collect::<Vec<_>>()));
        }
        let env: Vec<String> = self.environment().into_iter().cloned().collect();
        if !env.is_empty() {
            parts.push(format!("{}{}", missing_message(&env), self.note));
        }
        format!("{}{}", parts.join("; "), self.hint)
    }
}

/// The message for every unset variable of a plan: `places` are (line, what) in file order. One
/// place reads as [`Unset::message`]; several are listed one per line under what they all lack.
pub(super) fn message(places: &[(usize, &Unset)]) -> String {
    if let [(_, one)] = places {
        return one.message();
    }
    let mut parts = Vec::new();
    // Each data file once, with every name it lacks.
    let mut files: Vec<(&MissingColumns, Vec<&String>)> = Vec::new();
    for c in places.iter().filter_map(|(_, u)| u.columns.as_ref()) {
        let at = match files
            .iter()
            .position(|(f, _)| f.file == c.file && f.has == c.has)
        {
            Some(i) => i,
            None => {
                files.push((c, Vec::new()));
                files.len() - 1
            }
        };
        for name in &c.names {
            if !files[at].1.contains(&name) {
                files[at].1.push(name);
            }
        }
    }
    for (c, names) in &files {
        parts.push(c.sentence(names));
    }
    let mut env: Vec<&String> = Vec::new();
    for name in places.iter().flat_map(|(_, u)| u.environment()) {
        if !env.contains(&name) {
            env.push(name);
        }
    }
    match env.as_slice() {
        [] => {}
        [one] => parts.push(format!("environment variable `{one}` is not set")),
        many => parts.push(format!(
            "{} environment variables are not set: {}",
            many.len(),
            quoted(many.iter().copied())
        )),
    }
    let mut out = parts.join("; ");
    for (line, u) in places {
        let refs: Vec<String> = u.names.iter().map(|n| format!("`${{{n}}}`")).collect();
        let note = if u.environment().is_empty() {
            ""
        } else {
            &u.note
        };
        out.push_str(&format!(
            "\n  line {line}: {}{note}{}",
            refs.join(", "),
            u.hint
        ));
    }
    out
}

/// The 1-based line and column of the first use of `${name}` at or after `from` (the value
/// that holds it); `from` itself when the text writes it otherwise (a YAML escape).
pub(super) fn use_of(text: &str, from: (usize, usize), name: &str) -> (usize, usize) {
    let (line, column) = from;
    let Some(line_start) = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .try_fold(0usize, |a, b| a.checked_add(b))
    else {
        return from;
    };
    let start = text[line_start..]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(text.len(), |(i, _)| line_start + i);
    let wanted = format!("${{{name}}}");
    let mut search = start;
    while let Some(i) = text[search..].find(&wanted) {
        let at = search + i;
        // `$${name}` is text, not a use.
        if !text[..at].ends_with('$') {
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return (line, column);
        }
        search = at + 1;
    }
    from
}

fn quoted<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_are_found_after_the_value_that_holds_them() {
        let text = "a: \"$${x}\"\nb: { c: \"${y} ${x}\" }\n";
        let cases = [
            ((1, 4), "x", (2, 15)),
            ((2, 4), "y", (2, 10)),
            // Not written as such after the value: the value itself.
            ((2, 4), "z", (2, 4)),
        ];
        for (from, name, want) in cases {
            assert_eq!(use_of(text, from, name), want, "{name}");
        }
    }

    #[test]
    fn capitals_read_as_environment_variables_unless_the_columns_are_capitals() {
        let lower = ["user".to_string(), "id".to_string()];
        let upper = ["USER".to_string(), "ID".to_string()];
        let cases = [
            ("API_KEY", &lower, true),
            ("password", &lower, false),
            ("PASSWORD", &upper, false),
            ("_1", &lower, true),
        ];
        for (name, columns, env) in cases {
            assert_eq!(reads_as_environment(name, columns), env, "{name}");
        }
    }
}

//! The stage rules of `ARCHITECTURE.md` as a test: it reads every file under `src/` and fails
//! when a module imports one it may not (a stage a later stage, a helper a stage), when the YAML
//! mirror (`plan::spec`) is named outside `plan/`, when a file lacks its `//!` doc, or when
//! `todo!`, `unimplemented!` or `dbg!` appear, when anything but `cmd/` prints or writes files,
//! or when `ARCHITECTURE.md` does not name a file.
//!
//! Input: the source text (no compiler): comments and literals are blanked, `#[cfg(test)]`
//! items dropped for the import rules (tests may build what they check from anywhere), `use`
//! trees expanded and `crate::` / `super::` paths resolved to the top-level module they name.
//! Output: one line per violation, `file: what`. The checker is tested on small planted
//! sources beside it, so a rule that stops firing fails too.

use std::collections::BTreeSet;
use std::path::Path;

/// What each top-level module may import from the rest of the crate (a path prefix: a module,
/// or one item of it). `files` is the one bounded reader of files loadplan did not write, so a
/// module that reads one (templates, PEM files) imports it whatever its stage. The stages run `plan → run → stats → gate → report`; `stats` owns the
/// measurement types (`Recorder`, `CellResult`, `Progress`) that `run` fills and hands on, so
/// `run` imports them and `stats` never imports `run`. Everything not listed is refused.
const ALLOWED: &[(&str, &[&str])] = &[
    // Leaves: they import nothing of the crate, or only other leaves.
    ("units", &[]),
    ("category", &[]),
    ("pem", &[]),
    // The `threads` host's executor, its sockets and timers: shared by the client and the run.
    ("bare", &[]),
    ("files", &["units"]),
    // The stages.
    ("plan", &["units", "files", "pem", "category"]),
    ("workload", &["plan", "units", "pem", "category", "bare"]),
    ("run", &["plan", "workload", "stats", "units", "bare"]),
    ("stats", &["plan", "workload", "units", "files"]),
    ("gate", &["plan", "stats", "units", "files"]),
    (
        "report",
        &[
            "stats",
            "units",
            "files",
            "plan::Model",
            "plan::validity::ValidityAction",
            "gate::DEFAULT_ERROR_RULE",
        ],
    ),
    // Beside the stages.
    (
        "export",
        &["plan", "run::live", "stats", "workload", "units"],
    ),
    ("server", &["workload", "pem", "units", "files"]),
    (
        "error",
        &[
            "plan", "run", "stats", "gate", "report", "export", "server", "files",
        ],
    ),
    ("cli", &["plan", "stats", "export", "units"]),
    (
        "cmd",
        &[
            "lib", "cli", "error", "plan", "run", "stats", "gate", "report", "export", "server",
            "units", "files", "workload",
        ],
    ),
    (
        "lib",
        &[
            "cli", "cmd", "error", "plan", "run", "stats", "gate", "report", "export",
        ],
    ),
    ("main", &[]),
];

/// Items of `lib.rs` that other modules name as `crate::Item`.
const LIB_ITEMS: &[&str] = &["Error", "Stages", "pipeline", "measure", "judge"];

/// Printing and writing files: `cmd/` does them (the stages render text and bytes and hand
/// them back), but for the files named in [`IO_ELSEWHERE`].
const IO_CALLS: &[&str] = &[
    "println!",
    "eprintln!",
    "print!",
    "eprint!",
    "stdout()",
    "stderr()",
    "fs::write",
    "File::create",
    "fs::rename",
    "fs::create_dir",
    "fs::create_dir_all",
    "fs::remove_file",
    "fs::remove_dir",
    "create(true)",
];

/// Files outside `cmd/` that print or write, each with why.
const IO_ELSEWHERE: &[(&str, &str)] = &[
    (
        "run/host/worker.rs",
        "a worker process's stdout is its results channel to the runner, not text for people",
    ),
    (
        "server/tls.rs",
        "`serve --tls` writes the CA certificate it generated for clients to trust while it runs, and removes it",
    ),
];

/// Macros that mark unfinished or debugging code.
const MARKERS: &[&str] = &["todo!", "unimplemented!", "dbg!"];

#[test]
fn the_source_tree_keeps_the_stage_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut problems = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("read a source file");
        problems.extend(check(&rel, &text));
    }
    assert!(
        problems.is_empty(),
        "the stage rules of ARCHITECTURE.md are broken:\n{}",
        problems.join("\n")
    );
}

/// `ARCHITECTURE.md` places every file: each path under `src/` appears in it, in backticks.
#[test]
fn the_architecture_page_names_every_file() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("src");
    let page = std::fs::read_to_string(manifest.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut files = Vec::new();
    collect(&root, &mut files);
    let missing: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .filter(|rel| !page.contains(&format!("`{rel}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not place these files (add each to \"Every file\" and its folder's row): {}",
        missing.join(", ")
    );
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src/")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every rule on one file, `rel` its path under `src/`.
fn check(rel: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if rel != "main.rs" && !first.starts_with("//!") {
        out.push(format!("{rel}: no `//!` module doc at the top"));
    }
    let code = blank(text);
    for m in MARKERS {
        if contains_macro(&code, m) {
            out.push(format!("{rel}: `{m}` left in the code"));
        }
    }
    let code = drop_test_items(&code);
    let io_ok =
        rel.starts_with("cmd/") || rel == "main.rs" || IO_ELSEWHERE.iter().any(|(f, _)| *f == rel);
    if !io_ok {
        for call in IO_CALLS {
            if contains_macro(&code, call) {
                out.push(format!(
                    "{rel}: `{call}`: printing and writing files happen in cmd/ (the stages hand back text and bytes)"
                ));
            }
        }
    }
    let here = module_path(rel);
    let top = here[0].as_str();
    let allowed = ALLOWED.iter().find(|(m, _)| *m == top).map(|(_, a)| *a);
    let Some(allowed) = allowed else {
        out.push(format!(
            "{rel}: the top-level module `{top}` has no line in the import rules (tests/e2e/tidy.rs)"
        ));
        return out;
    };
    for path in crate_paths(&code, &here) {
        let segs: Vec<&str> = path.split("::").collect();
        let target = if LIB_ITEMS.contains(&segs[0]) {
            "lib"
        } else {
            segs[0]
        };
        if segs.windows(2).any(|w| w == ["plan", "spec"]) && top != "plan" {
            out.push(format!(
                "{rel}: `crate::{path}`: the YAML mirror (`plan::spec`) stays in plan/"
            ));
            continue;
        }
        if target == top {
            continue;
        }
        let full = if target == "lib" {
            format!("lib::{path}")
        } else {
            path.clone()
        };
        let ok = allowed
            .iter()
            .any(|a| full == *a || full.starts_with(&format!("{a}::")));
        if !ok {
            out.push(format!(
                "{rel}: `{top}` imports `crate::{path}`, which its rules do not allow (allowed: {})",
                if allowed.is_empty() {
                    "nothing".to_string()
                } else {
                    allowed.join(", ")
                }
            ));
        }
    }
    out
}

/// The module a file is, as segments from the crate root (`run/host/mod.rs` → `run, host`;
/// `lib.rs` → `lib`).
fn module_path(rel: &str) -> Vec<String> {
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_string).collect();
    if segs.len() > 1 && segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

/// The text with comments, string and char literals replaced by spaces (newlines kept), so
/// that a path in a doc comment or a message is not an import.
fn blank(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let put = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                put(&mut out, b[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    put(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            for &ch in &b[i..j.min(b.len())] {
                put(&mut out, ch);
            }
            i = j;
        } else if c == '"' {
            put(&mut out, c);
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    put(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    put(&mut out, b[i]);
                    i += 1;
                }
            }
            if i < b.len() {
                put(&mut out, b[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{7f}'), not a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &b[i..=e] {
                        put(&mut out, ch);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `code` calls the macro `m` (`todo!`), not merely a name ending in it.
fn contains_macro(code: &str, m: &str) -> bool {
    code.match_indices(m)
        .any(|(at, _)| !code[..at].chars().next_back().is_some_and(is_ident))
}

/// The code without the items marked `#[cfg(test)]` (a `mod tests { … }`, a `use`, a `fn`).
fn drop_test_items(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let semi = after.find(';');
        let brace = after.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => s + 1,
            (_, Some(b)) => matching_brace(after, b).map_or(after.len(), |e| e + 1),
            (Some(s), None) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn matching_brace(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Every path into the crate that `code` names, resolved from the module `here`, as written
/// after `crate::` (`stats::saved::parse`). Paths inside the file's own top-level module are
/// kept too (the caller skips them).
fn crate_paths(code: &str, here: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let inline = inline_modules(code);
    // The module at a byte offset: the file's, and the inline `mod x { … }` blocks around it.
    let at = |pos: usize| -> Vec<String> {
        let mut m = here.to_vec();
        m.extend(
            inline
                .iter()
                .filter(|(s, e, _)| *s <= pos && pos <= *e)
                .map(|(_, _, n)| n.clone()),
        );
        m
    };
    // `use` trees first: they carry groups.
    let mut from = 0;
    while let Some(rel) = find_word(&code[from..], "use") {
        let start = from + rel + 3;
        let end = code[start..].find(';').map_or(code.len(), |e| start + e);
        let tree = without_aliases(&code[start..end]);
        for p in expand(&tree) {
            if let Some(p) = resolve(&p, &at(start)) {
                out.insert(p);
            }
        }
        from = end;
    }
    // Then every path written in place: `crate::a::b`, `super::super::c`.
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let at_word = i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':';
        let starts = |w: &str| chars[i..].iter().take(w.len()).copied().eq(w.chars());
        if at_word && (starts("crate::") || starts("super::")) {
            let mut j = i;
            while j < chars.len() && (is_ident(chars[j]) || chars[j] == ':') {
                j += 1;
            }
            let path: String = chars[i..j].iter().collect();
            let path = path.trim_end_matches(':');
            let byte = chars[..i].iter().map(|c| c.len_utf8()).sum();
            if let Some(p) = resolve(path, &at(byte)) {
                out.insert(p);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The inline modules of a file (`mod name { … }`): byte range and name, outermost first.
fn inline_modules(code: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = find_word(&code[from..], "mod") {
        let start = from + rel;
        let rest = &code[start + 3..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        let after = rest.trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with('{') {
            let open = code.len() - after.len();
            if let Some(close) = matching_brace(code, open) {
                out.push((open, close, name));
            }
        }
        from = start + 3;
    }
    out
}

fn find_word(s: &str, w: &str) -> Option<usize> {
    s.match_indices(w).map(|(i, _)| i).find(|&i| {
        !s[..i].chars().next_back().is_some_and(is_ident)
            && !s[i + w.len()..].chars().next().is_some_and(is_ident)
    })
}

/// A `use` tree without its aliases (`as f`) and spaces.
fn without_aliases(tree: &str) -> String {
    let mut out = String::new();
    let mut words = tree.split_whitespace();
    while let Some(w) = words.next() {
        if w == "as" {
            // The alias and whatever punctuation is glued to it: keep the punctuation.
            if let Some(alias) = words.next() {
                out.extend(alias.chars().filter(|c| !is_ident(*c)));
            }
        } else {
            out.push_str(w);
        }
    }
    out
}

/// A `use` tree without spaces (`crate::{a::B,c::{D,E}}`) as the paths it names.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.trim_end_matches("::*").to_string()];
    };
    let prefix = &tree[..open];
    let close = matching_brace(tree, open).unwrap_or(tree.len() - 1);
    let inner = &tree[open + 1..close];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand(p)
                .into_iter()
                .map(|e| match e.as_str() {
                    "self" => prefix.trim_end_matches("::").to_string(),
                    _ => format!("{prefix}{e}"),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A path as written, resolved to one below the crate root (`stats::Recorder`), or `None` when
/// it does not start at `crate`, `super` or `self`.
fn resolve(path: &str, here: &[String]) -> Option<String> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = match segs.first() {
        Some(&"crate") => {
            segs.remove(0);
            Vec::new()
        }
        Some(&"super") | Some(&"self") => {
            let mut base = here.to_vec();
            if base == ["lib"] || base == ["main"] {
                base.clear();
            }
            while let Some(&s) = segs.first() {
                match s {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                segs.remove(0);
            }
            base
        }
        _ => return None,
    };
    base.extend(segs.iter().map(|s| s.to_string()));
    let joined = base.join("::");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod checker {
    use super::*;

    fn problems(rel: &str, text: &str) -> Vec<String> {
        check(rel, text)
    }

    #[test]
    fn a_stage_importing_a_later_stage_fails() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "plan/threshold.rs",
                "//! doc\nuse crate::stats::MAX;\n",
                true,
            ),
            (
                "plan/threshold.rs",
                "//! doc\nfn f() { crate::stats::MAX }\n",
                true,
            ),
            (
                "stats/mod.rs",
                "//! doc\nuse crate::{plan::Plan, run::Observer};\n",
                true,
            ),
            (
                "gate/mod.rs",
                "//! doc\nuse crate::report::Reporter;\n",
                true,
            ),
            (
                "report/console.rs",
                "//! doc\nuse crate::run::Observer;\n",
                true,
            ),
            (
                "report/html/view/mod.rs",
                "//! doc\nuse super::super::super::run::X;\n",
                true,
            ),
            (
                "report/console.rs",
                "//! doc\nuse crate::plan::Plan;\n",
                true,
            ),
            (
                "server/mod.rs",
                "//! doc\nfn f() { crate::cmd::tell!(\"x\"); }\n",
                true,
            ),
            ("files.rs", "//! doc\nuse crate::stats::saved::MAX;\n", true),
            // Allowed: an earlier stage, the summary's types, its own module.
            (
                "report/console.rs",
                "//! doc\nuse crate::stats::{Summary, Verdict};\n",
                false,
            ),
            (
                "report/console.rs",
                "//! doc\nuse crate::plan::Model;\n",
                false,
            ),
            (
                "report/html/view/mod.rs",
                "//! doc\nuse super::super::chart;\n",
                false,
            ),
            (
                "units.rs",
                "//! doc\nfn f() {}\nmod as_micros {\n    use super::f;\n}\n",
                false,
            ),
            (
                "run/host/threads.rs",
                "//! doc\nuse super::super::user;\n",
                false,
            ),
            (
                "gate/mod.rs",
                "//! doc\nuse crate::{plan::Plan, stats::Summary};\n",
                false,
            ),
            // Paths in comments, strings and tests are not imports.
            (
                "plan/mod.rs",
                "//! see crate::run::execute\nconst S: &str = \"crate::run\";\n",
                false,
            ),
            (
                "plan/mod.rs",
                "//! doc\n#[cfg(test)]\nmod tests {\n    use crate::run::execute;\n}\n",
                false,
            ),
        ];
        for (rel, text, fails) in cases {
            let p = problems(rel, text);
            assert_eq!(!p.is_empty(), *fails, "{rel}: {text:?} → {p:?}");
        }
    }

    #[test]
    fn the_yaml_mirror_stays_in_plan() {
        let out = problems(
            "workload/http/check.rs",
            "//! doc\nuse crate::plan::spec::{CaptureSpec, JsonExpect};\n",
        );
        assert!(out.iter().any(|p| p.contains("YAML mirror")), "{out:?}");
        let out = problems(
            "cli.rs",
            "//! doc\nfn f() { crate::plan::spec::Percent::parse(\"1\") }\n",
        );
        assert!(out.iter().any(|p| p.contains("YAML mirror")), "{out:?}");
        assert!(problems("plan/requests.rs", "//! doc\nuse super::spec::DataOrder;\n").is_empty());
    }

    #[test]
    fn a_missing_doc_and_markers_fail() {
        assert!(problems("units.rs", "use std::fmt;\n")[0].contains("`//!`"));
        for m in ["todo!()", "unimplemented!()", "dbg!(x)"] {
            let text = format!("//! doc\nfn f() {{ {m} }}\n");
            let out = problems("units.rs", &text);
            assert_eq!(out.len(), 1, "{m}: {out:?}");
        }
        // Markers in tests count too; in a comment or a string they do not.
        let test = "//! doc\n#[cfg(test)]\nmod tests { fn f() { dbg!(1); } }\n";
        assert_eq!(problems("units.rs", test).len(), 1);
        assert!(
            problems(
                "units.rs",
                "//! doc\n// todo!() later\nconst S: &str = \"dbg!\";\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn printing_and_writing_outside_cmd_fail() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "report/console.rs",
                "//! doc\nfn f() { eprintln!(\"x\"); }\n",
                true,
            ),
            (
                "report/trend/mod.rs",
                "//! doc\nfn f() { std::fs::write(p, b); }\n",
                true,
            ),
            (
                "server/mod.rs",
                "//! doc\nfn f() { let _ = std::io::stdout(); }\n",
                true,
            ),
            (
                "report/mod.rs",
                "//! doc\nfn f() { std::fs::create_dir_all(p); }\n",
                true,
            ),
            (
                "cmd/output.rs",
                "//! doc\nfn f() { std::fs::write(p, b); }\n",
                false,
            ),
            (
                "run/host/worker.rs",
                "//! doc\nfn f() { let _ = std::io::stdout(); }\n",
                false,
            ),
            (
                "plan/mod.rs",
                "//! doc\nfn f() { std::fs::read(p); }\n",
                false,
            ),
            (
                "report/mod.rs",
                "//! doc\n#[cfg(test)]\nmod tests { fn f() { std::fs::write(p, b); } }\n",
                false,
            ),
        ];
        for (rel, text, fails) in cases {
            let p = problems(rel, text);
            assert_eq!(!p.is_empty(), *fails, "{rel}: {text:?} → {p:?}");
        }
    }

    #[test]
    fn a_module_without_rules_fails() {
        let out = problems("newthing.rs", "//! doc\n");
        assert!(out[0].contains("no line in the import rules"), "{out:?}");
    }

    #[test]
    fn use_trees_expand_and_resolve() {
        let here = module_path("report/html/view/mod.rs");
        assert_eq!(here, ["report", "html", "view"]);
        let paths = crate_paths(
            "use crate::{a::{B, c::D}, e as f};\nuse super::super::chart::Axis;\nlet x = r#\"q\"#;",
            &here,
        );
        let want: BTreeSet<String> = ["a::B", "a::c::D", "e", "report::chart::Axis"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(paths, want);
    }
}

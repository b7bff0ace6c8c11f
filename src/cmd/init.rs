//! `loadplan init [FILE] [--template http|flow|cpu]`: a commented starter plan that validates and
//! runs on the built-in server, and `loadplan.schema.json` beside it for editors.
//!
//! The plan's first line is the YAML language server's modeline, pointing at that schema file by
//! a relative path: it works outside this repository, offline, and always matches the loadplan
//! that wrote it (a URL would need the network and could describe another version). Nothing is
//! ever overwritten: an existing plan file is refused, and so is a schema file that differs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::say;
use crate::Error;
use crate::cli::{InitArgs, Starter};
use crate::stats::Verdict;

/// The schema's file name, as the starters' modeline writes it.
pub const SCHEMA_FILE: &str = "loadplan.schema.json";

/// The name and text of a starter plan.
pub fn starter(template: Starter) -> (&'static str, &'static str) {
    match template {
        Starter::Http => ("http", include_str!("starters/http.yaml")),
        Starter::Flow => ("flow", include_str!("starters/flow.yaml")),
        Starter::Cpu => ("cpu", include_str!("starters/cpu.yaml")),
    }
}

pub fn run(args: &InitArgs) -> Result<Verdict, Error> {
    let schema_path = schema_beside(&args.file);
    let schema = format!("{}\n", crate::plan::schema::plan());
    let schema_exists = match std::fs::read(&schema_path) {
        Ok(existing) if existing == schema.as_bytes() => true,
        Ok(_) => {
            return Err(Error::Usage(format!(
                "{} exists and is not this loadplan's plan schema: remove it, or refresh it with \
                 `loadplan schema > {}`, then run init again",
                schema_path.display(),
                schema_path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(Error::System {
                what: format!("cannot read {}", schema_path.display()),
                source: e,
            });
        }
    };
    let (name, text) = starter(args.template);
    write_new(&args.file, for_file(text, &args.file).as_bytes())?;
    if !schema_exists {
        write_new(&schema_path, schema.as_bytes())?;
    }
    let file = args.file.display();
    let schema_note = if schema_exists {
        "is up to date"
    } else {
        "written: editors check the plan against it"
    };
    say!(
        "wrote {file} (template {name}); {} {schema_note}\nnext: loadplan validate {file} && loadplan run {file}",
        schema_path.display()
    );
    Ok(Verdict::Passed)
}

/// The starter's text with its commands naming the file it is written to (the starters say
/// `loadplan.yaml`, the default); a name the shell would split is quoted.
fn for_file(text: &str, file: &Path) -> String {
    let name = file.display().to_string();
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/+,:@".contains(c));
    let word = if plain {
        name
    } else {
        format!("'{}'", name.replace('\'', r"'\''"))
    };
    text.replace(
        "loadplan run loadplan.yaml ",
        &format!("loadplan run {word} "),
    )
    .replace(
        "loadplan validate loadplan.yaml ",
        &format!("loadplan validate {word} "),
    )
}

/// `loadplan.schema.json` in the plan's folder.
fn schema_beside(plan: &Path) -> PathBuf {
    plan.parent()
        .map_or_else(|| PathBuf::from(SCHEMA_FILE), |dir| dir.join(SCHEMA_FILE))
}

/// Creates `path` with `bytes`, refusing a file that exists (checked and created in one step).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Usage(format!(
                "{} exists: init never overwrites a file (name another: loadplan init other.yaml)",
                path.display()
            )),
            _ => Error::System {
                what: format!("cannot create {}", path.display()),
                source: e,
            },
        })?;
    f.write_all(bytes).map_err(|source| Error::System {
        what: format!("cannot write {}", path.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_starter_is_a_valid_plan_with_the_modeline() {
        for template in [Starter::Http, Starter::Flow, Starter::Cpu] {
            let (_, text) = starter(template);
            assert_eq!(
                text.lines().next(),
                Some(format!("# yaml-language-server: $schema={SCHEMA_FILE}").as_str()),
                "{template:?}"
            );
            assert!(!text.contains('\t'), "{template:?}: a tab");
            let plan = crate::plan::parse_with(Path::new("loadplan.yaml"), text, &|_| None)
                .unwrap_or_else(|e| panic!("{template:?}: {}", e.render()));
            assert!(
                matches!(plan.base, crate::plan::Base::Builtin { tls: false }),
                "{template:?} runs on the built-in server"
            );
        }
    }

    #[test]
    fn the_starters_name_the_file_they_are_written_to() {
        for template in [Starter::Http, Starter::Flow, Starter::Cpu] {
            let (_, text) = starter(template);
            let got = for_file(text, Path::new("plans/shop flow.yaml"));
            assert!(
                got.contains("#   loadplan validate 'plans/shop flow.yaml'")
                    && got.contains("#   loadplan run 'plans/shop flow.yaml'")
                    && !got.contains("loadplan.yaml"),
                "{template:?}: {got}"
            );
            assert_eq!(for_file(text, Path::new("loadplan.yaml")), text);
        }
    }

    #[test]
    fn the_schema_goes_beside_the_plan() {
        let cases = [
            ("loadplan.yaml", "loadplan.schema.json"),
            ("plans/api.yaml", "plans/loadplan.schema.json"),
            ("/tmp/x/p.yaml", "/tmp/x/loadplan.schema.json"),
        ];
        for (plan, schema) in cases {
            assert_eq!(schema_beside(Path::new(plan)), PathBuf::from(schema));
        }
    }
}

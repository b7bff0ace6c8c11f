//! The concurrency models and every rule about them: their names, how a cell of each is labelled,
//! how many workers it has for a concurrency, and how many units of it can compute at once.
//!
//! Input: a model named in a plan (or in a saved summary). Output: facts about it. Outside this
//! file only the run stage's dispatch (`run/mod.rs`, one arm per model) matches on a model; every
//! other stage asks these functions, so a new model is one variant here, one file in `run/`, and
//! one arm there.

use std::num::NonZeroUsize;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What runs the users of a cell.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// The main thread, one operation at a time: the baseline of every speedup.
    Sequential,
    /// One OS thread per user, each with its own connection.
    Threads,
    /// Users as tasks of one tokio runtime (`workers` threads; one by default).
    Async,
    /// Worker processes (the binary re-executed), the users split across them.
    Processes,
}

impl Model {
    /// Every model, in the order reports list them.
    pub const ALL: [Model; 4] = [
        Model::Sequential,
        Model::Threads,
        Model::Async,
        Model::Processes,
    ];

    /// The model every speedup is measured against.
    pub const BASELINE: Model = Model::Sequential;

    /// The model a scenario runs under when it names none.
    pub const DEFAULT: Model = Model::Async;

    /// The model's name as plans and summaries write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Sequential => "sequential",
            Model::Threads => "threads",
            Model::Async => "async",
            Model::Processes => "processes",
        }
    }

    /// The model a plan names, if any.
    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The names of every model, for messages: `sequential, threads, async or processes`.
    pub fn names_for_humans() -> String {
        let names: Vec<&str> = Model::ALL.iter().map(|m| m.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Position in [`Model::ALL`]: charts give each model its own colour and marker by it.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The model every speedup is measured against.
    pub fn is_baseline(self) -> bool {
        self == Model::BASELINE
    }

    /// The concurrencies a cell of this model runs, from the scenario's sweep: the baseline runs
    /// one user whatever the sweep says.
    pub fn concurrencies(self, sweep: &[NonZeroUsize]) -> Vec<NonZeroUsize> {
        if self.is_baseline() {
            return vec![NonZeroUsize::MIN];
        }
        let mut out = sweep.to_vec();
        out.dedup();
        out
    }

    /// Workers of a cell: 1 for `sequential`, one thread per user for `threads`, runtime threads
    /// for `async` (default 1: an event loop), worker processes for `processes` (default: one
    /// per core), never more processes than users.
    pub fn workers(
        self,
        concurrency: NonZeroUsize,
        asked: Option<NonZeroUsize>,
        cores: usize,
    ) -> NonZeroUsize {
        match self {
            Model::Sequential => NonZeroUsize::MIN,
            Model::Threads => concurrency,
            Model::Async => asked.unwrap_or(NonZeroUsize::MIN),
            Model::Processes => {
                let w = asked.map_or(cores.max(1), NonZeroUsize::get);
                NonZeroUsize::new(w.min(concurrency.get())).unwrap_or(NonZeroUsize::MIN)
            }
        }
    }

    /// How many operations of a cell can compute at the same moment, before the machine's cores
    /// cap it: what "cores busy" is measured against.
    pub fn parallel_slots(self, concurrency: usize, workers: usize) -> usize {
        match self {
            Model::Sequential => 1,
            Model::Threads => concurrency,
            Model::Async | Model::Processes => workers,
        }
    }

    /// Whether the workers count is a choice worth showing in a cell's label (it is implied for
    /// `sequential` and `threads`).
    fn workers_vary(self) -> bool {
        matches!(self, Model::Async | Model::Processes)
    }

    /// A cell's one label, everywhere: `sequential`, `threads c=16`, `async c=16 w=1`,
    /// `processes c=16 w=2`.
    pub fn label(self, concurrency: usize, workers: usize) -> String {
        if self.is_baseline() {
            self.as_str().to_string()
        } else if self.workers_vary() {
            format!("{} c={concurrency} w={workers}", self.as_str())
        } else {
            format!("{} c={concurrency}", self.as_str())
        }
    }

    /// Whether this cell computes on one thread only (a single-threaded event loop): such a cell
    /// cannot speed up CPU-bound work, and the report says so.
    pub fn is_single_threaded(self, workers: usize) -> bool {
        match self {
            Model::Sequential => true,
            Model::Async => workers <= 1,
            Model::Threads | Model::Processes => false,
        }
    }

    /// Whether this model runs its users as OS threads of one process, which in Rust compute on
    /// several cores at once (unlike CPython's threads): the report explains that speedup.
    pub fn is_os_threads(self) -> bool {
        self == Model::Threads
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).expect("nonzero")
    }

    #[test]
    fn names_round_trip() {
        for m in Model::ALL {
            assert_eq!(Model::from_name(m.as_str()), Some(m));
            let json = serde_json::to_string(&m).expect("json");
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(
                m.index(),
                Model::ALL.iter().position(|x| *x == m).unwrap_or(9)
            );
        }
        assert_eq!(Model::from_name("fibers"), None);
        assert_eq!(
            Model::names_for_humans(),
            "sequential, threads, async or processes"
        );
    }

    #[test]
    fn workers_labels_and_slots() {
        // (model, concurrency, asked workers, cores) → (workers, label, parallel slots)
        let cases = [
            (Model::Sequential, 1, None, 2, 1, "sequential", 1),
            (Model::Threads, 16, None, 2, 16, "threads c=16", 16),
            (Model::Async, 16, None, 2, 1, "async c=16 w=1", 1),
            (Model::Async, 16, Some(2), 2, 2, "async c=16 w=2", 2),
            (Model::Processes, 16, None, 2, 2, "processes c=16 w=2", 2),
            (Model::Processes, 1, Some(4), 2, 1, "processes c=1 w=1", 1),
        ];
        for (m, c, asked, cores, workers, label, slots) in cases {
            let w = m.workers(nz(c), asked.map(nz), cores);
            assert_eq!(w.get(), workers, "{m} c={c}");
            assert_eq!(m.label(c, w.get()), label);
            assert_eq!(m.parallel_slots(c, w.get()), slots, "{label}");
        }
    }

    #[test]
    fn the_baseline_runs_one_user_whatever_the_sweep() {
        let sweep = [nz(1), nz(4), nz(4), nz(16)];
        assert_eq!(Model::Sequential.concurrencies(&sweep), vec![nz(1)]);
        assert_eq!(
            Model::Async.concurrencies(&sweep),
            vec![nz(1), nz(4), nz(16)]
        );
    }
}

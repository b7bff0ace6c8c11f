//! `sequential`: one user on the main thread, one operation at a time: the baseline every speedup
//! is measured against.

use super::user::{self, Shared};
use super::{CellInput, ModelOutput, RunError};
use crate::stats::{Recorder, rusage};

pub fn run(input: &CellInput) -> Result<ModelOutput, RunError> {
    let prepared = input.prepared()?;
    let rt = super::runtime(1)?;
    let shared = Shared::for_cell(input, &prepared, 1);
    let mut recorder = Recorder::default();
    rt.block_on(user::user(&shared, prepared.unit(), &mut recorder));
    let (wall, cpu) = super::measured_since(shared.start.get());
    Ok(ModelOutput {
        recorder,
        wall,
        cpu,
        peak_rss_bytes: rusage::peak_rss_bytes(),
        notes: Vec::new(),
        complete: true,
    })
}

//! Shared code of the tensorjpeg fuzz targets (see `docs/notes/fuzzing.md`): the container
//! model and structured mutator, the per-codec input framing, and what every target does
//! with its input (plain functions, so stable tests replay the regression corpus through the
//! same code).

pub mod container;
pub mod frame;
pub mod io_targets;
pub mod models_targets;
pub mod targets;

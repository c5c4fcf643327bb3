//! The experiments of tensorjpeg, as library functions with typed inputs and outputs, so
//! that the command-line tool and any other front end run the same code.
//!
//! | module | experiment | CLI |
//! |---|---|---|
//! | [`sweep`] | rate–distortion of tensor codecs on a tensor file | `tensorjpeg sweep` |
//! | [`report`] | CSV, JSON, Markdown tables and PNG plots the experiments write | — |
//!
//! The codec crate (`tensorjpeg`) holds codecs only; the readers live in `tensorjpeg-io`
//! and the model runtime in `tensorjpeg-models`. What measures them lives here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod embeddings;
pub mod probe;
pub mod progress;
pub mod report;
pub mod signal;
pub mod sweep;

pub use progress::{Progress, Silent};

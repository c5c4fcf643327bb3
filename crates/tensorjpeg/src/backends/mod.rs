//! Codecs that wrap an existing format: the literal JPEG backend of the seeds.
pub mod jpeg;

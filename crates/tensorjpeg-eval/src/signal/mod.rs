//! The machine-oriented signal evaluation of seed 002 (`tensorjpeg signal eval`).

pub mod peers;

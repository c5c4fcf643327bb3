//! The input-embedding probe (seed 003).

pub mod measure;
pub mod textstats;

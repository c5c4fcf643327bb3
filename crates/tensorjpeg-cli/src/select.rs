//! Tensor selection by name regex and rank.

use anyhow::{Context, Result};
use regex::Regex;
use tensorjpeg::Tensor;

use crate::SelectArgs;

/// A compiled selection.
pub struct Selection {
    include: Option<Regex>,
    exclude: Option<Regex>,
    min_ndim: usize,
}

impl Selection {
    /// Compiles the regexes (a bad one is an error naming the flag).
    pub fn new(a: &SelectArgs) -> Result<Self> {
        let compile = |flag: &str, s: &Option<String>| -> Result<Option<Regex>> {
            s.as_deref()
                .map(|p| {
                    Regex::new(p).with_context(|| {
                        format!("--{flag} '{p}' is not a valid regular expression")
                    })
                })
                .transpose()
        };
        Ok(Selection {
            include: compile("include", &a.include)?,
            exclude: compile("exclude", &a.exclude)?,
            min_ndim: a.min_ndim.unwrap_or(0),
        })
    }
    /// True if the name and rank pass.
    pub fn matches(&self, name: &str, ndim: usize) -> bool {
        ndim >= self.min_ndim
            && self.include.as_ref().is_none_or(|r| r.is_match(name))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(name))
    }
    /// True for a float tensor that passes.
    pub fn selects(&self, t: &Tensor) -> bool {
        t.dtype.is_float() && self.matches(&t.name, t.shape.len())
    }
}

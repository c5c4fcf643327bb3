//! (being written)

use std::path::Path;

use crate::weights::WeightOptions;
use crate::{Error, Result};

/// (being written)
pub struct Gpt2;

impl Gpt2 {
    /// (being written)
    pub fn load(path: &Path, _opts: &WeightOptions) -> Result<crate::lm::UnimplementedModel> {
        Err(Error::format(path, "not yet supported"))
    }
}

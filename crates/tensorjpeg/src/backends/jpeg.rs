//! Literal JPEG backend (placeholder until implemented).
use crate::codec::{Codec, CodecSpec};
use crate::error::Result;

/// Builds the `jpeg` codec from a spec.
pub fn factory(_spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    None
}

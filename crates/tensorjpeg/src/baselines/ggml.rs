//! GGUF block quantizers (placeholder until implemented).
use crate::codec::{Codec, CodecSpec};
use crate::error::Result;

/// Builds `q8_0`, `q4_0`, `q4_1` from a spec.
pub fn factory(_spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    None
}

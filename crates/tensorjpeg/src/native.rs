//! (in progress)
use crate::codec::{Codec, CodecSpec};
use crate::error::Result;
/// Builds the native codec.
pub fn factory(_spec: &CodecSpec) -> Option<Result<Box<dyn Codec>>> {
    None
}

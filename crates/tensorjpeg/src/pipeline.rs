//! (in progress)
use crate::codec::Rate;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::Registry;
/// Options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rate.
    pub rate: Rate,
}
impl Default for Options {
    fn default() -> Self {
        Options { rate: Rate::Default }
    }
}
/// Report.
#[derive(Debug, Clone, Default)]
pub struct CompressReport {}
/// Result of compress.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// Bytes.
    pub bytes: Vec<u8>,
    /// Report.
    pub report: CompressReport,
}
/// Compress.
pub fn compress(_t: &[Tensor], _o: &Options) -> Result<Compressed> {
    Err(Error::corrupt("todo"))
}
/// Decompress.
pub fn decompress(_b: &[u8]) -> Result<Vec<Tensor>> {
    Err(Error::corrupt("todo"))
}
/// Decompress with a registry.
pub fn decompress_with(_b: &[u8], _r: &Registry) -> Result<Vec<Tensor>> {
    Err(Error::corrupt("todo"))
}

//! Vector codecs by name (the embedding evaluation expands codec *families* over byte
//! budgets into these specs: `tensorjpeg_eval::embeddings::families`).
//!
//! A spec names one configured codec: `float32`, `f16`, `int8`, `int4`, `binary`,
//! `binary+rescore[:shortlist=N]`, `binary+int8[:shortlist=N]`, `pq:m=M`, `opq:m=M`,
//! `pca:k=K+int8`, `klt:bytes=B[:search][:shortlist=N][:prefilter=BYTES:keep=N]`, `jpeg[:matrix][:trunc]:q=Q`,
//! `jpeg:matrix:bytes=B`.

use super::VectorCodec;
use crate::spec::VectorSpec;
pub use crate::spec::FAMILIES;
use crate::Result;

/// Builds one codec from its spec ([`VectorSpec`]).
pub fn parse(spec: &str) -> Result<Box<dyn VectorCodec>> {
    spec.parse::<VectorSpec>()?.build()
}

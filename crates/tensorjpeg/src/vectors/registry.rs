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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_bad_options_are_errors() {
        for bad in [
            "zip",
            "klt",
            "klt:bytes=0",
            "klt:bytes=32:fast",
            "klt:bytes=32:shortlist=0",
            "pq:m=0",
        ] {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(!e.to_string().is_empty());
        }
    }
}

//! Vector codecs by name (the embedding evaluation expands codec *families* over byte
//! budgets into these specs: `tensorjpeg_eval::embeddings::families`).
//!
//! A spec names one configured codec: `float32`, `f16`, `int8`, `int4`, `binary`,
//! `binary+rescore[:shortlist=N]`, `binary+int8[:shortlist=N]`, `pq:m=M`, `opq:m=M`,
//! `pca:k=K+int8`, `klt:bytes=B[:search][:shortlist=N][:prefilter=BYTES:keep=N]`, `jpeg[:matrix][:trunc]:q=Q`,
//! `jpeg:matrix:bytes=B`.

use super::{binary, jpeg, klt, pca, pq, scalar, VectorCodec};
use crate::{Error, Result};

/// The codecs and the families the embedding evaluation expands over byte budgets
/// (`tensorjpeg_eval::embeddings::families`), for help texts and errors.
pub const FAMILIES: &str = "float32, f16, int8, int4, binary, binary+rescore, binary+int8, \
     pq, opq, pca, klt, klt+search, jpeg, jpeg-matrix (or any codec spec)";

/// Builds one codec from its spec.
pub fn parse(spec: &str) -> Result<Box<dyn VectorCodec>> {
    let spec = spec.trim();
    if let Some(c) = jpeg::parse(spec) {
        return c;
    }
    if let Some(c) = parse_klt(spec) {
        return c;
    }
    scalar::parse(spec)
        .or_else(|| binary::parse(spec))
        .or_else(|| pq::parse(spec))
        .or_else(|| pca::parse(spec))
        .ok_or_else(|| {
            Error::param(
                "vector codec",
                spec,
                format!("a codec spec or family: {FAMILIES}"),
            )
        })
}

/// `klt:bytes=B[:search][:shortlist=N][:prefilter=BYTES:keep=N]`.
fn parse_klt(spec: &str) -> Option<Result<Box<dyn VectorCodec>>> {
    let rest = spec.strip_prefix("klt:")?;
    let (mut bytes, mut search) = (None, false);
    let mut so = klt::SearchOptions::default();
    for p in rest.split(':') {
        let bad = || {
            Error::param(
                "klt option",
                p,
                "bytes=B (all-in bytes per vector), search, shortlist=N, prefilter=BYTES, keep=N",
            )
        };
        match p.split_once('=') {
            None if p == "search" => search = true,
            Some(("bytes", v)) => match v.parse::<f64>() {
                Ok(b) if b.is_finite() && b > 0.0 => bytes = Some(b),
                _ => return Some(Err(Error::param("klt bytes per vector", v, "> 0"))),
            },
            Some(("shortlist", v)) => match v.parse::<usize>() {
                Ok(s) if s > 0 => so.shortlist = s,
                _ => return Some(Err(Error::param("klt shortlist", v, "≥ 1"))),
            },
            Some(("prefilter", v)) => match v.parse::<usize>() {
                Ok(s) => so.prefilter_bytes = s,
                _ => return Some(Err(Error::param("klt prefilter bytes", v, "≥ 0"))),
            },
            Some(("keep", v)) => match v.parse::<usize>() {
                Ok(s) if s > 0 => so.prefilter_keep = s,
                _ => return Some(Err(Error::param("klt prefilter keep", v, "≥ 1"))),
            },
            _ => return Some(Err(bad())),
        }
    }
    let Some(bytes) = bytes else {
        return Some(Err(Error::param(
            "klt codec",
            spec,
            "klt:bytes=B (the all-in bytes per vector to reach)",
        )));
    };
    let mut c = if search {
        klt::KltCodec::searchable(bytes)
    } else {
        klt::KltCodec::with_target(bytes)
    };
    c.search = so;
    Some(Ok(Box::new(c)))
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

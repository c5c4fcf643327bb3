//! Vector-codec specs: one configured codec for an embedding collection, e.g. `int8`,
//! `binary+rescore:shortlist=200`, `pq:m=48`, `pca:k=64+int8`, `klt:bytes=24:search`,
//! `jpeg:matrix:bytes=40`. [`VectorSpec`] is the typed value; its [`Display`](fmt::Display)
//! is the codec's own name, and parsing it back gives the same value.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::vectors::binary::{BinaryCodec, Rescore, DEFAULT_SHORTLIST};
use crate::vectors::jpeg::{JpegRate, JpegVectors};
use crate::vectors::klt::{KltCodec, SearchOptions};
use crate::vectors::pca::PcaCodec;
use crate::vectors::pq::PqCodec;
use crate::vectors::scalar::{F16Codec, F32Codec, ScalarCodec};
use crate::vectors::VectorCodec;

/// The codecs and the families the embedding evaluation expands over byte budgets
/// (`tensorjpeg_eval::embeddings::families`), for help texts and errors.
pub const FAMILIES: &str = "float32, f16, int8, int4, binary, binary+rescore, binary+int8, \
     pq, opq, pca, klt, klt+search, jpeg, jpeg-matrix (or any codec spec)";

/// One configured vector codec.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorSpec {
    /// `float32` (or `f32`): the vectors as they are.
    Float32,
    /// `f16` (or `float16`).
    F16,
    /// `int8`: per-dimension scalar quantization to 8 bits.
    Int8,
    /// `int4`.
    Int4,
    /// `binary`, `binary+rescore[:shortlist=N]`, `binary+int8[:shortlist=N]`.
    Binary(Rescore),
    /// `pq:m=M` or `opq:m=M`: product quantization with `m` sub-quantizers (OPQ rotated).
    Pq {
        /// Sub-quantizers.
        m: usize,
        /// Learn a rotation first (OPQ).
        opq: bool,
    },
    /// `pca:k=K+int8` (or `pca:k=K`): int8 codes of `k` PCA coefficients.
    Pca {
        /// Components kept.
        k: usize,
    },
    /// `klt:bytes=B[:search][:shortlist=N][:prefilter=BYTES:keep=N]`: the KLT codec at `B`
    /// all-in bytes per vector.
    Klt {
        /// All-in bytes per vector to reach.
        bytes: f64,
        /// Keep coarse components for compressed-domain search.
        search: bool,
        /// Search options.
        options: SearchOptions,
    },
    /// `jpeg[:matrix][:trunc]:q=Q` or `jpeg:matrix[:trunc]:bytes=B`: literal JPEG images.
    Jpeg {
        /// One image for the whole collection (else one per vector, two rows each).
        matrix: bool,
        /// Truncate rather than round to the image's 8-bit range.
        truncate: bool,
        /// Quality or bytes per vector.
        rate: JpegRate,
    },
}

impl VectorSpec {
    /// The codec this spec names, its parameters checked.
    pub fn build(&self) -> Result<Box<dyn VectorCodec>> {
        Ok(match *self {
            VectorSpec::Float32 => Box::new(F32Codec),
            VectorSpec::F16 => Box::new(F16Codec),
            VectorSpec::Int8 => Box::new(ScalarCodec::int8()),
            VectorSpec::Int4 => Box::new(ScalarCodec::int4()),
            VectorSpec::Binary(r) => Box::new(BinaryCodec::new(r)?),
            VectorSpec::Pq { m, opq: false } => Box::new(PqCodec::pq(m)?),
            VectorSpec::Pq { m, opq: true } => Box::new(PqCodec::opq(m)?),
            VectorSpec::Pca { k } => Box::new(PcaCodec::new(k)?),
            VectorSpec::Klt {
                bytes,
                search,
                options,
            } => {
                let mut c = if search {
                    KltCodec::searchable(bytes)
                } else {
                    KltCodec::with_target(bytes)
                };
                c.search = options;
                Box::new(c)
            }
            VectorSpec::Jpeg {
                matrix,
                truncate,
                rate,
            } => Box::new(JpegVectors::new(matrix, truncate, rate)?),
        })
    }
}

fn unknown(spec: &str) -> Error {
    Error::param(
        "vector codec",
        spec,
        format!("a codec spec or family: {FAMILIES}"),
    )
}

fn parse_binary(spec: &str) -> Option<Rescore> {
    let (head, shortlist) = match spec.split_once(':') {
        Some((h, o)) => (
            h,
            Some(o.strip_prefix("shortlist=")?.parse::<usize>().ok()?),
        ),
        None => (spec, None),
    };
    Some(match (head, shortlist) {
        ("binary", None) => Rescore::Hamming,
        ("binary+rescore", shortlist) => Rescore::Float { shortlist },
        ("binary+int8", s) => Rescore::Int8 {
            shortlist: s.unwrap_or(DEFAULT_SHORTLIST),
        },
        _ => return None,
    })
}

fn parse_klt(spec: &str, rest: &str) -> Result<VectorSpec> {
    let (mut bytes, mut search) = (None, false);
    let mut options = SearchOptions::default();
    for p in rest.split(':') {
        match p.split_once('=') {
            None if p == "search" => search = true,
            Some(("bytes", v)) => match v.parse::<f64>() {
                Ok(b) if b.is_finite() && b > 0.0 => bytes = Some(b),
                _ => return Err(Error::param("klt bytes per vector", v, "> 0")),
            },
            Some(("shortlist", v)) => match v.parse::<usize>() {
                Ok(s) if s > 0 => options.shortlist = s,
                _ => return Err(Error::param("klt shortlist", v, "≥ 1")),
            },
            Some(("prefilter", v)) => match v.parse::<usize>() {
                Ok(s) => options.prefilter_bytes = s,
                _ => return Err(Error::param("klt prefilter bytes", v, "≥ 0")),
            },
            Some(("keep", v)) => match v.parse::<usize>() {
                Ok(s) if s > 0 => options.prefilter_keep = s,
                _ => return Err(Error::param("klt prefilter keep", v, "≥ 1")),
            },
            _ => return Err(Error::param(
                "klt option",
                p,
                "bytes=B (all-in bytes per vector), search, shortlist=N, prefilter=BYTES, keep=N",
            )),
        }
    }
    let bytes = bytes.ok_or_else(|| {
        Error::param(
            "klt codec",
            spec,
            "klt:bytes=B (the all-in bytes per vector to reach)",
        )
    })?;
    Ok(VectorSpec::Klt {
        bytes,
        search,
        options,
    })
}

fn parse_jpeg<'a>(parts: impl Iterator<Item = &'a str>) -> Result<VectorSpec> {
    let (mut matrix, mut truncate, mut rate) = (false, false, None);
    for p in parts {
        match p {
            "matrix" => matrix = true,
            "tworow" => matrix = false,
            "trunc" => truncate = true,
            _ => {
                let r = match p.split_once('=') {
                    Some(("q", v)) => v.parse().ok().map(JpegRate::Quality),
                    Some(("bytes", v)) => v.parse().ok().map(JpegRate::Bytes),
                    _ => None,
                };
                rate = Some(r.ok_or_else(|| {
                    Error::param(
                        "jpeg vector codec option",
                        p,
                        "matrix, tworow, trunc, q=1..100 or bytes=B",
                    )
                })?);
            }
        }
    }
    let rate = rate.unwrap_or(JpegRate::Quality(crate::baselines::jpeg::DEFAULT_QUALITY));
    if matches!(rate, JpegRate::Bytes(_)) && !matrix {
        return Err(Error::param(
            "jpeg vector codec",
            "bytes= with one image per vector",
            "jpeg:matrix:bytes=B (a per-vector JPEG's headers alone exceed most budgets)",
        ));
    }
    Ok(VectorSpec::Jpeg {
        matrix,
        truncate,
        rate,
    })
}

impl FromStr for VectorSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let spec = s.trim();
        let mut parts = spec.split(':');
        let head = parts.next().unwrap_or("");
        match head {
            "float32" | "f32" if spec == head => return Ok(VectorSpec::Float32),
            "f16" | "float16" if spec == head => return Ok(VectorSpec::F16),
            "int8" if spec == head => return Ok(VectorSpec::Int8),
            "int4" if spec == head => return Ok(VectorSpec::Int4),
            "jpeg" => return parse_jpeg(parts),
            "klt" if spec.len() > 4 => return parse_klt(spec, &spec[4..]),
            "binary" | "binary+rescore" | "binary+int8" => {
                return parse_binary(spec)
                    .map(VectorSpec::Binary)
                    .ok_or_else(|| unknown(spec))
            }
            _ => {}
        }
        if let Some((kind, m)) = spec.split_once(":m=") {
            if let (Ok(m), "pq" | "opq") = (m.parse::<usize>(), kind) {
                return Ok(VectorSpec::Pq {
                    m,
                    opq: kind == "opq",
                });
            }
        }
        if let Some(rest) = spec.strip_prefix("pca:k=") {
            if let Ok(k) = rest.strip_suffix("+int8").unwrap_or(rest).parse() {
                return Ok(VectorSpec::Pca { k });
            }
        }
        Err(unknown(spec))
    }
}

impl fmt::Display for VectorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VectorSpec::Float32 => f.write_str("float32"),
            VectorSpec::F16 => f.write_str("f16"),
            VectorSpec::Int8 => f.write_str("int8"),
            VectorSpec::Int4 => f.write_str("int4"),
            VectorSpec::Binary(Rescore::Hamming) => f.write_str("binary"),
            VectorSpec::Binary(Rescore::Float { shortlist: None }) => f.write_str("binary+rescore"),
            VectorSpec::Binary(Rescore::Float { shortlist: Some(n) }) => {
                write!(f, "binary+rescore:shortlist={n}")
            }
            VectorSpec::Binary(Rescore::Int8 { shortlist }) if shortlist == DEFAULT_SHORTLIST => {
                f.write_str("binary+int8")
            }
            VectorSpec::Binary(Rescore::Int8 { shortlist }) => {
                write!(f, "binary+int8:shortlist={shortlist}")
            }
            VectorSpec::Pq { m, opq } => write!(f, "{}:m={m}", if opq { "opq" } else { "pq" }),
            VectorSpec::Pca { k } => write!(f, "pca:k={k}+int8"),
            VectorSpec::Klt {
                bytes,
                search,
                options,
            } => {
                write!(f, "klt:bytes={bytes}")?;
                if search {
                    f.write_str(":search")?;
                }
                if options != SearchOptions::default() {
                    write!(f, ":shortlist={}", options.shortlist)?;
                    if options.prefilter_bytes > 0 {
                        write!(
                            f,
                            ":prefilter={}:keep={}",
                            options.prefilter_bytes, options.prefilter_keep
                        )?;
                    }
                }
                Ok(())
            }
            VectorSpec::Jpeg {
                matrix,
                truncate,
                rate,
            } => {
                f.write_str("jpeg")?;
                if matrix {
                    f.write_str(":matrix")?;
                }
                if truncate {
                    f.write_str(":trunc")?;
                }
                match rate {
                    JpegRate::Quality(q) => write!(f, ":q={q}"),
                    JpegRate::Bytes(b) => write!(f, ":bytes={b}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_print_as_the_codecs_name() {
        for s in [
            "float32",
            "f16",
            "int8",
            "int4",
            "binary",
            "binary+rescore",
            "binary+rescore:shortlist=50",
            "binary+int8",
            "binary+int8:shortlist=7",
            "pq:m=16",
            "opq:m=8",
            "pca:k=12+int8",
            "klt:bytes=32",
            "klt:bytes=16:search:shortlist=20",
            "klt:bytes=16:search:shortlist=100:prefilter=4:keep=300",
            "jpeg:q=90",
            "jpeg:matrix:trunc:q=75",
            "jpeg:matrix:bytes=40",
        ] {
            let v: VectorSpec = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(v.to_string(), s);
            assert_eq!(v.to_string().parse::<VectorSpec>().unwrap(), v);
            assert_eq!(v.build().unwrap().name(), s, "codec name of {s}");
        }
        // Aliases parse to the canonical spelling.
        for (alias, canon) in [
            ("f32", "float32"),
            ("float16", "f16"),
            ("pca:k=4", "pca:k=4+int8"),
        ] {
            assert_eq!(alias.parse::<VectorSpec>().unwrap().to_string(), canon);
        }
    }

    #[test]
    fn unknown_names_and_bad_options_are_errors() {
        for bad in [
            "zip",
            "klt",
            "klt:bytes=0",
            "klt:bytes=32:fast",
            "klt:bytes=32:shortlist=0",
            "int8:x",
            "binary:shortlist=x",
            "pq:m=x",
            "jpeg:bytes=30",
            "jpeg:q=x",
        ] {
            assert!(bad.parse::<VectorSpec>().is_err(), "{bad} parsed");
        }
        // Parsed but out of range: refused when built.
        for bad in ["pq:m=0", "pca:k=0"] {
            let r = bad
                .parse::<VectorSpec>()
                .and_then(|v| v.build().map(|_| ()));
            assert!(r.is_err(), "{bad} built");
        }
    }
}

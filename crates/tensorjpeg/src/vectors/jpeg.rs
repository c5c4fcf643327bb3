//! The literal-JPEG baseline for embedding collections (seed 000's method), through the
//! real encoder and decoder of [`crate::baselines::jpeg`]:
//!
//! - `jpeg:q=Q` — one JPEG file per vector, the `2 × d/2` grayscale image the seed
//!   describes, min–max normalised per vector (`jpeg:trunc:q=Q`: with numpy's truncating
//!   cast, exactly as the seed's Python);
//! - `jpeg:matrix:q=Q` or `jpeg:matrix:bytes=B` — the whole collection as one image
//!   (`n × d`, tiles of at most 65535 rows), which amortises the file headers; with
//!   `bytes=B` the quality is searched so the all-in size is at most `B` bytes per vector.
//!
//! JPEG has no compressed-domain search: the index decodes once and scores the decoded
//! float32 vectors, and reports its bytes with and without the JPEG file headers.

use super::kmeans::{check_out, check_row};
use super::{check_query, check_rows, VectorCodec, VectorIndex};
use crate::baselines::jpeg::{JpegCodec, Layout};
use crate::codec::{Codec, Rate};
use crate::kernels::dot;
use crate::{Error, Result};

/// How much a [`JpegVectors`] codec compresses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JpegRate {
    /// A fixed IJG quality, 1..=100.
    Quality(u8),
    /// All-in bytes per vector (quality searched; `matrix` layout only).
    Bytes(f64),
}

/// Literal JPEG for vector collections (see the module documentation).
#[derive(Debug, Clone)]
pub struct JpegVectors {
    matrix: bool,
    truncate: bool,
    rate: JpegRate,
}

impl JpegVectors {
    /// One image per vector (`matrix = false`) or the collection as one image; `truncate`
    /// normalises like the seeds' numpy code.
    pub fn new(matrix: bool, truncate: bool, rate: JpegRate) -> Result<Self> {
        match rate {
            JpegRate::Quality(q) => Rate::Quality(q).validate()?,
            JpegRate::Bytes(b) => {
                if !(b.is_finite() && b > 0.0) {
                    return Err(Error::param("jpeg bytes per vector", b, "> 0"));
                }
            }
        }
        Ok(JpegVectors {
            matrix,
            truncate,
            rate,
        })
    }

    fn codec(&self) -> Result<JpegCodec> {
        let layout = if self.matrix {
            Layout::Matrix
        } else {
            Layout::TwoRow
        };
        Ok(JpegCodec::new(layout, None, false)?.with_truncation(self.truncate))
    }
}

impl VectorCodec for JpegVectors {
    fn name(&self) -> String {
        let mut s = String::from("jpeg");
        if self.matrix {
            s.push_str(":matrix");
        }
        if self.truncate {
            s.push_str(":trunc");
        }
        match self.rate {
            JpegRate::Quality(q) => s.push_str(&format!(":q={q}")),
            JpegRate::Bytes(b) => s.push_str(&format!(":bytes={b}")),
        }
        s
    }

    /// JPEG needs no training: `train` is only checked for its dimension.
    fn fit_encode(&self, train: &[f32], base: &[f32], dim: usize) -> Result<Box<dyn VectorIndex>> {
        check_rows(train, dim, "training set")?;
        let n = check_rows(base, dim, "collection")?;
        let codec = self.codec()?;
        let shape = [n, dim];
        let rate = match self.rate {
            JpegRate::Quality(q) => Rate::Quality(q),
            JpegRate::Bytes(b) => Rate::Bits(b * 8.0 / dim as f64),
        };
        let enc = codec.encode(base, &shape, rate)?;
        let chunks: Vec<&[u8]> = enc.chunks.iter().map(Vec::as_slice).collect();
        let decoded = codec.decode(&enc.params, &chunks, &shape)?;
        let stat = |k: &str| enc.stats.iter().find(|s| s.0 == k).map_or(0.0, |s| s.1);
        Ok(Box::new(JpegIndex {
            dim,
            decoded,
            total: enc.payload_bytes(),
            header_bytes: stat("jpeg_header_bytes") as usize,
            quality: stat("quality") as u8,
        }))
    }
}

/// A JPEG-compressed collection, held decoded for search.
#[derive(Debug, Clone)]
pub struct JpegIndex {
    dim: usize,
    decoded: Vec<f32>,
    total: usize,
    header_bytes: usize,
    quality: u8,
}

impl JpegIndex {
    /// Bytes of JPEG file headers (SOI … SOS, EOI) inside [`VectorIndex::total_bytes`].
    pub fn header_bytes(&self) -> usize {
        self.header_bytes
    }
    /// The quality the images were written at.
    pub fn quality(&self) -> u8 {
        self.quality
    }
}

impl VectorIndex for JpegIndex {
    fn len(&self) -> usize {
        self.decoded.len() / self.dim
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn total_bytes(&self) -> usize {
        self.total
    }
    /// The JPEG headers (per image: every vector's own with the per-vector layout).
    fn side_bytes(&self) -> usize {
        self.header_bytes
    }
    fn decode(&self, i: usize, out: &mut [f32]) -> Result<()> {
        check_row(i, self.len(), out.len(), self.dim)?;
        out.copy_from_slice(&self.decoded[i * self.dim..(i + 1) * self.dim]);
        Ok(())
    }
    /// Dot products with the decoded vectors (JPEG cannot be searched compressed).
    fn scores(&self, query: &[f32], out: &mut [f32]) -> Result<()> {
        check_query(query, self.dim)?;
        check_out(out.len(), self.len())?;
        for (o, x) in out.iter_mut().zip(self.decoded.chunks_exact(self.dim)) {
            *o = dot(query, x);
        }
        Ok(())
    }
    fn report(&self) -> Vec<(String, f64)> {
        vec![
            ("jpeg_quality".into(), f64::from(self.quality)),
            ("jpeg_header_bytes".into(), self.header_bytes as f64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::kmeans::testdata::vectors;
    use super::*;

    /// What the registry makes of a spec.
    fn parse(spec: &str) -> Option<Result<Box<dyn VectorCodec>>> {
        Some(crate::vectors::registry::parse(spec))
    }

    #[test]
    fn per_vector_files_carry_330_header_bytes_each() {
        let base = vectors(20, 384, 3);
        let ix = parse("jpeg:q=90").unwrap().unwrap();
        let ix = ix.fit_encode(&base, &base, 384).unwrap();
        assert_eq!(ix.side_bytes(), 20 * 330);
        assert!(ix.total_bytes() > 20 * 330);
        let mut x = vec![0.0; 384];
        ix.decode(3, &mut x).unwrap();
        let c = dot(&x, &base[3 * 384..4 * 384])
            / (dot(&x, &x).sqrt() * dot(&base[3 * 384..4 * 384], &base[3 * 384..4 * 384]).sqrt());
        assert!(c > 0.95, "cosine {c}");
    }

    #[test]
    fn collection_image_meets_a_byte_budget() {
        let base = vectors(200, 64, 5);
        let c = parse("jpeg:matrix:bytes=24").unwrap().unwrap();
        let ix = c.fit_encode(&base, &base, 64).unwrap();
        assert!(ix.bytes_per_vector() <= 24.0, "{}", ix.bytes_per_vector());
        assert!(ix.bytes_per_vector() > 8.0, "{}", ix.bytes_per_vector());
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(parse("jpeg:q=0").unwrap().is_err());
        assert!(parse("jpeg:bytes=20").unwrap().is_err());
        assert!(parse("jpeg:zigzag").unwrap().is_err());
    }
}

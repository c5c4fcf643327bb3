//! Serialization of a [`KltIndex`] and its size breakdown.
//!
//! ```text
//! magic    4 bytes  "TJVK"
//! version  u16      1
//! dim, n   varint × 2                n may be 0: a codebook that vectors are appended to
//! flags    u8                        bit 0: unit-norm collection (decode renormalises)
//! mean     u16 × dim                 f16 bits
//! params   see params::Params::write  u8 ρ·256, varint k, per component (f16 step, 3
//!                                    centroid bytes), varint m, m coarse components
//!                                    (u8 width; if > 0: svarint lo, varint len, len
//!                                    frequencies), varint buckets, a bucket byte per
//!                                    entropy-coded component, 3·buckets magnitude models
//!                                    (varint alphabet, u8 escape, frequencies)
//! exps     i8 × k                    basis row k has step 2^(e_k/4)
//! basis    one entropy segment per distinct exponent (ascending): the integers
//!          round(b/step) of the rows with that exponent, row after row; the reader
//!          dequantizes and orthonormalises them (Gram–Schmidt, as the encoder did)
//! lengths  one entropy segment: n stream lengths minus 4
//! coarse   n × coarse_bytes
//! streams  the n vector streams back to back
//! crc      u32                       CRC-32 (IEEE) of everything before it
//! ```
//!
//! A reader checks the magic, the version and the CRC before parsing anything, so damaged
//! bytes are reported, never decoded into wrong numbers.

use super::component::NCTX;
use super::encode::{basis_from_ints, Basis};
use super::params::Params;
use super::search::SearchOptions;
use super::{stream, KltIndex};
use crate::bytes::ByteWriter;
use crate::entropy;
use crate::entropy::model::entropy_bits;
use crate::framing::{self, Framing};
use crate::transform::MAX_KLT_COLS;
use crate::{Error, Result};
use half::f16;

/// Where the bytes of an index go, and how close the streams are to ideal entropy coding.
#[derive(Debug, Clone, PartialEq)]
pub struct KltStats {
    /// Vectors.
    pub n: usize,
    /// Stored components `k`.
    pub k: usize,
    /// Coarse components `m` and coarse bytes per vector.
    pub m: usize,
    /// Coarse bytes per vector.
    pub coarse_bytes: usize,
    /// Header, mean and quantizer/model parameters (bytes).
    pub side_bytes: usize,
    /// Entropy-coded basis (bytes).
    pub basis_bytes: usize,
    /// Entropy-coded stream lengths (bytes).
    pub length_bytes: usize,
    /// Coarse codes (bytes).
    pub coarse_total: usize,
    /// Vector streams (bytes).
    pub stream_bytes: usize,
    /// Everything (bytes), equal to `total_bytes()`.
    pub total_bytes: usize,
    /// Ideal cost of the quantization indices, bits per vector: the sum over components of
    /// the empirical entropy of that component's signed indices over this collection
    /// (order-0, per component, no side information) — the "ideal entropy coding" line.
    pub ideal_bits_per_vector: f64,
    /// Actual coarse + stream bits per vector.
    pub coded_bits_per_vector: f64,
}

impl KltIndex {
    /// Serializes the index (see the module documentation); the length equals
    /// [`crate::vectors::VectorIndex::total_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        self.write_parts().0
    }

    /// Serialized bytes and the end offset of each section (side, basis, lengths, coarse,
    /// streams).
    fn write_parts(&self) -> (Vec<u8>, [usize; 5]) {
        let mut w = framing::KLT_INDEX.start();
        w.varint(self.dim as u64);
        w.varint(self.n as u64);
        let side = self.write_codebook(&mut w);
        let basis = w.buf.len();
        let lens: Vec<i32> = self
            .offsets
            .windows(2)
            .map(|o| (o[1] - o[0]) as i32 - 4)
            .collect();
        entropy::encode(&lens, &mut w);
        let lengths = w.buf.len();
        w.bytes(&self.coarse);
        let coarse = w.buf.len();
        w.bytes(&self.payload);
        let streams = w.buf.len();
        (Framing::seal(w), [side, basis, lengths, coarse, streams])
    }

    /// Writes what every vector of the index is coded with (the codebook: flags, mean,
    /// parameters, basis); returns the writer's length where the basis starts.
    fn write_codebook(&self, w: &mut ByteWriter) -> usize {
        w.u8(self.unit as u8);
        for &m in &self.mean {
            w.u16(f16::from_f32(m).to_bits());
        }
        self.params.write(w);
        let exps = &self.basis.exps;
        w.bytes(&exps.iter().map(|&e| e as u8).collect::<Vec<_>>());
        let side = w.buf.len();
        for e in distinct(exps) {
            let ints: Vec<i32> = exps
                .iter()
                .enumerate()
                .filter(|(_, &x)| x == e)
                .flat_map(|(j, _)| self.basis.ints[j * self.dim..(j + 1) * self.dim].iter())
                .copied()
                .collect();
            entropy::encode(&ints, w);
        }
        side
    }

    /// CRC-32 of the codebook (dimension, flags, mean, quantizers, models, basis): two
    /// indices with the same checksum code vectors identically, so their codes can be
    /// merged or appended to one another.
    pub fn codebook_crc(&self) -> u32 {
        let mut w = ByteWriter::new();
        w.varint(self.dim as u64);
        self.write_codebook(&mut w);
        crc32fast::hash(&w.buf)
    }

    /// Reads an index written by [`KltIndex::to_bytes`]. Errors (never panics) on a wrong
    /// magic, an unknown version, a checksum mismatch or inconsistent contents.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = framing::KLT_INDEX.open_sealed(bytes)?;
        let dim = r.varint_max("dimension", MAX_KLT_COLS as u64)? as usize;
        let n = r.varint_max("vectors", r.remaining() as u64)? as usize;
        if dim == 0 {
            return Err(Error::corrupt(format!("klt index: dim {dim}, n {n}")));
        }
        let unit = match r.u8()? {
            0 => false,
            1 => true,
            f => return Err(Error::corrupt(format!("klt index: flags {f:#x}"))),
        };
        if r.remaining() < 2 * dim {
            return Err(Error::corrupt("klt index: truncated mean"));
        }
        let mut mean = Vec::with_capacity(dim);
        for _ in 0..dim {
            let v = f16::from_bits(r.u16()?).to_f32();
            if !v.is_finite() {
                return Err(Error::corrupt("klt index: non-finite mean"));
            }
            mean.push(v);
        }
        let params = Params::read(&mut r, dim)?;
        let k = params.k();
        if k == 0 {
            return Err(Error::corrupt("klt index: no components"));
        }
        let exps: Vec<i8> = r.take(k)?.iter().map(|&b| b as i8).collect();
        let mut ints = vec![0i32; k * dim];
        for e in distinct(&exps) {
            let rows: Vec<usize> = (0..k).filter(|&j| exps[j] == e).collect();
            let mut seg = vec![0i32; rows.len() * dim];
            entropy::decode(&mut r, &mut seg)?;
            for (t, &j) in rows.iter().enumerate() {
                ints[j * dim..(j + 1) * dim].copy_from_slice(&seg[t * dim..(t + 1) * dim]);
            }
        }
        if ints.iter().any(|v| v.unsigned_abs() > 1 << 24) {
            return Err(Error::corrupt("klt index: basis value out of range"));
        }
        let rows = basis_from_ints(&ints, &exps, dim);
        let basis = Basis { ints, exps, rows };
        let mut lens = vec![0i32; n];
        entropy::decode(&mut r, &mut lens)?;
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0usize);
        for &l in &lens {
            if l < 0 {
                return Err(Error::corrupt("klt index: negative stream length"));
            }
            offsets.push(offsets.last().unwrap() + l as usize + 4);
        }
        let cb = params.coarse_bytes;
        let coarse = r
            .take(
                n.checked_mul(cb)
                    .ok_or_else(|| Error::corrupt("klt index: coarse size overflow"))?,
            )?
            .to_vec();
        let payload = r.take(*offsets.last().unwrap())?.to_vec();
        r.finish()?;
        debug_assert_eq!(params.models.len(), NCTX * params.n_buckets);
        let mut ix = KltIndex {
            dim,
            n,
            mean,
            basis,
            params,
            coarse,
            blocked: None,
            offsets,
            payload,
            unit,
            recon: Vec::new(),
            mean_rot: Vec::new(),
            mean_sq: 0.0,
            search_opts: SearchOptions::default(),
            total: bytes.len(),
        };
        ix.derive();
        Ok(ix)
    }

    /// Size breakdown and the gap to ideal entropy coding (decodes every vector).
    pub fn stats(&self) -> Result<KltStats> {
        let (bytes, ends) = self.write_parts();
        let k = self.params.k();
        let mut hist: Vec<std::collections::HashMap<i32, u64>> = vec![Default::default(); k];
        let mut q = vec![0i32; k];
        for i in 0..self.n {
            self.indices(i, &mut q)?;
            for (h, &v) in hist.iter_mut().zip(&q) {
                *h.entry(v).or_insert(0) += 1;
            }
        }
        let ideal: f64 = hist
            .iter()
            .map(|h| entropy_bits(&h.values().copied().collect::<Vec<_>>()))
            .sum();
        let coded = (self.coarse.len() + self.payload.len()) as f64 * 8.0 / self.n.max(1) as f64;
        Ok(KltStats {
            n: self.n,
            k,
            m: self.params.m(),
            coarse_bytes: self.params.coarse_bytes,
            side_bytes: ends[0] + 4,
            basis_bytes: ends[1] - ends[0],
            length_bytes: ends[2] - ends[1],
            coarse_total: ends[3] - ends[2],
            stream_bytes: ends[4] - ends[3],
            total_bytes: bytes.len(),
            ideal_bits_per_vector: ideal,
            coded_bits_per_vector: coded,
        })
    }

    /// Checks that every vector decodes (stream ends cleanly, fields valid).
    pub fn validate(&self) -> Result<()> {
        let mut q = vec![0i32; self.params.k()];
        let cb = self.params.coarse_bytes;
        for i in 0..self.n {
            stream::decode_vector(
                &self.params,
                &self.coarse[i * cb..(i + 1) * cb],
                &self.payload[self.offsets[i]..self.offsets[i + 1]],
                &mut q,
            )?;
        }
        Ok(())
    }
}

/// Distinct values of `v`, ascending.
fn distinct(v: &[i8]) -> Vec<i8> {
    let mut d = v.to_vec();
    d.sort_unstable();
    d.dedup();
    d
}

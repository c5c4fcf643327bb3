//! What MPNet (all-mpnet-base-v2) changes in the BERT encoder of [`crate::bert`].
//!
//! MPNet's blocks are BERT's post-LayerNorm blocks under other tensor names
//! (`attention.attn.{q,k,v,o}`, `attention.LayerNorm`); its embeddings have no token types
//! and number positions from `padding_idx + 1` (as RoBERTa), and every block adds the same
//! learned **relative position bias** to its attention scores: one value per head and
//! bucket of the signed distance between query and key (T5's buckets: exact up to 7,
//! logarithmic up to 128, one bucket per direction beyond), read from
//! `encoder.relative_attention_bias.weight` (`buckets × heads`).

use crate::{Error, Result};

/// The distance beyond which all relative positions share a bucket (Hugging Face's
/// `MPNetEncoder.relative_position_bucket` default).
pub const MAX_DISTANCE: usize = 128;

/// The bucket of `rel = key position − query position` among `buckets` (half for keys
/// before the query, half after), as Hugging Face's `relative_position_bucket` computes it —
/// including its float32 logarithm, whose truncation decides the bucket at the edges.
pub fn relative_bucket(rel: i64, buckets: usize, max_distance: usize) -> usize {
    let half = buckets / 2;
    let n = -rel;
    let ret = if n < 0 { half } else { 0 };
    let n = n.unsigned_abs() as usize;
    let max_exact = half / 2;
    if n < max_exact {
        return ret + n;
    }
    let ratio = (n as f32 / max_exact as f32).ln();
    let span = (max_distance as f64 / max_exact as f64).ln() as f32;
    let large = max_exact + (ratio / span * (half - max_exact) as f32) as usize;
    ret + large.min(half.saturating_sub(1))
}

/// The relative position bias of one model: `buckets × heads` values.
#[derive(Debug, Clone)]
pub struct RelativeBias {
    table: Vec<f32>,
    buckets: usize,
    heads: usize,
}

impl RelativeBias {
    /// The bias from its table (`buckets × heads`, row-major as stored).
    pub fn new(table: Vec<f32>, buckets: usize, heads: usize) -> Result<Self> {
        if buckets < 4 || table.len() != buckets * heads {
            return Err(Error::Input(format!(
                "relative attention bias: {} values for {buckets} buckets × {heads} heads \
                 (at least 4 buckets)",
                table.len()
            )));
        }
        Ok(RelativeBias {
            table,
            buckets,
            heads,
        })
    }

    /// For a sequence of `len` tokens, head `head`'s bias for every distance: element
    /// `d + len − 1` is the bias of key `j` seen from query `i` with `j − i = d`.
    pub fn for_head(&self, head: usize, len: usize) -> Vec<f32> {
        let span = len.max(1) as i64 - 1;
        (-span..=span)
            .map(|d| self.table[relative_bucket(d, self.buckets, MAX_DISTANCE) * self.heads + head])
            .collect()
    }
}

/// The tensor names of one encoder block, by architecture.
#[derive(Debug, Clone, Copy)]
pub struct BlockNames {
    /// Query, key, value and attention-output projections (each `NAME.weight`/`.bias`).
    pub qkvo: [&'static str; 4],
    /// The LayerNorm after attention.
    pub attn_norm: &'static str,
}

/// BERT's names under `encoder.layer.N`.
pub const BERT_NAMES: BlockNames = BlockNames {
    qkvo: [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
    ],
    attn_norm: "attention.output.LayerNorm",
};

/// MPNet's names under `encoder.layer.N`.
pub const MPNET_NAMES: BlockNames = BlockNames {
    qkvo: [
        "attention.attn.q",
        "attention.attn.k",
        "attention.attn.v",
        "attention.attn.o",
    ],
    attn_norm: "attention.LayerNorm",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_t5_scheme() {
        // Exact within 7 either way; keys after the query in the upper half.
        for d in 0..8i64 {
            assert_eq!(relative_bucket(-d, 32, 128), d as usize);
        }
        for d in 1..8i64 {
            assert_eq!(relative_bucket(d, 32, 128), 16 + d as usize);
        }
        // Logarithmic beyond, the last bucket from max_distance on.
        assert_eq!(relative_bucket(-8, 32, 128), 8);
        assert_eq!(relative_bucket(-127, 32, 128), 15);
        assert_eq!(relative_bucket(-1000, 32, 128), 15);
        assert_eq!(relative_bucket(1000, 32, 128), 31);
        // Monotone in the distance on each side.
        for d in 1..300i64 {
            assert!(relative_bucket(-d, 32, 128) >= relative_bucket(-(d - 1), 32, 128));
            assert!(relative_bucket(d, 32, 128) >= relative_bucket(d - 1, 32, 128) || d == 1);
        }
    }

    #[test]
    fn buckets_equal_hugging_faces_for_every_distance_to_200() {
        // Hugging Face transformers 5.25 `MPNetEncoder.relative_position_bucket(rel, 32,
        // 128)` for rel = −200..=200, as (first rel of a run, its bucket).
        const RUNS: [(i64, usize); 31] = [
            (-200, 15),
            (-90, 14),
            (-63, 13),
            (-45, 12),
            (-31, 11),
            (-22, 10),
            (-15, 9),
            (-11, 8),
            (-7, 7),
            (-6, 6),
            (-5, 5),
            (-4, 4),
            (-3, 3),
            (-2, 2),
            (-1, 1),
            (0, 0),
            (1, 17),
            (2, 18),
            (3, 19),
            (4, 20),
            (5, 21),
            (6, 22),
            (7, 23),
            (8, 24),
            (12, 25),
            (16, 26),
            (23, 27),
            (32, 28),
            (46, 29),
            (64, 30),
            (91, 31),
        ];
        for rel in -200..=200i64 {
            let want = RUNS
                .iter()
                .rev()
                .find(|&&(start, _)| start <= rel)
                .unwrap()
                .1;
            assert_eq!(relative_bucket(rel, 32, MAX_DISTANCE), want, "rel {rel}");
        }
    }

    #[test]
    fn the_bias_reads_the_table_by_bucket_and_head() {
        let (buckets, heads) = (32, 2);
        let table: Vec<f32> = (0..buckets * heads).map(|i| i as f32).collect();
        let b = RelativeBias::new(table, buckets, heads).unwrap();
        let v = b.for_head(1, 3);
        // d = −2, −1, 0, 1, 2 → buckets 2, 1, 0, 17, 18; head 1 → 2·bucket + 1.
        assert_eq!(v, vec![5.0, 3.0, 1.0, 35.0, 37.0]);
        assert!(RelativeBias::new(vec![0.0; 5], 32, 2).is_err());
    }
}

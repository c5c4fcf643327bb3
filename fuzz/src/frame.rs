//! The input layout of the per-codec targets: a shape, a params blob and chunks, in a
//! simple framing that seeds can be written in ([`write`]) and any bytes parse as
//! ([`parse`]).
//!
//! ```text
//! u8 ndim-1 (mod 4) · varint dim × ndim · varint params_len · params ·
//! u8 n_chunks · (varint len · bytes) × n_chunks   (a short last chunk takes what is left)
//! ```
//!
//! Depends only on `std`.

/// Largest element count a per-codec input may declare: the big-shape class is the
/// container targets' job, and larger outputs only slow the campaign down.
pub const MAX_NUMEL: usize = 1 << 22;

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A parsed per-codec input.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecInput<'a> {
    /// The shape handed to `Codec::decode`.
    pub shape: Vec<usize>,
    /// Codec parameters.
    pub params: &'a [u8],
    /// Chunks.
    pub chunks: Vec<&'a [u8]>,
}

/// Parses any bytes; `None` if too short or the shape exceeds [`MAX_NUMEL`].
pub fn parse(b: &[u8]) -> Option<CodecInput<'_>> {
    let mut pos = 0;
    let ndim = 1 + (*b.first()? as usize % 4);
    pos += 1;
    let mut shape = Vec::with_capacity(ndim);
    let mut numel = 1usize;
    for _ in 0..ndim {
        let d = usize::try_from(varint(b, &mut pos)?).ok()?;
        numel = numel.checked_mul(d)?;
        shape.push(d);
    }
    if numel > MAX_NUMEL {
        return None;
    }
    let plen = usize::try_from(varint(b, &mut pos)?).ok()?;
    let plen = plen.min(b.len() - pos);
    let params = &b[pos..pos + plen];
    pos += plen;
    let n_chunks = b.get(pos).copied().unwrap_or(0) as usize;
    pos += 1;
    let mut chunks = Vec::with_capacity(n_chunks);
    for _ in 0..n_chunks {
        let len = match varint(b, &mut pos) {
            Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
            None => 0,
        };
        let start = pos.min(b.len());
        let len = len.min(b.len() - start);
        chunks.push(&b[start..start + len]);
        pos = start + len;
    }
    Some(CodecInput {
        shape,
        params,
        chunks,
    })
}

/// Frames a shape (1–4 dims), params and chunks (at most 255) as [`parse`] reads them.
pub fn write(shape: &[usize], params: &[u8], chunks: &[&[u8]]) -> Vec<u8> {
    assert!((1..=4).contains(&shape.len()) && chunks.len() <= 255);
    let mut out = vec![(shape.len() - 1) as u8];
    for &d in shape {
        put_varint(&mut out, d as u64);
    }
    put_varint(&mut out, params.len() as u64);
    out.extend_from_slice(params);
    out.push(chunks.len() as u8);
    for c in chunks {
        put_varint(&mut out, c.len() as u64);
        out.extend_from_slice(c);
    }
    out
}

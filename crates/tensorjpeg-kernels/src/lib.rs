//! Compute formats and CPU kernels: weight matrices held as fixed-rate blocks
//! ([`Format`]) and multiplied without being dequantized — `y = x · Wᵀ` with the activations
//! quantized to 8 bits per block of 32 ([`QActs`]) and integer dot products per block.
//!
//! The storage format of tensorjpeg stays the variable-rate container; loading converts a
//! tensor into a [`QMatrix`] (from f32 values with [`QMatrix::quantize`], or from GGUF blocks
//! bit for bit with [`QMatrix::from_blocks`]). The kernel is chosen at run time
//! ([`Isa::detect`]): AVX-512 VNNI, AVX2, or the scalar reference every SIMD kernel is tested
//! against. `unsafe` lives in the `x86`, `x86_lut` and [`gemm`] modules only. [`lut`] holds the
//! table-lookup scan of byte codes that compressed-domain vector search runs on; [`gemm`] a
//! checked matrix product for the codec's encoders.
//!
//! ```
//! use tensorjpeg_kernels::{Format, QMatrix};
//! let (rows, cols) = (4, 64);
//! let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5).collect();
//! let m = QMatrix::quantize(&w, rows, cols, Format::Nl4H, None).unwrap();
//! let x = vec![0.25f32; cols];
//! let mut y = vec![0f32; rows];
//! m.matmul(&x, 1, &mut y).unwrap();
//! let dense: Vec<f32> = (0..rows).map(|r| w[r * cols..(r + 1) * cols].iter().sum::<f32>() * 0.25).collect();
//! for (a, b) in y.iter().zip(&dense) { assert!((a - b).abs() < 0.2); }
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
// Kernel loops index several arrays in lockstep by block position; iterator chains hide that.
#![allow(clippy::needless_range_loop)]
#![warn(missing_docs)]

pub mod act;
pub mod check;
mod feedback;
pub mod format;
pub mod gemm;
pub mod hadamard;
pub mod lut;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
mod x86_lut;

use rayon::prelude::*;

pub use act::QActs;
pub use format::{Format, BLOCK, NL3_CODEBOOK, NL4_CODEBOOK};

/// Weight × activation-row products below which a product runs on the calling thread only,
/// with [`RayonPool`]: waking a sleeping pool thread costs tens of microseconds.
pub const PARALLEL_MIN_WORK: usize = 1 << 20;

/// Runs a product's chunks on some threads: `run(n, f)` calls `f` on ranges that cover
/// `0..n` exactly once, possibly in parallel, and returns when all are done.
pub trait Executor: Sync {
    /// Threads that take part.
    fn threads(&self) -> usize;
    /// Products with less work (weights × activation rows) run on the calling thread.
    fn min_work(&self) -> usize;
    /// Runs `f` over ranges covering `0..n`.
    fn run(&self, n: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync));
}

/// [`Executor`] on rayon's current pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct RayonPool;

impl Executor for RayonPool {
    fn threads(&self) -> usize {
        rayon::current_num_threads()
    }

    fn min_work(&self) -> usize {
        PARALLEL_MIN_WORK
    }

    fn run(&self, n: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
        (0..n).into_par_iter().for_each(|i| f(i..i + 1));
    }
}

/// What can go wrong converting or multiplying.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A format name no kernel knows.
    #[error("unknown compute format {0:?} (valid: q8_0, q4_0, q4_1, nl4, nl4h, nl3, nl3h)")]
    UnknownFormat(String),
    /// A shape the format cannot hold or the product cannot take.
    #[error("{0}")]
    Shape(String),
    /// Block bytes that cannot be right (a non-finite scale).
    #[error("{0}")]
    Corrupt(String),
    /// An instruction set this CPU lacks.
    #[error("this CPU cannot run the {0} kernel")]
    Unsupported(&'static str),
}

/// The instruction set a kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The portable reference.
    Scalar,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 VNNI and BW (on 256-bit registers) + AVX2.
    Avx512Vnni,
}

impl Isa {
    /// Every instruction set, reference first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni];

    /// The best kernel this CPU runs (`TJ_KERNEL=scalar|avx2|vnni` overrides, if available).
    pub fn detect() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let forced = std::env::var("TJ_KERNEL")
                .ok()
                .and_then(|v| match v.as_str() {
                    "scalar" => Some(Isa::Scalar),
                    "avx2" => Some(Isa::Avx2),
                    "vnni" => Some(Isa::Avx512Vnni),
                    _ => None,
                });
            if let Some(f) = forced.filter(|f| f.available()) {
                return f;
            }
            [Isa::Avx512Vnni, Isa::Avx2]
                .into_iter()
                .find(|i| i.available())
                .unwrap_or(Isa::Scalar)
        })
    }

    /// Whether this CPU has the instructions.
    pub fn available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                Isa::Avx2.available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
                    && is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512vnni",
        }
    }
}

/// A weight matrix `(rows, cols)` in a compute format, rows of `cols / 32` blocks, held as
/// three arrays (codes, scales, minimums) so a kernel loads eight blocks' scales at once;
/// [`QMatrix::to_blocks`] interleaves them back into GGUF's block layout.
#[derive(Clone, Debug)]
pub struct QMatrix {
    rows: usize,
    cols: usize,
    format: Format,
    /// Code bytes, [`Format::code_bytes`] per block, row-major.
    qs: Vec<u8>,
    /// f16 scale bits per block.
    d: Vec<u16>,
    /// f16 minimum bits per block (`Q4_1`), else empty.
    m: Vec<u16>,
    /// A `Q8_0` block holds −128, which the SIMD sign trick cannot negate: scalar kernel only.
    scalar_only: bool,
}

impl QMatrix {
    fn check_shape(rows: usize, cols: usize) -> Result<(), KernelError> {
        if cols == 0 || !cols.is_multiple_of(BLOCK) {
            return Err(KernelError::Shape(format!(
                "a compute-format matrix needs a row length that is a positive multiple of {BLOCK}, not {cols}"
            )));
        }
        if rows == 0 {
            return Err(KernelError::Shape("a matrix with no rows".into()));
        }
        Ok(())
    }

    /// A shape the formats take, and `rows × cols` values.
    fn check_values(w: &[f32], rows: usize, cols: usize) -> Result<(), KernelError> {
        Self::check_shape(rows, cols)?;
        if w.len() != rows.saturating_mul(cols) {
            return Err(KernelError::Shape(format!(
                "{} values for a {rows}×{cols} matrix",
                w.len()
            )));
        }
        Ok(())
    }

    /// Quantizes `w` `(rows, cols)` row-major. `importance` (`cols` values, e.g. the mean
    /// squared activation of each input) weights the squared error the encoder minimises.
    pub fn quantize(
        w: &[f32],
        rows: usize,
        cols: usize,
        format: Format,
        importance: Option<&[f32]>,
    ) -> Result<QMatrix, KernelError> {
        Self::check_values(w, rows, cols)?;
        if let Some(i) = importance {
            if i.len() != cols {
                return Err(KernelError::Shape(format!(
                    "{} importance values for {cols} columns",
                    i.len()
                )));
            }
        }
        let rb = cols / BLOCK * format.block_bytes();
        let mut data = vec![0u8; rows * rb];
        data.par_chunks_mut(rb)
            .zip(w.par_chunks(cols))
            .for_each(|(out, row)| format::encode_row(format, row, importance, out));
        Self::from_blocks(format, rows, cols, data)
    }

    /// Quantizes `w` `(rows, cols)` row-major with error feedback (GPTQ): each rounding
    /// error is spread over the columns not yet encoded through `u`, the upper factor of
    /// the damped inverse of the inputs' second moment `H` (`UᵀU = H⁻¹`, `cols × cols`
    /// row-major; for the rotated formats that of `R H Rᵀ`,
    /// [`hadamard::rotate_gram`]). The output error `E‖ΔW x‖²` on inputs like the
    /// calibration's falls, not the weights' own error. See the `feedback` module.
    pub fn quantize_feedback(
        w: &[f32],
        rows: usize,
        cols: usize,
        format: Format,
        u: &[f32],
    ) -> Result<QMatrix, KernelError> {
        Self::check_values(w, rows, cols)?;
        if u.len() != cols.saturating_mul(cols) {
            return Err(KernelError::Shape(format!(
                "a feedback factor of {} values for {cols} columns (needs {cols}²)",
                u.len()
            )));
        }
        if let Some(bad) = (0..cols).map(|j| u[j * cols + j]).find(|d| !d.is_finite()) {
            return Err(KernelError::Corrupt(format!(
                "a feedback factor with a non-finite diagonal entry ({bad})"
            )));
        }
        let rb = cols / BLOCK * format.block_bytes();
        let mut data = vec![0u8; rows * rb];
        data.par_chunks_mut(rb)
            .zip(w.par_chunks(cols))
            .for_each(|(out, row)| {
                let mut r = row.to_vec();
                if format.rotated() {
                    hadamard::rotate_blocks(&mut r);
                }
                feedback::encode_row(format, &mut r, u, out);
            });
        Self::from_blocks(format, rows, cols, data)
    }

    /// Takes blocks already in `format` (e.g. a GGUF tensor's bytes of the same type):
    /// checks the size and every scale.
    pub fn from_blocks(
        format: Format,
        rows: usize,
        cols: usize,
        data: Vec<u8>,
    ) -> Result<QMatrix, KernelError> {
        Self::check_shape(rows, cols)?;
        let bb = format.block_bytes();
        let want = rows
            .checked_mul(cols / BLOCK)
            .and_then(|n| n.checked_mul(bb))
            .ok_or_else(|| KernelError::Shape(format!("{rows}×{cols} overflows")))?;
        if data.len() != want {
            return Err(KernelError::Shape(format!(
                "{} bytes for a {rows}×{cols} {format} matrix, which takes {want}",
                data.len()
            )));
        }
        let scales = if format == Format::Q4_1 { 2 } else { 1 };
        for (k, blk) in data.chunks_exact(bb).enumerate() {
            for s in 0..scales {
                if !format::read_f16(blk, 2 * s).is_finite() {
                    let nb = cols / BLOCK;
                    return Err(KernelError::Corrupt(format!(
                        "a non-finite scale in block {} of row {} of a {format} matrix",
                        k % nb,
                        k / nb
                    )));
                }
            }
        }
        let scalar_only =
            format == Format::Q8_0 && data.chunks_exact(bb).any(|blk| blk[2..].contains(&0x80));
        let n = data.len() / bb;
        let head = if format == Format::Q4_1 { 4 } else { 2 };
        let mut qs = Vec::with_capacity(n * format.code_bytes());
        let mut d = Vec::with_capacity(n);
        let mut m = Vec::new();
        for blk in data.chunks_exact(bb) {
            d.push(u16::from_le_bytes([blk[0], blk[1]]));
            if format == Format::Q4_1 {
                m.push(u16::from_le_bytes([blk[2], blk[3]]));
            }
            qs.extend_from_slice(&blk[head..]);
        }
        Ok(QMatrix {
            rows,
            cols,
            format,
            qs,
            d,
            m,
            scalar_only,
        })
    }

    /// Rows (outputs).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (inputs).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The block format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The blocks in GGUF's layout (scale, [minimum,] codes per block), row-major.
    pub fn to_blocks(&self) -> Vec<u8> {
        let cb = self.format.code_bytes();
        let mut out = Vec::with_capacity(self.bytes());
        for (k, codes) in self.qs.chunks_exact(cb).enumerate() {
            out.extend_from_slice(&self.d[k].to_le_bytes());
            if self.format == Format::Q4_1 {
                out.extend_from_slice(&self.m[k].to_le_bytes());
            }
            out.extend_from_slice(codes);
        }
        out
    }

    /// Bytes the kernel reads per product (all blocks).
    pub fn bytes(&self) -> usize {
        self.qs.len() + 2 * (self.d.len() + self.m.len())
    }

    /// All rows as the kernels see them.
    fn all_rows(&self) -> RowsRef<'_> {
        RowsRef {
            qs: &self.qs,
            d: &self.d,
            m: &self.m,
            nb: self.cols / BLOCK,
        }
    }

    /// The values the blocks stand for, `(rows, cols)` row-major (rotated formats are
    /// rotated back).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(k, o)| self.decode_block(k, o));
        out
    }

    /// The values of block `k` (row-major block order) into `out` (one block), rotated back
    /// for the rotated formats.
    fn decode_block(&self, k: usize, out: &mut [f32]) {
        let f16 = |bits: u16| half::f16::from_bits(bits).to_f32();
        let cb = self.format.code_bytes();
        let m = self.m.get(k).map_or(0.0, |&m| f16(m));
        format::decode_codes(
            self.format,
            f16(self.d[k]),
            m,
            &self.qs[k * cb..][..cb],
            out,
        );
        if self.format.rotated() {
            let a: &mut [f32; BLOCK] = out.try_into().expect("a block");
            hadamard::ifwht32(a);
        }
    }

    /// The values of the rows `ids` (a gather: an embedding lookup), `ids.len() × cols`
    /// row-major into `out`; equal to the same rows of [`QMatrix::dequantize`]. An index
    /// past the last row or an `out` of the wrong length is an error.
    pub fn dequantize_rows(&self, ids: &[u32], out: &mut [f32]) -> Result<(), KernelError> {
        if let Some(&bad) = ids.iter().find(|&&r| r as usize >= self.rows) {
            return Err(KernelError::Shape(format!(
                "row {bad} of a matrix of {} rows",
                self.rows
            )));
        }
        if Some(out.len()) != ids.len().checked_mul(self.cols) {
            return Err(KernelError::Shape(format!(
                "{} output values for {} rows of {}",
                out.len(),
                ids.len(),
                self.cols
            )));
        }
        let nb = self.cols / BLOCK;
        for (o, &r) in out.chunks_exact_mut(self.cols).zip(ids) {
            for (b, o) in o.chunks_exact_mut(BLOCK).enumerate() {
                self.decode_block(r as usize * nb + b, o);
            }
        }
        Ok(())
    }

    /// The kernel [`QMatrix::matmul`] uses on this CPU for this matrix.
    pub fn isa(&self) -> Isa {
        if self.scalar_only {
            Isa::Scalar
        } else {
            Isa::detect()
        }
    }

    /// `y = x · Wᵀ` for `x` `(batch, cols)`, `y` `(batch, rows)`, row-major, on rayon's pool.
    pub fn matmul(&self, x: &[f32], batch: usize, y: &mut [f32]) -> Result<(), KernelError> {
        self.matmul_with(self.isa(), x, batch, y)
    }

    /// [`QMatrix::matmul`] with a given kernel (an error if this CPU lacks it).
    pub fn matmul_with(
        &self,
        isa: Isa,
        x: &[f32],
        batch: usize,
        y: &mut [f32],
    ) -> Result<(), KernelError> {
        self.matmul_on(&RayonPool, isa, x, batch, y)
    }

    /// `y = x · Wᵀ` with kernel `isa`, the row chunks run by `exec`; the activations are
    /// quantized into a per-thread buffer that is reused.
    pub fn matmul_on(
        &self,
        exec: &dyn Executor,
        isa: Isa,
        x: &[f32],
        batch: usize,
        y: &mut [f32],
    ) -> Result<(), KernelError> {
        self.check_product(x, batch, y)?;
        // One activation buffer per thread, reused: a decode step's products are small
        // enough that allocating it each time shows.
        thread_local! {
            static ACTS: std::cell::RefCell<QActs> = std::cell::RefCell::new(QActs::default());
        }
        ACTS.with(|a| match a.try_borrow_mut() {
            Ok(mut acts) => {
                acts.fill(x, batch, self.cols, self.format.rotated());
                self.matmul_acts_on(exec, isa, &acts, y)
            }
            // A product started while this thread waits inside another one (rayon work
            // stealing): its own buffer.
            Err(_) => {
                let acts = QActs::quantize(x, batch, self.cols, self.format.rotated());
                self.matmul_acts_on(exec, isa, &acts, y)
            }
        })
    }

    fn check_product(&self, x: &[f32], batch: usize, y: &[f32]) -> Result<(), KernelError> {
        if batch == 0 || x.len() != batch * self.cols || y.len() != batch * self.rows {
            return Err(KernelError::Shape(format!(
                "a product with a {}×{} matrix needs x of {}·{} and y of {}·{} values, got {} and {}",
                self.rows,
                self.cols,
                batch,
                self.cols,
                batch,
                self.rows,
                x.len(),
                y.len()
            )));
        }
        Ok(())
    }

    /// `y = x · Wᵀ` for activations already quantized (for this format's rotation).
    pub fn matmul_acts(&self, isa: Isa, acts: &QActs, y: &mut [f32]) -> Result<(), KernelError> {
        self.matmul_acts_on(&RayonPool, isa, acts, y)
    }

    /// [`QMatrix::matmul_acts`] with the row ranges run by `exec`.
    pub fn matmul_acts_on(
        &self,
        exec: &dyn Executor,
        isa: Isa,
        acts: &QActs,
        y: &mut [f32],
    ) -> Result<(), KernelError> {
        if !isa.available() {
            return Err(KernelError::Unsupported(isa.name()));
        }
        let isa = if self.scalar_only { Isa::Scalar } else { isa };
        let batch = acts.batch;
        if acts.cols != self.cols || y.len() != batch * self.rows || batch == 0 {
            return Err(KernelError::Shape(format!(
                "activations of {}×{} against a {}×{} matrix into {} outputs",
                batch,
                acts.cols,
                self.rows,
                self.cols,
                y.len()
            )));
        }
        // Chunks of ≥ 16 rows, about 8 per thread, each its own output slice; one chunk (run
        // on the calling thread, nothing handed over) when there is one thread or too little
        // work to share.
        let threads = exec.threads().max(1);
        let work = self.rows * self.cols * batch;
        let chunk = if threads == 1 || work < exec.min_work() {
            self.rows
        } else {
            (self.rows / (8 * threads)).max(16)
        };
        let all = self.all_rows();
        let run = |r0: usize, out: &mut [f32]| {
            let n = out.len() / batch;
            self.rows_kernel(isa, &all.range(r0, n, self.format), acts, out)
        };
        let compute = |yt: &mut [f32]| {
            if self.rows <= chunk {
                run(0, yt);
            } else {
                // Disjoint output slices behind uncontended locks: each chunk is taken by
                // exactly one thread.
                let parts: Vec<std::sync::Mutex<&mut [f32]>> = yt
                    .chunks_mut(chunk * batch)
                    .map(std::sync::Mutex::new)
                    .collect();
                exec.run(parts.len(), &|range: std::ops::Range<usize>| {
                    for c in range {
                        let mut out = parts[c].lock().unwrap_or_else(|e| e.into_inner());
                        run(c * chunk, &mut out);
                    }
                });
            }
        };
        if batch == 1 {
            compute(y);
        } else {
            // The kernel writes (rows, batch); the caller wants (batch, rows).
            let mut yt = vec![0f32; y.len()];
            compute(&mut yt);
            for r in 0..self.rows {
                for b in 0..batch {
                    y[b * self.rows + r] = yt[r * batch + b];
                }
            }
        }
        Ok(())
    }

    fn rows_kernel(&self, isa: Isa, w: &RowsRef<'_>, acts: &QActs, out: &mut [f32]) {
        match isa {
            Isa::Scalar => scalar::rows(self.format, w, acts, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `matmul_acts` checked `isa.available()` (the CPU has the features);
            // `w` holds `out.len() / batch` whole rows and `acts` has `self.cols` columns,
            // as `rows` requires (it asserts the sizes too).
            Isa::Avx2 => unsafe { x86::avx2::rows(self.format, w, acts, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for the VNNI features.
            Isa::Avx512Vnni => unsafe { x86::vnni::rows(self.format, w, acts, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => scalar::rows(self.format, w, acts, out),
        }
    }
}

/// Whole rows of a [`QMatrix`] as the kernels read them.
#[derive(Clone, Copy, Debug)]
pub struct RowsRef<'a> {
    /// Code bytes, row-major.
    pub qs: &'a [u8],
    /// f16 scale bits per block.
    pub d: &'a [u16],
    /// f16 minimum bits per block (`Q4_1`), else empty.
    pub m: &'a [u16],
    /// Blocks per row.
    pub nb: usize,
}

impl<'a> RowsRef<'a> {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.d.len() / self.nb.max(1)
    }

    /// Rows `r0..r0 + n`.
    fn range(&self, r0: usize, n: usize, format: Format) -> RowsRef<'a> {
        let (b0, b1) = (r0 * self.nb, (r0 + n) * self.nb);
        let cb = format.code_bytes();
        RowsRef {
            qs: &self.qs[b0 * cb..b1 * cb],
            d: &self.d[b0..b1],
            m: if self.m.is_empty() {
                self.m
            } else {
                &self.m[b0..b1]
            },
            nb: self.nb,
        }
    }
}

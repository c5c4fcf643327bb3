//! Linear layers running from a compute format ([`tensorjpeg_kernels::QMatrix`]) through
//! the matmul seam: a decode step (a few rows) multiplies the blocks directly with the
//! integer kernels; a prefill (many rows) dequantizes the matrix into a transient f32 copy
//! and runs candle's gemm, where the dense kernel is faster per value than block decoding.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use tensorjpeg_kernels::{Executor, Format, QMatrix};

use crate::linear::MatMul;
use crate::{Error, Result};

/// What a [`ComputeRule`] gives the tensors it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputeChoice {
    /// This compute format (blocks already in it are kept bit for bit).
    Format(Format),
    /// The file's own blocks, bit for bit (GGUF `Q8_0`/`Q4_0`/`Q4_1` only; an error for
    /// anything else).
    Keep,
}

/// A per-tensor override, `REGEX=FORMAT` or `REGEX=keep`: the first rule whose regex
/// matches a tensor's name decides its format.
#[derive(Clone, Debug)]
pub struct ComputeRule {
    /// The pattern (unanchored, as `compress --rule`).
    pub regex: regex::Regex,
    /// What the matching tensors get.
    pub choice: ComputeChoice,
}

impl std::str::FromStr for ComputeRule {
    type Err = Error;

    fn from_str(s: &str) -> Result<ComputeRule> {
        let (pat, f) = s.rsplit_once('=').ok_or_else(|| {
            Error::Input(format!(
                "--compute-rule {s:?}: expected REGEX=FORMAT or REGEX=keep"
            ))
        })?;
        let regex = regex::Regex::new(pat).map_err(|e| {
            Error::Input(format!(
                "--compute-rule {s:?}: {pat:?} is not a valid regex: {e}"
            ))
        })?;
        let choice = if f.eq_ignore_ascii_case("keep") {
            ComputeChoice::Keep
        } else {
            ComputeChoice::Format(
                Format::parse(f).map_err(|e| Error::Input(format!("--compute-rule {s:?}: {e}")))?,
            )
        };
        Ok(ComputeRule { regex, choice })
    }
}

/// How the loader turns weights into compute-format matrices.
#[derive(Clone, Debug)]
pub struct ComputeSpec {
    /// The format of every matrix that is not already in a GGUF block type the compute
    /// formats hold bit for bit.
    pub format: Format,
    /// Keep GGUF `Q8_0`/`Q4_0`/`Q4_1` tensors in their own format, bit for bit (otherwise
    /// they are dequantized and re-quantized to `format`).
    pub keep_gguf: bool,
    /// Rows at or above which a product dequantizes and runs the dense gemm.
    pub dense_from_rows: usize,
    /// Each linear layer's input second moment `E[xxᵀ]` by tensor name (a calibration,
    /// [`crate::calibrate::calibrate_lm`]): matrices quantized into the compute format
    /// (re-quantized or from f32) then use error feedback (GPTQ,
    /// `QMatrix::quantize_feedback`) and minimise the layer's output error instead of the
    /// weights' own. Blocks kept bit for bit are not touched.
    pub feedback: Option<Arc<HashMap<String, Arc<tensorjpeg::Gram>>>>,
    /// With [`ComputeSpec::feedback`]: use only each layer's `E[xⱼ²]` as per-column
    /// importance in the block encoder (llama.cpp's importance matrix) instead of error
    /// feedback. The rotated formats refuse it (their columns are mixed within a block).
    pub diagonal_only: bool,
    /// Per-tensor overrides, first match wins ([`ComputeRule`]).
    pub rules: Vec<ComputeRule>,
}

impl Default for ComputeSpec {
    fn default() -> Self {
        ComputeSpec {
            format: Format::Q4_1,
            keep_gguf: true,
            dense_from_rows: 16,
            feedback: None,
            diagonal_only: false,
            rules: Vec::new(),
        }
    }
}

impl ComputeSpec {
    /// Parses `FORMAT[,requant][,dense=N]`: e.g. `q4_1`, `nl4h,requant`.
    pub fn parse(s: &str) -> Result<ComputeSpec> {
        let mut spec = ComputeSpec::default();
        let mut parts = s.split(',');
        let f = parts.next().unwrap_or("");
        spec.format = Format::parse(f).map_err(|e| Error::Input(e.to_string()))?;
        for p in parts {
            if p == "requant" {
                spec.keep_gguf = false;
            } else if let Some(n) = p.strip_prefix("dense=") {
                spec.dense_from_rows = n.parse().map_err(|_| {
                    Error::Input(format!("--compute {s:?}: dense=N needs a row count"))
                })?;
            } else {
                return Err(Error::Input(format!(
                    "--compute {s:?}: unknown option {p:?} (FORMAT[,requant][,dense=N])"
                )));
            }
        }
        Ok(spec)
    }

    /// The compute format GGUF type `t` converts into bit for bit, if any.
    pub fn exact_format(t: GgmlDType) -> Option<Format> {
        match t {
            GgmlDType::Q8_0 => Some(Format::Q8_0),
            GgmlDType::Q4_0 => Some(Format::Q4_0),
            GgmlDType::Q4_1 => Some(Format::Q4_1),
            _ => None,
        }
    }

    /// What the first rule naming `name` gives it, if any.
    fn rule(&self, name: &str) -> Option<ComputeChoice> {
        self.rules
            .iter()
            .find(|r| r.regex.is_match(name))
            .map(|r| r.choice)
    }

    /// The format `name`'s GGUF blocks of type `t` are kept in bit for bit
    /// ([`ComputeSpec::from_qtensor`]), or `None` if they are re-quantized; an error if a
    /// `keep` rule names blocks no compute format holds.
    pub fn kept_format(&self, name: &str, t: GgmlDType) -> Result<Option<Format>> {
        let own = Self::exact_format(t);
        Ok(match (self.rule(name), own) {
            (Some(ComputeChoice::Keep), None) => {
                return Err(Error::Input(format!(
                    "{name}: --compute-rule keeps it, but its {t:?} blocks are no compute format (keep takes Q8_0, Q4_0, Q4_1)"
                )))
            }
            (Some(ComputeChoice::Keep), Some(f)) => Some(f),
            (Some(ComputeChoice::Format(f)), Some(o)) if f == o => Some(f),
            (Some(ComputeChoice::Format(_)), _) => None,
            (None, o) => o.filter(|_| self.keep_gguf),
        })
    }

    /// A GGUF tensor `(out, in)` as a compute-format matrix: its own blocks where a rule
    /// says `keep` or names their own format, or no rule names it and
    /// [`ComputeSpec::keep_gguf`]; else dequantized and quantized into the rule's format or
    /// [`ComputeSpec::format`].
    pub fn from_qtensor(&self, name: &str, q: &QTensor) -> Result<QMatrix> {
        let (out, inp) = q.shape().dims2()?;
        let named = |e: tensorjpeg_kernels::KernelError| Error::Input(format!("{name}: {e}"));
        if let Some(f) = self.kept_format(name, q.dtype())? {
            let bytes = q.data()?.into_owned();
            return QMatrix::from_blocks(f, out, inp, bytes).map_err(named);
        }
        let v: Vec<f32> = q.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1()?;
        self.from_f32(name, &v, out, inp)
    }

    /// f32 values `(out, in)` as a compute-format matrix, in the format a rule names or
    /// [`ComputeSpec::format`] (with error feedback where [`ComputeSpec::feedback`] holds the
    /// layer's statistics). A `keep` rule is an error here: f32 values have no blocks.
    pub fn from_f32(&self, name: &str, w: &[f32], out: usize, inp: usize) -> Result<QMatrix> {
        let named = |e: tensorjpeg_kernels::KernelError| Error::Input(format!("{name}: {e}"));
        let format = match self.rule(name) {
            None => self.format,
            Some(ComputeChoice::Format(f)) => f,
            Some(ComputeChoice::Keep) => {
                return Err(Error::Input(format!(
                    "{name}: --compute-rule keeps it, but it is held as f32 values here, not as blocks (name a compute format instead)"
                )))
            }
        };
        let gram = self
            .feedback
            .as_ref()
            .and_then(|f| f.get(name))
            // A row length the formats cannot take gets no factor (the rotation needs whole
            // blocks); `QMatrix::quantize` then names the shape.
            .filter(|g| g.dim() == inp && inp.is_multiple_of(tensorjpeg_kernels::BLOCK));
        match gram {
            Some(_) if self.diagonal_only && format.rotated() => Err(Error::Input(format!(
                "{name}: the importance-matrix mode weights columns, which {format} rotates \
                 together within each block; use gptq for the rotated formats"
            ))),
            Some(g) if self.diagonal_only => {
                let imp: Vec<f32> = g.diagonal().iter().map(|&d| d as f32).collect();
                QMatrix::quantize(w, out, inp, format, Some(&imp)).map_err(named)
            }
            Some(g) => {
                let u = feedback_factor(g, format.rotated())
                    .map_err(|e| Error::Input(format!("{name}: {e}")))?;
                QMatrix::quantize_feedback(w, out, inp, format, &u).map_err(named)
            }
            None => QMatrix::quantize(w, out, inp, format, None).map_err(named),
        }
    }
}

/// The factor `U` (`UᵀU = (H + λ·D)⁻¹`) error feedback runs through, for inputs with
/// second moment `g` (rotated by the formats' block rotation first if `rotated`). The
/// damping `D = diag(max(Hⱼⱼ, median Hⱼⱼ))` is relative to each column's own `E[xⱼ²]`, so a
/// few outlier features cannot swamp the ordinary ones, but never below the median column's
/// (computed as the codec crate's factor in the domain scaled by `cⱼ = √Dⱼⱼ`, `λ` its
/// damping, then scaled back: `U = U'·C⁻¹`).
pub fn feedback_factor(g: &tensorjpeg::Gram, rotated: bool) -> tensorjpeg::Result<Vec<f32>> {
    let n = g.dim();
    let g = if rotated {
        let mut h = g.values().to_vec();
        tensorjpeg_kernels::hadamard::rotate_gram(&mut h, n);
        // Symmetric again up to rounding; Gram::new checks it.
        for i in 0..n {
            for j in 0..i {
                let m = 0.5 * (h[i * n + j] + h[j * n + i]);
                h[i * n + j] = m;
                h[j * n + i] = m;
            }
        }
        std::borrow::Cow::Owned(tensorjpeg::Gram::new(n, h)?)
    } else {
        std::borrow::Cow::Borrowed(g)
    };
    // Damping floor: a column whose input is rarer than the median column's is damped as
    // the median one is, so the weights of features the calibration text barely excites
    // cannot soak up the other columns' errors (without it, SmolLM2's first attention
    // layers fell to 5 dB weight SNR under nl4 and held-out perplexity rose elevenfold).
    let diag = g.diagonal();
    let mut sorted: Vec<f64> = diag.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(n / 2).copied().unwrap_or(1.0);
    let floor = if median > 0.0 { median } else { 1.0 };
    let c: Vec<f32> = diag.iter().map(|&d| d.max(floor).sqrt() as f32).collect();
    let mut u = g.inverse_factor(Some(&c))?;
    for row in u.chunks_exact_mut(n) {
        for (x, &ck) in row.iter_mut().zip(&c) {
            *x /= ck;
        }
    }
    Ok(u)
}

/// Threads the runtime computes with (candle's count: `RAYON_NUM_THREADS`, else the physical
/// cores).
pub fn threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// Runs the kernels' row chunks on candle's barrier pool: threads that spin between the
/// operations of a step (candle's element-wise ops use them too), so handing a product of a
/// few microseconds to them costs far less than waking a sleeping rayon thread.
pub struct CandleThreads;

impl Executor for CandleThreads {
    fn threads(&self) -> usize {
        candle_core::utils::barrier_pool().n_workers() + 1
    }

    fn min_work(&self) -> usize {
        1 << 16
    }

    fn run(&self, n: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
        candle_core::utils::barrier_pool().execute_chunked(n, f);
    }
}

/// A [`MatMul`] over a compute-format matrix.
pub struct ComputeMatMul {
    m: Arc<QMatrix>,
    dense_from_rows: usize,
}

impl ComputeMatMul {
    /// Wraps `m`; products of `dense_from_rows` rows or more go through a dense copy.
    pub fn new(m: QMatrix, dense_from_rows: usize) -> Arc<Self> {
        Self::shared(Arc::new(m), dense_from_rows)
    }

    /// [`ComputeMatMul::new`] over a matrix held elsewhere too (a tied head's blocks, which
    /// the input embedding lookup reads as well).
    pub fn shared(m: Arc<QMatrix>, dense_from_rows: usize) -> Arc<Self> {
        Arc::new(ComputeMatMul {
            m,
            dense_from_rows: dense_from_rows.max(1),
        })
    }

    /// The matrix.
    pub fn matrix(&self) -> &QMatrix {
        &self.m
    }
}

impl MatMul for ComputeMatMul {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (rows, cols) = (self.m.rows(), self.m.cols());
        let dims = x.dims().to_vec();
        let inp = *dims.last().unwrap_or(&0);
        if inp != cols {
            return Err(Error::Input(format!(
                "a product of a {rows}×{cols} {} matrix with inputs of width {inp}",
                self.m.format()
            )));
        }
        let lead: usize = dims[..dims.len() - 1].iter().product();
        let mut od = dims.clone();
        *od.last_mut().expect("at least one dim") = rows;
        if lead >= self.dense_from_rows {
            let w = Tensor::from_vec(self.m.dequantize(), (rows, cols), &Device::Cpu)?;
            let y = x.reshape((lead, cols))?.matmul(&w.t()?)?;
            return Ok(y.reshape(od)?);
        }
        let xv: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let mut y = vec![0f32; lead * rows];
        self.m
            .matmul_on(&CandleThreads, self.m.isa(), &xv, lead, &mut y)
            .map_err(|e| Error::Input(e.to_string()))?;
        Ok(Tensor::from_vec(y, od, &Device::Cpu)?)
    }

    fn shape(&self) -> (usize, usize) {
        (self.m.rows(), self.m.cols())
    }

    fn kind(&self) -> String {
        format!("compute:{}", self.m.format())
    }
}

//! Linear layers running from a compute format ([`tensorjpeg_kernels::QMatrix`]) through
//! the matmul seam: a decode step (a few rows) multiplies the blocks directly with the
//! integer kernels; a prefill (many rows) dequantizes the matrix into a transient f32 copy
//! and runs candle's gemm, where the dense kernel is faster per value than block decoding.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use tensorjpeg_kernels::{Executor, Format, QMatrix};

use crate::linear::MatMul;
use crate::{Error, Result};

/// How the loader turns weights into compute-format matrices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComputeSpec {
    /// The format of every matrix that is not already in a GGUF block type the compute
    /// formats hold bit for bit.
    pub format: Format,
    /// Keep GGUF `Q8_0`/`Q4_0`/`Q4_1` tensors in their own format, bit for bit (otherwise
    /// they are dequantized and re-quantized to `format`).
    pub keep_gguf: bool,
    /// Rows at or above which a product dequantizes and runs the dense gemm.
    pub dense_from_rows: usize,
}

impl Default for ComputeSpec {
    fn default() -> Self {
        ComputeSpec {
            format: Format::Q4_1,
            keep_gguf: true,
            dense_from_rows: 16,
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

    /// A GGUF tensor `(out, in)` as a compute-format matrix: its own blocks where
    /// [`ComputeSpec::keep_gguf`] and the type allows, else dequantized and quantized.
    pub fn from_qtensor(&self, name: &str, q: &QTensor) -> Result<QMatrix> {
        let (out, inp) = q.shape().dims2()?;
        let named = |e: tensorjpeg_kernels::KernelError| Error::Input(format!("{name}: {e}"));
        if let (true, Some(f)) = (self.keep_gguf, Self::exact_format(q.dtype())) {
            let bytes = q.data()?.into_owned();
            return QMatrix::from_blocks(f, out, inp, bytes).map_err(named);
        }
        let v: Vec<f32> = q.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1()?;
        QMatrix::quantize(&v, out, inp, self.format, None).map_err(named)
    }

    /// f32 values `(out, in)` as a compute-format matrix.
    pub fn from_f32(&self, name: &str, w: &[f32], out: usize, inp: usize) -> Result<QMatrix> {
        QMatrix::quantize(w, out, inp, self.format, None)
            .map_err(|e| Error::Input(format!("{name}: {e}")))
    }
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
    m: QMatrix,
    dense_from_rows: usize,
}

impl ComputeMatMul {
    /// Wraps `m`; products of `dense_from_rows` rows or more go through a dense copy.
    pub fn new(m: QMatrix, dense_from_rows: usize) -> Arc<Self> {
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

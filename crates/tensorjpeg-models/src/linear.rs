//! The matmul seam: every weight matrix of the models is a [`Linear`], which is dense f32,
//! candle-quantized (GGUF blocks through [`QMatMul`]), or any [`MatMul`] implementation —
//! the place where a compressed-domain kernel replaces the dense product.

use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Module, Tensor};

use crate::recorder::Recorder;
use crate::Result;

/// A matrix product `y = x · Wᵀ` by some kernel. `x` is `(..., in)`, `y` is `(..., out)`.
pub trait MatMul: Send + Sync {
    /// Applies the product.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
    /// `(out, in)`.
    fn shape(&self) -> (usize, usize);
    /// A short description for reports (`f32`, `q4_1`, `native@bits=4`, ...).
    fn kind(&self) -> String;
}

/// A weight matrix `(out, in)` with an optional bias `(out)`.
#[derive(Clone)]
pub struct Linear {
    kernel: Kernel,
    bias: Option<Tensor>,
    /// Records the inputs during a calibration run: the weight's name and the recorder.
    tap: Option<(String, Arc<Recorder>)>,
}

#[derive(Clone)]
enum Kernel {
    /// The transposed weight `(in, out)`, contiguous: gemm reads it without re-packing a
    /// strided view on every call (which cost ~30 % of batched decoding).
    Dense(Tensor),
    Quant(Arc<QMatMul>, (usize, usize), String),
    Custom(Arc<dyn MatMul>),
}

impl Linear {
    /// Dense f32 weight `(out, in)`.
    pub fn dense(w: Tensor, bias: Option<Tensor>) -> Result<Self> {
        let wt = w.t()?.contiguous()?;
        Ok(Linear {
            kernel: Kernel::Dense(wt),
            bias,
            tap: None,
        })
    }

    /// A GGUF-quantized weight, multiplied without dequantizing (candle's quantized kernels).
    pub fn quantized(q: QTensor, bias: Option<Tensor>) -> Result<Self> {
        let dims = q.shape().dims2()?;
        let kind = format!("{:?}", q.dtype()).to_lowercase();
        Ok(Linear {
            kernel: Kernel::Quant(Arc::new(QMatMul::from_qtensor(q)?), dims, kind),
            bias,
            tap: None,
        })
    }

    /// Any kernel.
    pub fn custom(k: Arc<dyn MatMul>, bias: Option<Tensor>) -> Self {
        Linear {
            kernel: Kernel::Custom(k),
            bias,
            tap: None,
        }
    }

    /// Records every input of [`Linear::forward`] into `recorder` under `name` (the weight
    /// tensor's name) until [`Linear::untap`]: a calibration run's `E[xⱼ²]`.
    pub fn tap(&mut self, name: &str, recorder: Arc<Recorder>) {
        self.tap = Some((name.to_string(), recorder));
    }

    /// Stops recording.
    pub fn untap(&mut self) {
        self.tap = None;
    }

    /// `(out, in)`.
    pub fn shape(&self) -> Result<(usize, usize)> {
        Ok(match &self.kernel {
            Kernel::Dense(wt) => {
                let (i, o) = wt.dims2()?;
                (o, i)
            }
            Kernel::Quant(_, d, _) => *d,
            Kernel::Custom(k) => k.shape(),
        })
    }

    /// What computes the product.
    pub fn kind(&self) -> String {
        match &self.kernel {
            Kernel::Dense(_) => "f32".into(),
            Kernel::Quant(_, _, k) => k.clone(),
            Kernel::Custom(k) => k.kind(),
        }
    }

    /// The dense weight `(out, in)` (a transposed view), if this is a dense layer.
    pub fn weight(&self) -> Option<Tensor> {
        match &self.kernel {
            Kernel::Dense(wt) => wt.t().ok(),
            _ => None,
        }
    }

    /// `x · Wᵀ + b` for `x` of shape `(..., in)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some((name, rec)) = &self.tap {
            let inp = *x.dims().last().unwrap_or(&0);
            let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
            rec.record(name, &v, inp)?;
        }
        let y = match &self.kernel {
            Kernel::Dense(wt) => {
                let (inp, out) = wt.dims2()?;
                let dims = x.dims().to_vec();
                let lead: usize = dims[..dims.len() - 1].iter().product();
                let x2 = x.reshape((lead, inp))?;
                let y = x2.matmul(wt)?;
                let mut od = dims;
                *od.last_mut().expect("at least one dim") = out;
                y.reshape(od)?
            }
            Kernel::Quant(q, _, _) => q.forward(x)?,
            Kernel::Custom(k) => k.forward(x)?,
        };
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn dense_matches_a_scalar_product() {
        let dev = Device::Cpu;
        let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
        let x: Vec<f32> = (0..8).map(|i| (i as f32).sin()).collect();
        let lin = Linear::dense(
            Tensor::from_vec(w.clone(), (3, 4), &dev).unwrap(),
            Some(Tensor::new(&[1f32, 2.0, 3.0], &dev).unwrap()),
        )
        .unwrap();
        let y = lin
            .forward(&Tensor::from_vec(x.clone(), (1, 2, 4), &dev).unwrap())
            .unwrap();
        assert_eq!(y.dims(), &[1, 2, 3]);
        let y: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        for t in 0..2 {
            for o in 0..3 {
                let want: f32 =
                    (0..4).map(|i| w[o * 4 + i] * x[t * 4 + i]).sum::<f32>() + (o + 1) as f32;
                assert!((y[t * 3 + o] - want).abs() < 1e-5);
            }
        }
    }
}

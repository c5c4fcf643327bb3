//! `SignalBasis`: seed 002's machine-oriented signal codec (wavelet packets + a fitted
//! projection + quantized latents + lossless coding) for arrays of shape `[C, n_1, …]`.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tensorjpeg::signal::basis::SignalBasis as Basis;
use tensorjpeg::signal::codec::{self, LatentCoder, Quantizer};

use crate::errors::{InvalidArgumentError, OrPy};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SignalBasis>()?;
    Ok(())
}

/// A fitted signal basis: WPT levels and a PCA projection of the sub-band channels.
#[pyclass(module = "tensorjpeg._native")]
pub struct SignalBasis {
    b: Basis,
}

fn owned(x: &PyReadonlyArrayDyn<'_, f32>) -> PyResult<(Vec<f32>, Vec<usize>)> {
    let v = x
        .as_slice()
        .map_err(|_| InvalidArgumentError::new_err("the array must be C-contiguous"))?;
    Ok((v.to_vec(), x.shape().to_vec()))
}

#[pymethods]
impl SignalBasis {
    /// Fits on training signals (each `[C, n…]`, the same `C` and dimensionality) with
    /// `levels` WPT levels and `channels` latent channels (default: all).
    #[staticmethod]
    #[pyo3(signature = (signals, levels = 3, channels = None))]
    fn fit(
        py: Python<'_>,
        signals: Vec<PyReadonlyArrayDyn<'_, f32>>,
        levels: usize,
        channels: Option<usize>,
    ) -> PyResult<SignalBasis> {
        let data = signals.iter().map(owned).collect::<PyResult<Vec<_>>>()?;
        let b = py
            .detach(|| {
                let refs: Vec<(&[f32], &[usize])> = data
                    .iter()
                    .map(|(v, s)| (v.as_slice(), s.as_slice()))
                    .collect();
                let first = refs.first().map(|(_, s)| *s);
                let all = first.map_or(0, |s| s[0] * (1usize << (levels * (s.len() - 1))));
                Basis::fit(&refs, levels, channels.unwrap_or(all))
            })
            .py()?;
        Ok(SignalBasis { b })
    }

    /// Encodes a signal with a uniform quantizer of step `step` (latent units) and the
    /// rANS latent coder; returns the signal file's bytes.
    #[pyo3(signature = (x, step))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        step: f32,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (v, shape) = owned(&x)?;
        let b = &self.b;
        let out = py
            .detach(|| {
                codec::encode(
                    b,
                    &v,
                    &shape,
                    Quantizer::Uniform { step },
                    LatentCoder::Rans,
                )
            })
            .py()?;
        Ok(PyBytes::new(py, &out))
    }

    /// Decodes a signal file written with this basis.
    fn decode<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        let b = &self.b;
        let (v, shape) = py.detach(|| codec::decode(b, data)).py()?;
        Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any())
    }

    /// The latents of a signal (`[k, m…]`, float32), before quantization.
    fn latents<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (v, shape) = owned(&x)?;
        let b = &self.b;
        let (z, cshape) = py.detach(|| b.encode_latents(&v, &shape)).py()?;
        let mut zshape = vec![self.b.k()];
        zshape.extend_from_slice(&cshape[1..]);
        Ok(PyArray1::from_vec(py, z).reshape(zshape)?.into_any())
    }

    /// The basis as bytes (the `.tjb` file of `tensorjpeg signal fit`).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.b.to_bytes())
    }

    /// Reads a basis from bytes.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<SignalBasis> {
        Ok(SignalBasis {
            b: Basis::from_bytes(data).py()?,
        })
    }

    /// Latent channels `k`.
    #[getter]
    fn channels(&self) -> usize {
        self.b.k()
    }

    fn __repr__(&self) -> String {
        format!(
            "SignalBasis({} levels, {} latent channels of {} sub-bands)",
            self.b.levels,
            self.b.k(),
            self.b.subbands()
        )
    }
}

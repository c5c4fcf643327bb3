//! Tensors: `compress` / `decompress` of arrays, `compress_file` / `decompress_file` of
//! .safetensors, .npy and .gguf files, `inspect`.

use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::json;
use tensorjpeg::container::{is_container, Container};
use tensorjpeg::pipeline::{compress_with, Options};
use tensorjpeg::{Data, Rate, Tensor};
use tensorjpeg_eval::plan::{Allocation, PlanConfig, Rule};
use tensorjpeg_eval::report::compress::CompressRun;

use crate::errors::{InvalidArgumentError, OrPy};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(compress_file, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_file, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    Ok(())
}

/// The rate of a spec such as `bits=4`; the empty string is the codec's default.
fn rate(spec: &str) -> PyResult<Rate> {
    if spec.is_empty() {
        Ok(Rate::Default)
    } else {
        Rate::parse(spec).py()
    }
}

/// Compresses one C-contiguous float32 array into a container; returns its bytes and the
/// report as JSON (with `measure`, also the SNR, maximum and mean squared error of the
/// decoded values, which costs a decode).
#[pyfunction]
fn compress<'py>(
    py: Python<'py>,
    array: PyReadonlyArrayDyn<'py, f32>,
    codec: &str,
    rate_spec: &str,
    name: &str,
    measure: bool,
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    let shape = array.shape().to_vec();
    let values = array
        .as_slice()
        .map_err(|_| InvalidArgumentError::new_err("the array must be C-contiguous"))?
        .to_vec();
    let opts = Options {
        codec: codec.to_string(),
        rate: rate(rate_spec)?,
    };
    let name = name.to_string();
    let (bytes, report) = py.detach(move || -> PyResult<(Vec<u8>, String)> {
        let t = Tensor::from_f32(name, shape, values).py()?;
        let registry = tensorjpeg_io::registry();
        let t0 = std::time::Instant::now();
        let out = compress_with(
            std::slice::from_ref(&t),
            &opts,
            &registry,
            &|t| t.dtype.is_float(),
            &|_| {},
        )
        .py()?;
        let run = CompressRun {
            input: Path::new("<array>"),
            output: Path::new("<bytes>"),
            codec: &opts.codec,
            rate: format!("{:?}", opts.rate),
            allocation: "per-tensor",
            tensors: std::slice::from_ref(&t),
            report: &out.report,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let mut report = run.json();
        if !measure {
            return Ok((out.bytes, report.to_string()));
        }
        // What a user asks of a lossy result: measured on the decoded values.
        let back = tensorjpeg::decompress_with(&out.bytes, &registry).py()?;
        if let (Some(orig), Some(got)) = (t.values(), back.first().and_then(|b| b.values())) {
            let cols = t.shape.last().copied().unwrap_or(1).max(1);
            let st = tensorjpeg::metrics::compare(orig, got, cols);
            report["snr_db"] = json!(st.snr_db());
            report["max_abs_error"] = json!(st.max_abs_error);
            report["mse"] = json!(st.mse());
        }
        Ok((out.bytes, report.to_string()))
    })?;
    Ok((PyBytes::new(py, &bytes), report))
}

/// A decoded tensor for Python: `(name, array, dtype, shape)`; a float tensor is a float32
/// array that owns the decoded buffer, any other is `(name, bytes, dtype, shape)`.
type PyTensor = (String, Py<PyAny>, String, Vec<usize>);

fn to_python(py: Python<'_>, t: Tensor) -> PyResult<PyTensor> {
    let dtype = t.dtype.name().to_string();
    let obj = match t.data {
        Data::F32(v) => {
            // The Vec moves into numpy (no copy); reshaping a contiguous array is a view.
            let a = PyArray1::from_vec(py, v);
            a.reshape(t.shape.clone())?.into_any().unbind()
        }
        Data::Raw(b) => PyBytes::new(py, &b).into_any().unbind(),
    };
    Ok((t.name, obj, dtype, t.shape))
}

/// Decodes every tensor of a container.
#[pyfunction]
fn decompress(py: Python<'_>, data: &[u8]) -> PyResult<Vec<PyTensor>> {
    let tensors = py
        .detach(|| tensorjpeg::decompress_with(data, &tensorjpeg_io::registry()))
        .py()?;
    tensors.into_iter().map(|t| to_python(py, t)).collect()
}

/// Compresses a tensor file by a plan, like `tensorjpeg compress`; returns its JSON report.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn compress_file(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    codec: &str,
    rate_spec: &str,
    rules: Vec<String>,
    allocation: &str,
    include: Option<String>,
    exclude: Option<String>,
    min_ndim: Option<usize>,
    calibration: Option<PathBuf>,
) -> PyResult<String> {
    let rules = rules
        .iter()
        .map(|r| r.parse::<Rule>())
        .collect::<anyhow::Result<Vec<_>>>()
        .py()?;
    let allocation = <Allocation as clap::ValueEnum>::from_str(allocation, true)
        .map_err(|e| InvalidArgumentError::new_err(format!("allocation: {e}")))?;
    let cfg = PlanConfig::from_flags(
        codec,
        rate(rate_spec)?,
        (include.as_deref(), exclude.as_deref(), min_ndim),
        rules,
        allocation,
    )
    .py()?;
    let r = py
        .detach(|| {
            tensorjpeg_eval::files::compress_file(
                &input,
                &output,
                &cfg,
                calibration.as_deref(),
                &tensorjpeg_eval::Silent,
            )
        })
        .py()?;
    Ok(r.json.to_string())
}

/// Decodes a container into a .safetensors or .npy file (by extension), or restores a
/// repacked .tjgguf to its GGUF file; returns a JSON summary.
#[pyfunction]
fn decompress_file(py: Python<'_>, input: PathBuf, output: PathBuf) -> PyResult<String> {
    py.detach(|| -> anyhow::Result<String> {
        tensorjpeg_io::check_output(&output, &[&input])?;
        let bytes = tensorjpeg_io::read_file(&input)?;
        if tensorjpeg_io::is_repacked(&bytes) {
            let gguf = tensorjpeg_io::unpack_gguf(&input, &bytes)?;
            tensorjpeg_io::write_atomic(&output, &gguf)?;
            return Ok(
                json!({"input": input, "output": output, "kind": "repacked GGUF",
                             "bytes": gguf.len()})
                .to_string(),
            );
        }
        if !is_container(&bytes) {
            anyhow::bail!(
                "{}: not a tensorjpeg container (bad magic number) nor a repacked GGUF",
                input.display()
            );
        }
        let tensors = tensorjpeg::decompress_with(&bytes, &tensorjpeg_io::registry())?;
        tensorjpeg_io::write_tensors(&output, &tensors)?;
        Ok(
            json!({"input": input, "output": output, "kind": "tensorjpeg container",
                  "tensors": tensors.len()})
            .to_string(),
        )
    })
    .py()
}

/// What a file holds, as JSON: a container's entries, an embedding index's summary, or a
/// tensor file's tensors.
#[pyfunction]
fn inspect(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    py.detach(|| -> anyhow::Result<String> {
        let bytes = tensorjpeg_io::read_file(&path)?;
        if is_container(&bytes) {
            let c = Container::open(&bytes)
                .map_err(|e| tensorjpeg_io::Error::format(&path, e.to_string()))?;
            let entries: Vec<_> = c
                .entries
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name, "dtype": e.dtype.name(), "shape": e.shape,
                        "codec": e.storage().to_string(), "bytes": e.stored_bytes(),
                        "bits_per_value": e.stored_bytes() as f64 * 8.0 / e.numel().max(1) as f64,
                        "exceptions": e.exceptions.len(),
                    })
                })
                .collect();
            return Ok(json!({"file": path, "kind": "tensorjpeg container",
                             "file_bytes": c.file_bytes, "tensors": entries})
            .to_string());
        }
        if tensorjpeg::framing::EMBEDDING_INDEX.is(&bytes) {
            let c = tensorjpeg::vectors::collection::Collection::from_bytes(&bytes)
                .map_err(|e| tensorjpeg_io::Error::format(&path, e.to_string()))?;
            return Ok(tensorjpeg_io::index::summary(&c, bytes.len()).to_string());
        }
        let tensors = tensorjpeg_io::read_tensors(&path)?;
        let list: Vec<_> = tensors
            .iter()
            .map(|t| json!({"name": t.name, "dtype": t.dtype.name(), "shape": t.shape}))
            .collect();
        Ok(
            json!({"file": path, "kind": "tensor file", "file_bytes": bytes.len(),
                  "tensors": list})
            .to_string(),
        )
    })
    .py()
}

//! Weights through the codec: load a model's tensors with some of them compressed →
//! decompressed on load, or replaced by the tensors of a tensorjpeg container.
//!
//! [`WeightOptions`] is shared by every model loader; [`Weights`] is the name → tensor map
//! that BERT and GPT-2 build from (GGUF models are loaded in [`crate::llama`] with the same
//! options, keeping unselected weights quantized).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use regex::Regex;
use tensorjpeg::Rate;

use crate::{Error, Result};

/// How weights are altered on load.
#[derive(Clone, Default)]
pub struct WeightOptions {
    /// Compress → decompress the selected weights with this codec spec and rate.
    pub codec: Option<(String, Rate)>,
    /// Which tensors the codec applies to (default: every tensor with ≥ 2 dimensions).
    pub include: Option<Regex>,
    /// Tensors whose names match are never altered.
    pub exclude: Option<Regex>,
    /// A tensorjpeg container (or safetensors file) whose tensors replace the model's
    /// tensors of the same name (shapes must agree).
    pub container: Option<PathBuf>,
    /// GGUF only: dequantize every weight to f32 instead of multiplying quantized.
    pub dequantize: bool,
    /// Run every linear layer (and the output head) from a compute format with the
    /// integer kernels of `tensorjpeg-kernels` (takes precedence over `dequantize` for
    /// matrices; weights a codec or replacement alters are quantized after it).
    pub compute: Option<crate::compute::ComputeSpec>,
}

/// What a codec did to one weight.
#[derive(Debug, Clone)]
pub struct WeightReport {
    /// Tensor name.
    pub name: String,
    /// All-in bits per value stored.
    pub bits_per_value: f64,
    /// SNR of the reconstruction, dB.
    pub snr_db: f64,
}

impl WeightOptions {
    /// Whether the codec applies to tensor `name` of `ndim` dimensions.
    pub fn selects(&self, name: &str, ndim: usize) -> bool {
        if self.exclude.as_ref().is_some_and(|r| r.is_match(name)) {
            return false;
        }
        match &self.include {
            Some(r) => r.is_match(name),
            None => ndim >= 2,
        }
    }

    /// Passes `values` (shape `shape`) through the codec if one is set and the tensor is
    /// selected; returns the report if it did.
    pub fn apply(
        &self,
        name: &str,
        shape: &[usize],
        values: &mut [f32],
    ) -> Result<Option<WeightReport>> {
        let Some((spec, rate)) = &self.codec else {
            return Ok(None);
        };
        if !self.selects(name, shape.len()) {
            return Ok(None);
        }
        let t = tensorjpeg::Tensor::from_f32(name, shape.to_vec(), values.to_vec())?;
        let opts = tensorjpeg::Options {
            codec: spec.clone(),
            rate: *rate,
        };
        let c = tensorjpeg::pipeline::compress_with(
            std::slice::from_ref(&t),
            &opts,
            &tensorjpeg_io::registry(),
            &|_| true,
            &|_| {},
        )?;
        let back = tensorjpeg::decompress_with(&c.bytes, &tensorjpeg_io::registry())?;
        let v = back[0]
            .values()
            .ok_or_else(|| Error::Input(format!("{name}: codec returned no float values")))?;
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (&x, &y) in values.iter().zip(v) {
            s += (x as f64).powi(2);
            e += (x as f64 - y as f64).powi(2);
        }
        values.copy_from_slice(v);
        let bytes: usize = c.report.tensors.iter().map(|r| r.stored_bytes).sum();
        Ok(Some(WeightReport {
            name: name.to_string(),
            bits_per_value: bytes as f64 * 8.0 / values.len().max(1) as f64,
            snr_db: 10.0 * (s / e.max(1e-300)).log10(),
        }))
    }

    /// The replacement tensors from [`WeightOptions::container`] (none without one).
    pub fn replacements(&self) -> Result<Replacements> {
        let Some(path) = &self.container else {
            return Ok(Replacements::default());
        };
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let tensors = if tensorjpeg::container::is_container(&bytes) {
            tensorjpeg::decompress_with(&bytes, &tensorjpeg_io::registry())
                .map_err(|e| Error::format(path, e.to_string()))?
        } else {
            tensorjpeg_io::read_tensors(path)?
        };
        Ok(Replacements {
            source: path.clone(),
            map: tensors.into_iter().map(|t| (t.name.clone(), t)).collect(),
        })
    }
}

/// Tensors of a container waiting to replace the model's tensors of the same names.
#[derive(Default)]
pub struct Replacements {
    source: PathBuf,
    map: HashMap<String, tensorjpeg::Tensor>,
}

impl Replacements {
    /// Whether `name` will be replaced.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The values replacing tensor `name` of shape `shape` (an error if the shapes differ
    /// or the replacement is not a float tensor); `None` if it is not replaced.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Option<Vec<f32>>> {
        let Some(r) = self.map.remove(name) else {
            return Ok(None);
        };
        if r.shape != shape {
            return Err(Error::tensor(
                &self.source,
                name,
                format!(
                    "shape {:?} in the model but {:?} in the replacement container",
                    shape, r.shape
                ),
            ));
        }
        let v = r.values().ok_or_else(|| {
            Error::tensor(&self.source, name, "replacement is not a float tensor")
        })?;
        Ok(Some(v.to_vec()))
    }

    /// Errors if a replacement was left unused: it names no tensor of the model at `model`.
    pub fn finish(&self, model: &Path) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(extra) => Err(Error::tensor(
                &self.source,
                extra,
                format!("not a tensor of the model {}", model.display()),
            )),
        }
    }
}

/// A model's tensors as f32 candle tensors, by name, with the file they came from.
pub struct Weights {
    /// The file.
    pub path: PathBuf,
    map: HashMap<String, Tensor>,
    /// What the codec did, per altered tensor.
    pub reports: Vec<WeightReport>,
}

impl Weights {
    /// Reads a safetensors (or .npy/.gguf, dequantized) file and applies `opts`.
    pub fn load(path: &Path, opts: &WeightOptions) -> Result<Self> {
        let tensors = tensorjpeg_io::read_tensors(path)?;
        let mut repl = opts.replacements()?;
        let mut map = HashMap::new();
        let mut reports = Vec::new();
        for t in tensors {
            let name = t.name.clone();
            let shape = t.shape.clone();
            let Some(v) = t.values() else {
                // Integer tensors (e.g. position ids) are not weights; a whole-model
                // container carries them too, stored verbatim.
                repl.map.remove(&name);
                continue;
            };
            let mut values = v.to_vec();
            if let Some(r) = repl.take(&name, &shape)? {
                values = r;
            } else if let Some(rep) = opts.apply(&name, &shape, &mut values)? {
                reports.push(rep);
            }
            let tensor = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?;
            map.insert(name, tensor);
        }
        repl.finish(path)?;
        Ok(Weights {
            path: path.to_path_buf(),
            map,
            reports,
        })
    }

    /// Builds from tensors already in memory (tests, converted checkpoints).
    pub fn from_map(path: &Path, map: HashMap<String, Tensor>) -> Self {
        Weights {
            path: path.to_path_buf(),
            map,
            reports: Vec::new(),
        }
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Names of all tensors.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// The tensor `name`, which must have shape `shape` (an error names the file, the
    /// tensor and both shapes otherwise).
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self
            .map
            .get(name)
            .ok_or_else(|| Error::tensor(&self.path, name, "missing"))?;
        if t.dims() != shape {
            return Err(Error::tensor(
                &self.path,
                name,
                format!("shape {:?}, expected {:?}", t.dims(), shape),
            ));
        }
        Ok(t.clone())
    }

    /// The tensor `name` with whatever shape it has.
    pub fn get_any(&self, name: &str) -> Result<Tensor> {
        self.map
            .get(name)
            .cloned()
            .ok_or_else(|| Error::tensor(&self.path, name, "missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: Vec<usize>, v: f32) -> tensorjpeg::Tensor {
        let n = shape.iter().product();
        tensorjpeg::Tensor::from_f32(name, shape, vec![v; n]).unwrap()
    }

    #[test]
    fn container_tensors_replace_the_models_and_mismatches_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.safetensors");
        tensorjpeg_io::write_tensors(&model, &[t("a", vec![2, 3], 1.0), t("b", vec![4], 2.0)])
            .unwrap();
        let load = |tensors: &[tensorjpeg::Tensor]| {
            let c = dir.path().join("r.tjpg");
            let bytes = tensorjpeg::compress(tensors, &tensorjpeg::Options::default())
                .unwrap()
                .bytes;
            std::fs::write(&c, bytes).unwrap();
            let opts = WeightOptions {
                container: Some(c),
                ..Default::default()
            };
            Weights::load(&model, &opts)
        };
        let w = load(&[t("a", vec![2, 3], 5.0)]).unwrap();
        let a: Vec<f32> = w
            .get("a", &[2, 3])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a, vec![5.0; 6]);
        let b: Vec<f32> = w.get("b", &[4]).unwrap().to_vec1().unwrap();
        assert_eq!(b, vec![2.0; 4]);
        let e = load(&[t("a", vec![3, 2], 5.0)]).err().unwrap().to_string();
        assert!(
            e.contains("tensor a") && e.contains("[2, 3]") && e.contains("[3, 2]"),
            "{e}"
        );
        let e = load(&[t("zzz", vec![1], 0.0)]).err().unwrap().to_string();
        assert!(
            e.contains("zzz") && e.contains("not a tensor of the model"),
            "{e}"
        );
    }
}

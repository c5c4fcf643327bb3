//! The report of one `compress` run: a JSON document or a table with a summary line.

use std::path::Path;

use serde_json::{json, Value};
use tensorjpeg::{CompressReport, Tensor};

use super::num;
use super::table::{self, f};

/// What one compression did, with the figures both reports need.
pub struct CompressRun<'a> {
    /// The input file.
    pub input: &'a Path,
    /// The output container.
    pub output: &'a Path,
    /// The plan's codec spec and rate, as reported.
    pub codec: &'a str,
    /// The rate (debug form).
    pub rate: String,
    /// The allocation's name.
    pub allocation: &'a str,
    /// The input's tensors, in file order.
    pub tensors: &'a [Tensor],
    /// The codec's report, one entry per tensor.
    pub report: &'a CompressReport,
    /// Seconds spent compressing.
    pub seconds: f64,
}

impl CompressRun<'_> {
    fn bpv(&self, t: &Tensor, bytes: usize) -> f64 {
        bytes as f64 * 8.0 / t.numel().max(1) as f64
    }

    /// (values, bytes) of the tensors stored through a codec.
    fn coded(&self) -> (usize, usize) {
        let (mut vals, mut bytes) = (0usize, 0usize);
        for (t, r) in self.tensors.iter().zip(&self.report.tensors) {
            if r.codec.is_coded() {
                vals += t.numel();
                bytes += r.stored_bytes;
            }
        }
        (vals, bytes)
    }

    fn bits_per_value(&self) -> f64 {
        let (vals, bytes) = self.coded();
        if vals > 0 {
            bytes as f64 * 8.0 / vals as f64
        } else {
            0.0
        }
    }

    /// The targets missed, one line each.
    pub fn warnings(&self) -> Vec<&String> {
        self.report
            .tensors
            .iter()
            .flat_map(|r| &r.warnings)
            .collect()
    }

    /// The JSON document.
    pub fn json(&self) -> Value {
        let tensors: Vec<Value> = self
            .tensors
            .iter()
            .zip(&self.report.tensors)
            .map(|(t, r)| {
                let stats: serde_json::Map<String, Value> =
                    r.stats.iter().map(|(k, v)| (k.clone(), num(*v))).collect();
                json!({
                    "name": r.name, "codec": r.codec.to_string(), "dtype": r.dtype.name(),
                    "shape": r.shape, "bytes": r.stored_bytes,
                    "bits_per_value": num(self.bpv(t, r.stored_bytes)),
                    "exceptions": r.exceptions, "stats": stats, "warnings": r.warnings,
                })
            })
            .collect();
        let (vals, bytes) = self.coded();
        let input_bytes: u64 = self.tensors.iter().map(Tensor::source_bytes).sum();
        json!({
            "input": self.input.display().to_string(), "output": self.output.display().to_string(),
            "codec": self.codec, "rate": self.rate, "allocation": self.allocation,
            "input_bytes": input_bytes, "file_bytes": self.report.file_bytes,
            "compressed_values": vals, "compressed_bytes": bytes,
            "bits_per_value": self.bits_per_value(), "seconds": self.seconds,
            "tensors": tensors, "targets_missed": self.warnings().len(),
        })
    }

    /// The table and the summary line.
    pub fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .tensors
            .iter()
            .zip(&self.report.tensors)
            .map(|(t, r)| {
                vec![
                    r.name.clone(),
                    r.codec.to_string(),
                    format!("{:?}", r.shape),
                    r.stored_bytes.to_string(),
                    f(self.bpv(t, r.stored_bytes), 3),
                    r.exceptions.to_string(),
                ]
            })
            .collect();
        let head = [
            "tensor",
            "codec",
            "shape",
            "bytes",
            "bits/value",
            "exceptions",
        ];
        let input_bytes: u64 = self.tensors.iter().map(Tensor::source_bytes).sum();
        format!(
            "{}{} -> {}: {} -> {} bytes ({:.2}x); compressed tensors {:.3} bits/value; {:.2} s\n",
            table::render(&head, &rows),
            self.input.display(),
            self.output.display(),
            input_bytes,
            self.report.file_bytes,
            input_bytes as f64 / self.report.file_bytes.max(1) as f64,
            self.bits_per_value(),
            self.seconds
        )
    }
}
